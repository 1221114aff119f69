"""`helm-guard resume`: lift a halt of the fleet (default) or of some shops.

A fleet resume lifts fleet halts only; shop halts stay until resumed by shop, and a shop resume
does not lift a fleet halt. Only halts that exist when the command starts are lifted: a halt
someone records while this runs survives. On a fleet with no halt state yet, resume creates it
(an `init` event), which is the way to initialise a new fleet without halting anything.
"""

from __future__ import annotations

import argparse

from helm_guard import state
from helm_guard.errors import EXIT_OK, Blocked


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--reason",
        required=True,
        metavar="TEXT",
        help="why deploys may go on (recorded with your git identity)",
    )
    p.add_argument(
        "--shop",
        action="append",
        default=[],
        dest="shops",
        metavar="SLUG",
        help="lift only this shop's halts (repeatable); default: the fleet halt",
    )
    state.add_location_arguments(p)


def run(args: argparse.Namespace) -> int:
    repo = state.resolve_repo(args.repo)
    for slug in args.shops:
        state.check_slug(slug)
    args.remote = state.pick_remote(args.remote, state.fleet_settings(repo))
    try:
        result = state.resume(repo, args.remote, reason=args.reason, shops=args.shops)
    except state.StateUnreadable as exc:
        raise Blocked(f"{exc.message}\n  nothing was resumed", hint=exc.hint) from None
    now = state.utcnow()
    target = "the fleet" if not args.shops else "shop " + ", ".join(args.shops)
    event = result.event
    if event is not None and event.action == "init":
        print(
            f"initialised halt state on {args.remote} {state.STATE_BRANCH} at "
            f"{(result.commit or '')[:12]}; nothing was halted"
        )
        return EXIT_OK
    if not result.changed:
        print(f"nothing to lift: {target} has no halt of its own")
    else:
        for h in result.lifted:
            status = " (had expired)" if h.is_expired(now) else ""
            print(
                f"lifted {h.target} halt{status} by {h.by} since "
                f"{state.format_when(h.since)}: {h.reason}"
            )
        print(f"recorded on {args.remote} {state.STATE_BRANCH} at {(result.commit or '')[:12]}")
    active = result.state.active(now)
    if not active:
        print("nothing is halted now: deploys may proceed")
        return EXIT_OK
    print(f"still in force ({len(active)}):")
    for h in active:
        print(f"  {state.describe_halt(h, now)}")
    fleet_halted = any(h.scope == "fleet" for h in active)
    if args.shops and fleet_halted:
        print(
            f"note: shop {', '.join(args.shops)} "
            f"{'stays' if len(args.shops) == 1 else 'stay'} blocked by the fleet halt; "
            "lift it with `helm-guard resume --reason TEXT`"
        )
    elif not args.shops and not fleet_halted:
        print(
            "note: shop halts stay until lifted with `helm-guard resume --shop SLUG --reason TEXT`"
        )
    return EXIT_OK
