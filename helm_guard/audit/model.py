"""The audit's records: immutable, JSON-ready (`render.py` prints them)."""

from __future__ import annotations

from typing import Any, NamedTuple

IN_SYNC = "in-sync"
DRIFT = "drift"
OUT_OF_BAND = "out-of-band"
MISSING = "missing"
UNKNOWN = "unknown"
UNKNOWN_WORKER = "unknown-worker"
STATUSES = (DRIFT, UNKNOWN, UNKNOWN_WORKER, OUT_OF_BAND, MISSING, IN_SYNC)  # worst first
LABELS = {IN_SYNC: "IN SYNC", DRIFT: "DRIFT", OUT_OF_BAND: "OUT-OF-BAND", MISSING: "MISSING",
          UNKNOWN: "UNKNOWN", UNKNOWN_WORKER: "UNKNOWN WORKER"}


class Problem(NamedTuple):
    """One foreign or unmodelled resource reaching a tenant's Worker."""

    kind: str  # "binding" | "route" | "custom-domain"
    what: str  # binding name, route pattern or host
    message: str
    other: str | None  # the other tenant ("bravo", "bravo (staging)") when known

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "what": self.what, "message": self.message,
                "other": self.other}


class Deployment(NamedTuple):
    """A live deployment, as Cloudflare describes its source."""

    id: str
    created_on: str
    source: str | None
    author_email: str | None
    annotations: dict[str, str]
    versions: tuple[tuple[str, float], ...]  # (version id, percentage)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "created_on": self.created_on, "source": self.source,
                "author_email": self.author_email, "annotations": dict(self.annotations),
                "versions": [{"version_id": v, "percentage": p} for v, p in self.versions]}

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> Deployment:
        """From `GET .../deployments` (or the cursor's copy); ValueError when malformed."""
        versions = raw.get("versions")
        if not isinstance(raw.get("id"), str) or not isinstance(versions, list):
            raise ValueError("a deployment without an id or a versions list")
        pairs = []
        for v in versions:
            if not isinstance(v, dict) or not isinstance(v.get("version_id"), str) or \
                    not isinstance(v.get("percentage"), int | float):
                raise ValueError("a deployment version without version_id/percentage")
            pairs.append((v["version_id"], float(v["percentage"])))
        notes = raw.get("annotations") if isinstance(raw.get("annotations"), dict) else {}
        return cls(raw["id"], str(raw.get("created_on") or ""), _opt(raw.get("source")),
                   _opt(raw.get("author_email")),
                   {str(k): str(v) for k, v in (notes or {}).items()}, tuple(pairs))


def _opt(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class Verdict(NamedTuple):
    """One row of the report: a tenant (or a Worker that belongs to none)."""

    tenant: str  # "acme", "bravo (staging)"; for an unknown Worker its name
    shop: str | None
    stage: str | None
    worker: str
    status: str
    problems: tuple[Problem, ...] = ()
    others: tuple[str, ...] = ()  # other shops involved (slugs)
    deployment: Deployment | None = None
    recorded: bool | None = None  # did the ledger record the live deployment
    reason: str | None = None  # why MISSING / UNKNOWN / UNKNOWN WORKER
    cached: bool = False  # served from the cursor without reading the Worker again

    def to_json(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "shop": self.shop, "stage": self.stage,
                "worker": self.worker, "status": self.status,
                "problems": [p.to_json() for p in self.problems], "others": list(self.others),
                "deployment": self.deployment.to_json() if self.deployment else None,
                "recorded": self.recorded, "reason": self.reason, "cached": self.cached}


class Stats(NamedTuple):
    requests: int
    retried: int
    throttled_seconds: float
    workers_listed: int
    workers_read: int  # Workers whose deployments were read this run
    versions_read: int
    seconds: float


class AuditReport(NamedTuple):
    account_id: str
    verdicts: tuple[Verdict, ...]
    stats: Stats
    notes: tuple[str, ...] = ()
    halt: str | None = None  # the halt recorded by --halt-on-drift (its reason)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for v in self.verdicts:
            out[v.status] += 1
        return out

    @property
    def in_sync(self) -> bool:
        return all(v.status == IN_SYNC for v in self.verdicts)

    def drifted(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status == DRIFT]
