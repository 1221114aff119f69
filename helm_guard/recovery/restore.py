"""`helm-guard restore --shop SLUG (--timestamp T | --bookmark B | --backup KEY)`: the runbook's
"Data restoration from backup", made safe. Nine printed steps:

1. halt the shop's deploys (an active halt that covers it is kept);
2. confirm the database: the registry's `database_id`, whose name must be the shop's (never a
   binding from a config; another shop's database is never addressed);
3. the source: the candidate SQL backups in the shop's own bucket under `backups/db/` are
   listed; `--timestamp` resolves to the Time Travel bookmark at or before it, `--bookmark` is
   used as given, `--backup KEY` must be one of the candidates and is checked by loading it
   into a private in-memory SQLite database (`helm_guard.recovery.backup`);
4. the undo point, FIRST: the database's current bookmark, recorded in the ledger
   (`restore-prepared`) before anything changes. A re-run after a restore that started
   (`restore-started`, written after the confirmation) but was not recorded as done reuses
   that run's undo point (the now-current state may be half-restored); a run that stopped
   before restoring (declined, dry run) leaves no pending undo point;
5. the plan: database, source, what is replaced, rows per table now (and in the backup);
6. confirm: type the shop slug (`--yes` for automation); `--dry-run` stops here having sent
   no write (no halt, no ledger, only reads to Cloudflare);
7. restore: Time Travel restore (`previous_bookmark` from the answer is recorded as the exact
   undo point), or the SQL backup procedure;
8. verify: rows per table (must equal the backup's for a SQL backup) and the audit chain;
9. record: a `restore` ledger event and a section in the incident file, with the undo
   bookmark and the exact command that undoes it.

Re-runs converge: a completed restore whose recorded result is still the database's current
bookmark is reported and not repeated. A failure says at which step it stopped and how to
continue (the same command) or undo (`--bookmark <undo>`).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, TextIO

from helm_guard import state
from helm_guard.cloudflare import d1, r2
from helm_guard.cloudflare.api import Client, CloudflareError
from helm_guard.errors import EXIT_BLOCKED, EXIT_OK, Blocked, HelmGuardError, UsageError
from helm_guard.fleet import Fleet
from helm_guard.incident import Step, Steps, fmt_time, run_steps, utc_now
from helm_guard.recovery import backup, evidence
from helm_guard.recovery.audit_chain import check_chain, confirm_database
from helm_guard.recovery.settings import audit_settings, shop_data

TOTAL = 9


class Restore:
    """One run; attributes carry what the steps learn."""

    def __init__(self, fleet: Fleet, slug: str, client: Client, *, timestamp: str | None,
                 bookmark: str | None, backup_key: str | None, dry_run: bool, yes: bool,
                 incident: str | None, repo: Path, remote: str, actor: str,
                 stdin: TextIO, out: TextIO) -> None:
        self.fleet, self.slug, self.client = fleet, slug, client
        self.timestamp, self.bookmark, self.backup_key = timestamp, bookmark, backup_key
        self.dry_run, self.yes, self.incident = dry_run, yes, incident
        self.repo, self.remote, self.actor = repo, remote, actor
        self.stdin, self.out = stdin, out
        self.s = audit_settings(fleet)
        self.shop = shop_data(fleet, slug)
        self.steps = Steps(TOTAL, out=out, name="restore")
        self.run_id = f"r-{utc_now().strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"
        self.halt_text = ""
        self.target = ""  # the bookmark to restore to (Time Travel)
        self.source = ""  # human description
        self.stmts: list[str] = []
        self.expected: dict[str, int] = {}
        self.undo = ""
        self.before: dict[str, int] = {}
        self.after: dict[str, int] = {}
        self.chain = ""

    # ------------------------------------------------------------------ helpers
    def command(self) -> str:
        src = (f"--timestamp {self.timestamp}" if self.timestamp else
               f"--bookmark {self.bookmark}" if self.bookmark else f"--backup {self.backup_key}")
        return f"helm-guard restore --shop {self.slug} {src}"

    def undo_command(self) -> str:
        return f"helm-guard restore --shop {self.slug} --bookmark {self.undo}"

    def continue_hint(self) -> str:
        hint = f"to continue: run `{self.command()}` again (it converges)"
        if self.undo:
            hint += f"; to undo: `{self.undo_command()}`"
        return hint

    def ask(self, step: Step) -> bool:
        step.say(f"this REPLACES the data of {self.shop.database_name}")
        self.out.write(f"      type '{self.slug}' to continue: ")
        self.out.flush()
        answer = self.stdin.readline()
        if not answer.endswith("\n") or not self.stdin.isatty():
            self.out.write("\n")
        return answer.strip() == self.slug

    def api(self, what: str, exc: CloudflareError) -> Blocked:
        return Blocked(f"{what}: {exc}", hint=exc.hint)


def run(rs: Restore) -> int:
    return run_steps(rs.steps, f"helm-guard restore: shop {rs.slug}, database "
                     f"{rs.shop.database_name} ({rs.shop.database_id})",
                     dry_run=rs.dry_run, body=lambda: _steps(rs), continue_hint=rs.continue_hint)


def _steps(rs: Restore) -> int:
    with rs.steps.step(1, "halt the shop's deploys") as st:
        _halt(rs, st)
    with rs.steps.step(2, "confirm the database (registry id + name)") as st:
        confirm_database(rs.client, rs.shop, st)
    with rs.steps.step(3, "the source") as st:
        _source(rs, st)
    with rs.steps.step(4, "take the undo point (current bookmark)") as st:
        done = _undo_point(rs, st)
    if done:
        rs.steps.say(f"\nalready restored: {done}; nothing to do")
        return EXIT_OK
    with rs.steps.step(5, "the plan") as st:
        _plan(rs, st)
    with rs.steps.step(6, "confirm") as st:
        if rs.dry_run:
            st.say("dry run: stopping here; nothing was changed (no halt, no restore, no record)")
            st.status = "stopped (dry run)"
            return EXIT_OK
        if not rs.yes and not rs.ask(st):
            raise Blocked("not confirmed: nothing was restored",
                          hint=f"type the slug exactly ({rs.slug}), or pass --yes")
        st.say("confirmed" + (" (--yes)" if rs.yes else ""))
    with rs.steps.step(7, "restore") as st:
        state.append_ledger(rs.repo, rs.remote, rs.slug, {
            "action": "restore-started", "run": rs.run_id, "database_id": rs.shop.database_id,
            "source": rs.source, "undo_bookmark": rs.undo, "actor": rs.actor,
            "recorded": fmt_time(utc_now())})
        _restore(rs, st)
    with rs.steps.step(8, "verify") as st:
        ok = _verify(rs, st)
    with rs.steps.step(9, "record (ledger + incident file)") as st:
        _record(rs, st, ok)
    rs.steps.say("")
    rs.steps.say(f"undo: `{rs.undo_command()}`")
    rs.steps.say(f"the halt stays: `helm-guard resume --shop {rs.slug}` once the shop is checked")
    return EXIT_OK if ok else EXIT_BLOCKED


def _halt(rs: Restore, st: Step) -> None:
    reason = f"restore of {rs.slug}"
    cur = state.read_state(rs.repo, rs.remote, must_exist=False)
    now = state.utcnow()
    existing = list(cur.blocking(rs.slug, now))
    if existing:
        h = existing[0]
        rs.halt_text = f"{h.target} halted by {h.by}: {h.reason} ({h.id})"
        st.say(f"already halted, kept: {rs.halt_text}", note=True)
        return
    if rs.dry_run:
        st.say(f"dry run: would halt shop {rs.slug} with reason {reason!r}")
        return
    res = state.halt(rs.repo, rs.remote, reason=reason, shops=[rs.slug])
    new = [h for h in res.state.halts if res.event and h.id in res.event.halt_ids]
    rs.halt_text = f"{new[0].target} halted by {new[0].by}: {reason} ({new[0].id})" if new \
        else f"shop {rs.slug} halted"
    st.say(f"halted: {rs.halt_text}", note=True)


def _source(rs: Restore, st: Step) -> None:
    c, db = rs.client, rs.shop.database_id
    prefix = rs.s.backup_prefix
    try:
        found = list(r2.list_objects(c, rs.shop.bucket, prefix))
    except CloudflareError as exc:
        raise rs.api(f"cannot list r2://{rs.shop.bucket}/{prefix}", exc) from None
    newest = sorted(found, key=lambda o: o.key)[-5:]
    st.say(f"candidate backups in r2://{rs.shop.bucket}/{prefix} (the shop's own bucket): "
           f"{len(found)}" + (", newest: " if newest else ""))
    for o in reversed(newest):
        st.say(f"  {o.key}  {o.size} bytes  {o.last_modified}")
    try:
        if rs.timestamp:
            rs.target = d1.bookmark(c, db, rs.timestamp)
            rs.source = f"Time Travel point {rs.timestamp} (bookmark {rs.target})"
        elif rs.bookmark:
            if not d1.BOOKMARK_RE.fullmatch(rs.bookmark):
                raise UsageError(f"--bookmark {rs.bookmark!r} is not a D1 bookmark")
            rs.target = rs.bookmark
            rs.source = f"Time Travel bookmark {rs.target}"
        else:
            key = str(rs.backup_key)
            if key not in {o.key for o in found}:
                raise Blocked(f"{key} is not a backup in r2://{rs.shop.bucket}/{prefix}",
                              hint="pick one of the candidates listed above (the shop's own "
                              "bucket only)")
            data = r2.get_object(c, rs.shop.bucket, key)
            if data is None:
                raise Blocked(f"r2://{rs.shop.bucket}/{key} disappeared while reading it")
            try:
                rs.stmts, rs.expected = backup.dry_load(data.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise Blocked(f"backup {key} cannot be restored: {exc}",
                              hint="pick another backup") from None
            rs.source = f"SQL backup r2://{rs.shop.bucket}/{key} ({len(data)} bytes)"
            st.say(f"backup loads cleanly in a private SQLite: {len(rs.stmts)} statements, "
                   + _counts(rs.expected))
    except CloudflareError as exc:
        raise rs.api("cannot resolve the source", exc) from None
    st.say(f"source: {rs.source}", note=True)


def _pending(rs: Restore) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the first `restore-started` not followed by a `restore`, the last `restore`)."""
    pending: dict[str, Any] | None = None
    done: dict[str, Any] | None = None
    for e in state.read_ledger(rs.repo, rs.remote, rs.slug):
        r = e.record
        if r.get("database_id") != rs.shop.database_id:
            continue
        if r.get("action") == "restore-started" and pending is None:
            pending = r
        elif r.get("action") == "restore":
            pending, done = None, r
    return pending, done


