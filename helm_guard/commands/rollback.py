"""`helm-guard rollback --shop SLUG`: the operator's command for a binding-swap incident.

Seven steps, printed as they run (`[n/7] <step> … ok (0.4 s)`):

1. halt deploys: the whole fleet (as the runbook says), or only the shop with
   `--halt-scope shop`; reason "rollback of SLUG". An active halt that already covers it is
   kept, not duplicated.
2. choose the target by correctness, not recency: among the versions Cloudflare can still roll
   back to (`versions list`: the last 10), the newest whose bindings equal the shop's expected
   ones (`helm_guard.bindings`), preferring, in this order, versions the ledger recorded as
   deployed (or rolled back to) by helm-guard, then versions Cloudflare's deployment history
   shows were live, then versions that were only uploaded. wrangler's own default (the
   previous 100% deployment) is never used: it can be the bad version itself. `--to` names a
   version explicitly; it is checked the same way and refused if it is not eligible. A live
   version that already matches is kept: without `--to` there is nothing to roll back.
3. show the plan: live vs target bindings side by side, naming the shop that owns each
   resource, and the other shop(s) the live version touches.
4. confirm: type the shop slug (not y/n); `--yes` for automation; `--dry-run` stops here.
   A dry run changes nothing at all: no halt, no Cloudflare write, no ledger, no file.
5. roll back: `helm_guard.wrangler.rollback`, which never forces. If Cloudflare answers 10220
   (secrets changed since the target version), the command explains which secrets changed and
   asks again (type the slug). With `--yes` it refuses unless `--force-secrets` is also
   given: automation must opt in to running old code with new secrets explicitly.
6. verify: re-read the live deployment; the target must serve 100% and bind exactly the
   expected resources. Otherwise it says so loudly and exits 1.
7. record: a `rollback` ledger event and `docs/incidents/<date>-<slug>.md` in the fleet repo
   (`helm_guard.incident`). The halt stays; the output ends with the next steps.

Converging re-runs: after the confirmation, before touching Cloudflare, a `rollback-started`
event (from/to versions, before/after bindings, the steps so far) is appended to the ledger; a
failure at step 5 appends `rollback-failed` (best effort). A re-run reads the ledger and the
live deployment: if the target is already live (the earlier run got that far, or a timed-out
request took effect after all) it skips to verify and record, reusing the incident's id, its
"before" bindings and its timeline; if a completed rollback to the live version is recorded it
reports that and stops. Every failure says at which step it stopped and how to continue.

wrangler runs only for the rollback request itself, with `--name` and a private empty config
(never the shop's config: that file may be the very thing that was swapped), in the sandbox of
`helm_guard.cloudflare.sandbox`; every read (deployments, versions, the live version) goes
through the API door (`helm_guard.cloudflare.readback`). The incident file records when the bad
version went live (the `created_on` of the oldest deployment in Cloudflare's history that gave
it traffic), which bounds the data audit.

This module parses the arguments and runs the steps in order; the steps themselves live in
`helm_guard.rollback` (see its package docstring for which module does what).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from helm_guard.cloudflare.wrangler import VERSION_ID_RE, Wrangler, validate_message
from helm_guard.commands._common import add_common_arguments
from helm_guard.errors import EXIT_BLOCKED, EXIT_OK, HelmGuardError, UsageError
from helm_guard.incident import INCIDENT_DIR, run_steps
from helm_guard.rollback.apply import roll_back, verify
from helm_guard.rollback.halt import halt_deploys
from helm_guard.rollback.ledger import journal, record_failure
from helm_guard.rollback.plan import confirm, show_plan
from helm_guard.rollback.record import next_steps, record
from helm_guard.rollback.session import Rollback
from helm_guard.rollback.target import choose_target
from helm_guard.slugs import check_shop_slug


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_arguments(p)
    p.add_argument("--to", metavar="VERSION_ID", help="roll back to this version (still checked)")
    p.add_argument(
        "--dry-run", action="store_true", help="stop after showing the plan; change nothing"
    )
    p.add_argument("--yes", action="store_true", help="do not ask for the shop slug (automation)")
    p.add_argument(
        "--force-secrets",
        action="store_true",
        help="roll back even if secrets changed since the target version (Cloudflare 10220); "
        "needed together with --yes, since --yes alone never forces",
    )
    p.add_argument(
        "--halt-scope",
        choices=("fleet", "shop"),
        default="fleet",
        help="halt the whole fleet (default, as the runbook says) or only this shop",
    )
    p.add_argument("--message", "-m", metavar="TEXT", help="annotation for the rollback")


def run(
    args: argparse.Namespace,
    *,
    wrangler: Wrangler | None = None,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> int:
    """Entry point; `wrangler`, `stdin`, `out` are for tests."""
    slug = check_shop_slug(args.shop)
    if args.to is not None and not VERSION_ID_RE.fullmatch(args.to):
        raise UsageError(
            f"--to {args.to!r} is not a version id",
            hint="a version id is a lowercase UUID; `wrangler versions list --name helm-"
            f"{slug}` lists them",
        )
    message = args.message if args.message is not None else f"helm-guard rollback of {slug}"
    validate_message(message)
    rb = Rollback(
        slug,
        fleet_path=args.fleet,
        to=args.to,
        dry_run=args.dry_run,
        yes=args.yes,
        force_secrets=args.force_secrets,
        halt_scope=args.halt_scope,
        remote=args.remote,
        message=message,
        wrangler=wrangler,
        wrangler_args=args,
        stdin=stdin if stdin is not None else sys.stdin,
        out=out if out is not None else sys.stdout,
    )
    return _execute(rb)


def _execute(rb: Rollback) -> int:
    return run_steps(rb.steps, f"helm-guard rollback: shop {rb.slug}, Worker {rb.worker}",
                     dry_run=rb.dry_run, body=lambda: _run_steps(rb),
                     continue_hint=rb.continue_hint, joint="\n  to continue: ")


def _run_steps(rb: Rollback) -> int:
    """The seven steps, in order; each module of `helm_guard.rollback` does one or two."""
    with rb.steps.step(1, "halt deploys") as s:
        halt_deploys(rb, s)
    with rb.steps.step(2, "choose the target version") as s:
        outcome = choose_target(rb, s)
    if outcome is not None:
        next_steps(rb, done=outcome == "done")
        return EXIT_OK
    with rb.steps.step(3, "show the plan") as s:
        show_plan(rb, s)
    with rb.steps.step(4, "confirm") as s:
        if rb.dry_run:
            s.say("dry run: stopping here; nothing was changed (no halt, no rollback, no record)")
            s.status = "stopped (dry run)"
            return EXIT_OK
        confirm(rb, s)
    with rb.steps.step(5, f"roll back to {rb.target_id}") as s:
        journal(rb)
        try:
            roll_back(rb, s)
        except HelmGuardError as exc:
            record_failure(rb, exc)
            raise
    with rb.steps.step(6, "verify the live deployment") as s:
        ok = verify(rb, s)
    if not ok:
        return EXIT_BLOCKED
    with rb.steps.step(7, "record (ledger + incident file)") as s:
        record(rb, s)
    next_steps(rb, done=True)
    return EXIT_OK


def incident_dir(repo: Path) -> Path:
    """Where incident files go (for tests and drills)."""
    return repo / INCIDENT_DIR
