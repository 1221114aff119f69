"""Halt state and deploy ledger, kept in the fleet repository's git remote.

Where it lives
    Branch `helm-guard/state` on the remote (default `origin`): an orphan branch holding
    `halt.json` (schema: `schemas/helm-state.schema.json`), `ledger/<slug>.jsonl` (one
    deploy-ledger file per shop) and a README. Every halt, resume and ledger record is one
    commit by the operator's git identity, so the branch history is the audit log; each commit
    message ends with a one-line `Helm-Guard-Event: {json}` trailer. Nothing is ever checked
    out: commits are built with a temporary index and pushed by object name (see `gitio`).

Writes: compare-and-swap
    Each write snapshots the remote refs (`ls-remote`, fetch objects), builds the new state on
    top of the tip, and pushes it with one atomic, non-forced push to both the branch and the
    anchor ref (below). A push that lost a race (non-fast-forward, ref lock) is retried from a
    fresh snapshot after full-jitter exponential backoff (50 ms doubling, capped at 1 s), at most
    10 attempts. A non-forced push can only fast-forward, so no writer can drop another's commit:
    two halts at once both end in the state; a halt racing a resume either lands before the
    resume's first read (and is lifted, visibly, by it) or survives it, because `resume` only
    lifts halts it saw on its first read.

Reads for enforcement: fail closed
    `read_state(repo, remote, must_exist=...)` always asks the remote (never the checkout) and
    raises `StateUnreadable` (a `Blocked`, exit 1) with a `kind` and a repair hint when:
    `remote-unreachable`; `state-missing` (no state and the caller said it must exist);
    `branch-deleted` (the branch is gone but the anchor, or this clone, saw it);
    `branch-rewritten` (the branch no longer contains the anchor commit); `malformed` (missing or
    invalid `halt.json`, duplicate keys, unknown fields); `unknown-schema-version`.

A brand-new fleet
    No branch and no anchor on the remote means "never initialised": with `must_exist=False`
    `read_state` returns an empty, uninitialised state and deploys proceed. The first write of
    any kind creates the branch and the anchor together: the first `helm-guard halt`, the first
    recorded deploy (`append_ledger`), or `helm-guard resume` (which on an uninitialised fleet
    records an `init` event). No set-up step is needed before the first halt. Callers compute
    `must_exist` from the fleet file: a `"state"` section there means "required" (the gate and
    `status` do this; `fleet_settings` reads it leniently), and `state.remote` picks the remote.

Deleting the state branch cannot lift a halt
    Every write also fast-forwards `refs/helm-guard/state-anchor`, a ref outside `refs/heads`
    (not listed or deletable as a branch in hosting UIs, not touched by branch-cleanup bots).
    Branch missing + anchor present is `branch-deleted` (blocks; repair = push the anchor back to
    the branch); anchor not an ancestor of the branch is `branch-rewritten` (blocks). Each clone
    also remembers the last state it saw in `refs/helm-guard/seen/<remote>`, so even if both
    remote refs vanish (e.g. a `git push --mirror` from a clone without them) that clone blocks
    and can restore. Once a fleet file has a `"state"` section, callers pass `must_exist=True`,
    which closes the remaining gap (both refs gone, read from a fresh CI clone). Writers refuse
    to write on top of a deleted or rewritten state. The branch name is fixed
    (`helm-guard/state`); a different `state.branch` in the fleet file is not honoured.

Expiry
    `--expires 2h` (m/h/d) sets `expires` on the halt. From that moment the halt no longer
    blocks; `status` still lists it as expired until a `resume` of its scope clears it, and its
    events stay in the history. Times are UTC, taken from the writer's clock.

Scope and rollback
    A halt has scope `fleet` or `shop` (+ `shop`). A shop is blocked by active fleet halts and
    its own shop halts. A fleet resume lifts only fleet halts; shop halts remain. Rollback is
    always allowed: `check_deploy_allowed(state, shop, "rollback")` says allowed and lists the
    halts in force, so the caller can record "rollback during halt" with `append_ledger`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from helm_guard import gitio
from helm_guard.errors import Blocked, UsageError

STATE_BRANCH = "helm-guard/state"
STATE_REF = f"refs/heads/{STATE_BRANCH}"
ANCHOR_REF = "refs/helm-guard/state-anchor"
SEEN_REF_PREFIX = "refs/helm-guard/seen/"
STATE_REFS = (STATE_REF, ANCHOR_REF)
HALT_FILE = "halt.json"
LEDGER_DIR = "ledger"
README_FILE = "README.md"
SCHEMA_VERSION = 1
LEDGER_VERSION = 1
EVENT_TRAILER = "Helm-Guard-Event:"
MAX_ATTEMPTS = 10
ACTIONS = ("deploy", "rollback")
# the fleet registry's slug rule (helm_guard.fleet.SLUG_RE), repeated so that halting never
# depends on the fleet code importing cleanly
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,49}[a-z0-9])?$")
_DURATION_RE = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}

_BRANCH_README = f"""# helm-guard state

