"""`helm-guard audit-chain --shop SLUG [--from-id N]`: the runbook's "Audit chain verification
failed" response, read-only, in three printed steps:

1. confirm the database: the registry's `database_id` is fetched and its name must be the one
   the naming template gives the shop (never a binding from a config);
2. check every link (and, with `audit.chain` in the fleet file, every hash) in id order, one
   page at a time (`helm_guard.recovery.chain`);
3. from the first broken row on, compare with the monthly archive in the shop's own bucket and
   list exactly which rows differ.

Exit 0 when intact, 1 when broken (SEV1) or when it cannot decide (fail closed).
"""

from __future__ import annotations

from typing import Any, TextIO

from helm_guard.cloudflare import d1, r2
from helm_guard.cloudflare.api import Client, CloudflareError
from helm_guard.errors import EXIT_BLOCKED, EXIT_OK, Blocked
from helm_guard.fleet import Fleet
from helm_guard.incident import Step, Steps
from helm_guard.recovery.chain import ChainReport, parse_archive, verify
from helm_guard.recovery.rows import DEFAULT_PAGE, Row, iter_rows, predecessor
from helm_guard.recovery.settings import AuditSettings, ShopData, audit_settings, shop_data


def confirm_database(client: Client, shop: ShopData, st: Step) -> None:
    """The registry's database exists and carries the shop's name; else Blocked."""
    try:
        info = d1.database(client, shop.database_id)
    except CloudflareError as exc:
        raise Blocked(f"cannot read D1 database {shop.database_id} (shop {shop.slug}'s, from "
                      f"the registry): {exc}", hint=exc.hint or "check the token and account") \
            from None
    name = info.get("name")
    if name != shop.database_name:
        raise Blocked(
            f"D1 database {shop.database_id} is named {name!r}, but shop {shop.slug}'s database "
            f"is {shop.database_name!r} (naming template): refusing to touch it",
            hint="the registry's database_id and the database's name disagree: fix the "
            "registry (helm-fleet.jsonc) after checking which database is really the shop's")
    st.say(f"database {name} ({shop.database_id}) is shop {shop.slug}'s (registry id + name)",
           note=True)


def archive_loader(client: Client, shop: ShopData, s: AuditSettings) -> Any:
    def load(yyyy: str, mm: str) -> tuple[str, dict[int, Row] | None]:
        key = s.archive_for(yyyy, mm)
        data = r2.get_object(client, shop.bucket, key)
        if data is None:
            return key, None
        try:
            return key, parse_archive(data, s)
        except ValueError as exc:
            raise Blocked(f"archive r2://{shop.bucket}/{key} is not a JSONL audit archive: "
                          f"{exc}") from None
    return load


def short(v: Any) -> str:
    text = "" if v is None else str(v)
    return text[:12] + "…" if len(text) > 13 else text


def check_chain(client: Client, shop: ShopData, s: AuditSettings, *, from_id: int | None = None,
                page: int = DEFAULT_PAGE, archive: bool = True) -> ChainReport:
    """Verify the shop's chain (the library call behind step 2; also used by `restore`)."""
    pred = predecessor(client, shop.database_id, s, from_id) if from_id else None
    rows = iter_rows(client, shop.database_id, s,
                     after_id=(from_id - 1) if from_id else None, page=page)
    try:
        return verify(rows, s, predecessor=pred,
                      archive=archive_loader(client, shop, s) if archive else None)
    except CloudflareError as exc:
        raise Blocked(f"reading {s.table} of {shop.database_name} failed: {exc}",
                      hint=exc.hint or "run the same command again") from None
    except ValueError as exc:
        raise Blocked(str(exc)) from None


