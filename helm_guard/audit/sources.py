"""Where the audit's inputs come from besides Cloudflare: the state branch (the deploy ledger
and the audit cursor), read once per run through `helm_guard.state.audit_cursor`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from helm_guard.errors import HelmGuardError
from helm_guard.state import LedgerEntry
from helm_guard.state.audit_cursor import read_audit_inputs, read_ledgers, write_audit_cursor


class StateLedger:
    """The ledger on the remote state branch (`engine.Ledger`). Never raises on reads: an
    unreadable state becomes `error` (every tenant not otherwise drifted is then UNKNOWN)."""

    def __init__(self, repo: Path, remote: str, *, must_exist: bool = False) -> None:
        self.repo, self.remote, self.must_exist = repo, remote, must_exist
        self.error: str | None = None
        self.ids: dict[str, str] = {}
        self.cursor: dict[str, Any] | None = None
        self.note: str | None = None
        self.commit: str | None = None
        self.refresh()

    def refresh(self) -> bool:
        """Read the state again (a deploy may have recorded itself meanwhile)."""
        try:
            inputs = read_audit_inputs(self.repo, self.remote, must_exist=self.must_exist)
        except HelmGuardError as exc:
            self.error = str(exc)
            return False
        self.error = None
        self.commit, self.cursor, self.note, self.ids = (inputs.commit, inputs.cursor,
                                                         inputs.note, inputs.ledger_ids)
        return True

    def entries(self, slugs: Iterable[str]) -> dict[str, list[LedgerEntry]]:
        wanted = {s: self.ids[s] for s in slugs if s in self.ids}
        return read_ledgers(self.repo, wanted, remote=self.remote) if wanted else {}

    def save(self, cursor: dict[str, Any]) -> str:
        return write_audit_cursor(self.repo, self.remote, cursor, summary="helm-guard audit")
