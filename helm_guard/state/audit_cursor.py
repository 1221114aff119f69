"""The live audit's memory on the state branch: `audit-cursor.json`, and the batch reads the
audit needs (every shop's ledger blob id, the ledgers of the shops it re-reads).

`audit-cursor.json` (schema `schemas/helm-audit-cursor.schema.json`) holds, per Worker, the
`modified_on` Cloudflare reported when it was last read, the live deployment seen then, whether
the ledger recorded it, and the digest of the tenant's expected resources; and, per version id,
the digest of the expected resources the version was found clean against (versions are
immutable). It is written through the same compare-and-swap writer as halts and ledger records
(only this file changes; halt.json and the ledgers are carried over untouched), as progress is
made, so an interrupted audit resumes where it stopped. A run that learnt nothing new writes
nothing.

The cursor is an optimisation, never a verdict: a cursor that is missing, unreadable, invalid
or of another account only makes the audit re-read everything (with a note).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, NamedTuple

from helm_guard import gitio, schemas
from helm_guard.state.cas import MAX_ATTEMPTS, cas_write, identity, init_files
from helm_guard.state.clock import format_time, utcnow
from helm_guard.state.document import commit_message, render_halt_document
from helm_guard.state.errors import git_failed
from helm_guard.state.layout import HALT_FILE, LEDGER_DIR
from helm_guard.state.ledger import parse_ledger
from helm_guard.state.model import Event, LedgerEntry
from helm_guard.state.refs import remember, resolve, snapshot

AUDIT_CURSOR_FILE = "audit-cursor.json"
_OID_RE = re.compile(r"[0-9a-f]{40,64}")
CURSOR_VERSION = 1
SCHEMA = "helm-audit-cursor"


class AuditInputs(NamedTuple):
    """What the audit reads from the state branch before it asks Cloudflare anything."""

    commit: str | None  # the state commit read (None: state never initialised)
    cursor: dict[str, Any] | None  # None: none, or unusable (see `note`)
    note: str | None  # why the cursor was not used
    ledger_ids: dict[str, str]  # shop slug -> blob id of ledger/<slug>.jsonl


def cursor_problem(data: Any) -> str | None:
    """Why `data` is not a usable cursor (None: it is)."""
    problems = schemas.validate(SCHEMA, data)
    if problems:
        parts, message = problems[0]
        where = "/".join(str(p) for p in parts) or "(top)"
        return f"{AUDIT_CURSOR_FILE} does not match its schema at {where}: {message}"
    return None


def read_audit_inputs(repo: str | Path, remote: str, *, must_exist: bool = False) -> AuditInputs:
    """One snapshot of the remote state: the cursor and the ledger blob ids. Raises
    StateUnreadable (deleted or rewritten branch, unreachable remote, missing when it must
    exist) like every reader."""
    repo = Path(repo)
    commit, _ = resolve(repo, snapshot(repo, remote), must_exist=must_exist)
    if commit is None:
        return AuditInputs(None, None, "no audit cursor yet (the state is not initialised)", {})
    ledger_tree = f"{commit}:{LEDGER_DIR}"
    try:
        raw = gitio.read_blob(repo, commit, AUDIT_CURSOR_FILE)
        has_ledgers = gitio.rev_parse(repo, ledger_tree) is not None
        listing = gitio.run(repo, "ls-tree", "-z", "--end-of-options",
                            ledger_tree).stdout if has_ledgers else b""
    except gitio.GitError as exc:
        raise git_failed(exc) from None
    remember(repo, remote, commit)
    ledger_ids: dict[str, str] = {}
    if listing:
        for item in listing.decode("utf-8", "surrogateescape").split("\0"):
            meta, _, name = item.partition("\t")
            fields = meta.split()
            if len(fields) == 3 and fields[1] == "blob" and name.endswith(".jsonl"):
                ledger_ids[name[: -len(".jsonl")]] = fields[2]
    cursor, note = None, None
    if raw is None:
        note = "no audit cursor yet: every Worker is read"
    else:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            data, note = None, f"{AUDIT_CURSOR_FILE} is not JSON ({exc}): every Worker is read"
        if data is not None:
            problem = cursor_problem(data)
            if problem is None:
                cursor = data
            else:
                note = problem + ": every Worker is read"
    return AuditInputs(commit, cursor, note, ledger_ids)


def read_ledgers(repo: str | Path, blob_ids: dict[str, str], *,
                 remote: str = "origin") -> dict[str, list[LedgerEntry]]:
    """The ledgers of the shops in `blob_ids` (slug -> blob id from `read_audit_inputs`), in
    one git process, by object id (a `commit:path` lookup per shop would scan the ledger
    directory's tree each time). A malformed ledger raises StateUnreadable naming the line."""
    items = [(slug, oid) for slug, oid in blob_ids.items() if _OID_RE.fullmatch(oid)]
    if not items:
        return {}
    request = "".join(f"{oid}\n" for _, oid in items).encode()
    try:
        data = gitio.run(Path(repo), "cat-file", "--batch", input=request).stdout
    except gitio.GitError as exc:
        raise git_failed(exc) from None
    out: dict[str, list[LedgerEntry]] = {}
    pos = 0
    for slug, _ in items:
        eol = data.index(b"\n", pos)
        header = data[pos:eol].split(b" ")
        pos = eol + 1
        raw = b""
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            raw = data[pos: pos + size]
            pos += size + 1
        out[slug] = parse_ledger(raw, slug, remote=remote) if raw else []
    return out


def write_audit_cursor(repo: str | Path, remote: str, cursor: dict[str, Any], *,
                       summary: str = "", max_attempts: int = MAX_ATTEMPTS) -> str:
    """Replace `audit-cursor.json` on the state branch (compare-and-swap; nothing else
    changes). Returns the new state commit. The cursor must match its schema."""
    problem = cursor_problem(cursor)
    if problem is not None:
        raise ValueError(problem)
    repo = Path(repo)
    text = json.dumps(cursor, separators=(",", ":"), sort_keys=True).encode() + b"\n"
    by = identity(repo)
    now = utcnow()

    def build(snap: gitio.Snapshot) -> gitio.Change | None:
        parent, _ = resolve(repo, snap, must_exist=False)
        if parent is not None and gitio.read_blob(repo, parent, AUDIT_CURSOR_FILE) == text:
            return None
        files: dict[str, bytes | None] = {AUDIT_CURSOR_FILE: text}
        if parent is None:
            init = Event("init", now, by, "first audit cursor")
            files[HALT_FILE] = render_halt_document((), init)
            files.update(init_files(None))
        event = {"action": "audit-cursor", "at": format_time(now), "by": by,
                 "workers": len(cursor.get("workers", {}))}
        return gitio.Change(files, commit_message(
            f"audit cursor: {len(cursor.get('workers', {}))} Workers", summary or "audit", event))

    res = cas_write(repo, remote, build, max_attempts, "the audit cursor")
    return res.commit or ""