def _undo_point(rs: Restore, st: Step) -> str | None:
    try:
        current = d1.bookmark(rs.client, rs.shop.database_id)
    except CloudflareError as exc:
        raise rs.api("cannot read the current bookmark", exc) from None
    pending, done = _pending(rs)
    if done is not None and done.get("after_bookmark") == current \
            and done.get("source") == rs.source:
        return (f"{done.get('source')} at {done.get('recorded')} (undo: `{done.get('undo')}`)")
    if pending is not None and isinstance(pending.get("undo_bookmark"), str):
        rs.undo = pending["undo_bookmark"]
        rs.run_id = str(pending.get("run") or rs.run_id)
        st.say(f"an earlier restore started but was not recorded as done: keeping ITS undo "
               f"point {rs.undo} (the current state, {current}, may be half-restored)",
               note=True)
        return None
    rs.undo = current
    st.say(f"undo point: bookmark {rs.undo}", note=True)
    if rs.dry_run:
        st.say("dry run: not recorded")
        return None
    entry = state.append_ledger(rs.repo, rs.remote, rs.slug, {
        "action": "restore-prepared", "run": rs.run_id, "database_id": rs.shop.database_id,
        "database_name": rs.shop.database_name, "source": rs.source,
        "undo_bookmark": rs.undo, "actor": rs.actor, "recorded": fmt_time(utc_now())})
    st.say(f"recorded in the ledger: {rs.slug} #{entry.entry.seq} (before anything changes)")
    return None


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{t} {n}" for t, n in sorted(counts.items())) or "no tables"


