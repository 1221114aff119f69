"""Plain text: one line per finding, `path:line:col: ID message [shop]`, then a summary line.

No colour, ever: the output is the same on a terminal, in a pipe and in a CI log. A line break
inside a message is written as the two characters `\\n`, so each finding stays one line for
grep and for editors' problem matchers.
"""

from __future__ import annotations

from collections.abc import Sequence

from helm_guard.finding import Finding
from helm_guard.report import CheckSummary, by_position, summary_line


def one_line(text: str) -> str:
    return text.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def format_finding(f: Finding) -> str:
    line = f"{f.path}:{f.line}:{f.col}: {f.rule} {one_line(f.message)}"
    return f"{line} [{one_line(f.shop)}]" if f.shop else line


def render(findings: Sequence[Finding], summary: CheckSummary) -> str:
    lines = [format_finding(f) for f in by_position(findings)]
    lines.append(summary_line(findings, summary))
    return "\n".join(lines) + "\n"
