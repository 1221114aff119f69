"""Options and helpers shared by several commands."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from helm_guard.errors import UsageError


def add_fleet_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fleet", metavar="FILE",
                   help="the fleet file (default: helm-fleet.jsonc here or in a parent directory)")


def write_output(text: str, output: str | None) -> None:
    """Print `text`, or write it to `output`: a regular file atomically (temp file, then
    rename); anything else that exists (`/dev/null`, a pipe, a terminal) in place, never
    replaced."""
    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(output)
    if path.exists() and not path.is_file():
        try:
            with path.open("w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from exc
        return
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from exc


# What `keep_until_exit` holds: nothing reads it.
_KEPT: list[object] = []


def keep_until_exit(value: object) -> None:
    """Keep `value` alive for the rest of the process. A whole-fleet check leaves about a
    million small objects behind; freeing them one by one when the command returns costs about
    10 ms, just before the process ends without freeing anything (`cli.console_main`). Only the
    latest value is kept, so an in-process caller running commands in a loop holds one."""
    _KEPT[:] = [value]


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    """`--shop`, `--fleet`, `--remote`, `--wrangler`, `--wrangler-timeout` (deploy, rollback)."""
    from helm_guard.cloudflare.wrangler import DEFAULT_TIMEOUT

    p.add_argument("--shop", required=True, metavar="SLUG", help="the shop's slug")
    add_fleet_option(p)
    p.add_argument(
        "--remote",
        metavar="NAME",
        help="the git remote holding the halt state and ledger "
        '(default: the fleet file\'s "state.remote", else origin)',
    )
    p.add_argument(
        "--wrangler",
        metavar="PATH",
        help="the wrangler executable (default: $HELM_GUARD_WRANGLER, else the fleet "
        "root's node_modules/.bin/wrangler); it must be the pinned wrangler 4.86.0",
    )
    p.add_argument(
        "--wrangler-timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"give up on one wrangler call after this long (default: {DEFAULT_TIMEOUT:g})",
    )
