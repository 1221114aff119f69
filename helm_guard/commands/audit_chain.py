"""`helm-guard audit-chain --shop SLUG [--from-id N]`: verify a shop's audit chain.

The logic lives in `helm_guard.recovery.audit_chain`; this module parses the arguments.
Exit 0 intact, 1 broken (SEV1) or undecidable, 2 usage/configuration, 3 internal.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from helm_guard.commands._common import add_fleet_option
from helm_guard.errors import UsageError
from helm_guard.slugs import check_shop_slug


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shop", required=True, metavar="SLUG", help="the shop's slug")
    p.add_argument("--from-id", type=int, metavar="N",
                   help="start at row id N (its link to the row before is still checked)")
    p.add_argument("--page", type=int, default=1000, metavar="ROWS",
                   help="rows per D1 query (default 1000)")
    add_fleet_option(p)


def run(args: argparse.Namespace, *, client: Any = None, out: TextIO | None = None) -> int:
    from helm_guard.fleet import find_fleet_file, load_fleet
    from helm_guard.recovery import audit_chain
    from helm_guard.recovery.settings import client_from_env

    slug = check_shop_slug(args.shop)
    if args.from_id is not None and args.from_id < 1:
        raise UsageError("--from-id must be a row id (1 or more)")
    if not 1 <= args.page <= 10_000:
        raise UsageError("--page must be between 1 and 10000")
    fleet = load_fleet(find_fleet_file(args.fleet))
    return audit_chain.run(fleet, slug, client or client_from_env(), from_id=args.from_id,
                           page=args.page, out=out or sys.stdout)
