"""A demo audit log with a valid hash chain, written straight into the local emulator: for the
tests, the drills (`s13`, `s14`) and `benchmarks/bench_audit_chain.py`. Never used against
Cloudflare (it takes a `CloudflareEmulator`, not a `Client`).

The table is the runbook's `audit_events` plus `actor` and `shop`; the chain recipe is
`DEMO_CHAIN` (the same as `DEMO_AUDIT_BLOCK`, the fleet file's `"audit"` block for it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from helm_guard.recovery.chain import chain_hash
from helm_guard.recovery.rows import Row
from helm_guard.recovery.settings import AuditSettings, ChainSpec

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS audit_events (id INTEGER PRIMARY KEY, at TEXT NOT NULL, "
    "action TEXT NOT NULL, actor TEXT, shop TEXT, prev_chain_hash TEXT NOT NULL, "
    "chain_hash TEXT NOT NULL)"
)
COLUMNS = ("id", "at", "action", "actor", "shop", "prev_chain_hash", "chain_hash")
DEMO_CHAIN = ChainSpec("sha256", ("id", "at", "action", "actor", "shop", "prev_chain_hash"))
DEMO_AUDIT_BLOCK: dict[str, Any] = {
    "table": "audit_events",
    "columns": {"shop": "shop"},
    "chain": {"algorithm": "sha256", "fields": list(DEMO_CHAIN.fields)},
    "archive_key": "audit_archive/{yyyy}-{mm}.jsonl",
}
DEMO_SETTINGS = AuditSettings(chain=DEMO_CHAIN, shop="shop")
ACTIONS = ("sale", "refund", "login", "stock", "price")
GENESIS = "0" * 64


def fmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_rows(n: int, *, shop: str, start: datetime, step: timedelta = timedelta(minutes=1),
              first_id: int = 1, prev: str = GENESIS) -> Iterator[Row]:
    """`n` chained rows, one every `step` from `start`."""
    for i in range(n):
        row: Row = {"id": first_id + i, "at": fmt(start + i * step),
                    "action": ACTIONS[(first_id + i) % len(ACTIONS)], "actor": f"staff-{i % 7}",
                    "shop": shop, "prev_chain_hash": prev}
        row["chain_hash"] = prev = chain_hash(row, DEMO_CHAIN)
        yield row


def seed(emu: Any, database_id: str, rows: Iterator[Row] | list[Row]) -> Row | None:
    """Create the table if needed and insert `rows` in one write; returns the last row."""
    emu.d1_execute(database_id, SCHEMA)
    last: list[Row] = []

    def values() -> Iterator[tuple[Any, ...]]:
        for r in rows:
            last[:] = [r]
            yield tuple(r[c] for c in COLUMNS)

    emu.d1_executemany(database_id, f"INSERT INTO audit_events ({', '.join(COLUMNS)}) "
                       f"VALUES ({', '.join('?' * len(COLUMNS))})", values())
    return last[0] if last else None


def last_row(emu: Any, database_id: str) -> Row | None:
    rows = emu.d1_execute(database_id, "SELECT * FROM audit_events ORDER BY id DESC LIMIT 1")
    return rows[0] if rows else None


def append(emu: Any, database_id: str, n: int, *, shop: str, start: datetime) -> Row | None:
    """Append `n` rows that continue the database's chain (as the app would write them)."""
    tail = last_row(emu, database_id)
    first = 1 if tail is None else int(tail["id"]) + 1
    prev = GENESIS if tail is None else str(tail["chain_hash"])
    return seed(emu, database_id, make_rows(n, shop=shop, start=start, first_id=first, prev=prev))


def archive_months(emu: Any, database_id: str, bucket: str,
                   key: str = "audit_archive/{yyyy}-{mm}.jsonl") -> list[str]:
    """Write the monthly JSONL archives of the database's current rows into `bucket`."""
    months: dict[str, list[str]] = {}
    for r in emu.d1_execute(database_id, "SELECT * FROM audit_events ORDER BY id"):
        months.setdefault(str(r["at"])[:7], []).append(json.dumps(r, sort_keys=True))
    keys = []
    for ym, lines in sorted(months.items()):
        k = key.replace("{yyyy}", ym[:4]).replace("{mm}", ym[5:7])
        emu.r2_put_object(bucket, k, ("\n".join(lines) + "\n").encode())
        keys.append(k)
    return keys
