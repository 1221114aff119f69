"""The gate's reports: text, GitHub annotations, JSON, the job summary and the
`$GITHUB_OUTPUT` values, each a function of the gate's `Outcome` (`helm_guard.gate`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from helm_guard import plan as plans
from helm_guard.gate import REBIND_TRAILER, Outcome

LIST_LIMIT = 50  # shops listed in the text report before "… and N more"


def outputs(o: Outcome) -> dict[str, str]:
    """The `$GITHUB_OUTPUT` values."""

    count = plans.batch_count(o.plan)
    first = plans.batch_matrix(o.plan, 0) if count else {"include": []}
    return {
        "blocked": "true" if o.blocked else "false",
        "shops": plans.compact(list(o.affected)),
        "batch_count": str(count),
        "batches": plans.compact(list(range(count))),
        "matrix": plans.compact(first),
        "commit": o.head or "",
        "base": o.base or "",
        "report_only": "true" if o.report_only else "false",
    }


def to_json(o: Outcome) -> dict[str, Any]:

    return {
        "verdict": "blocked" if o.blocked else "proceed",
        "report_only": o.report_only,
        "base": o.base, "base_source": o.base_source, "head": o.head,
        "reasons": o.reasons,
        "affected_shops": list(o.affected), "all_shops_reason": o.all_reason,
        "new_shops": list(o.new_shops), "removed_shops": list(o.removed_shops),
        "rebinds": o.rebinds, "halts": o.halts,
        "findings": [f._asdict() for f in o.findings],
        "plan": {"targets": len(o.plan["entries"]), "batch_count": plans.batch_count(o.plan)},
    }


def _verdict_line(o: Outcome) -> str:
    if o.blocked:
        line = f"helm-guard gate: BLOCKED ({len(o.reasons)} reason" \
               f"{'s' if len(o.reasons) != 1 else ''})"
    else:
        n = len(o.plan["entries"])
        line = (f"helm-guard gate: deploy may proceed: {len(o.affected)} shop"
                f"{'s' if len(o.affected) != 1 else ''}, {n} target{'s' if n != 1 else ''}")
    if o.report_only:
        line += " — report only: nothing is deployed by this run"
    return line


def _listing(names: Sequence[str], new: Sequence[str]) -> str:
    fresh = set(new)
    shown = [f"{s} (new)" if s in fresh else s for s in names[:LIST_LIMIT]]
    more = f", … and {len(names) - LIST_LIMIT} more" if len(names) > LIST_LIMIT else ""
    return ", ".join(shown) + more


def _details(o: Outcome) -> list[str]:
    """The plain-text body shared by the text and github formats."""
    lines = []
    if o.base and o.head:
        lines.append(f"range: {o.base[:12]}..{o.head[:12]} (base: {o.base_source})")
    if o.all_reason:
        lines.append(f"all shops affected: {o.all_reason}")
    lines.append(f"affected shops ({len(o.affected)}): {_listing(o.affected, o.new_shops) or '-'}")
    if o.removed_shops:
        lines.append(f"removed shops ({len(o.removed_shops)}, not deployed; their Workers and "
                     f"data still exist): {_listing(o.removed_shops, ())}")
    for r in o.rebinds:
        state = (f"acknowledged by {r['acknowledged_by']}" if r["acknowledged_by"]
                 else "NOT acknowledged")
        lines.append(f"rebind of {r['shop']} in {r['where']} ({state}):")
        lines.extend(f"    {c}" for c in r["changes"])
    lines.append("halts in force: " + ("none" if not o.halts else ""))
    lines.extend(f"    {h}" for h in o.halts)
    for reason in o.reasons:
        lines.append(f"blocked: {reason}")
    lines.append(_verdict_line(o))
    return lines


def render_text(o: Outcome, summary: Any) -> str:
    from helm_guard import report

    head = report.render("text", o.findings, summary) if o.findings else ""
    return head + "\n".join(_details(o)) + "\n"


def render_github(o: Outcome, summary: Any) -> str:
    """Annotations for findings, unacknowledged rebinds, halts and other reasons; then text."""
    from helm_guard import report
    from helm_guard.report.github import command

    lines = [report.render("github", o.findings, summary).rstrip("\n")] if o.findings else []
    for r in o.rebinds:
        if r["acknowledged_by"] is None:
            lines.append(command("error", [("file", r["where"].split(" ")[0]),
                                           ("title", f"helm-guard: rebind of {r['shop']}")],
                                 f"unacknowledged rebind of shop {r['shop']}: "
                                 + "; ".join(r["changes"])
                                 + f" (add a `{REBIND_TRAILER}: {r['shop']}` trailer if intended)"))
        else:
            lines.append(command("notice", [("title", f"helm-guard: rebind of {r['shop']}")],
                                 f"rebind of shop {r['shop']} acknowledged by "
                                 f"{r['acknowledged_by']}: " + "; ".join(r["changes"])))
    for kind, why in o.blocks:
        if kind not in ("findings", "rebind"):  # those have their own annotations
            lines.append(command("error", [("title", f"helm-guard gate: {kind}")], why))
    lines.extend(_details(o))
    return "\n".join(lines) + "\n"


SUMMARY_LIMIT = 1_000_000  # bytes; GitHub rejects a step summary over 1 MiB
EXTRA_LIMIT = 60_000  # the gate's own sections after the shared summary


def render_summary(o: Outcome) -> str:
    """The job summary (Markdown, < 1 MiB): the shared summary plus the gate's details."""
    from helm_guard.report import summary_md as md

    affected = [f"{s} (new shop)" if s in set(o.new_shops) else s for s in o.affected]
    rebinds = [
        (r["shop"], f"{r['where']}: {'; '.join(r['changes'])} — "
                    + (f"acknowledged by {r['acknowledged_by']}" if r["acknowledged_by"]
                       else "NOT acknowledged"))
        for r in o.rebinds
    ]
    text = md.render_job_summary(md.BLOCKED if o.blocked else md.PROCEED, o.reasons, affected,
                                 rebinds, o.findings, o.halts,
                                 limit_bytes=SUMMARY_LIMIT - EXTRA_LIMIT)
    extra = ["### Gate\n\n"]
    if o.report_only:
        extra.append("**Report only**: nothing is deployed by this run.\n\n")
    if o.base and o.head:
        extra.append(f"- Range: `{o.base[:12]}..{o.head[:12]}` (base: "
                     f"{md.md_escape(o.base_source)})\n")
    if o.all_reason:
        extra.append(f"- All shops affected: {md.md_escape(md.clip(o.all_reason, 500))}\n")
    n = len(o.plan["entries"])

    extra.append(f"- Deploy plan: {n:,} target{'s' if n != 1 else ''} in "
                 f"{plans.batch_count(o.plan):,} batch(es) of at most {o.plan['batch_size']}\n")
    if o.removed_shops:
        shown = o.removed_shops[:200]
        more = len(o.removed_shops) - len(shown)
        extra.append(f"- Removed shops ({len(o.removed_shops):,}; not deployed, their Workers "
                     "and data still exist): "
                     + ", ".join(md.md_escape(s) for s in shown)
                     + (f", … and {more:,} more" if more else "") + "\n")
    tail = "".join(extra)
    tail = tail[:EXTRA_LIMIT // 4]  # ≤ 4 bytes per character in UTF-8
    return text + "\n" + tail
