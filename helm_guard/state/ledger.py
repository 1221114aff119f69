"""The deploy ledger: one `ledger/<slug>.jsonl` per shop on the state branch.

Each line wraps a caller's record: `{"v": 1, "seq": n, "at", "by", "shop", "record": {...}}`,
`seq` counting from 1 per shop. Appends go through the same compare-and-swap writer as halts
and work while halted, so a "rollback during halt" can be recorded.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from helm_guard import gitio
from helm_guard.state.cas import MAX_ATTEMPTS, cas_write, identity, init_files
from helm_guard.state.clock import format_time, parse_time, utcnow
from helm_guard.state.document import commit_message, render_halt_document
from helm_guard.state.errors import StateUnreadable, malformed_hint
from helm_guard.state.layout import HALT_FILE, LEDGER_DIR, LEDGER_VERSION, STATE_BRANCH
from helm_guard.state.model import Event, LedgerEntry
from helm_guard.state.refs import remember, resolve, snapshot
from helm_guard.state.results import LedgerAppend
from helm_guard.state.validate import check_object, check_slug, no_duplicates


def ledger_path(slug: str) -> str:
    """`ledger/<slug>.jsonl` inside the state branch."""
    return f"{LEDGER_DIR}/{check_slug(slug)}.jsonl"


def append_ledger(
    repo: str | Path,
    remote: str,
    slug: str,
    record: dict[str, Any],
    *,
    now: datetime | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> LedgerAppend:
    """Append `record` (any JSON object) to shop `slug`'s deploy ledger through the CAS writer.

    The stored line wraps it: `{"v": 1, "seq": n, "at", "by", "shop", "record": {...}}`; `seq`
    counts from 1 per shop. Works while halted (rollbacks must be recordable) and even when
    halt.json is unreadable (the halt file is carried over untouched). Creates the state on a
    fleet that has none. Refuses to write on a deleted or rewritten state.
    """
    repo = Path(repo)
    path = ledger_path(slug)
    if not isinstance(record, dict):
        raise TypeError("a ledger record must be a dict")
    payload = json.loads(json.dumps(record, allow_nan=False))  # must be plain JSON
    by = identity(repo)
    now = now or utcnow()
    outcome: dict[str, LedgerEntry] = {}

    def build(snap: gitio.Snapshot) -> gitio.Change:
        parent, _ = resolve(repo, snap, must_exist=False)
        old = (gitio.read_blob(repo, parent, path) or b"") if parent else b""
        if old and not old.endswith(b"\n"):
            old += b"\n"
        seq = sum(1 for line in old.splitlines() if line.strip()) + 1
        entry = LedgerEntry(seq, now, by, slug, payload)
        outcome["entry"] = entry
        line = json.dumps(entry.to_json(), separators=(",", ":"), ensure_ascii=False)
        files: dict[str, bytes | None] = {path: old + line.encode() + b"\n"}
        if parent is None:
            init = Event("init", now, by, f"first ledger record for shop {slug}")
            files[HALT_FILE] = render_halt_document((), init)
            files.update(init_files(None))
        kind = str(payload.get("action", "record"))
        event = {"action": "ledger", "shop": slug, "seq": seq, "at": format_time(now), "by": by}
        return gitio.Change(
            files, commit_message(f"ledger {slug} #{seq}: {kind}", f"Shop: {slug}", event)
        )

    res = cas_write(repo, remote, build, max_attempts, f"the ledger record for shop {slug}")
    assert res.commit is not None
    return LedgerAppend(outcome["entry"], res.commit, res.attempts, res.retries, res.waited)


def parse_ledger(raw: bytes, slug: str, *, remote: str = "origin") -> list[LedgerEntry]:
    """Parse a shop's ledger file; StateUnreadable (`malformed`) names the bad line."""
    entries = []
    for n, line in enumerate(raw.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            try:
                data = json.loads(line, object_pairs_hook=no_duplicates)
            except ValueError as exc:
                raise ValueError(f"line {n}: not JSON: {exc}") from None
            obj = check_object(
                data,
                f"line {n}",
                required={"v", "seq", "at", "by", "shop", "record"},
                optional=set(),
            )
            if obj["v"] != LEDGER_VERSION:
                raise ValueError(f"line {n}: ledger line version {obj['v']!r} is unknown")
            if not isinstance(obj["record"], dict) or not isinstance(obj["seq"], int):
                raise ValueError(f"line {n}: record must be an object and seq an integer")
            entries.append(
                LedgerEntry(
                    obj["seq"],
                    parse_time(obj["at"], f"line {n}.at"),
                    str(obj["by"]),
                    str(obj["shop"]),
                    obj["record"],
                )
            )
        except ValueError as exc:
            raise StateUnreadable(
                StateUnreadable.MALFORMED,
                f"{ledger_path(slug)} on {remote} {STATE_BRANCH} is invalid: {exc}",
                hint=malformed_hint(remote, ledger_path(slug)),
            ) from None
    return entries


def read_ledger(
    repo: str | Path, remote: str, slug: str, *, must_exist: bool = False
) -> list[LedgerEntry]:
    """Shop `slug`'s deploy ledger from the remote, oldest first ([] when there is none)."""
    repo = Path(repo)
    path = ledger_path(slug)
    snap = snapshot(repo, remote)
    commit, _ = resolve(repo, snap, must_exist=must_exist)
    if commit is None:
        return []
    raw = gitio.read_blob(repo, commit, path)
    remember(repo, remote, commit)
    return parse_ledger(raw, slug, remote=remote) if raw else []
