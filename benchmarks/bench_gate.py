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


Timing = tuple[float, float, int]  # wall seconds, CPU seconds, exit code


def run_once(cmd: list[str], cwd: Path) -> Timing:
    """Wall seconds, CPU seconds (user + system) and exit code of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(  # noqa: S603 - argument list
        cmd, cwd=cwd, env=env(), capture_output=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr.decode())
    return wall, cpu, proc.returncode


def interleaved(cmds: dict[str, list[str]], cwd: Path, runs: int) -> dict[str, Timing]:
    """Median wall and CPU seconds per command; the commands take turns, so a busy machine
    slows them alike."""
    samples: dict[str, list[Timing]] = {k: [] for k in cmds}
    for _ in range(runs):
        for name, cmd in cmds.items():
            samples[name].append(run_once(cmd, cwd))
    return {k: (statistics.median(w for w, _, _ in v), statistics.median(c for _, c, _ in v),
                v[-1][2]) for k, v in samples.items()}


def timed(cmd: list[str], cwd: Path, runs: int) -> tuple[float, int]:
    wall, _, rc = interleaved({"x": cmd}, cwd, runs)["x"]
    return wall, rc


def import_time(module: str, runs: int) -> float | None:
    """Median extra wall seconds of `python -c "import MODULE"` over `python -c pass` (None
    when the module is not installed)."""
    py = sys.executable
    bare, _ = timed([py, "-c", "pass"], ROOT, runs)
    with_mod, rc = timed([py, "-c", f"import {module}"], ROOT, runs)
    return None if rc != 0 else round(with_mod - bare, 3)


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

        check_cmd = [py, "-m", "helm_guard", "check", "--format", "text"]
        gate_cmd = [py, "-m", "helm_guard", "gate", "--format", "text", "--base", first,
                    "--plan", str(base / "plan.json")]
        one = interleaved({"check": check_cmd, "gate": gate_cmd}, work, args.runs)
        one_entries = len(json.loads((base / "plan.json").read_text())["entries"])

        (work / "src" / "index.js").write_text("// v2\n")
        git(work, "commit", "-q", "-am", "new code for every shop")
        every = interleaved({"check": check_cmd, "gate": gate_cmd}, work, args.runs)
        all_entries = len(json.loads((base / "plan.json").read_text())["entries"])

        def pair(r: dict[str, Timing], entries: int) -> dict[str, object]:
            (cw, cc, crc), (gw, gc, grc) = r["check"], r["gate"]
            return {"check_wall_s": round(cw, 3), "check_cpu_s": round(cc, 3), "check_rc": crc,
                    "gate_wall_s": round(gw, 3), "gate_cpu_s": round(gc, 3), "gate_rc": grc,
                    "plan_entries": entries, "overhead_wall_s": round(gw - cw, 3),
                    "overhead_cpu_s": round(gc - cc, 3)}

        results = {
            "shops": args.shops, "runs": args.runs,
            "one_shop_change": pair(one, one_entries),
            "shared_code_change": pair(every, all_entries),
            "import_gitpython_s": import_time("git", args.runs),
            "import_helm_guard_gitio_s": import_time("helm_guard.gitio", args.runs),
        }
    print(json.dumps(results, indent=2))
    o, e = results["one_shop_change"], results["shared_code_change"]
    print(f"one-shop change: check {o['check_wall_s']:.3f} s, gate {o['gate_wall_s']:.3f} s, "
          f"overhead {o['overhead_wall_s']:+.3f} s wall / {o['overhead_cpu_s']:+.3f} s CPU "
          f"(target ≤ 0.5 s)")
    print(f"shared-code change ({e['plan_entries']} entries): overhead "
          f"{e['overhead_wall_s']:+.3f} s wall / {e['overhead_cpu_s']:+.3f} s CPU")
    print(f"gitpython import {results['import_gitpython_s']} s (helm-guard does not import "
          f"it); helm_guard.gitio import {results['import_helm_guard_gitio_s']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
