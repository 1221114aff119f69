"""halt.json and state commit messages: parse, render, load from a commit.

A malformed `halt.json` (missing, invalid JSON, duplicate keys, unknown fields) is
`StateUnreadable` `malformed`; a schema version this helm-guard does not know is
`unknown-schema-version`. Each state commit message ends with a one-line
`Helm-Guard-Event: {json}` trailer, so the branch history is the audit log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from helm_guard import gitio
from helm_guard.state.errors import StateUnreadable, git_failed, malformed_hint
from helm_guard.state.layout import EVENT_TRAILER, HALT_FILE, SCHEMA_VERSION, STATE_BRANCH
from helm_guard.state.model import Event, Halt
from helm_guard.state.validate import check_object, no_duplicates


def parse_halt_document(
    raw: bytes, *, remote: str = "origin", commit: str | None = None
) -> tuple[tuple[Halt, ...], Event | None]:
    """Parse halt.json bytes; StateUnreadable (`malformed`/`unknown-schema-version`) if bad."""
    at = f" (commit {commit[:12]})" if commit else ""

    def bad(detail: str) -> StateUnreadable:
        return StateUnreadable(
            StateUnreadable.MALFORMED,
            f"{HALT_FILE} on {remote} {STATE_BRANCH}{at} is invalid: {detail}",
            hint=malformed_hint(remote),
            commit=commit,
        )

    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    except UnicodeDecodeError:
        raise bad("not UTF-8") from None
    except ValueError as exc:
        raise bad(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise bad("the top level must be an object")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise bad("no integer schema_version")
    if version != SCHEMA_VERSION:
        raise StateUnreadable(
            StateUnreadable.UNKNOWN_SCHEMA_VERSION,
            f"{HALT_FILE} on {remote} {STATE_BRANCH}{at} has schema_version {version}; "
            f"this helm-guard understands only {SCHEMA_VERSION}",
            hint="upgrade helm-guard everywhere it runs (CI and operators) and retry; "
            "do not edit the file to an older version",
            commit=commit,
        )
    try:
        check_object(
            data, "halt.json", required={"schema_version", "halts"}, optional={"last_event"}
        )
        if not isinstance(data["halts"], list):
            raise ValueError("halts must be a list")
        halts = tuple(Halt.from_json(h, f"halts[{i}]") for i, h in enumerate(data["halts"]))
        ids = [h.id for h in halts]
        if len(set(ids)) != len(ids):
            raise ValueError("two halts share an id")
        last = data.get("last_event")
        event = None if last is None else Event.from_json(last, "last_event")
    except ValueError as exc:
        raise bad(str(exc)) from None
    return halts, event


def render_halt_document(halts: Iterable[Halt], last_event: Event | None) -> bytes:
    """halt.json bytes (stable key order, 2-space indent, trailing newline)."""
    doc = {
        "schema_version": SCHEMA_VERSION,
        "halts": [h.to_json() for h in halts],
        "last_event": last_event.to_json() if last_event else None,
    }
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def parse_event_trailer(message: str) -> Event | None:
    """The event recorded in a state commit message, or None if there is none or it is bad."""
    for line in reversed(message.splitlines()):
        if line.startswith(EVENT_TRAILER):
            try:
                return Event.from_json(json.loads(line[len(EVENT_TRAILER) :]), "event")
            except ValueError:
                return None
    return None


def load_halt_document(
    repo: Path, remote: str, commit: str
) -> tuple[tuple[Halt, ...], Event | None]:
    """Read and parse halt.json at the local `commit`; StateUnreadable if missing or bad."""
    try:
        raw = gitio.read_blob(repo, commit, HALT_FILE)
    except gitio.GitError as exc:
        raise git_failed(exc) from None
    if raw is None:
        raise StateUnreadable(
            StateUnreadable.MALFORMED,
            f"{HALT_FILE} is missing from {remote} {STATE_BRANCH} (commit {commit[:12]})",
            hint=malformed_hint(remote),
            commit=commit,
        )
    return parse_halt_document(raw, remote=remote, commit=commit)


def commit_message(subject: str, body: str, event: Event | dict[str, Any]) -> str:
    """A state commit message: subject, body and the `Helm-Guard-Event` trailer."""
    payload = event.to_json() if isinstance(event, Event) else event
    line = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    first = " ".join(subject.split())
    if len(first) > 100:
        first = first[:99] + "…"
    return f"{first}\n\n{body.strip()}\n\n{EVENT_TRAILER} {line}\n"

