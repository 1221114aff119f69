"""The GitHub job summary of the deploy gate, in Markdown (`$GITHUB_STEP_SUMMARY`).

A pure function of the gate's outcome. GitHub rejects a step summary over 1 MiB, so every
list is cut to a byte budget and says how much was left out ("… and N more"); the verdict
heading always comes first and always fits. Text that comes from configs (messages, shop
names, paths) is Markdown-escaped, so a pull request cannot inject links, images or HTML
into the summary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from helm_guard.finding import Finding
from helm_guard.report import by_severity, counts, plural

PROCEED = "proceed"
BLOCKED = "blocked"
HEADINGS = {PROCEED: "## ✅ DEPLOY MAY PROCEED", BLOCKED: "## ⛔ BLOCKED"}
COLLAPSE_OVER = 20  # affected shops listed openly up to this many
MIN_LIMIT = 4096  # every section frame fits, so no section is ever dropped silently
MAX_ITEM_CHARS = 1000  # one blocked reason or halt
MAX_CELL_CHARS = 500  # one table cell
# Upper shares of the byte budget per section; what a section leaves unused flows onwards and
# the findings table gets whatever remains.
SHARES = {"reasons": 0.15, "halts": 0.05, "shops": 0.25, "rebinds": 0.20}

_MD_SPECIAL = set("\\`*_[]<>|~&!#")


def md_escape(text: str) -> str:
    """Inline Markdown-safe text: specials backslash-escaped, line breaks as `<br>`."""
    escaped = "".join(f"\\{c}" if c in _MD_SPECIAL else c for c in text)
    return escaped.replace("\r\n", "<br>").replace("\r", "<br>").replace("\n", "<br>")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _bounded(head: str, items: Sequence[str], more: str, tail: str, budget: int) -> tuple[str, int]:
    """`head` + as many `items` as fit + a "… and N more" line (`more` formatted with N) + `tail`.

    Returns the text and its size in bytes; nothing if even the frame does not fit.
    """
    frame = _size(head) + _size(tail)
    sizes = [_size(item) for item in items]
    if frame + sum(sizes) <= budget:
        text = head + "".join(items) + tail
        return text, _size(text)
    reserve = _size(more.format(n=f"{len(items):,}"))
    if frame + reserve > budget:
        return "", 0
    used, kept = frame + reserve, 0
    for size in sizes:
        if used + size > budget:
            break
        used += size
        kept += 1
    text = head + "".join(items[:kept]) + more.format(n=f"{len(items) - kept:,}") + tail
    return text, _size(text)


def _bullets(values: Iterable[str]) -> list[str]:
    return [f"- {md_escape(clip(v, MAX_ITEM_CHARS))}\n" for v in values]


def _shops_section(shops: Sequence[str], budget: int) -> tuple[str, int]:
    title = f"### Affected shops ({len(shops):,})\n\n"
    if not shops:
        return _bounded(title + "No shops affected.\n\n", [], "", "", budget)
    items = _bullets(shops)
    more = "- … and {n} more\n"
    if len(shops) <= COLLAPSE_OVER:
        return _bounded(title, items, more, "\n", budget)
    head = f"{title}<details><summary>{plural(len(shops), 'shop')}</summary>\n\n"
    return _bounded(head, items, more, "\n</details>\n\n", budget)


def _rebinds_section(rebinds: Sequence[tuple[str, str]], budget: int) -> tuple[str, int]:
    title = f"### Rebinds ({len(rebinds):,})\n\n"
    if not rebinds:
        return _bounded(title + "No rebinds.\n\n", [], "", "", budget)
    rows = [
        f"| {md_escape(clip(shop, MAX_CELL_CHARS))} | {md_escape(clip(change, MAX_CELL_CHARS))} |\n"
        for shop, change in rebinds
    ]
    head = f"{title}| Shop | Rebind |\n|---|---|\n"
    return _bounded(head, rows, "\n… and {n} more rebinds.\n", "\n", budget)


def _finding_row(f: Finding) -> str:
    location = md_escape(clip(f"{f.path}:{f.line}:{f.col}", MAX_CELL_CHARS))
    shop = md_escape(clip(f.shop, MAX_CELL_CHARS)) if f.shop else "—"
    message = md_escape(clip(f.message, MAX_CELL_CHARS))
    return f"| {md_escape(f.rule)} | {location} | {shop} | {message} |\n"


def _findings_section(findings: Sequence[Finding], budget: int) -> tuple[str, int]:
    errors, warnings = counts(findings)
    title = f"### Findings ({plural(errors, 'error')}, {plural(warnings, 'warning')})\n\n"
    if not findings:
        return _bounded("### Findings\n\nNo findings.\n\n", [], "", "", budget)
    rows = [_finding_row(f) for f in by_severity(findings)]
    head = f"{title}| Rule | Location | Shop | Message |\n|---|---|---|---|\n"
    more = "\n… and {n} more findings: see the SARIF or JSON report.\n"
    return _bounded(head, rows, more, "\n", budget)


def render_job_summary(
    verdict: str,
    blocked_reasons: Sequence[str],
    affected_shops: Sequence[str],
    rebinds: Sequence[tuple[str, str]],
    findings: Sequence[Finding],
    halts: Sequence[str],
    *,
    limit_bytes: int = 1_000_000,
) -> str:
    """The job summary: verdict, why blocked, halts, affected shops, rebinds, findings.

    `verdict` is `PROCEED` or `BLOCKED`; `rebinds` are (shop, what changes) pairs; `halts`
    describe the halts in force. The result is at most `limit_bytes` bytes of UTF-8.
    """
    if verdict not in HEADINGS:
        raise ValueError(f"unknown verdict {verdict!r} (expected {PROCEED!r} or {BLOCKED!r})")
    if limit_bytes < MIN_LIMIT:
        raise ValueError(f"limit_bytes must be at least {MIN_LIMIT}")
    parts = [HEADINGS[verdict] + "\n\n"]
    left = limit_bytes - _size(parts[0])

    def add(section: tuple[str, int]) -> None:
        nonlocal left
        parts.append(section[0])
        left -= section[1]

    def share(name: str) -> int:
        return min(left, int(limit_bytes * SHARES[name]))

    if blocked_reasons:
        head = "### Why the deploy is blocked\n\n"
        more = "- … and {n} more reasons\n"
        add(_bounded(head, _bullets(blocked_reasons), more, "\n", share("reasons")))
    if halts:
        more = "- … and {n} more halts\n"
        add(_bounded("### Halts in force\n\n", _bullets(halts), more, "\n", share("halts")))
    else:
        add(_bounded("### Halts\n\nNo halts in force.\n\n", [], "", "", share("halts")))
    add(_shops_section(affected_shops, share("shops")))
    add(_rebinds_section(rebinds, share("rebinds")))
    add(_findings_section(findings, left))
    return "".join(parts).rstrip("\n") + "\n"
