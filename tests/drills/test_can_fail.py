"""The drill can fail: with the guard weakened through the test-only seam, the matching scenario
reports FAIL and the drill exits 1. Plus usage errors, isolation of the real remote and of the
real Cloudflare token."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from helm_guard.drill.sandbox import DUMMY_TOKEN, Sandbox
from tests.drills.conftest import run_drill
from tests.fleets import copy_example


def test_disabled_registry_rule_fails_the_id_swap_drill(tmp_path: Path) -> None:
    run = run_drill(tmp_path, ["--scenario", "d1-id-swap"],
                    env={"HELM_GUARD_TEST_DISABLE_RULES": "HG403"})
    assert run.exit_code == 1, run.stderr[-2000:]
    assert run.report is not None
    (scenario,) = run.report["scenarios"]
    assert scenario["verdict"] == "FAIL"
    assert run.report["verdict"] == "FAIL" and run.report["totals"]["failed"] == 1
    failed = [e for e in scenario["expectations"] if not e["ok"]]
    assert any(e["step"] == "pre-commit" and "HG403" in e["description"] for e in failed)
    assert any(e["step"] == "gate" and "HG403" in e["description"] for e in failed)
    assert any("blocks" in e["description"] for e in failed)
    assert scenario["failed_step"] == "pre-commit"


def test_a_guarded_scenario_still_passes_with_an_unrelated_rule_disabled(tmp_path: Path) -> None:
    run = run_drill(tmp_path, ["--scenario", "d1-id-swap"],
                    env={"HELM_GUARD_TEST_DISABLE_RULES": "HG901"})
    assert run.exit_code == 0, run.stderr[-2000:]


def test_unknown_scenario_is_a_usage_error(tmp_path: Path) -> None:
    run = run_drill(tmp_path, ["--scenario", "no-such-drill"])
    assert run.exit_code == 2
    assert "unknown scenario" in run.stderr


def _git(cwd: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t.invalid", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t.invalid")
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True,  # noqa: S603
                          capture_output=True, text=True).stdout


def test_real_remote_is_never_touched(tmp_path: Path) -> None:
    """A fleet at the top of a git repository is cloned; the halt scenario writes halts to the
    sandbox remote only: the real remote's refs are exactly as before."""
    real = tmp_path / "real-origin.git"
    _git(tmp_path, "init", "--quiet", "--bare", str(real))
    fleet = copy_example(tmp_path / "fleet-repo")
    _git(fleet, "init", "--quiet", "-b", "main")
    _git(fleet, "add", "--all")
    _git(fleet, "commit", "--quiet", "-m", "fleet")
    _git(fleet, "remote", "add", "origin", str(real))
    _git(fleet, "push", "--quiet", "origin", "main")
    before = _git(real, "for-each-ref")
    local_before = _git(fleet, "for-each-ref")
    run = run_drill(tmp_path / "out", ["--scenario", "halted-deploy"], fleet=fleet,
                    env={"CLOUDFLARE_API_TOKEN": "real-token-must-not-leak"})
    assert run.exit_code == 0, run.stderr[-3000:]
    assert run.report is not None
    assert run.report["sandbox"]["mode"].startswith("clone of the fleet repository")
    assert _git(real, "for-each-ref") == before
    assert _git(fleet, "for-each-ref") == local_before
    assert "real-token-must-not-leak" not in run.stdout + run.stderr + run.markdown


def test_child_environment_is_sandboxed(tmp_path: Path, monkeypatch) -> None:
    fleet = copy_example(tmp_path / "fleet")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "real-token")
    monkeypatch.setenv("CLOUDFLARE_API_BASE_URL", "https://api.cloudflare.com/client/v4")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", "/real/summary")
    monkeypatch.setenv("GIT_DIR", "/somewhere/else")
    sandbox = Sandbox(fleet / "helm-fleet.jsonc", wrangler=None)
    try:
        sandbox.emulator.start()
        env = sandbox.child_env()
    finally:
        sandbox.close()
    assert env["CLOUDFLARE_API_TOKEN"] == DUMMY_TOKEN
    assert env["CLOUDFLARE_API_BASE_URL"].startswith("http://127.0.0.1:")
    assert "GITHUB_STEP_SUMMARY" not in env and "GIT_DIR" not in env