This branch is helm-guard's halt state (`{HALT_FILE}`) and deploy ledger (`{LEDGER_DIR}/`).
Every commit is an audit record: who halted or resumed what, when, and why.

- Change it only with `helm-guard halt`, `helm-guard resume` and recorded deploys.
- Never delete, rebase or force-push it. Deleting it does **not** lift a halt: deploys stay
  blocked until it is restored from `{ANCHOR_REF}`.
- Never merge it into another branch (it shares no history with them).
"""


# --------------------------------------------------------------------------- errors


class StateUnreadable(Blocked):
    """The halt state could not be read with certainty, so deploys are blocked."""

    REMOTE_UNREACHABLE = "remote-unreachable"
    STATE_MISSING = "state-missing"
    BRANCH_DELETED = "branch-deleted"
    BRANCH_REWRITTEN = "branch-rewritten"
    MALFORMED = "malformed"
    UNKNOWN_SCHEMA_VERSION = "unknown-schema-version"
    GIT_ERROR = "git-error"

    def __init__(self, kind: str, message: str, *, hint: str, commit: str | None = None) -> None:
        super().__init__(f"halt state unreadable ({kind}): {message}", hint=hint)
        self.kind = kind
        self.detail = message
        self.commit = commit


class StateWriteFailed(Blocked):
    """A halt, resume or ledger record could not be recorded; nothing was written."""


# --------------------------------------------------------------------------- time


def utcnow() -> datetime:
    """Now, UTC, whole seconds."""
    return datetime.now(UTC).replace(microsecond=0)


def format_time(moment: datetime) -> str:
    """`2026-08-22T10:15:00Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_when(moment: datetime) -> str:
    """`2026-08-22 10:15 UTC`, for people."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _parse_time(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a UTC timestamp string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{where} is not a timestamp: {value!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{where} has no time zone: {value!r}")
    return moment.astimezone(UTC)


def parse_duration(text: str) -> timedelta:
    """`30m`, `2h`, `3d` -> timedelta; anything else is a UsageError."""
    match = _DURATION_RE.match(text)
    if not match or int(match.group(1)) == 0:
        raise UsageError(
            f"--expires {text!r} is not a duration",
            hint="use a whole number of minutes, hours or days: 30m, 2h, 3d",
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def human_delta(delta: timedelta) -> str:
    """`2h`, `1h20m`, `3d4h`, `45s` for a positive duration."""
    secs = int(abs(delta.total_seconds()))
    days, rest = divmod(secs, 86400)
    hours, rest = divmod(rest, 3600)
    mins, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{mins}m" if mins else f"{hours}h"
    return f"{mins}m" if mins else f"{secs}s"


def check_slug(slug: str) -> str:
    """Return `slug` if it can name a shop (and a ledger file); else a UsageError."""
    if not SLUG_RE.match(slug):
        raise UsageError(
            f"{slug!r} is not a shop slug",
            hint="use the shop's slug from helm-fleet.jsonc (lower-case letters, digits, '-')",
        )
    return slug


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Halt:
    """One halt: the fleet or one shop, by whom, since when, why, until when."""

    id: str
    scope: str  # "fleet" or "shop"
    shop: str | None
    reason: str
    by: str
    since: datetime
    expires: datetime | None = None

    @property
    def target(self) -> str:
        """`fleet` or `shop <slug>`."""
        return "fleet" if self.scope == "fleet" else f"shop {self.shop}"

    def is_expired(self, now: datetime | None = None) -> bool:
        """True once `expires` has passed: the halt no longer blocks."""
        return self.expires is not None and (now or utcnow()) >= self.expires

    def applies_to(self, shop: str) -> bool:
        """Whether this halt covers `shop` (ignoring expiry)."""
        return self.scope == "fleet" or self.shop == shop

    def to_json(self) -> dict[str, Any]:
        """The halt as stored in halt.json."""
        return {
            "id": self.id,
            "scope": self.scope,
            "shop": self.shop,
            "reason": self.reason,
            "by": self.by,
            "since": format_time(self.since),
            "expires": format_time(self.expires) if self.expires else None,
        }

    @classmethod
    def from_json(cls, data: object, where: str) -> Halt:
        """Parse and validate one halt object; ValueError says what is wrong and where."""
        obj = _object(
            data,
            where,
            required={"id", "scope", "shop", "reason", "by", "since", "expires"},
            optional=set(),
        )
        for key in ("id", "reason", "by"):
            if not isinstance(obj[key], str) or not obj[key].strip():
                raise ValueError(f"{where}.{key} must be a non-empty string")
        scope, shop = obj["scope"], obj.get("shop")
        if scope == "fleet":
            if shop is not None:
                raise ValueError(f"{where}: a fleet halt has shop null")
        elif scope == "shop":
            if not isinstance(shop, str) or not SLUG_RE.match(shop):
                raise ValueError(f"{where}.shop must be a shop slug for scope 'shop'")
        else:
            raise ValueError(f"{where}.scope must be 'fleet' or 'shop', not {scope!r}")
        expires = obj.get("expires")
        return cls(
            id=obj["id"],
            scope=scope,
            shop=shop,
            reason=obj["reason"],
            by=obj["by"],
            since=_parse_time(obj["since"], f"{where}.since"),
            expires=None if expires is None else _parse_time(expires, f"{where}.expires"),
        )


@dataclass(frozen=True)
class Event:
    """One recorded halt-state change: `init`, `halt` or `resume`."""

    action: str
    at: datetime
    by: str
    reason: str
    scope: str | None = None  # "fleet" | "shop" | None (init)
    shops: tuple[str, ...] = ()
    halt_ids: tuple[str, ...] = ()
    lifted_ids: tuple[str, ...] = ()
    expires: datetime | None = None

    @property
    def target(self) -> str:
        """What the event was about, for people."""
        if self.scope == "fleet":
            return "fleet"
        if self.scope == "shop":
            return "shop " + ", ".join(self.shops)
        return "-"

    def to_json(self) -> dict[str, Any]:
        """The event as stored in halt.json's `last_event` and in commit trailers."""
        return {
            "action": self.action,
            "at": format_time(self.at),
            "by": self.by,
            "reason": self.reason,
            "scope": self.scope,
            "shops": list(self.shops),
            "halt_ids": list(self.halt_ids),
            "lifted_ids": list(self.lifted_ids),
            "expires": format_time(self.expires) if self.expires else None,
        }

    @classmethod
    def from_json(cls, data: object, where: str) -> Event:
        """Parse and validate an event object."""
        obj = _object(
            data,
            where,
            required={"action", "at", "by", "reason"},
            optional={"scope", "shops", "halt_ids", "lifted_ids", "expires"},
        )
        if obj["action"] not in ("init", "halt", "resume"):
            raise ValueError(f"{where}.action must be init, halt or resume")
        if obj.get("scope") not in (None, "fleet", "shop"):
            raise ValueError(f"{where}.scope must be 'fleet', 'shop' or null")
        for key in ("by", "reason"):
            if not isinstance(obj[key], str):
                raise ValueError(f"{where}.{key} must be a string")
        lists = {}
        for key in ("shops", "halt_ids", "lifted_ids"):
            value = obj.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{where}.{key} must be a list of strings")
            lists[key] = tuple(value)
        expires = obj.get("expires")
        return cls(
            action=obj["action"],
            at=_parse_time(obj["at"], f"{where}.at"),
            by=obj["by"],
            reason=obj["reason"],
            scope=obj.get("scope"),
            shops=lists["shops"],
            halt_ids=lists["halt_ids"],
            lifted_ids=lists["lifted_ids"],
            expires=None if expires is None else _parse_time(expires, f"{where}.expires"),
        )


@dataclass(frozen=True)
class HaltState:
    """The halt state as read from the remote (or computed after a write)."""

    remote: str
    initialised: bool
    commit: str | None = None
    halts: tuple[Halt, ...] = ()
    last_event: Event | None = None
    schema_version: int = SCHEMA_VERSION
    notes: tuple[str, ...] = ()

    def active(self, now: datetime | None = None) -> tuple[Halt, ...]:
        """Halts in force (not expired)."""
        now = now or utcnow()
        return tuple(h for h in self.halts if not h.is_expired(now))

    def expired(self, now: datetime | None = None) -> tuple[Halt, ...]:
        """Halts whose expiry passed but that no resume has cleared yet (they do not block)."""
        now = now or utcnow()
        return tuple(h for h in self.halts if h.is_expired(now))

    def blocking(self, shop: str, now: datetime | None = None) -> tuple[Halt, ...]:
        """Active halts that stop a deploy of `shop`."""
        return tuple(h for h in self.active(now) if h.applies_to(shop))

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        """Machine-readable view (used by `status --format json`)."""
        now = now or utcnow()
        return {
            "remote": self.remote,
            "branch": STATE_BRANCH,
            "initialised": self.initialised,
            "commit": self.commit,
            "schema_version": self.schema_version,
            "halts": [{**h.to_json(), "expired": h.is_expired(now)} for h in self.halts],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Decision:
    """Answer of `check_deploy_allowed`: may `action` run on `shop`, and which halts apply."""

    allowed: bool
    action: str
    shop: str
    halts: tuple[Halt, ...]
    state_commit: str | None

    @property
    def during_halt(self) -> bool:
        """True for an allowed rollback while halts are in force (record it in the ledger)."""
        return self.allowed and bool(self.halts)

    def message(self) -> str:
        """One line for people."""
        if not self.halts:
            return f"{self.action} of shop {self.shop} allowed: no halt in force"
        which = "; ".join(f"{h.target} halted by {h.by}: {h.reason}" for h in self.halts)
        if self.allowed:
            return f"{self.action} of shop {self.shop} allowed during halt ({which})"
        return f"deploy of shop {self.shop} blocked: {which}"

    def raise_if_blocked(self) -> None:
        """Raise Blocked (exit 1) with what to do next when the action is not allowed."""
        if not self.allowed:
            raise Blocked(
                self.message(),
                hint="wait for `helm-guard resume`, or roll back instead "
                "(`helm-guard rollback --shop " + self.shop + "` is allowed while halted); "
                "`helm-guard status` shows who halted and why",
            )


@dataclass(frozen=True)
class HistoryEntry:
    """One commit that changed halt.json; `event` is None for changes made by hand."""

    commit: str
    author: str
    date: str
    subject: str
    event: Event | None

    def to_json(self) -> dict[str, Any]:
        """Flat JSON for `status --format json`."""
        base: dict[str, Any] = {"commit": self.commit, "author": self.author}
        if self.event is None:
            return {
                **base,
                "action": "manual",
                "at": self.date,
                "by": self.author,
                "reason": self.subject,
            }
        return {**base, **self.event.to_json()}


@dataclass(frozen=True)
class WriteResult:
    """What a halt or resume did."""

    changed: bool
    commit: str | None
    event: Event | None
    state: HaltState
    lifted: tuple[Halt, ...] = ()
    attempts: int = 1
    retries: int = 0
    waited: float = 0.0


@dataclass(frozen=True)
class LedgerEntry:
    """One deploy-ledger line of a shop."""

    seq: int
    at: datetime
    by: str
    shop: str
    record: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The line as stored (`v` is the ledger line format version)."""
        return {
            "v": LEDGER_VERSION,
            "seq": self.seq,
            "at": format_time(self.at),
            "by": self.by,
            "shop": self.shop,
            "record": self.record,
        }


@dataclass(frozen=True)
class LedgerAppend:
    """What `append_ledger` did."""

    entry: LedgerEntry
    commit: str
    attempts: int
    retries: int
    waited: float = 0.0


# --------------------------------------------------------------------------- parsing


def _object(data: object, where: str, *, required: set[str], optional: set[str]) -> dict:
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be an object")
    missing = sorted(required - data.keys())
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")
    unknown = sorted(data.keys() - required - optional)
    if unknown:
        raise ValueError(f"{where} has unknown field {', '.join(unknown)}")
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def _malformed_hint(remote: str, path: str = HALT_FILE) -> str:
    first = (
        "deploys stay blocked until it is fixed"
        if path == HALT_FILE
        else "this shop's ledger cannot be used until it is fixed"
    )
    return (
        f"{first}. See the bad change with "
        f"`git fetch {remote} && git log -p {remote}/{STATE_BRANCH} -- {path}`, then commit a "
        f"corrected {path} on top (e.g. `git worktree add ../helm-state {remote}/{STATE_BRANCH}`,"
        f" fix or `git revert` there, `git push {remote} HEAD:{STATE_BRANCH}`); "
        "never delete or force-push the branch"
    )


def parse_halt_document(
    raw: bytes, *, remote: str = "origin", commit: str | None = None
) -> tuple[tuple[Halt, ...], Event | None]:
    """Parse halt.json bytes; StateUnreadable (`malformed`/`unknown-schema-version`) if bad."""
    at = f" (commit {commit[:12]})" if commit else ""

    def bad(detail: str) -> StateUnreadable:
        return StateUnreadable(
            StateUnreadable.MALFORMED,
            f"{HALT_FILE} on {remote} {STATE_BRANCH}{at} is invalid: {detail}",
            hint=_malformed_hint(remote),
            commit=commit,
        )

    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
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
        _object(data, "halt.json", required={"schema_version", "halts"}, optional={"last_event"})
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


def _commit_message(subject: str, body: str, event: Event | dict[str, Any]) -> str:
    payload = event.to_json() if isinstance(event, Event) else event
    line = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    first = " ".join(subject.split())
    if len(first) > 100:
        first = first[:99] + "…"
    return f"{first}\n\n{body.strip()}\n\n{EVENT_TRAILER} {line}\n"


# --------------------------------------------------------------------------- refs


def seen_ref(remote: str) -> str:
    """The local ref remembering the last state this clone saw from `remote`."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", remote) and not remote.endswith(".lock"):
        return SEEN_REF_PREFIX + remote
    return SEEN_REF_PREFIX + "url-" + hashlib.sha256(remote.encode()).hexdigest()[:16]


def _resolve(repo: Path, snap: gitio.Snapshot, *, must_exist: bool) -> tuple[str | None, list[str]]:
    """The state commit to trust (None: never initialised), or StateUnreadable."""
    remote = snap.remote
    branch, anchor = snap[STATE_REF], snap[ANCHOR_REF]
    seen = gitio.rev_parse(repo, seen_ref(remote))
    notes: list[str] = []
    if branch is None:
        if anchor is not None:
            raise StateUnreadable(
                StateUnreadable.BRANCH_DELETED,
                f"branch {STATE_BRANCH} is missing on {remote}, but {ANCHOR_REF} "
                f"({anchor[:12]}) shows it existed; deleting it does not lift a halt",
                hint=f"restore it: `git fetch {remote} {ANCHOR_REF} && "
                f"git push {remote} FETCH_HEAD:{STATE_REF}`, then `helm-guard status`",
            )
        if seen is not None:
            raise StateUnreadable(
                StateUnreadable.BRANCH_DELETED,
                f"branch {STATE_BRANCH} and {ANCHOR_REF} are both missing on {remote}, but "
                f"this clone saw the state at {seen[:12]}; deleting them does not lift a halt",
                hint=f"restore them: `git push {remote} {seen_ref(remote)}:{STATE_REF} "
                f"{seen_ref(remote)}:{ANCHOR_REF}`, then `helm-guard status`",
            )
        if must_exist:
            raise StateUnreadable(
                StateUnreadable.STATE_MISSING,
                f"this fleet requires halt state, but {remote} has neither branch "
                f"{STATE_BRANCH} nor {ANCHOR_REF}",
                hint="if it was deleted, push it back from any clone that still has it "
                f"(`git push {remote} {remote}/{STATE_BRANCH}:{STATE_REF}` there, or "
                f"`{seen_ref(remote)}`); if this fleet never had halt state, create it with "
                "`helm-guard resume --reason 'initialise halt state'`",
            )
        return None, notes
    if anchor is None:
        notes.append(f"{ANCHOR_REF} is missing on {remote}; the next halt/resume restores it")
    elif not gitio.is_ancestor(repo, anchor, branch):
        raise StateUnreadable(
            StateUnreadable.BRANCH_REWRITTEN,
            f"branch {STATE_BRANCH} on {remote} ({branch[:12]}) no longer contains "
            f"{ANCHOR_REF} ({anchor[:12]}): it was force-pushed or recreated, which can drop "
            "a halt",
            hint=f"put the anchored history back: `git fetch {remote} {ANCHOR_REF} && "
            f"git push --force {remote} FETCH_HEAD:{STATE_REF}` (see first what the rewrite "
            f"added with `git log {branch}`); only if the rewrite was intended, an admin moves "
            f"the anchor instead: `git push --force {remote} {branch}:{ANCHOR_REF}`",
            commit=branch,
        )
    return branch, notes


