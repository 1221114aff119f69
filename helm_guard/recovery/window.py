"""The swap window: when the swapped version was live, from the incident file or the command
line.

The incident file (`docs/incidents/<date>-<slug>.md`, written by `rollback`) names the
affected shop (`- Affected shop: **acme**`), the other shop(s) whose resources the live
version touched (`- Other shop(s) ...: **bravo**`) and the timeline. The start of the window
is the time the swapped version went live: a line of the file that says so (`live since`,
`went live`, `go-live`, `live from`, `deployed at`, followed by an ISO 8601 time), as the
deploy records it; the end is when the rollback to a good version was done (the timeline's
"roll back to" step: its start plus its seconds), or a line saying `rolled back at T`.
Explicit `--from`/`--to` always win; a window that cannot be found is a usage error (exit 2)
naming what is missing — never a guess.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from helm_guard.errors import UsageError
from helm_guard.slugs import SLUG_RE

ISO = r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)"
_LIVE = re.compile(r"(?i)(?:live since|went live|go-live|live from|deployed at|live at)\D{0,40}?"
                   + ISO)
_BACK = re.compile(r"(?i)rolled back at\D{0,20}?" + ISO)
_ROW = re.compile(r"^\|\s*" + ISO + r"\s*\|\s*\d+/\d+ roll back to [^|]*\|\s*(\w+)\s*\|\s*"
                  r"([\d.]+)\s*\|", re.M)
_SHOP = re.compile(r"^- Affected shop: \*\*([a-z0-9-]+)\*\*", re.M)
_OTHERS = re.compile(r"^- Other shop\(s\)[^:]*: (.*)$", re.M)


class Window(NamedTuple):
    shop: str
    others: tuple[str, ...]
    start: datetime
    end: datetime
    source: str  # where the window came from


def parse_time(text: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        raise UsageError(f"{what} {text!r} is not an ISO 8601 time",
                         hint="e.g. 2026-05-08T10:15:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def fmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_incident(path: Path) -> tuple[str | None, list[str], datetime | None, datetime | None]:
    """(shop, other shops, live-from, rolled-back-at) as far as the file says."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the incident file {path}: {exc.strerror}") from None
    m = _SHOP.search(text)
    shop = m.group(1) if m else None
    others: list[str] = []
    m = _OTHERS.search(text)
    if m:
        others = [s for s in re.findall(r"\*\*([a-z0-9-]+)\*\*", m.group(1)) if SLUG_RE.match(s)]
    live = _LIVE.search(text)
    start = parse_time(live.group(1), "go-live time in the incident file") if live else None
    end = None
    back = _BACK.search(text)
    if back:
        end = parse_time(back.group(1), "rollback time in the incident file")
    else:
        rows = [r for r in _ROW.finditer(text) if r.group(2) == "ok"]
        if rows:
            last = rows[-1]
            end = parse_time(last.group(1), "timeline time") + timedelta(
                seconds=float(last.group(3)) + 1)
    return shop, others, start, end


def resolve(incident: Path | None, shop: str | None, others: list[str], start: str | None,
            end: str | None) -> Window:
    """The window from the incident file, overridden by explicit options."""
    f_shop, f_others, f_start, f_end = (from_incident(incident) if incident
                                        else (None, [], None, None))
    the_shop = shop or f_shop
    the_others = tuple(others or f_others)
    s = parse_time(start, "--from") if start else f_start
    e = parse_time(end, "--to") if end else f_end
    where = f"incident file {incident.name}" if incident else "the command line"
    missing = [n for n, v in (("the shop (--shop)", the_shop),
                              ("the other shop (--other)", the_others),
                              ("the go-live time (--from)", s),
                              ("the rollback time (--to)", e)) if not v]
    if missing:
        raise UsageError(f"{where} does not give " + ", ".join(missing),
                         hint="pass the missing options explicitly (the incident file records "
                         "the shops and the rollback; the go-live time comes from the deploy)")
    assert the_shop is not None and s is not None and e is not None
    if e <= s:
        raise UsageError(f"the window ends ({fmt(e)}) before it starts ({fmt(s)})")
    if the_shop in the_others:
        raise UsageError(f"--other must name another shop than {the_shop}")
    return Window(the_shop, the_others, s, e, where)
