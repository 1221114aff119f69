"""`helm-guard status`: current halts, their history, and whether the state could be read.

Reads the remote (never the checkout), like the deploy gate does. Exit 0 when the state was
read (whatever is halted; see `halts[].active` in JSON), 1 when it could not be read, which is
exactly when the gate would block every deploy.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from helm_guard import state
from helm_guard.errors import EXIT_BLOCKED, EXIT_OK

TEXT_HISTORY = 20


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )
    state.add_location_arguments(p)


def _history_line(e: state.HistoryEntry) -> str:
    if e.event is None:
        try:
            when = state.format_when(datetime.fromisoformat(e.date))
        except ValueError:
            when = e.date
        return f"  {when}  manual  {'-':<16} {e.author}  {e.subject} (edited by hand)"
    ev = e.event
    at = state.format_when(ev.at)
    extra = ""
    if ev.lifted_ids:
        extra = f" (lifted {len(ev.lifted_ids)})"
    if ev.expires:
        extra = f" (expires {state.format_time(ev.expires)})"
    return f"  {at}  {ev.action:<6}  {ev.target:<16} {ev.by}  {ev.reason}{extra}"


def run(args: argparse.Namespace) -> int:
    repo = state.resolve_repo(args.repo)
    settings = state.fleet_settings(repo)
    args.remote = state.pick_remote(args.remote, settings)
    now = state.utcnow()
    error: state.StateUnreadable | None = None
    st: state.HaltState | None = None
    history: list[state.HistoryEntry] = []
    try:
        # like the gate: a fleet file with a "state" section requires the state to exist
        st = state.read_state(repo, args.remote, must_exist=settings.must_exist)
        if st.commit:
            history = state.history_at(repo, st.commit)
    except state.StateUnreadable as exc:
        error = exc
        if exc.commit:  # the branch was fetched: its history still helps find the bad change
            try:
                history = state.history_at(repo, exc.commit)
            except Exception:  # noqa: BLE001 - history is a courtesy here
                history = []
    if args.format == "json":
        doc: dict[str, Any] = {
            "readable": error is None,
            "remote": args.remote,
            "branch": state.STATE_BRANCH,
            "now": state.format_time(now),
            "initialised": bool(st and st.initialised),
            "commit": st.commit if st else (error.commit if error else None),
            "halts": [],
            "active": [],
            "must_exist": settings.must_exist,
            "notes": list(st.notes) if st else [],
            "history": [e.to_json() for e in history],
            "error": None,
        }
        if st is not None:
            doc["halts"] = [
                {**h.to_json(), "active": not h.is_expired(now), "expired": h.is_expired(now)}
                for h in st.halts
            ]
            doc["active"] = [h.id for h in st.active(now)]
        if error is not None:
            doc["error"] = {"kind": error.kind, "message": error.detail, "hint": error.hint}
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return EXIT_OK if error is None else EXIT_BLOCKED

    where = f"{args.remote} {state.STATE_BRANCH}"
    if error is not None:
        print(f"halt state: UNREADABLE ({error.kind}) on {where}: every deploy is blocked")
        print(f"  {error.detail}")
        print(f"  what to do: {error.hint}")
    elif st is None or not st.initialised:
        print(f"halt state: none on {args.remote} yet (never initialised): nothing is halted")
        print("  the first `helm-guard halt`, recorded deploy or `helm-guard resume` creates it")
    else:
        assert st.commit is not None
        print(f"halt state: {where} at {st.commit[:12]} (read {state.format_time(now)})")
        active, expired = st.active(now), st.expired(now)
        if active:
            print(f"halted ({len(active)}):")
            for h in active:
                print(f"  {state.describe_halt(h, now)}")
        else:
            print("halted: nothing; deploys may proceed")
        if expired:
            print(f"expired, no longer blocking ({len(expired)}); clear with "
                  "`helm-guard resume --reason TEXT`:")
            for h in expired:
                print(f"  {state.describe_halt(h, now)}")
        for note in st.notes:
            print(f"note: {note}")
    if history:
        shown = history[-TEXT_HISTORY:]
        more = len(history) - len(shown)
        print(
            f"history ({len(history)} events, oldest first"
            + (f"; {more} earlier not shown, see --format json" if more else "")
            + "):"
        )
        for e in shown:
            print(_history_line(e))
    return EXIT_OK if error is None else EXIT_BLOCKED