def _remember(repo: Path, remote: str, commit: str | None) -> None:
    """Best effort: move this clone's seen-ref forward to `commit`."""
    if not commit:
        return
    ref = seen_ref(remote)
    try:
        current = gitio.rev_parse(repo, ref)
        if current == commit:
            return
        if current is None or gitio.is_ancestor(repo, current, commit):
            gitio.update_ref(repo, ref, commit, current)
    except gitio.GitError:
        pass


def _snapshot(repo: Path, remote: str) -> gitio.Snapshot:
    try:
        return gitio.snapshot(repo, remote, STATE_REFS)
    except gitio.RemoteError as exc:
        raise _unreachable(remote, exc) from None


def _git_failed(exc: gitio.GitError) -> StateUnreadable:
    return StateUnreadable(
        StateUnreadable.GIT_ERROR,
        f"git failed in this clone: {exc.detail}",
        hint="run `git fsck` here, or retry from a fresh clone",
    )


def _unreachable(remote: str, exc: gitio.GitError) -> StateUnreadable:
    return StateUnreadable(
        StateUnreadable.REMOTE_UNREACHABLE,
        f"could not read remote {remote!r}: {exc.detail}",
        hint=f"check that `git ls-remote {remote}` works from here (network, credentials, "
        "remote name); deploys stay blocked until the halt state can be read",
    )


