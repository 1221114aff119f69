"""The one value every rule produces: an immutable finding with a position."""

from __future__ import annotations

from typing import NamedTuple

ERROR = "error"
WARNING = "warning"


class Finding(NamedTuple):
    """One problem at one place.

    `path` is the file as reported (relative to the fleet root, POSIX separators); `line` and
    `col` are 1-based; `end_line`/`end_col` close the offending value (exclusive column).
    `json_path` names the value (`$.env.acme.d1_databases[0].database_id`; `$` for the file).
    """

    rule: str
    severity: str
    path: str
    line: int
    col: int
    end_line: int
    end_col: int
    json_path: str
    message: str
    shop: str | None = None

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.path, self.line, self.col, self.rule, self.message)


def with_prefix(findings: list[Finding], prefix: str) -> list[Finding]:
    """Findings with `prefix` before each path (fleet-relative -> repository-relative)."""
    if not prefix:
        return findings
    return [f._replace(path=prefix + f.path) for f in findings]
