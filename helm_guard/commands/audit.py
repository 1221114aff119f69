"""`helm-guard audit [--shop SLUG ...] [--format text|json|markdown] [--halt-on-drift]`: what
runs on Cloudflare, tenant by tenant, against the registry (see `helm_guard.audit`).

Exit 0 only when every tenant is IN SYNC; 1 on any DRIFT, OUT-OF-BAND, MISSING, UNKNOWN or
UNKNOWN WORKER (and when `--halt-on-drift` could not record its halt); 2 usage or
configuration (no token, an account other than the fleet's, an unknown shop); 3 internal.
Reads only: the Cloudflare token needs read permissions (Workers Scripts: Read, Zone: Read);
git push rights to the state branch are needed for the cursor and `--halt-on-drift`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from typing import Any, TextIO

from helm_guard import state
from helm_guard.audit import render
from helm_guard.audit.cursor import Cursor
from helm_guard.audit.engine import run_audit
from helm_guard.audit.model import AuditReport
from helm_guard.audit.sources import StateLedger
from helm_guard.commands._common import add_fleet_option, write_output
from helm_guard.errors import EXIT_BLOCKED, EXIT_OK, Blocked, HelmGuardError, UsageError
from helm_guard.fleet import Fleet, find_fleet_file, load_fleet
from helm_guard.slugs import check_shop_slug

HALT_NAMES = 20  # shops named in the halt reason before "and N more"
#: seconds between cursor writes while a run learns something: each write is a state-branch
#: commit of the whole cursor (~0.4 KB per Worker), so not too often; at most this much work
#: (1,200 requests at Cloudflare's pace) is redone after a hard kill
SAVE_EVERY = 300.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shop", action="append", metavar="SLUG", default=None,
                   help="audit only this shop and its stages (repeatable; default: every tenant "
                   "and the account's unknown Workers)")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--output", metavar="FILE", help="write the report there instead of stdout")
    p.add_argument("--summary", metavar="FILE",
                   help="also append the Markdown report to FILE (e.g. $GITHUB_STEP_SUMMARY)")
    p.add_argument("--halt-on-drift", action="store_true",
                   help="record a fleet halt naming the drifted shops when any tenant drifted")
    p.add_argument("--full", action="store_true",
                   help="ignore the audit cursor: read every Worker again (it is then rewritten)")
    p.add_argument("--threads", type=int, default=4, metavar="N",
                   help="concurrent API reads (default 4; the token bucket paces them all)")
    add_fleet_option(p)
    p.add_argument("--remote", metavar="NAME", help="the git remote holding the state branch "
                   '(default: the fleet file\'s "state.remote", else origin)')


def run(args: argparse.Namespace, *, client: Any = None, err: TextIO | None = None) -> int:
    """Entry point; `client` is for tests (default: from the environment)."""
    errs = err if err is not None else sys.stderr
    if not 1 <= args.threads <= 32:
        raise UsageError("--threads must be between 1 and 32")
    fleet = load_fleet(find_fleet_file(args.fleet))
    shops = _shops(fleet, args.shop)
    if client is None:
        from helm_guard.cloudflare.api import Client, CloudflareError

        try:
            client = Client.from_env()
        except CloudflareError as exc:
            raise UsageError(f"cannot talk to Cloudflare: {exc}", hint=exc.hint) from None
        with client:  # closes its connections when the audit is done
            return run(args, client=client, err=err)
    if fleet.account_id and fleet.account_id != client.account_id:
        raise UsageError(f"CLOUDFLARE_ACCOUNT_ID {client.account_id} is not the fleet's "
                         f"account_id {fleet.account_id}",
                         hint="audit the account the fleet file pins")
    repo = state.resolve_repo(fleet.root)
    section = fleet.data.get("state")
    remote = args.remote or (section.get("remote") if isinstance(section, dict) else None) \
        or "origin"
    if remote.startswith("-"):
        raise UsageError(f"--remote {remote!r} is not a remote name")
    ledger = StateLedger(repo, remote, must_exist=isinstance(section, dict))
    cursor = Cursor(client.account_id, None if args.full else ledger.cursor)
    notes = [n for n in (ledger.note if not args.full else "--full: every Worker is read",) if n]
    saver = _Saver(ledger, errs)
    previous = _interrupt_on_sigterm()
    try:
        report = run_audit(fleet, client, ledger, cursor, shops=shops, threads=args.threads,
                           progress=_progress(errs), save=saver.save, save_every=SAVE_EVERY)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    report = report._replace(notes=tuple(notes) + report.notes + tuple(saver.notes))
    halt_error: HelmGuardError | None = None
    if args.halt_on_drift and report.drifted():
        reason = halt_reason(report)
        try:
            state.halt(repo, remote, reason=reason)
            report = report._replace(halt=reason)
        except HelmGuardError as exc:
            halt_error = exc
    _emit(report, args)
    if halt_error is not None:
        raise Blocked(f"drift found, but the fleet halt was NOT recorded: {halt_error}",
                      hint="halt by hand now: helm-guard halt --reason 'audit: drift'")
    return EXIT_OK if report.in_sync else EXIT_BLOCKED


def _interrupt_on_sigterm() -> Any:
    """SIGTERM (a cancelled CI job) interrupts like Ctrl-C, so the cursor is saved first."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


def halt_reason(report: AuditReport) -> str:
    """`audit: live drift in bravo (touches acme), ...` (at most HALT_NAMES tenants)."""
    drifted = report.drifted()
    parts = [v.tenant + (f" (touches {', '.join(v.others)})" if v.others else "")
             for v in drifted[:HALT_NAMES]]
    more = f" and {len(drifted) - HALT_NAMES} more" if len(drifted) > HALT_NAMES else ""
    return "audit: live drift in " + ", ".join(parts) + more


def _shops(fleet: Fleet, given: list[str] | None) -> list[str] | None:
    if not given:
        return None
    out = []
    for slug in given:
        check_shop_slug(slug)
        if slug not in fleet.shops:
            raise UsageError(f"--shop {slug!r} is not in the registry of {fleet.path}")
        out.append(slug)
    return out


class _Saver:
    """Writes the cursor; a failed write is a note (the verdicts stand) and stops later tries."""

    def __init__(self, ledger: StateLedger, err: TextIO) -> None:
        self.ledger, self.err = ledger, err
        self.notes: list[str] = []
        self.broken = False

    def save(self, cursor: dict[str, Any]) -> None:
        if self.broken:
            return
        try:
            self.ledger.save(cursor)
        except HelmGuardError as exc:
            self.broken = True
            self.notes.append(f"the audit cursor was not saved ({exc}); the next audit reads "
                              "more Workers")


def _progress(err: TextIO) -> Any:
    """A progress line on stderr, only on a terminal, at most ~5 times a second."""
    if not err.isatty():
        return None
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= 0.2:
            last[0] = now
            err.write(f"\raudit: {done}/{total} tenants" + ("\n" if done == total else ""))
            err.flush()

    return show


def _emit(report: AuditReport, args: argparse.Namespace) -> None:
    body = {"text": render.text, "json": render.json_text,
            "markdown": render.markdown}[args.format](report)
    write_output(body, args.output)
    if args.summary:
        with open(args.summary, "a", encoding="utf-8") as fh:
            fh.write(render.markdown(report))
