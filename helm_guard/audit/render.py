"""The audit report as text (a per-tenant table), JSON (`schemas/helm-audit-output.schema.json`)
and Markdown (for `$GITHUB_STEP_SUMMARY`, kept under GitHub's 1 MiB limit)."""

from __future__ import annotations

import json
from typing import Any

from helm_guard.audit.model import IN_SYNC, LABELS, STATUSES, AuditReport, Verdict

OUTPUT_VERSION = 1
MARKDOWN_ROWS = 500  # beyond this many rows, the summary says how many were left out


def detail(v: Verdict) -> str:
    """One line: what is wrong (or how it was deployed), for people."""
    parts: list[str] = [p.message for p in v.problems]
    if v.reason and not v.problems:
        parts.append(v.reason)
    d = v.deployment
    if d is not None and v.recorded is False:
        message = d.annotations.get("workers/message")
        parts.append(f"live deployment {d.id} of {d.created_on or '?'} by "
                     f"{d.author_email or 'an unknown author'} (source {d.source or '?'}"
                     + (f", message {message!r}" if message else "")
                     + ") is not in the ledger")
    if v.others:
        parts.append("other shop(s): " + ", ".join(v.others))
    return "; ".join(parts)


def summary_line(report: AuditReport) -> str:
    counts = report.counts()
    body = ", ".join(f"{n} {LABELS[s].lower()}" for s in STATUSES if (n := counts[s]))
    verdict = "IN SYNC" if report.in_sync else "NOT IN SYNC"
    return f"{verdict}: {body or 'no tenants'}"


def text(report: AuditReport, *, all_rows: bool = True) -> str:
    s = report.stats
    lines = [f"helm-guard audit: account {report.account_id}, {len(report.verdicts)} rows; "
             f"{s.workers_listed} Workers listed, {s.workers_read} read, {s.versions_read} "
             f"versions read; {s.requests} API requests ({s.retried} retried, "
             f"{s.throttled_seconds:.0f} s throttled) in {s.seconds:.1f} s"]
    rows = [v for v in report.verdicts if all_rows or v.status != IN_SYNC]
    if rows:
        w0 = max(6, *(len(v.tenant) for v in rows))
        w1 = max(6, *(len(v.worker) for v in rows))
        w2 = max(len(label) for label in LABELS.values())
        lines.append(f"{'TENANT':<{w0}}  {'WORKER':<{w1}}  {'STATUS':<{w2}}  DETAIL")
        for v in rows:
            lines.append(f"{v.tenant:<{w0}}  {v.worker:<{w1}}  {LABELS[v.status]:<{w2}}  "
                         f"{detail(v)}".rstrip())
    lines += [f"note: {n}" for n in report.notes]
    if report.halt:
        lines.append(f"HALT recorded: {report.halt}")
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def to_json(report: AuditReport) -> dict[str, Any]:
    s = report.stats
    return {
        "version": OUTPUT_VERSION,
        "account_id": report.account_id,
        "in_sync": report.in_sync,
        "counts": report.counts(),
        "tenants": [v.to_json() for v in report.verdicts],
        "stats": {"requests": s.requests, "retried": s.retried,
                  "throttled_seconds": round(s.throttled_seconds, 3),
                  "workers_listed": s.workers_listed, "workers_read": s.workers_read,
                  "versions_read": s.versions_read, "seconds": round(s.seconds, 3)},
        "notes": list(report.notes),
        "halt": report.halt,
    }


def json_text(report: AuditReport) -> str:
    return json.dumps(to_json(report), indent=2, sort_keys=False) + "\n"


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def markdown(report: AuditReport) -> str:
    s = report.stats
    icon = "✅" if report.in_sync else "🛑"
    out = [f"## {icon} helm-guard audit: {summary_line(report)}", "",
           f"Account `{report.account_id}`: {s.workers_listed} Workers listed, "
           f"{s.workers_read} read, {s.requests} API requests, {s.seconds:.1f} s.", ""]
    if report.halt:
        out += [f"**Fleet halt recorded:** {_cell(report.halt)}", ""]
    bad = [v for v in report.verdicts if v.status != IN_SYNC]
    if bad:
        out += ["| tenant | Worker | status | detail |", "|---|---|---|---|"]
        for v in bad[:MARKDOWN_ROWS]:
            out.append(f"| {_cell(v.tenant)} | `{_cell(v.worker)}` | **{LABELS[v.status]}** | "
                       f"{_cell(detail(v))} |")
        if len(bad) > MARKDOWN_ROWS:
            out.append(f"\n… and {len(bad) - MARKDOWN_ROWS} more (see the JSON report).")
        out.append("")
    out += [f"- note: {_cell(n)}" for n in report.notes]
    return "\n".join(out).rstrip() + "\n"
