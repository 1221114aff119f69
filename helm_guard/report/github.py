"""GitHub Actions workflow commands: one `::error`/`::warning` annotation per finding.

Escaping follows @actions/core (`toCommandValue`/`escapeData`/`escapeProperty`): data escapes
`%`, CR and LF; property values also escape `:` and `,`. `col`/`endColumn` are sent only for
single-line spans (GitHub misplaces multi-line annotations that carry columns; ruff #22074).

GitHub shows at most 10 error and 10 warning annotations per step (50 per job) and silently
drops the rest. Every finding is still written, errors first, so the log is complete; a
`::notice::` says how many will not appear as annotations, and the output ends with the plain
summary line of the text format.
"""

from __future__ import annotations

from collections.abc import Sequence

from helm_guard.finding import WARNING, Finding
from helm_guard.report import CheckSummary, by_severity, counts, rule_index, summary_line

SHOWN_PER_STEP = 10  # per annotation level (error, warning)
SHOWN_PER_JOB = 50


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, properties: Sequence[tuple[str, str]], message: str) -> str:
    """`::name key=value,...::message` with @actions/core escaping."""
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    head = f"::{name} {props}" if props else f"::{name}"
    return f"{head}::{escape_data(message)}"


def annotation(f: Finding, rule_name: str | None) -> str:
    props = [("file", f.path), ("line", str(f.line)), ("endLine", str(f.end_line))]
    if f.line == f.end_line:
        props += [("col", str(f.col)), ("endColumn", str(f.end_col))]
    props.append(("title", f"{f.rule} {rule_name}" if rule_name else f.rule))
    message = f"{f.message} [{f.shop}]" if f.shop else f.message
    return command("warning" if f.severity == WARNING else "error", props, message)


def hidden_count(findings: Sequence[Finding]) -> int:
    """How many findings GitHub will not show as annotations of a single step."""
    errors, warnings = counts(findings)
    shown = min(errors, SHOWN_PER_STEP) + min(warnings, SHOWN_PER_STEP)
    return len(findings) - min(shown, SHOWN_PER_JOB)


def render(findings: Sequence[Finding], summary: CheckSummary) -> str:
    rules = rule_index(summary)
    lines = [
        annotation(f, rules[f.rule].name if f.rule in rules else None)
        for f in by_severity(findings)
    ]
    hidden = hidden_count(findings)
    if hidden:
        note = (
            f"{hidden} of {len(findings)} findings will not appear as annotations (GitHub shows "
            f"at most {SHOWN_PER_STEP} error and {SHOWN_PER_STEP} warning annotations per step, "
            f"{SHOWN_PER_JOB} per job); all are in this log and in the full report "
            "(--format json or sarif)"
        )
        lines.append(command("notice", [], note))
    lines.append(summary_line(findings, summary))
    return "\n".join(lines) + "\n"
