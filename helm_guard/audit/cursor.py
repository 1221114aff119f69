"""The audit cursor in memory: per Worker what was read at which `modified_on`, per version
the digest it was found clean against. Mutated by the engine's main thread only.

Stored on the state branch by `helm_guard.state.audit_cursor` (schema
`schemas/helm-audit-cursor.schema.json`)."""

from __future__ import annotations

from typing import Any

from helm_guard.state import format_time, utcnow
from helm_guard.state.audit_cursor import CURSOR_VERSION


class Cursor:
    """What earlier audits learnt; `dirty` once this run learnt something new."""

    def __init__(self, account_id: str, data: dict[str, Any] | None = None) -> None:
        self.account_id = account_id
        if not isinstance(data, dict) or data.get("account_id") != account_id:
            data = {"workers": {}, "versions": {}}
        self.workers: dict[str, dict[str, Any]] = dict(data["workers"])
        self.versions: dict[str, str] = dict(data["versions"])
        self.dirty = False

    def entry(self, worker: str) -> dict[str, Any] | None:
        return self.workers.get(worker)

    def put(self, worker: str, entry: dict[str, Any]) -> None:
        if self.workers.get(worker) != entry:
            self.workers[worker] = entry
            self.dirty = True

    def forget(self, worker: str) -> None:
        if self.workers.pop(worker, None) is not None:
            self.dirty = True

    def is_clean(self, version_id: str, digest: str) -> bool:
        return self.versions.get(version_id) == digest

    def remember_clean(self, version_id: str, digest: str) -> None:
        if self.versions.get(version_id) != digest:
            self.versions[version_id] = digest
            self.dirty = True

    def prune(self, workers: set[str]) -> None:
        """Keep only the Workers in `workers` and the versions their deployments serve."""
        for name in [w for w in self.workers if w not in workers]:
            self.forget(name)
        live = {v["version_id"] for e in self.workers.values() if e.get("deployment")
                for v in e["deployment"]["versions"]}
        for vid in [v for v in self.versions if v not in live]:
            del self.versions[vid]
            self.dirty = True

    def to_json(self) -> dict[str, Any]:
        return {"version": CURSOR_VERSION, "account_id": self.account_id,
                "updated_at": format_time(utcnow()), "workers": self.workers,
                "versions": self.versions}