def _plan(rs: Restore, st: Step) -> None:
    try:
        rs.before = backup.row_counts(rs.client, rs.shop.database_id)
    except CloudflareError as exc:
        raise rs.api("cannot count the rows", exc) from None
    st.say(f"database: {rs.shop.database_name} ({rs.shop.database_id}), shop {rs.slug}")
    st.say(f"source:   {rs.source}")
    if rs.stmts:
        st.say("replaces: EVERY table and view of the database (dropped, then the backup's "
               "statements are run)")
        st.say(f"rows in the backup: {_counts(rs.expected)}")
    else:
        st.say("replaces: the whole database, as it was at that point (every write since is "
               "undone)")
    st.say(f"rows now:  {_counts(rs.before)}", note=True)
    st.say(f"undo:     `{rs.undo_command()}`")


def _restore(rs: Restore, st: Step) -> None:
    c, db = rs.client, rs.shop.database_id
    try:
        if rs.stmts:
            n = backup.replace_with(c, db, rs.stmts)
            st.say(f"tables dropped; backup applied in {n} batch(es)", note=True)
        else:
            res = d1.restore(c, db, bookmark=rs.target)
            if res.previous_bookmark != rs.undo:
                st.say(f"note: the database changed after the undo point was taken; the state "
                       f"just before this restore is bookmark {res.previous_bookmark}", note=True)
            st.say(f"restored to {rs.target}: {res.message}", note=True)
    except CloudflareError as exc:
        try:  # best effort: the started record already holds the undo point
            state.append_ledger(rs.repo, rs.remote, rs.slug, {
                "action": "restore-failed", "run": rs.run_id, "database_id": db,
                "error": str(exc), "undo_bookmark": rs.undo})
        except HelmGuardError:
            pass
        raise Blocked(f"the restore failed: {exc}",
                      hint="the database may be partly restored") from None


