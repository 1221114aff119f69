"""Reporters: pure functions from findings to text, one module per output format.

`render(fmt, findings, summary)` imports only the module of the format asked for. Reporters
never import the rule registry: the caller passes rule metadata in `CheckSummary.rules`, so
tests can hand them fake rules.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from helm_guard.finding import ERROR, WARNING, Finding
from helm_guard.rules import RuleMeta

FORMATS: tuple[str, ...] = ("text", "json", "sarif", "github")

# Findings that GitHub must see first when it drops some (annotations, SARIF truncation).
_SEVERITY_RANK = {ERROR: 0, WARNING: 1}


class CheckSummary(NamedTuple):
    """What was checked, independent of what was found."""

    files: int
    targets: int
    shops: int
    tool_version: str
    rules: Sequence[RuleMeta]


def render(fmt: str, findings: Sequence[Finding], summary: CheckSummary) -> str:
    """The report of `findings` in format `fmt` (one of `FORMATS`), ending with a newline."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    module = importlib.import_module(f"helm_guard.report.{fmt}")
    text: str = module.render(findings, summary)
    return text


def default_format(environ: Mapping[str, str]) -> str:
    """`github` inside GitHub Actions (`GITHUB_ACTIONS=true`), else `text`."""
    return "github" if environ.get("GITHUB_ACTIONS") == "true" else "text"


def by_position(findings: Sequence[Finding]) -> list[Finding]:
    """Findings in reading order: path, line, column (then rule and message)."""
    return sorted(findings, key=Finding.sort_key)


def by_severity(findings: Sequence[Finding]) -> list[Finding]:
    """Errors first, each group in reading order: what to keep when a consumer drops some."""
    return sorted(findings, key=lambda f: (_SEVERITY_RANK.get(f.severity, 2), f.sort_key()))


def counts(findings: Sequence[Finding]) -> tuple[int, int]:
    """(errors, warnings); any severity other than "warning" counts as an error."""
    warnings = sum(1 for f in findings if f.severity == WARNING)
    return len(findings) - warnings, warnings


def rule_index(summary: CheckSummary) -> dict[str, RuleMeta]:
    return {r.id: r for r in summary.rules}


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary_line(findings: Sequence[Finding], summary: CheckSummary) -> str:
    """`helm-guard: 3 errors, 1 warning in 2 files (12 files, 20 targets, 10 shops checked)`."""
    checked = (
        f"({plural(summary.files, 'file')}, {plural(summary.targets, 'target')}, "
        f"{plural(summary.shops, 'shop')} checked)"
    )
    if not findings:
        return f"helm-guard: no findings {checked}"
    errors, warnings = counts(findings)
    files = len({f.path for f in findings})
    return (
        f"helm-guard: {plural(errors, 'error')}, {plural(warnings, 'warning')} "
        f"in {plural(files, 'file')} {checked}"
    )