def _load(repo: Path, remote: str, commit: str) -> tuple[tuple[Halt, ...], Event | None]:
    try:
        raw = gitio.read_blob(repo, commit, HALT_FILE)
    except gitio.GitError as exc:
        raise _git_failed(exc) from None
    if raw is None:
        raise StateUnreadable(
            StateUnreadable.MALFORMED,
            f"{HALT_FILE} is missing from {remote} {STATE_BRANCH} (commit {commit[:12]})",
            hint=_malformed_hint(remote),
            commit=commit,
        )
    return parse_halt_document(raw, remote=remote, commit=commit)


# --------------------------------------------------------------------------- reading


def resolve_repo(path: str | Path | None) -> Path:
    """The fleet repository: `path` or the git toplevel of the working directory."""
    try:
        return gitio.toplevel(Path(path) if path else Path.cwd())
    except gitio.GitError as exc:
        raise UsageError(
            f"not a git repository: {path or Path.cwd()} ({exc.detail})",
            hint="run inside the fleet repository, or pass --repo DIR",
        ) from None


def read_state(repo: str | Path, remote: str = "origin", *, must_exist: bool) -> HaltState:
    """Fetch and validate the halt state from `remote` (never from the checkout).

    `must_exist`: the caller knows this fleet has been initialised (e.g. its fleet
    configuration says the state is required); then a missing state blocks instead of meaning
    "nothing halted". Raises StateUnreadable on any doubt.
    """
    repo = Path(repo)
    try:
        snap = _snapshot(repo, remote)
        commit, notes = _resolve(repo, snap, must_exist=must_exist)
        if commit is None:
            return HaltState(remote=remote, initialised=False, notes=tuple(notes))
        halts, last = _load(repo, remote, commit)
    except gitio.GitError as exc:
        raise _git_failed(exc) from None
    _remember(repo, remote, commit)
    return HaltState(remote, True, commit, halts, last, SCHEMA_VERSION, tuple(notes))


