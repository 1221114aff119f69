"""Benchmark `helm-guard audit` on a 10,000-shop fleet against the local Cloudflare emulator.

Seeds the emulator in-process (no wrangler): every shop's Worker with one version binding its
own D1 and R2, deployed; a state branch in a temporary bare repository whose ledger records
each deploy (one commit). Then runs the audit engine in this process, exactly as the command
does (state branch read, cursor written through the compare-and-swap writer):

1. cold: no cursor (requests per shop; target ≤ 2) and the wall time Cloudflare's limit of
   1,200 requests per 5 minutes implies for that many requests;
2. warm, nothing changed (targets: ≤ 10 API requests, ≤ 5 s wall);
3. warm, one shop deployed out of band (target: ≤ 15 API requests).

The cold run uses an unthrottled token bucket (the emulator has no limit); the warm runs use
the default bucket (4 requests/s, burst 20). Prints figures; asserts nothing.

    python benchmarks/bench_audit.py [--shops 10000] [--threads 4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helm_guard import gitio  # noqa: E402
from helm_guard.audit.cursor import Cursor  # noqa: E402
from helm_guard.audit.engine import run_audit  # noqa: E402
from helm_guard.audit.sources import StateLedger  # noqa: E402
from helm_guard.cloudflare import api  # noqa: E402
from helm_guard.emulator import CloudflareEmulator  # noqa: E402
from helm_guard.fleet import Fleet, Tenant  # noqa: E402
from helm_guard.state import Event, format_time, render_halt_document, utcnow  # noqa: E402
from helm_guard.state.layout import STATE_REFS  # noqa: E402

RATE_PER_S = 1200 / 300


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def make_fleet(root: Path, shops: int) -> Fleet:
    data = {"version": 1, "configs": [], "shops": {
        f"s{i:05d}": {"database_id": str(uuid.UUID(int=i + 1)),
                      "routes": [f"s{i:05d}.shops.example"]} for i in range(shops)}}
    return Fleet(root / "helm-fleet.jsonc", data)


def seed(emu: CloudflareEmulator, fleet: Fleet, repo: Path) -> None:
    emu.add_zone("shops.example")
    lines: dict[str, bytes | None] = {}
    now = utcnow()
    for tenant in fleet.tenants():
        exp = fleet.expected(tenant)
        vid = emu.seed_version(exp.worker, [
            {"type": "d1", "name": "DB", "id": exp.database_id},
            {"type": "r2_bucket", "name": "ASSETS", "bucket_name": exp.bucket_name}],
            deploy=True)
        emu.add_route(f"{tenant.shop}.shops.example/*", exp.worker)
        record = {"v": 1, "seq": 1, "at": format_time(now), "by": "Bench <bench@example.invalid>",
                  "shop": tenant.shop,
                  "record": {"action": "deploy", "version_id": vid, "stage": None}}
        lines[f"ledger/{tenant.shop}.jsonl"] = json.dumps(record).encode() + b"\n"
    init = Event("init", now, "Bench <bench@example.invalid>", "bench")
    lines["halt.json"] = render_halt_document((), init)
    gitio.cas_update(repo, "origin", STATE_REFS,
                     lambda snap: gitio.Change(lines, "bench state\n"), max_attempts=1)


def client(emu: CloudflareEmulator, limiter: api.RateLimiter | None = None) -> api.Client:
    env = {"CLOUDFLARE_API_TOKEN": "bench", "CLOUDFLARE_ACCOUNT_ID": emu.account_id,
           "CLOUDFLARE_API_BASE_URL": emu.base_url or ""}
    return api.Client.from_env(env, limiter=limiter)


def audit(fleet: Fleet, emu: CloudflareEmulator, repo: Path, threads: int,
          limiter: api.RateLimiter | None) -> tuple[int, float, dict[str, int], int]:
    start = time.perf_counter()
    c = client(emu, limiter)
    ledger = StateLedger(repo, "origin")
    report = run_audit(fleet, c, ledger, Cursor(c.account_id, ledger.cursor),
                       threads=threads, save=ledger.save, save_every=60.0)
    return c.requests, time.perf_counter() - start, report.counts(), report.stats.workers_read


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shops", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=4)
    a = ap.parse_args()
    for key in [k for k in os.environ if k.startswith("GIT_")]:
        del os.environ[key]
    os.environ.update({"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
                       "GIT_COMMITTER_NAME": "Bench",
                       "GIT_COMMITTER_EMAIL": "bench@example.invalid",
                       "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"})
    with tempfile.TemporaryDirectory() as tmp, CloudflareEmulator() as emu:
        base = Path(tmp)
        git(base, "init", "-q", "--bare", "origin.git")
        git(base, "init", "-q", "repo")
        repo = base / "repo"
        git(repo, "remote", "add", "origin", str(base / "origin.git"))
        git(repo, "config", "user.name", "Bench")
        git(repo, "config", "user.email", "bench@example.invalid")
        fleet = make_fleet(repo, a.shops)
        t0 = time.perf_counter()
        seed(emu, fleet, repo)
        print(f"seeded {a.shops} shops (emulator + ledger) in {time.perf_counter() - t0:.1f} s")

        fast = api.RateLimiter(rate=1e9, burst=10**9)
        n, wall, counts, read = audit(fleet, emu, repo, a.threads, fast)
        print(f"cold audit:  {n} requests ({n / a.shops:.2f} per shop), {read} Workers read, "
              f"{wall:.1f} s wall against the emulator; at {RATE_PER_S:g} requests/s the "
              f"limit implies {n / RATE_PER_S / 60:.1f} min; {counts}")
        n, wall, counts, read = audit(fleet, emu, repo, a.threads, None)
        print(f"warm audit, nothing changed: {n} requests, {read} Workers read, {wall:.2f} s "
              f"wall (targets: <= 10 requests, <= 5 s); in sync: {counts['in-sync']}")
        worker = fleet.expected(Tenant("s00042")).worker
        live = emu.live_version(worker)
        assert live is not None
        emu.out_of_band_deploy(worker, live["resources"]["bindings"])
        n, wall, counts, read = audit(fleet, emu, repo, a.threads, None)
        print(f"warm audit, one shop deployed out of band: {n} requests, {read} Workers read, "
              f"{wall:.2f} s wall (target: <= 15 requests); out-of-band: {counts['out-of-band']}")


if __name__ == "__main__":
    main()
