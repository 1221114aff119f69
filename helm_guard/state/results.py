"""What the state operations answer: a deploy decision, history entries, write outcomes."""

from __future__ import annotations

from typing import Any, NamedTuple

from helm_guard.errors import Blocked
from helm_guard.state.model import Event, Halt, HaltState, LedgerEntry


class Decision(NamedTuple):
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
                hint="wait for `helm-guard resume --reason TEXT` (add `--shop SLUG` for a shop "
                "halt), or roll back instead "
                "(`helm-guard rollback --shop " + self.shop + "` is allowed while halted); "
                "`helm-guard status` shows who halted and why",
            )


class HistoryEntry(NamedTuple):
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


class WriteResult(NamedTuple):
    """What a halt or resume did."""

    changed: bool
    commit: str | None
    event: Event | None
    state: HaltState
    lifted: tuple[Halt, ...] = ()
    attempts: int = 1
    retries: int = 0
    waited: float = 0.0


class LedgerAppend(NamedTuple):
    """What `append_ledger` did."""

    entry: LedgerEntry
    commit: str
    attempts: int
    retries: int
    waited: float = 0.0
