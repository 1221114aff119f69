"""`helm-guard data-audit --incident FILE` (or `--shop A --other B --from T1 --to T2`): the
rows each shop's database got while the swapped version was live, and whether the wrong
shop's data was written. Read-only; the logic is in `helm_guard.recovery.data_audit`.
Exit 0 nothing written to another shop's database, 1 (possibly) written, 2 usage."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from helm_guard.commands._common import add_fleet_option
from helm_guard.errors import UsageError
from helm_guard.slugs import check_shop_slug


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--incident", metavar="FILE",
                   help="the incident file the rollback wrote (window, shops; evidence goes here)")
    p.add_argument("--shop", metavar="SLUG", help="the shop whose Worker was swapped")
    p.add_argument("--other", action="append", default=[], metavar="SLUG",
                   help="the shop whose resources it bound (repeatable)")
    p.add_argument("--from", dest="start", metavar="T", help="when the swapped version went live")
    p.add_argument("--to", dest="end", metavar="T", help="when it was rolled back")
    p.add_argument("--page", type=int, default=1000, metavar="ROWS", help="rows per D1 query")
    add_fleet_option(p)


def run(args: argparse.Namespace, *, client: Any = None, out: TextIO | None = None) -> int:
    from helm_guard import state
    from helm_guard.fleet import find_fleet_file, load_fleet
    from helm_guard.recovery import data_audit, window
    from helm_guard.recovery.settings import client_from_env

    shop = check_shop_slug(args.shop) if args.shop else None
    others = [check_shop_slug(o, "--other") for o in args.other]
    if not 1 <= args.page <= 10_000:
        raise UsageError("--page must be between 1 and 10000")
    incident = Path(args.incident).resolve() if args.incident else None
    if incident is not None and not incident.is_file():
        raise UsageError(f"incident file not found: {args.incident}")
    fleet = load_fleet(find_fleet_file(args.fleet))
    w = window.resolve(incident, shop, others, args.start, args.end)
    return data_audit.run(fleet, client or client_from_env(), w,
                          repo=state.resolve_repo(fleet.root), incident=incident,
                          page=args.page, out=out or sys.stdout)
