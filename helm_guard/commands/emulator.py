"""`helm-guard emulator`: serve the local Cloudflare API emulator (the one the drills use) so an
operator can rehearse `deploy` and `rollback` by hand, without touching Cloudflare.

    helm-guard emulator [--port N] [--seed-fleet] [--fleet FILE] [--account-id HEX]

Listens on 127.0.0.1 only. Prints the `export` lines to paste into another shell (stdout), then
serves until Ctrl-C (or SIGTERM) and exits 0. The token it prints is a random one for this
emulator only; requests without it are refused. With `--seed-fleet`, every registered shop's
target of the fleet gets its Worker with one version bound as its config says, deployed: a live,
clean fleet to halt, deploy and roll back.

Exit codes: 0 stopped by Ctrl-C/SIGTERM, 2 usage (port in use, bad account id, no fleet for
`--seed-fleet`).
"""

from __future__ import annotations

import argparse
import re
import secrets
import signal
import sys
import threading
from types import FrameType

from helm_guard.commands._common import add_fleet_option
from helm_guard.errors import EXIT_OK, UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=0, metavar="N",
                   help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--seed-fleet", action="store_true",
                   help="deploy one version per registered shop target of the fleet first")
    add_fleet_option(p)
    p.add_argument("--account-id", metavar="HEX",
                   help="the emulated account (default: the fleet's account_id, else a fixed "
                        "dummy one)")


def run(args: argparse.Namespace) -> int:
    from helm_guard.emulator import DEFAULT_ACCOUNT_ID, CloudflareEmulator
    from helm_guard.fleet import find_fleet_file, load_fleet

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: not a port number (0-65535; 0 picks a free one)")
    fleet = None
    if args.seed_fleet or args.fleet:
        fleet = load_fleet(find_fleet_file(args.fleet))
    account = args.account_id or (fleet.account_id if fleet is not None else None) \
        or DEFAULT_ACCOUNT_ID
    if not re.fullmatch(r"[0-9a-f]{32}", account):
        raise UsageError(f"account id {account!r} is not 32 lowercase hex digits",
                         hint="pass --account-id with the id wrangler configs name")
    token = "helm-guard-emulator-" + secrets.token_hex(16)
    emu = CloudflareEmulator(account, token=token)
    try:
        base_url = emu.start(args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}",
                         hint="choose another --port, or omit it to get a free one") from None
    try:
        if fleet is not None and args.seed_fleet:
            from helm_guard.drill.rehearse import seed_fleet

            for s in seed_fleet(emu, fleet):
                _say(f"seeded {s.tenant}: Worker {s.worker}, version {s.version_id} live")
        print(f"export CLOUDFLARE_API_BASE_URL={base_url}\n"
              f"export CLOUDFLARE_API_TOKEN={token}\n"
              f"export CLOUDFLARE_ACCOUNT_ID={account}", flush=True)
        _say("helm-guard emulator: a local Cloudflare API emulator (not Cloudflare) on "
            f"{base_url}; export the lines above in another shell, then run helm-guard "
            "deploy/rollback or wrangler there. Ctrl-C stops it (all state is lost).")
        _wait_for_stop()
    finally:
        emu.stop()
    _say(f"helm-guard emulator: stopped after {len(emu.requests)} requests")
    return EXIT_OK


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _wait_for_stop() -> None:
    """Block until Ctrl-C or SIGTERM."""
    stop = threading.Event()

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
