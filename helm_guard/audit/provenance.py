"""Did helm-guard make this live deployment? The ledger's answer.

`helm-guard deploy` appends `{action: deploy, version_id, stage}` right after it activated and
confirmed a version; `helm-guard rollback` appends `{action: rollback, to_version}` after it
verified the rollback (production only). A live deployment is *recorded* when it serves one
version at 100% (helm-guard never splits traffic) and a ledger record of the same tenant names
that version and was written within `MAX_LAG` after the deployment's `created_on` (or up to
`SKEW` before it: the writer's clock and Cloudflare's may differ a little).

So a laptop's `wrangler rollback` to a version helm-guard once deployed is out-of-band: its
deployment is newer than any record of that version. Blind spot (documented): the same
version re-deployed out of band within `SKEW` after helm-guard's record.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from helm_guard.audit.model import Deployment
from helm_guard.state import LedgerEntry

SKEW = timedelta(minutes=2)
MAX_LAG = timedelta(hours=1)


def parse_api_time(text: str) -> datetime | None:
    """Cloudflare's `2026-01-01T00:00:00.123456Z` (any fraction length), or None."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def recorded_version(record: dict[str, object], stage: str | None) -> str | None:
    """The version a ledger record says helm-guard made live for `stage`, or None."""
    action = record.get("action")
    if record.get("stage") != stage and not (stage is None and "stage" not in record):
        return None
    key = {"deploy": "version_id", "rollback": "to_version"}.get(str(action))
    value = record.get(key) if key else None
    return value if isinstance(value, str) else None


def is_recorded(deployment: Deployment, entries: Iterable[LedgerEntry],
                stage: str | None) -> bool:
    """Whether the ledger `entries` (of the deployment's shop) record `deployment`."""
    if len(deployment.versions) != 1 or deployment.versions[0][1] != 100:
        return False
    version = deployment.versions[0][0]
    created = parse_api_time(deployment.created_on)
    if created is None:
        return False
    for entry in entries:
        if recorded_version(entry.record, stage) != version:
            continue
        if created - SKEW <= entry.at and entry.at - created <= MAX_LAG:
            return True
    return False
