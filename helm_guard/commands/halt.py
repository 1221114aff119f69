"""`helm-guard halt`: stop deploys of the whole fleet, or of some shops, right now.

Needs only git push access to the fleet repository's remote (no Cloudflare token) and takes
seconds. The halt is a commit on the remote's `helm-guard/state` branch, authored by your git
identity; your work tree, index and HEAD are not touched. Rollbacks stay possible while halted.
"""

from __future__ import annotations

import argparse
import sys

from helm_guard import state
from helm_guard.errors import EXIT_OK, Blocked, UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--reason",
        required=True,
        metavar="TEXT",
        help="why deploys must stop (recorded with your git identity)",
    )
    p.add_argument(
        "--shop",
        action="append",
        default=[],
        dest="shops",
        metavar="SLUG",
        help="halt only this shop (repeatable); default: the whole fleet",
    )
    p.add_argument(
        "--expires",
        metavar="DURATION",
        help="stop blocking after 30m, 2h, 3d ... (default: until resumed)",
    )
    state.add_location_arguments(p)


def check_known_shops(settings: state.FleetSettings, shops: list[str]) -> str | None:
    """Refuse slugs the fleet file does not know (a typo would halt nothing).

    Returns a note when the fleet file cannot be read: a halt must still work when the fleet
    file itself is the incident, so that is not a reason to refuse.
    """
    if not shops:
        return None
    if settings.shops is None:
        return "note: shop names not checked: " + (settings.note or "no fleet file found")
    unknown = [s for s in shops if s not in settings.shops]
    if unknown:
        raise UsageError(
            f"unknown shop {', '.join(unknown)}: not in the fleet file",
            hint="known shops: " + ", ".join(sorted(settings.shops)) + "; nothing was halted",
        )
    return None


def run(args: argparse.Namespace) -> int:
    repo = state.resolve_repo(args.repo)
    expires = state.parse_duration(args.expires) if args.expires else None
    for slug in args.shops:
        state.check_slug(slug)
    settings = state.fleet_settings(repo)
    note = check_known_shops(settings, args.shops)
    if settings.note and not note:
        note = f"note: {settings.note}"
    args.remote = state.pick_remote(args.remote, settings)
    try:
        result = state.halt(
            repo, args.remote, reason=args.reason, shops=args.shops, expires=expires
        )
    except state.StateUnreadable as exc:
        raise Blocked(
            f"{exc.message}\n  the halt was NOT recorded (deploys are blocked anyway while the "
            "state is unreadable)",
            hint=exc.hint,
        ) from None
    if note:
        print(note, file=sys.stderr)
    event = result.event
    assert event is not None and result.commit is not None
    now = event.at
    what = "fleet (every shop)" if event.scope == "fleet" else event.target
    until = f"expires {state.format_time(event.expires)}" if event.expires else "until resumed"
    print(f"halted {what}: recorded on {args.remote} {state.STATE_BRANCH} at {result.commit[:12]}")
    print(f"  by {event.by}, {until}")
    print(f"  reason: {event.reason}")
    active = result.state.active(now)
    print(f"in force now ({len(active)}):")
    for h in active:
        print(f"  {state.describe_halt(h, now)}")
    print(
        "next: rollbacks still work while halted (helm-guard rollback --shop SLUG); lift with "
        "`helm-guard resume "
        + " ".join(f"--shop {s}" for s in event.shops)
        + (" " if event.shops else "")
        + "--reason TEXT`"
    )
    return EXIT_OK