def history_at(repo: str | Path, commit: str) -> list[HistoryEntry]:
    """Every change of halt.json reachable from the local `commit`, oldest first."""
    entries = []
    for c in gitio.history(repo, commit, [HALT_FILE]):
        subject = c.message.splitlines()[0] if c.message.strip() else ""
        entries.append(
            HistoryEntry(
                commit=c.sha,
                author=f"{c.author_name} <{c.author_email}>",
                date=c.author_date,
                subject=subject,
                event=parse_event_trailer(c.message),
            )
        )
    return entries


def read_history(repo: str | Path, remote: str = "origin") -> list[HistoryEntry]:
    """The halt history on `remote`, oldest first (empty when never initialised)."""
    repo = Path(repo)
    snap = _snapshot(repo, remote)
    commit, _ = _resolve(repo, snap, must_exist=False)
    return history_at(repo, commit) if commit else []


def check_deploy_allowed(
    state: HaltState, shop: str, action: str = "deploy", *, now: datetime | None = None
) -> Decision:
    """May `action` ("deploy" or "rollback") run on `shop` under `state`?

    Deploys are refused while an active fleet or shop halt covers the shop. Rollbacks are
    always allowed; `Decision.during_halt` tells the caller to record that in the ledger.
    """
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}, not {action!r}")
    halts = state.blocking(shop, now)
    allowed = action == "rollback" or not halts
    return Decision(allowed, action, shop, halts, state.commit)


