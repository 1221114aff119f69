"""Benchmark `helm-guard check` on a synthetic 10,000-shop fleet (see fleetgen.py) and print,
in one run: the floor (one process reading every file and json.loads of its comment-stripped
text), helm-guard check on the whole fleet, check-jsonschema on the same files against the same
shop schema (the peer), a 10-shop fleet checked by a fresh process, peak memory, and the
engine alone (the same check with every rule switched off: what no rule can make cheaper).

    python benchmarks/bench_check.py [--shops 10000] [--runs 3] [--skip-peer]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import fleetgen  # noqa: E402

ROOT = HERE.parent
_STRIP = re.compile(r'("(?:[^"\\]|\\.)*+")|//[^\n]*|/\*.*?\*/|,(?=\s*[\]}])', re.S)

FLOOR = """
import json, os, sys
n = 0
for d in sorted(os.listdir(sys.argv[1])):
    with open(os.path.join(sys.argv[1], d), encoding="utf-8") as fh:
        json.loads(fh.read())
    n += 1
print(n)
"""


# As a user runs it: byte-code caches allowed (a development shell may disable them, which
# adds ~25 ms of compiling to every fresh process), after one warm-up run.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str], cwd: Path, runs: int,
          env: dict[str, str] | None = None) -> tuple[float, int, int]:
    """Median wall seconds, exit code and peak RSS (KiB) of `cmd` over `runs` fresh processes
    (after one warm-up run)."""
    env = ENV if env is None else env
    subprocess.run(cmd, cwd=cwd, capture_output=True, check=False, env=env)
    walls = []
    rc = 0
    peak = 0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False, env=env)
        walls.append(time.perf_counter() - t0)
        rc = proc.returncode
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    return statistics.median(walls), rc, peak


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shops", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-peer", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="helm-bench-") as tmp:
        base = Path(tmp)
        fleet = base / "fleet"
        fleetgen.generate(fleet, args.shops)
        small = base / "small"
        fleetgen.generate(small, 10, seed=7)
        stripped = base / "stripped"
        stripped.mkdir()
        files = sorted(fleet.glob("shops/*/wrangler.jsonc"))
        for i, f in enumerate(files):
            text = _STRIP.sub(lambda m: m.group(1) or "", f.read_text(encoding="utf-8"))
            (stripped / f"{i:06d}.json").write_text(text, encoding="utf-8")
        py = sys.executable
        floor, _, _ = timed([py, "-c", FLOOR, str(stripped)], base, args.runs)
        check, rc, _ = timed([py, "-m", "helm_guard", "check", "--format", "text"], fleet,
                             args.runs)
        _, _, peak = timed([py, "-m", "helm_guard", "check"], fleet, 1)
        # the engine alone: discovery, parsing, resolving, the fork, with every rule switched
        # off (the test seam): what no rule can make cheaper
        ids = subprocess.run([py, "-c", "from helm_guard import rules; print(','.join("
                              "m.ID for m in rules.all_rules()))"], capture_output=True,
                             text=True, check=True, env=ENV).stdout.strip()
        engine, _, _ = timed([py, "-m", "helm_guard", "check"], fleet, args.runs,
                             {**ENV, "HELM_GUARD_TEST_DISABLE_RULES": ids})
        small_wall, small_rc, _ = timed([py, "-m", "helm_guard", "check"], small, 5)
        results = {
            "shops": args.shops, "files": len(files),
            "floor_s": round(floor, 3),
            "check_s": round(check, 3), "check_exit": rc,
            "check_over_floor": round(check / floor, 2),
            "check_peak_mb": round(peak / 1024, 1),
            "engine_no_rules_s": round(engine, 3),
            "small_fleet_fresh_process_ms": round(small_wall * 1000, 1),
            "small_fleet_exit": small_rc,
        }
        if not args.skip_peer:
            peer_cmd = [str(Path(py).parent / "check-jsonschema"), "--schemafile",
                        str(ROOT / "schemas" / "helm-shop-config.schema.json"),
                        "--default-filetype", "json5", *[str(f) for f in files]]
            peer, prc, _ = timed(peer_cmd, fleet, 1)
            results.update({"peer_check_jsonschema_s": round(peer, 3), "peer_exit": prc,
                            "speedup_vs_peer": round(peer / check, 1)})
        print(json.dumps(results, indent=2))
        print(f"\nfloor {floor:.3f} s | helm-guard check {check:.3f} s "
              f"({check / floor:.1f}x floor) | 10-shop fresh process {small_wall * 1000:.0f} ms"
              f" | peak {peak / 1024:.0f} MB | engine, no rules {engine:.3f} s"
              + ("" if args.skip_peer else
                 f" | check-jsonschema {results['peer_check_jsonschema_s']} s "
                 f"({results['speedup_vs_peer']}x slower than helm-guard)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