def _verify(rs: Restore, st: Step) -> bool:
    c, db = rs.client, rs.shop.database_id
    ok = True
    try:
        rs.after = backup.row_counts(c, db)
    except CloudflareError as exc:
        raise rs.api("cannot count the rows after the restore", exc) from None
    st.say(f"rows after: {_counts(rs.after)}", note=True)
    if rs.stmts and rs.after != rs.expected:
        ok = False
        st.say(f"MISMATCH: the backup has {_counts(rs.expected)}", note=True)
    if rs.s.table in rs.after:
        rep = check_chain(c, rs.shop, rs.s, archive=False)
        rs.chain = (f"intact ({rep.rows} rows)" if rep.intact else
                    f"BROKEN at id {rep.breaks[0].id} ({rep.break_count} broken rows)")
        st.say(f"audit chain: {rs.chain}", note=True)
        ok = ok and rep.intact
    else:
        rs.chain = f"not checked ({rs.s.table} is not in the database)"
        st.say(f"audit chain: {rs.chain}")
    try:
        rs.target = d1.bookmark(c, db)
    except CloudflareError as exc:
        raise rs.api("cannot read the bookmark after the restore", exc) from None
    if not ok:
        st.status = "FAILED CHECKS"
    return ok


def _record(rs: Restore, st: Step, ok: bool) -> None:
    now = fmt_time(utc_now())
    path = evidence.resolve_incident(rs.repo, rs.slug, rs.incident,
                                     create=f"{now[:10]}-{rs.slug}-restore.md")
    rel = evidence.rel(rs.repo, path)
    record = {"action": "restore", "run": rs.run_id, "database_id": rs.shop.database_id,
              "database_name": rs.shop.database_name, "source": rs.source,
              "undo_bookmark": rs.undo, "undo": rs.undo_command(),
              "after_bookmark": rs.target, "rows_before": rs.before, "rows_after": rs.after,
              "audit_chain": rs.chain, "verified": ok, "halt": rs.halt_text,
              "actor": rs.actor, "incident_file": rel, "recorded": now}
    section = "\n".join([
        f"## Data restore {now} (helm-guard restore)", "",
        f"- Restore id: `{rs.run_id}`",
        f"- Database: {rs.shop.database_name} (`{rs.shop.database_id}`, shop {rs.slug}; "
        "the registry's id)",
        f"- Source: {rs.source}",
        f"- Undo point (bookmark before the restore): `{rs.undo}`",
        f"- Undo: `{rs.undo_command()}`",
        f"- Rows before: {_counts(rs.before)}",
        f"- Rows after: {_counts(rs.after)}",
        f"- Audit chain after: {rs.chain}",
        f"- Verified: {'yes' if ok else 'NO: see the rows and the chain above'}",
        f"- By: {rs.actor}; halt: {rs.halt_text or 'none recorded'}",
    ])
    evidence.append(path, f"- Restore id: `{rs.run_id}`", section,
                    title=f"Data restore of {rs.slug}")
    st.say(f"incident file: {rel} (commit it to the fleet repository)", note=True)
    entry = state.append_ledger(rs.repo, rs.remote, rs.slug, record)
    st.say(f"ledger {rs.slug} #{entry.entry.seq}")
