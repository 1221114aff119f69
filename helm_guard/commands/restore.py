"""`helm-guard restore --shop SLUG (--timestamp T | --bookmark B | --backup KEY) [--dry-run]
[--yes] [--incident FILE]`: restore a shop's D1 database, undoably.

The steps live in `helm_guard.recovery.restore` (see its docstring); this module parses the
arguments. The database is the registry's `database_id`, the backups are in the shop's own
bucket (naming template): no wrangler config is read.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from helm_guard.commands._common import add_fleet_option
from helm_guard.errors import UsageError
from helm_guard.slugs import check_shop_slug

TIMESTAMP_RE = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,6})?)?(Z|[+-]\d\d:\d\d)|\d{9,11}")
BACKUP_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,500}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shop", required=True, metavar="SLUG", help="the shop's slug")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--timestamp", metavar="T",
                     help="Time Travel: the state at T (ISO 8601 with Z/offset, or Unix seconds)")
    src.add_argument("--bookmark", metavar="B", help="Time Travel: a bookmark (e.g. an undo point)")
    src.add_argument("--backup", metavar="KEY",
                     help="a SQL backup in the shop's bucket, e.g. backups/db/2026-05-08.sql")
    p.add_argument("--dry-run", action="store_true",
                   help="stop after the plan: no halt, no record, no write to Cloudflare")
    p.add_argument("--yes", action="store_true", help="do not ask for the shop slug (automation)")
    p.add_argument("--incident", metavar="FILE",
                   help="the incident file to append to (default: the shop's newest)")
    add_fleet_option(p)
    p.add_argument("--remote", metavar="NAME",
                   help="the git remote holding the halt state and ledger")


def run(args: argparse.Namespace, *, client: Any = None, stdin: TextIO | None = None,
        out: TextIO | None = None) -> int:
    from helm_guard import state
    from helm_guard.deploying import actor, remote_of
    from helm_guard.fleet import find_fleet_file, load_fleet
    from helm_guard.recovery import restore
    from helm_guard.recovery.settings import client_from_env

    slug = check_shop_slug(args.shop)
    if args.timestamp is not None and not TIMESTAMP_RE.fullmatch(args.timestamp):
        raise UsageError(f"--timestamp {args.timestamp!r} is not a time",
                         hint="use ISO 8601 with a zone, e.g. 2026-05-08T10:00:00Z")
    if args.backup is not None and (not BACKUP_KEY_RE.fullmatch(args.backup)
                                    or ".." in args.backup.split("/")):
        raise UsageError(f"--backup {args.backup!r} is not an object key")
    if args.timestamp is not None:
        from helm_guard.recovery.window import parse_time

        when = (parse_time(args.timestamp, "--timestamp") if not args.timestamp.isdigit()
                else None)
        if when is not None and when > datetime.now(UTC):
            raise UsageError(f"--timestamp {args.timestamp} is in the future",
                             hint="a Time Travel point is a moment in the past")
    fleet = load_fleet(find_fleet_file(args.fleet))
    repo = state.resolve_repo(fleet.root)
    rs = restore.Restore(
        fleet, slug, client or client_from_env(), timestamp=args.timestamp,
        bookmark=args.bookmark, backup_key=args.backup, dry_run=args.dry_run, yes=args.yes,
        incident=args.incident, repo=repo, remote=remote_of(fleet, args.remote),
        actor=actor(repo), stdin=stdin if stdin is not None else sys.stdin,
        out=out if out is not None else sys.stdout)
    return restore.run(rs)
