"""Benchmark `audit-chain`'s streaming verification: rows/second and peak memory for an intact
chain of N rows (default 100,000) served by the local emulator's D1 over HTTP, page by page,
every link and every sha256 recomputed. Also the pure verifier (no HTTP) on the same rows,
which is the ceiling the API path approaches.

    python benchmarks/bench_audit_chain.py [--rows 100000] [--page 1000] [--runs 3]

The emulator is not rate limited, so the client's limiter is lifted here; against Cloudflare
the default limiter (1,200 requests / 5 min) caps a check at 4 pages/s, i.e. 4,000 rows/s with
1,000-row pages. Peak memory is measured with tracemalloc around the verification only (the
emulator's sqlite database is not Python memory).
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from datetime import UTC, datetime

from helm_guard.cloudflare import api
from helm_guard.emulator import CloudflareEmulator
from helm_guard.recovery import seed
from helm_guard.recovery.audit_chain import check_chain
from helm_guard.recovery.chain import verify
from helm_guard.recovery.settings import ShopData

DB = "1a9e6c1e-0d6a-4c33-9b8e-6b2f3f6f0a01"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--page", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    start = datetime(2026, 5, 1, tzinfo=UTC)
    with CloudflareEmulator(token="tok") as emu:
        emu.add_d1_database("helm-acme-db", DB)
        t = time.perf_counter()
        seed.seed(emu, DB, seed.make_rows(a.rows, shop="acme", start=start))
        print(f"seeded {a.rows:,} chained rows in {time.perf_counter() - t:.1f} s")
        client = api.Client.from_env(
            {"CLOUDFLARE_API_TOKEN": "tok", "CLOUDFLARE_ACCOUNT_ID": emu.account_id,
             "CLOUDFLARE_API_BASE_URL": str(emu.base_url)},
            limiter=api.RateLimiter(rate=100_000, burst=10_000))
        shop = ShopData("acme", DB, "helm-acme-db", "helm-acme-assets")
        rates = []
        for _ in range(a.runs):
            t = time.perf_counter()
            rep = check_chain(client, shop, seed.DEMO_SETTINGS, page=a.page, archive=False)
            seconds = time.perf_counter() - t
            assert rep.intact and rep.rows == a.rows
            rates.append(a.rows / seconds)
        tracemalloc.start()
        check_chain(client, shop, seed.DEMO_SETTINGS, page=a.page, archive=False)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"audit-chain over the API ({a.page}-row pages): median "
              f"{statistics.median(rates):,.0f} rows/s (runs: "
              + ", ".join(f"{r:,.0f}" for r in rates) + f"); peak Python memory "
              f"{peak / 1e6:.1f} MB")
        rows = emu.d1_execute(DB, "SELECT * FROM audit_events ORDER BY id")
        t = time.perf_counter()
        rep = verify(iter(rows), seed.DEMO_SETTINGS)
        seconds = time.perf_counter() - t
        assert rep.intact
        print(f"verifier alone (rows in memory, no HTTP): {a.rows / seconds:,.0f} rows/s")


if __name__ == "__main__":
    main()