def enforce(
    repo: str | Path,
    remote: str,
    shop: str,
    *,
    must_exist: bool,
    action: str = "deploy",
    now: datetime | None = None,
) -> Decision:
    """Read the state now and raise Blocked unless `action` may run on `shop`."""
    decision = check_deploy_allowed(
        read_state(repo, remote, must_exist=must_exist), shop, action, now=now
    )
    decision.raise_if_blocked()
    return decision


# --------------------------------------------------------------------------- writing


def _identity(repo: Path) -> str:
    try:
        return gitio.identity(repo)
    except gitio.GitError as exc:
        raise UsageError(
            f"git does not know who you are ({exc.detail}); halts are signed with your identity",
            hint='git config --global user.name "Your Name" && '
            "git config --global user.email you@example.com",
        ) from None


def _new_id(now: datetime) -> str:
    return f"h-{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def _write(
    repo: Path,
    remote: str,
    build: Callable[[gitio.Snapshot], gitio.Change | None],
    max_attempts: int,
    what: str,
) -> gitio.CasResult:
    """Run the CAS loop and turn git failures into operator-facing errors."""
    try:
        result = gitio.cas_update(repo, remote, STATE_REFS, build, max_attempts=max_attempts)
    except gitio.CasExhausted as exc:
        raise StateWriteFailed(
            f"{what} was not recorded: {exc}",
            hint="run the same command again; `helm-guard status` shows what is recorded",
        ) from None
    except gitio.PushRefused as exc:
        raise StateWriteFailed(
            f"{what} was not recorded: {remote} refused the push ({exc})",
            hint=f"operators need fast-forward push rights to {STATE_BRANCH} and {ANCHOR_REF}; "
            "check branch protection / rulesets and hooks for them",
        ) from None
    except gitio.RemoteError as exc:
        raise StateWriteFailed(
            f"{what} was not recorded: could not reach {remote!r}: {exc.detail}",
            hint=f"check that `git ls-remote {remote}` works (network, credentials), then retry",
        ) from None
    except gitio.GitError as exc:
        raise StateWriteFailed(
            f"{what} was not recorded: git failed in this clone: {exc.detail}",
            hint="run `git fsck` here, or retry from a fresh clone",
        ) from None
    _remember(repo, remote, result.commit)
    return result


def _init_files(parent: str | None) -> dict[str, bytes | None]:
    """Files a brand-new state branch gets besides halt.json."""
    return {} if parent is not None else {README_FILE: _BRANCH_README.encode()}


