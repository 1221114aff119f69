"""Fixtures for the drill tests: one full drill run over a copy of the example fleet (shared by
the per-scenario tests), and a helper to run `helm-guard drill` as operators do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.fleets import copy_example
from tests.wrangler_fixtures import require_wrangler

REPO = Path(__file__).resolve().parents[2]


class DrillRun(NamedTuple):
    exit_code: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None
    markdown: str
    summary: str


def run_drill(tmp: Path, args: Sequence[str], env: Mapping[str, str] | None = None,
              fleet: Path | None = None) -> DrillRun:
    """`python -m helm_guard drill --format json --report tmp/report.md` in a copy of the
    example fleet, with a GitHub job summary file."""
    tmp.mkdir(parents=True, exist_ok=True)
    if fleet is None:
        fleet = copy_example(tmp / "fleet")
    summary = tmp / "step-summary.md"
    report_md = tmp / "report.md"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    full_env["PYTHONPATH"] = os.pathsep.join([str(REPO), full_env.get("PYTHONPATH", "")])
    full_env["GITHUB_STEP_SUMMARY"] = str(summary)
    full_env.update(env or {})
    proc = subprocess.run(  # noqa: S603 - argument list
        [sys.executable, "-m", "helm_guard", "drill", "--format", "json",
         "--report", str(report_md), *args],
        cwd=fleet, env=full_env, capture_output=True, text=True, timeout=600, check=False,
    )
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        report = None
    return DrillRun(proc.returncode, proc.stdout, proc.stderr, report,
                    report_md.read_text(encoding="utf-8") if report_md.exists() else "",
                    summary.read_text(encoding="utf-8") if summary.exists() else "")


@pytest.fixture(scope="session")
def full_drill(tmp_path_factory: pytest.TempPathFactory) -> DrillRun:
    """Every scenario, once, in one sandbox (the incident scenario needs the real wrangler:
    a missing one FAILS, never skips)."""
    wrangler = require_wrangler()
    return run_drill(tmp_path_factory.mktemp("drill-all"),
                     ["--scenario", "all", "--wrangler", str(wrangler)])
