"""`helm-guard revoke-sessions --shop SLUG --staff ID [--stage STAGE] [--dry-run] [--yes]`:
revoke every session of one staff member in one shop's database (a leaked `helm_session`
cookie). The library is `helm_guard.sessions`; this module runs its steps in order:

1. resolve: the staff id is an id (else exit 2, nothing sent); the database is the registry's
   `database_id` for the shop (never a config binding), and Cloudflare must call it the
   shop's own database name;
2. count the staff member's sessions and everyone else's (nothing to revoke: stop, exit 0);
3. confirm: type the shop slug (`--yes` for automation); `--dry-run` stops here, read-only;
4. record first: a `revoke-sessions-started` ledger event on the state branch;
5. delete, one parameterised statement;
6. verify: the staff member has 0 sessions, no more rows went than were counted, the other
   staff's sessions did not decrease (else exit 1, loudly);
7. record: a `revoke-sessions` ledger event (who, when, shop, staff, count) and
   `docs/incidents/<date>-<slug>-sessions.md`; then the runbook's next steps.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any, TextIO

from helm_guard import state
from helm_guard.commands._common import add_fleet_option
from helm_guard.errors import EXIT_BLOCKED, EXIT_OK, Blocked, UsageError
from helm_guard.fleet import find_fleet_file, load_fleet
from helm_guard.incident import Steps, fmt_time, utc_now
from helm_guard.sessions import (
    NEXT_STEPS,
    Database,
    Revocation,
    actor,
    check_staff_id,
    registry_target,
    verify,
    write_incident,
)
from helm_guard.slugs import check_shop_slug

TOTAL = 7


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shop", required=True, metavar="SLUG", help="the shop's slug")
    p.add_argument("--staff", required=True, metavar="ID",
                   help="the staff member's id (a whole number or a UUID)")
    p.add_argument("--stage", metavar="STAGE", help="a registered stage of the shop "
                   "(default: production)")
    add_fleet_option(p)
    p.add_argument("--remote", metavar="NAME", help="the git remote holding the ledger "
                   '(default: the fleet file\'s "state.remote", else origin)')
    p.add_argument("--dry-run", action="store_true",
                   help="count and show the plan; change nothing")
    p.add_argument("--yes", action="store_true", help="do not ask for the shop slug")


def run(args: argparse.Namespace, *, client: Any = None, stdin: TextIO | None = None,
        out: TextIO | None = None) -> int:
    """Entry point; `client` (API), `stdin`, `out` are for tests."""
    slug = check_shop_slug(args.shop)
    staff = check_staff_id(args.staff)
    stage = args.stage
    if stage is not None and not (isinstance(stage, str) and stage.isalnum()
                                  and stage.islower()):
        raise UsageError(f"--stage {stage!r} is not a stage name")
    fleet = load_fleet(find_fleet_file(args.fleet))
    target = registry_target(fleet, slug, stage)
    stream = out if out is not None else sys.stdout
    reader = stdin if stdin is not None else sys.stdin
    label = target.tenant.label()
    steps = Steps(TOTAL, out=stream, name="revoke-sessions")
    mode = " (DRY RUN: nothing will be changed)" if args.dry_run else ""
    steps.say(f"helm-guard revoke-sessions: shop {label}, staff {staff}{mode}")
    if client is None:
        from helm_guard.cloudflare.api import Client, CloudflareError

        try:
            client = Client.from_env()
        except CloudflareError as exc:
            raise UsageError(str(exc), hint=exc.hint) from None
    db = Database(client, target)
    table = f"{target.table.table}.{target.table.column}"
    if not args.dry_run:  # where the record goes, and who signs it: known before any query
        repo = state.resolve_repo(fleet.root)
        remote = args.remote or (fleet.data.get("state") or {}).get("remote") or "origin"
        if not isinstance(remote, str) or remote.startswith("-") or not remote.strip():
            raise UsageError(f"--remote {remote!r} is not a remote name")
        who = actor(repo)

    with steps.step(1, "resolve the shop's database (registry)") as s:
        _api(db.confirm_identity)
        s.say(f"{target.database_name} = registry id {target.database_id}", note=True)
    with steps.step(2, "count the sessions") as s:
        before = _api(lambda: db.counts(staff))
        s.say(f"staff {staff}: {before.staff} session(s) in {table}; other staff: "
              f"{before.others}", note=True)
    if before.staff == 0:
        steps.say(f"nothing to revoke: staff {staff} has no session in {label}'s database")
        _next_steps(steps, slug)
        return EXIT_OK
    with steps.step(3, "confirm") as s:
        s.say(f"plan: DELETE the {before.staff} session(s) of staff {staff} from "
              f"{target.database_name}; the {before.others} session(s) of other staff stay")
        if args.dry_run:
            s.say("dry run: stopping here; nothing was changed")
            s.status = "stopped (dry run)"
            return EXIT_OK
        if args.yes:
            s.say("confirmed by --yes", note=True)
        else:
            s.say(f"type '{slug}' to continue: ")
            answer = reader.readline()
            if answer.strip() != slug:
                raise Blocked("not confirmed: nothing was deleted",
                              hint="run the command again and type the shop slug")
            s.say(f"confirmed by typing '{slug}'", note=True)
    incident = uuid.uuid4().hex[:12]
    started = steps.records[0].started
    base: dict[str, Any] = {"shop": slug, "stage": target.tenant.stage, "staff": staff,
                            "database_id": target.database_id,
                            "database": target.database_name, "table": table,
                            "incident": incident, "actor": who, "started": started}
    with steps.step(4, "record the intent (ledger)") as s:
        appended = state.append_ledger(repo, remote, slug, {
            "action": "revoke-sessions-started", **base, "count": before.staff})
        s.say(f"ledger {slug} #{appended.entry.seq}", note=True)
    with steps.step(5, "delete the sessions (one parameterised statement)") as s:
        deleted = _api(lambda: db.delete(staff))
        s.say(f"deleted {deleted if deleted is not None else 'an unreported number of'} "
              "row(s)", note=True)
    with steps.step(6, "verify") as s:
        after = _api(lambda: db.counts(staff))
        s.say(f"staff {staff}: {after.staff} session(s); other staff: {after.others} "
              f"(before: {before.others})", note=True)
        problems = verify(before, deleted, after)
        for p in problems:
            s.say(f"NOT AS EXPECTED: {p}", note=True)
        if problems:
            s.status = "FAILED"
    with steps.step(7, "record (ledger + incident file)") as s:
        rev = Revocation(incident, started, who, target, staff, before, deleted, after,
                         _owner(fleet, slug), steps.records)
        path = write_incident(repo, rev)
        rel = path.relative_to(repo).as_posix()
        appended = state.append_ledger(repo, remote, slug, {
            "action": "revoke-sessions", **base, "count": before.staff, "deleted": deleted,
            "remaining": after.staff, "others_before": before.others,
            "others_after": after.others, "verified": not problems, "incident_file": rel,
            "finished": fmt_time(utc_now())})
        s.say(f"ledger {slug} #{appended.entry.seq}; incident file {rel} (commit it)",
              note=True)
    _next_steps(steps, slug)
    if problems:
        steps.say("VERIFY FAILED: " + "; ".join(problems))
        return EXIT_BLOCKED
    return EXIT_OK


def _api(call: Any) -> Any:
    """Run an API call; a Cloudflare error blocks (exit 1) with its message."""
    from helm_guard.cloudflare.api import CloudflareError

    try:
        return call()
    except CloudflareError as exc:
        raise Blocked(str(exc), hint=exc.hint or "check the token and CLOUDFLARE_API_BASE_URL; "
                      "nothing after the failed step was done") from None


def _owner(fleet: Any, slug: str) -> str | None:
    owner = fleet.shops[slug].get("owner")
    return owner if isinstance(owner, str) else None


def _next_steps(steps: Steps, slug: str) -> None:
    steps.say("next steps (runbook: a session token leaked):")
    for n, line in enumerate(NEXT_STEPS, start=1):
        steps.say(f"  {n}. {line.format(slug=slug)}")
