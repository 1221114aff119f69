"""Benchmark `helm-guard gate` against `helm-guard check` on a 10,000-shop fleet repository.

Generates the fleet (fleetgen.py) in a temporary git repository with a bare `origin`, commits
it, then commits a one-shop change (one var of one shop). Times, in fresh processes (median of
`--runs`): `check`, `gate` on the one-shop change, and `gate` on a change of `src/**` (every
shop affected: ~15,000 plan entries and digests). Prints the wall times, the gate's overhead
over the check (target: ≤ 0.5 s for the one-shop change) and the import time of gitpython,
which helm-guard does not import at all (git runs as a subprocess via `helm_guard.gitio`).

    python benchmarks/bench_gate.py [--shops 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
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
IDENTITY = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
            "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid",
            "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "GITHUB_"))}
    out.update(IDENTITY)
    out["PYTHONPATH"] = str(ROOT)
    return out


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(  # noqa: S603 - argument list
        ["git", *args], cwd=cwd, env=env(), capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def timed(cmd: list[str], cwd: Path, runs: int) -> tuple[float, int]:
    """Median wall seconds and the exit code of `cmd` over `runs` fresh processes."""
    walls, rc = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(  # noqa: S603 - argument list
            cmd, cwd=cwd, env=env(), capture_output=True, check=False)
        walls.append(time.perf_counter() - t0)
        rc = proc.returncode
        if rc not in (0, 1):
            sys.stderr.write(proc.stderr.decode())
    return statistics.median(walls), rc


def import_time(module: str, runs: int) -> float:
    """Median extra wall seconds of `python -c "import MODULE"` over `python -c pass`."""
    py = sys.executable
    bare, _ = timed([py, "-c", "pass"], ROOT, runs)
    with_mod, _ = timed([py, "-c", f"import {module}"], ROOT, runs)
    return with_mod - bare


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shops", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="helm-bench-gate-") as tmp:
        base = Path(tmp)
        work = base / "fleet"
        slugs = fleetgen.generate(work, args.shops)
        (work / "src").mkdir()
        (work / "src" / "index.js").write_text("// v1\n")
        git(base, "init", "-q", "--bare", "-b", "main", "origin.git")
        git(work, "init", "-q", "-b", "main")
        git(work, "remote", "add", "origin", (base / "origin.git").as_uri())
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", "fleet")
        git(work, "push", "-q", "origin", "HEAD:main")
        first = git(work, "rev-parse", "HEAD")
        cfg = work / "shops" / slugs[len(slugs) // 2] / "wrangler.jsonc"
        cfg.write_text(cfg.read_text().replace('"VAR_0": ', '"VAR_X": "new", "VAR_0": ', 1))
        git(work, "commit", "-q", "-am", "one shop changes a var")

        check, check_rc = timed([py, "-m", "helm_guard", "check", "--format", "text"], work,
                                args.runs)
        gate_cmd = [py, "-m", "helm_guard", "gate", "--format", "text", "--base", first,
                    "--plan", str(base / "plan.json")]
        gate, gate_rc = timed(gate_cmd, work, args.runs)
        one = json.loads((base / "plan.json").read_text())

        (work / "src" / "index.js").write_text("// v2\n")
        git(work, "commit", "-q", "-am", "new code for every shop")
        gate_all, all_rc = timed(gate_cmd, work, args.runs)
        everyone = json.loads((base / "plan.json").read_text())

        results = {
            "shops": args.shops,
            "check_s": round(check, 3), "check_rc": check_rc,
            "gate_one_shop_s": round(gate, 3), "gate_one_shop_rc": gate_rc,
            "gate_one_shop_entries": len(one["entries"]),
            "gate_overhead_s": round(gate - check, 3),
            "gate_all_shops_s": round(gate_all, 3), "gate_all_shops_rc": all_rc,
            "gate_all_shops_entries": len(everyone["entries"]),
            "gate_all_overhead_s": round(gate_all - check, 3),
            "import_gitpython_s": round(import_time("git", args.runs), 3),
            "import_helm_guard_gitio_s": round(import_time("helm_guard.gitio", args.runs), 3),
        }
    print(json.dumps(results, indent=2))
    print(f"check {check:.3f} s | gate (one shop) {gate:.3f} s | overhead {gate - check:+.3f} s "
          f"(target ≤ 0.5 s) | gate (all shops) {gate_all:.3f} s | "
          f"gitpython import {results['import_gitpython_s']:.3f} s (not imported by helm-guard)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