def halt(
    repo: str | Path,
    remote: str = "origin",
    *,
    reason: str,
    shops: Sequence[str] = (),
    expires: timedelta | None = None,
    now: datetime | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> WriteResult:
    """Record a halt of the fleet (no `shops`) or of each shop in `shops`.

    Existing halts are kept (two operators halting at once are both recorded). Creates the
    state branch and anchor on a fleet that has none.
    """
    repo = Path(repo)
    reason = reason.strip()
    if not reason:
        raise UsageError("--reason must not be empty", hint="say why, e.g. --reason 'binding swap'")
    targets = list(dict.fromkeys(check_slug(s) for s in shops))
    by = _identity(repo)
    now = now or utcnow()
    until = now + expires if expires else None
    scopes: list[str | None] = [*targets] or [None]
    new = tuple(
        Halt(_new_id(now), "shop" if shop else "fleet", shop, reason, by, now, until)
        for shop in scopes
    )
    event = Event(
        "halt",
        now,
        by,
        reason,
        "shop" if targets else "fleet",
        tuple(targets),
        tuple(h.id for h in new),
        (),
        until,
    )
    outcome: dict[str, Any] = {}

    def build(snap: gitio.Snapshot) -> gitio.Change:
        parent, notes = _resolve(repo, snap, must_exist=False)
        halts = _load(repo, remote, parent)[0] if parent else ()
        after = halts + new
        outcome["state"] = HaltState(remote, True, None, after, event, SCHEMA_VERSION, tuple(notes))
        files = {HALT_FILE: render_halt_document(after, event), **_init_files(parent)}
        expiry = f"\nExpires: {format_time(until)}" if until else ""
        return gitio.Change(
            files,
            _commit_message(f"halt {event.target}: {reason}", f"Reason: {reason}{expiry}", event),
        )

    res = _write(repo, remote, build, max_attempts, "the halt")
    state = outcome["state"]
    state = HaltState(remote, True, res.commit, state.halts, event, SCHEMA_VERSION, state.notes)
    return WriteResult(True, res.commit, event, state, (), res.attempts, res.retries, res.waited)


def resume(
    repo: str | Path,
    remote: str = "origin",
    *,
    reason: str,
    shops: Sequence[str] = (),
    now: datetime | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> WriteResult:
    """Lift the fleet halts (no `shops`) or the halts of each shop in `shops`.

    Only halts present at the first read are lifted: a halt recorded concurrently survives.
    Shop halts survive a fleet resume and the fleet halt survives a shop resume. Expired halts
    in scope are cleared too. On a fleet without state this records an `init` event.
    """
    repo = Path(repo)
    reason = reason.strip()
    if not reason:
        raise UsageError("--reason must not be empty", hint="say why, e.g. --reason 'fixed'")
    targets = list(dict.fromkeys(check_slug(s) for s in shops))
    by = _identity(repo)
    now = now or utcnow()
    scope = "shop" if targets else "fleet"
    first_seen: set[str] | None = None
    outcome: dict[str, Any] = {}

    def in_scope(h: Halt) -> bool:
        return h.scope == "fleet" if scope == "fleet" else h.shop in targets

    def build(snap: gitio.Snapshot) -> gitio.Change | None:
        nonlocal first_seen
        parent, notes = _resolve(repo, snap, must_exist=False)
        if parent is None:
            event = Event("init", now, by, reason)
            outcome.update(state=HaltState(remote, True, None, (), event), event=event, lifted=())
            return gitio.Change(
                {HALT_FILE: render_halt_document((), event), **_init_files(None)},
                _commit_message("initialise helm-guard halt state", f"Reason: {reason}", event),
            )
        halts, last = _load(repo, remote, parent)
        if first_seen is None:
            first_seen = {h.id for h in halts if in_scope(h)}
        lifted = tuple(h for h in halts if in_scope(h) and h.id in first_seen)
        remaining = tuple(h for h in halts if h not in lifted)
        if not lifted:
            outcome.update(
                state=HaltState(remote, True, parent, halts, last, SCHEMA_VERSION, tuple(notes)),
                event=None,
                lifted=(),
            )
            return None
        event = Event(
            "resume", now, by, reason, scope, tuple(targets), (), tuple(h.id for h in lifted)
        )
        outcome.update(
            state=HaltState(remote, True, None, remaining, event, SCHEMA_VERSION, tuple(notes)),
            event=event,
            lifted=lifted,
        )
        body = (
            "Reason: "
            + reason
            + "\nLifted: "
            + ", ".join(f"{h.id} ({h.target}, {h.by})" for h in lifted)
        )
        return gitio.Change(
            {HALT_FILE: render_halt_document(remaining, event)},
            _commit_message(f"resume {event.target}: {reason}", body, event),
        )

    res = _write(repo, remote, build, max_attempts, "the resume")
    st: HaltState = outcome["state"]
    if res.changed:
        st = HaltState(remote, True, res.commit, st.halts, st.last_event, SCHEMA_VERSION, st.notes)
    return WriteResult(
        res.changed,
        res.commit,
        outcome["event"],
        st,
        outcome["lifted"],
        res.attempts,
        res.retries,
        res.waited,
    )


# --------------------------------------------------------------------------- ledger


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
    by = _identity(repo)
    now = now or utcnow()
    outcome: dict[str, LedgerEntry] = {}

    def build(snap: gitio.Snapshot) -> gitio.Change:
        parent, _ = _resolve(repo, snap, must_exist=False)
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
            files.update(_init_files(None))
        kind = str(payload.get("action", "record"))
        event = {"action": "ledger", "shop": slug, "seq": seq, "at": format_time(now), "by": by}
        return gitio.Change(
            files, _commit_message(f"ledger {slug} #{seq}: {kind}", f"Shop: {slug}", event)
        )

    res = _write(repo, remote, build, max_attempts, f"the ledger record for shop {slug}")
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
                data = json.loads(line, object_pairs_hook=_no_duplicates)
            except ValueError as exc:
                raise ValueError(f"line {n}: not JSON: {exc}") from None
            obj = _object(
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
                    _parse_time(obj["at"], f"line {n}.at"),
                    str(obj["by"]),
                    str(obj["shop"]),
                    obj["record"],
                )
            )
        except ValueError as exc:
            raise StateUnreadable(
                StateUnreadable.MALFORMED,
                f"{ledger_path(slug)} on {remote} {STATE_BRANCH} is invalid: {exc}",
                hint=_malformed_hint(remote, ledger_path(slug)),
            ) from None
    return entries


def read_ledger(
    repo: str | Path, remote: str, slug: str, *, must_exist: bool = False
) -> list[LedgerEntry]:
    """Shop `slug`'s deploy ledger from the remote, oldest first ([] when there is none)."""
    repo = Path(repo)
    path = ledger_path(slug)
    snap = _snapshot(repo, remote)
    commit, _ = _resolve(repo, snap, must_exist=must_exist)
    if commit is None:
        return []
    raw = gitio.read_blob(repo, commit, path)
    _remember(repo, remote, commit)
    return parse_ledger(raw, slug, remote=remote) if raw else []


# --------------------------------------------------------------------------- CLI helpers


def add_location_arguments(parser: argparse.ArgumentParser) -> None:
    """`--repo DIR` and `--remote NAME`, shared by halt, resume and status."""
    parser.add_argument(
        "--repo", metavar="DIR", help="the fleet repository (default: git toplevel of the cwd)"
    )
    parser.add_argument(
        "--remote",
        metavar="NAME",
        help="the git remote that holds the halt state "
        '(default: the fleet file\'s "state.remote", else origin)',
    )


@dataclass(frozen=True)
class FleetSettings:
    """What the fleet file says about the state, read leniently (None/False when unknown)."""

    remote: str | None = None
    must_exist: bool = False
    shops: frozenset[str] | None = None
    note: str | None = None


def fleet_settings(repo: Path) -> FleetSettings:
    """The fleet file's `state` section and shop list, if the fleet file can be read.

    A `state` section means the fleet has opted in to required halt state (`must_exist`), as
    the gate does. Never raises: a halt must work even when the fleet file is the incident, so a
    broken fleet file only yields a note.
    """
    try:
        from helm_guard.fleet import find_fleet_file, load_fleet
    except Exception as exc:  # noqa: BLE001 - halting must not depend on the fleet code
        return FleetSettings(note=f"could not load the fleet code ({exc})")
    try:
        path = find_fleet_file(None, start=repo)
    except Exception:  # noqa: BLE001 - no fleet file: plain git defaults
        return FleetSettings()
    try:
        fleet = load_fleet(path)
    except Exception as exc:  # noqa: BLE001
        return FleetSettings(note=f"could not read {path.name} ({exc})")
    section = fleet.data.get("state")
    remote = section.get("remote") if isinstance(section, dict) else None
    return FleetSettings(
        remote=remote if isinstance(remote, str) and remote else None,
        must_exist=isinstance(section, dict),
        shops=frozenset(fleet.shops),
    )


def pick_remote(explicit: str | None, settings: FleetSettings) -> str:
    """`--remote`, else the fleet file's `state.remote`, else `origin`."""
    return explicit or settings.remote or "origin"


def describe_halt(h: Halt, now: datetime) -> str:
    """One line: target, who, since, expiry, reason."""
    since = format_when(h.since)
    if h.expires is None:
        until = "no expiry"
    elif h.is_expired(now):
        until = f"EXPIRED {human_delta(now - h.expires)} ago"
    else:
        until = f"expires in {human_delta(h.expires - now)}"
    return f"{h.target:<16} by {h.by}, since {since}, {until}: {h.reason}"
