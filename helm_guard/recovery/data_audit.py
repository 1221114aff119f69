"""`helm-guard data-audit`: did the wrong shop's data get written while the swapped version was
live? Read-only, for every database involved, by the registry's `database_id`.

Four printed steps: (1) the window (`helm_guard.recovery.window`), (2) confirm each database
(registry id + name), (3) for each database the `audit_events` rows written in the window:
counts per action, first/last id (one GROUP BY query), and every row exported, page by page,
to `<incident>.data-<shop>.jsonl` beside the incident file for reconciliation, (4) the
evidence appended to the incident file (counts and file names only, never row contents).

The verdict says plainly whether the wrong shop's data was written: with `audit.columns.shop`
configured, rows in a database whose shop column names another shop are certain; without it,
any row written to another shop's database during the window is *possibly* the wrong shop's
(helm-guard cannot tell whose). Exit 0 when nothing was written to another shop's database,
1 otherwise (findings), 2 when the window cannot be determined.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple, TextIO

from helm_guard.cloudflare import d1
from helm_guard.cloudflare.api import Client, CloudflareError
from helm_guard.errors import EXIT_BLOCKED, EXIT_OK, Blocked
from helm_guard.fleet import Fleet
from helm_guard.incident import Steps, fmt_time, utc_now
from helm_guard.recovery import evidence
from helm_guard.recovery.audit_chain import confirm_database
from helm_guard.recovery.rows import iter_rows
from helm_guard.recovery.settings import AuditSettings, ShopData, audit_settings, shop_data
from helm_guard.recovery.window import Window, fmt


class DbAudit(NamedTuple):
    shop: ShopData
    total: int
    per_action: dict[str, int]
    first_id: int | None
    last_id: int | None
    foreign: dict[str, int]  # rows whose shop column names another shop (empty if unknown)
    export: Path


def window_sql(s: AuditSettings) -> str:
    return f"julianday({s.q(s.at)}) >= julianday(?) AND julianday({s.q(s.at)}) <= julianday(?)"


def audit_db(client: Client, shop: ShopData, s: AuditSettings, w: Window, export: Path,
             page: int) -> DbAudit:
    cond = window_sql(s)
    params = (fmt(w.start), fmt(w.end))
    sql = (f"SELECT {s.q(s.action)} AS action, count(*) AS n, min({s.q(s.id)}) AS first, "
           f"max({s.q(s.id)}) AS last FROM {s.q(s.table)} WHERE {cond} "
           f"GROUP BY {s.q(s.action)} ORDER BY {s.q(s.action)}")
    rows = d1.query(client, shop.database_id, sql, list(params)).rows
    per_action = {str(r["action"]): int(r["n"]) for r in rows}
    firsts = [int(r["first"]) for r in rows if r["first"] is not None]
    lasts = [int(r["last"]) for r in rows if r["last"] is not None]
    foreign: dict[str, int] = {}
    tmp = export.with_name(f".{export.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in iter_rows(client, shop.database_id, s, where=cond, params=params, page=page):
            fh.write(json.dumps(row, sort_keys=True) + "\n")
            if s.shop is not None:
                who = str(row.get(s.shop))
                if who != shop.slug:
                    foreign[who] = foreign.get(who, 0) + 1
    tmp.replace(export)
    return DbAudit(shop, sum(per_action.values()), per_action, min(firsts, default=None),
                   max(lasts, default=None), foreign, export)


def lines_for(a: DbAudit) -> list[str]:
    ids = f", ids {a.first_id}..{a.last_id}" if a.total else ""
    out = [f"{a.shop.slug}: {a.shop.database_name} (`{a.shop.database_id}`): {a.total} row(s) "
           f"in the window{ids}"]
    for action, n in sorted(a.per_action.items()):
        out.append(f"  {action}: {n}")
    if a.foreign:
        out.append("  written by another shop: " + ", ".join(
            f"{k} {v}" for k, v in sorted(a.foreign.items())))
    return out


def verdict(w: Window, audits: dict[str, DbAudit], s: AuditSettings) -> tuple[bool, list[str]]:
    """(the wrong shop's data was (possibly) written, plain sentences with the options)."""
    lines: list[str] = []
    found = False
    for other in w.others:
        a = audits[other]
        if s.shop is not None:
            wrong = sum(a.foreign.values())
            if wrong:
                found = True
                lines.append(f"YES: {wrong} row(s) of another shop were written into {other}'s "
                             f"database {a.shop.database_name} during the window "
                             f"({', '.join(f'{k} {v}' for k, v in sorted(a.foreign.items()))}).")
            else:
                lines.append(f"NO: no row of another shop was written into {other}'s database "
                             "during the window.")
        elif a.total:
            found = True
            lines.append(f"POSSIBLY: {a.total} row(s) were written into {other}'s database "
                         f"while {w.shop}'s Worker was bound to it; helm-guard cannot tell whose "
                         "they are (set audit.columns.shop in the fleet file to know).")
        else:
            lines.append(f"NO: nothing was written into {other}'s database during the window.")
    own = audits[w.shop]
    if own.foreign:
        found = True
        lines.append(f"{w.shop}'s own database also holds rows of another shop in the window: "
                     + ", ".join(f"{k} {v}" for k, v in sorted(own.foreign.items())))
    if found:
        others = " ".join(w.others)
        lines += [
            "options:",
            f"  1. reconcile by hand (keeps every shop's own writes): the rows are exported "
            f"beside the incident file; move {w.shop}'s rows out of {others}'s database and "
            f"re-create what {w.shop} lost (compare with Stripe charges since {fmt(w.start)})",
            f"  2. restore {others}'s database to just before the window "
            f"(`helm-guard restore --shop {w.others[0]} --timestamp {fmt(w.start)} --dry-run` "
            f"first): this also removes {w.others[0]}'s own writes of the window",
            "  3. keep the halt until the data is reconciled; then `helm-guard audit-chain` on "
            "both shops",
        ]
    return found, lines


def run(fleet: Fleet, client: Client, w: Window, *, repo: Path, incident: Path | None,
        page: int, out: TextIO) -> int:
    s = audit_settings(fleet)
    shops = {slug: shop_data(fleet, slug) for slug in (w.shop, *w.others)}
    steps = Steps(4, out=out, name="data-audit")
    steps.say(f"helm-guard data-audit: {w.shop}'s Worker was bound to "
              f"{', '.join(w.others)}'s resources (read-only)")
    with steps.step(1, "the window") as st:
        st.say(f"{fmt(w.start)} .. {fmt(w.end)} (from {w.source})", note=True)
    with steps.step(2, "confirm the databases (registry id + name)") as st:
        for shop in shops.values():
            confirm_database(client, shop, st)
    target = incident or evidence.resolve_incident(
        repo, w.shop, None, create=f"{fmt(w.start)[:10]}-{w.shop}-data-audit.md")
    target.parent.mkdir(parents=True, exist_ok=True)
    audits: dict[str, DbAudit] = {}
    with steps.step(3, f"rows of {s.table} written in the window") as st:
        for slug, shop in shops.items():
            export = target.with_name(f"{target.stem}.data-{slug}.jsonl")
            try:
                audits[slug] = audit_db(client, shop, s, w, export, page)
            except CloudflareError as exc:
                raise Blocked(f"reading {shop.database_name} failed: {exc}",
                              hint=exc.hint or "run the same command again") from None
            for line in lines_for(audits[slug]):
                st.say(line)
            st.say(f"  rows exported to {evidence.rel(repo, export)}")
    found, plain = verdict(w, audits, s)
    with steps.step(4, "record the evidence in the incident file") as st:
        now = fmt_time(utc_now())
        marker = f"- Data audit window: {fmt(w.start)} .. {fmt(w.end)}"
        body = [f"## Data audit {now} (helm-guard data-audit)", "", marker,
                f"- Shop {w.shop}'s Worker was bound to: {', '.join(w.others)}"]
        for a in audits.values():
            body += [f"- {line.strip()}" for line in lines_for(a)]
            body.append(f"- Rows exported: `{evidence.rel(repo, a.export)}`")
        body += ["", *[f"{line}" for line in plain]]
        wrote = evidence.append(target, marker, "\n".join(body),
                                title=f"Data audit of {w.shop}")
        rel = evidence.rel(repo, target)
        st.say((f"appended to {rel}" if wrote else f"{rel} already has this window's audit")
               + " (commit it with the exports)")
    steps.say("")
    for line in plain:
        steps.say(line)
    return EXIT_BLOCKED if found else EXIT_OK