def describe_break(rep: ChainReport, s: AuditSettings) -> list[str]:
    b = rep.breaks[0]
    what = ("prev_chain_hash does not match the previous row's chain_hash" if b.kind == "link"
            else "chain_hash does not match the row's content")
    lines = [f"FIRST BROKEN ROW: id {b.id} ({b.kind}): {what}",
             f"  expected {short(b.expected)}, found {short(b.found)}", "neighbours:"]
    for r in rep.neighbours:
        mark = ">" if r.get(s.id) == b.id else " "
        lines.append(f"  {mark} id {r.get(s.id)}  {r.get(s.at)}  {r.get(s.action)}  "
                     f"prev {short(r.get(s.prev_hash))}  hash {short(r.get(s.hash))}")
    ids = sorted({x.id for x in rep.breaks})
    more = f" (first {len(ids)} listed)" if rep.break_count > len(ids) else ""
    lines.append(f"broken rows: {rep.break_count}{more}: " + ", ".join(map(str, ids)))
    return lines


def describe_archive(rep: ChainReport, shop: ShopData) -> list[str]:
    lines = [f"archives read: {', '.join(rep.archives) or 'none'}"]
    if rep.missing_archives:
        lines.append(f"no archive in r2://{shop.bucket}/ for: {', '.join(rep.missing_archives)}")
    if rep.diff_count == 0:
        lines.append("no row from the first break on differs from the archive")
    else:
        more = f" (first {len(rep.diffs)} listed)" if rep.diff_count > len(rep.diffs) else ""
        lines.append(f"{rep.diff_count} row(s) differ from the archive{more}:")
        for d in rep.diffs:
            fields = f": {', '.join(d.fields)}" if d.fields else ""
            lines.append(f"  id {d.id} {d.kind}{fields}")
    if rep.unarchived:
        lines.append(f"{rep.unarchived} row(s) are newer than the archives (not compared)")
    return lines


def run(fleet: Fleet, slug: str, client: Client, *, from_id: int | None, page: int,
        out: TextIO) -> int:
    s = audit_settings(fleet)
    shop = shop_data(fleet, slug)
    steps = Steps(3, out=out, name="audit-chain")
    steps.say(f"helm-guard audit-chain: shop {slug}, table {s.table} of {shop.database_name} "
              "(read-only)")
    with steps.step(1, "confirm the database (registry id + name)") as st:
        confirm_database(client, shop, st)
    title = "check every link" + (" and hash" if s.chain else "")
    with steps.step(2, title + (f" from id {from_id}" if from_id else "")) as st:
        rep = check_chain(client, shop, s, from_id=from_id, page=page)
        rate = rep.rows / rep.seconds if rep.seconds > 0 else 0.0
        st.say(f"{rep.rows} row(s) checked (ids {rep.first_id}..{rep.last_id}, "
               f"{rate:,.0f} rows/s)")
        if not s.chain:
            st.say("hashes not recomputed: the fleet file has no audit.chain recipe (links only)")
        if not rep.intact:
            for line in describe_break(rep, s):
                st.say(line)
    with steps.step(3, "compare with the monthly archive") as st:
        if rep.intact:
            st.skip("chain intact: nothing to compare")
            st.say("chain intact: nothing to compare")
        else:
            for line in describe_archive(rep, shop):
                st.say(line)
    if rep.intact:
        steps.say(f"\naudit chain of {slug}: INTACT ({rep.rows} rows)")
        return EXIT_OK
    first = rep.breaks[0].id
    steps.say(f"\naudit chain of {slug}: BROKEN at id {first} — SEV1 (runbook: \"Audit chain "
              "verification failed\")")
    steps.say("next steps:\n"
              f"  1. halt deploys of the shop: `helm-guard halt --shop {slug} --reason "
              "\"audit chain broken\"`; tell the shop owner\n"
              "  2. the rows listed above are what changed; if the archive has them, restore "
              f"to a point before the change: `helm-guard restore --shop {slug} --timestamp "
              "<before the change> --dry-run` shows the plan\n"
              f"  3. re-verify: `helm-guard audit-chain --shop {slug}`; investigate who could "
              "write to the database (D1 console access, a failed withAudit write, the hash code)")
    return EXIT_BLOCKED
