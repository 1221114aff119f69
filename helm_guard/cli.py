"""The command line: a thin table of subcommands over command functions.

Each subcommand lives in `helm_guard/commands/<name>.py` and exposes
`add_arguments(parser)` and `run(args) -> int`. Only the module of the command being run is
imported, so `helm-guard check` never pays for git or wrangler imports. This module is the
single error boundary: expected failures print their message and exit 1/2; anything else
prints a short internal-error notice (no traceback unless HELM_GUARD_DEBUG=1) and exits 3.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from helm_guard import __version__
from helm_guard.errors import EXIT_INTERNAL, EXIT_USAGE, HelmGuardError

# name -> one-line summary; the module is helm_guard.commands.<name> ("-" -> "_")
COMMANDS: dict[str, str] = {
    "check": "check every shop's wrangler config against the fleet registry",
    "inspect": "show what wrangler will deploy from config files, target by target",
    "gate": "the CI deploy gate: check, affected shops, rebinds, halts, deploy matrix",
    "verify": "re-check one shop right before it is deployed (digest + halt)",
    "batch": "print one batch of the deploy plan as a GitHub matrix",
    "halt": "halt deploys of the whole fleet or of some shops",
    "resume": "lift a halt",
    "status": "show halts, their history, and whether the state could be read",
    "deploy": "two-phase verified deploy of one shop (upload, verify bindings, activate)",
    "rollback": "roll a shop back to the newest version whose bindings are its own",
    "drill": "run disaster drills in a sandbox and report what the guard did",
    "audit": "compare what is live on Cloudflare with the registry, tenant by tenant",
    "emulator": "serve the local Cloudflare API emulator to rehearse deploy/rollback by hand",
    "data-audit": "audit both shops' data written while a swapped version was live",
    "audit-chain": "verify a shop's audit chain and compare it with the monthly archive",
    "restore": "restore a shop's D1 database (Time Travel point or SQL backup), undoably",
    "secrets": "which required secrets each shop's live Worker has (names only)",
    "revoke-sessions": "revoke a staff member's sessions in one shop's database (leaked token)",
    "runbook": "print the runbook for one shop, every command filled in",
}


def _build_parser(command: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helm-guard",
        description="Guardrails for a fleet of single-tenant Cloudflare shops.",
        epilog="exit codes: 0 clean, 1 blocked/findings, 2 usage or configuration, 3 internal",
    )
    parser.add_argument("--version", action="version", version=f"helm-guard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, summary in COMMANDS.items():
        p = sub.add_parser(name, help=summary, description=summary)
        if name == command:
            module = importlib.import_module(f"helm_guard.commands.{name.replace('-', '_')}")
            module.add_arguments(p)
    return parser


def _command_of(args: Sequence[str]) -> str | None:
    command = next((a for a in args if not a.startswith("-")), None)
    return command if command in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = _command_of(args_list)
    parser = _build_parser(command)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse: --help/--version exit 0, errors exit 2
        return int(exc.code or 0) if exc.code in (0, None) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    module = importlib.import_module(f"helm_guard.commands.{args.command.replace('-', '_')}")
    try:
        return int(module.run(args))
    except HelmGuardError as exc:
        print(f"helm-guard {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"helm-guard {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_USAGE
    except Exception as exc:  # the error boundary: never a bare traceback
        print(
            f"helm-guard {args.command}: internal error: {type(exc).__name__}: {exc}\n"
            "  this is a bug in helm-guard, not in your configuration; the deploy is blocked.\n"
            "  set HELM_GUARD_DEBUG=1 to see the traceback, and report it.",
            file=sys.stderr,
        )
        if os.environ.get("HELM_GUARD_DEBUG"):
            traceback.print_exc()
        return EXIT_INTERNAL


# Commands that run the whole-fleet check run without the cyclic GC: its first collection
# after a 10,000-shop check would rescan every object the check made (about 0.15 s), and these
# processes are short. Reference counting still frees everything that is not a cycle.
_NO_GC = frozenset({"check", "inspect", "gate", "verify"})
# Of those, the ones that only read and print (the gate's report files are written and closed
# before it returns): once their output is flushed they end at once (`os._exit`) instead of
# freeing those objects one by one (about 0.06 s). Commands that write state or clean up after
# themselves at exit (child processes) exit normally.
_FAST_EXIT = frozenset({"check", "inspect", "gate"})


def console_main() -> NoReturn:
    """The `helm-guard` console script and `python -m helm_guard`."""
    command = _command_of(sys.argv[1:])
    if command in _NO_GC:
        gc.disable()
    code = main()
    if command in _FAST_EXIT:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:  # a closed pipe: let the normal exit report it
            raise SystemExit(code) from None
        os._exit(code)
    raise SystemExit(code)
