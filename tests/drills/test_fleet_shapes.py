"""`drill --scenario all` passes on every valid fleet layout, not only the example's: a drill
verdict is about the guard, never about the fleet's shape (the example fleet, the mixed layout,
is drilled in test_scenarios.py). Scenarios that need something the fleet lacks build it in the
sandbox first, as a clean commit the report names."""

from __future__ import annotations

from pathlib import Path

import pytest

from helm_guard.drill.scenarios import SCENARIOS
from tests.drills.conftest import DrillRun, run_drill
from tests.drills.shapes import env_per_shop, per_file_no_envs
from tests.fleets import check
from tests.wrangler_fixtures import require_wrangler


def _failures(run: DrillRun) -> str:
    assert run.report is not None, run.stderr[-3000:]
    lines = []
    for s in run.report["scenarios"]:
        for e in s["expectations"]:
            if not e["ok"]:
                lines.append(f"{s['name']} [{e['step']}] {e['description']}: "
                             f"expected {e['expected']!r}, observed {e['observed']!r}")
    return "\n".join(lines)


def _all_pass(run: DrillRun, count: int) -> None:
    assert run.exit_code == 0, _failures(run)
    assert run.report is not None
    assert run.report["totals"]["passed"] == count == len(run.report["scenarios"])
    text = run.stdout + run.stderr + run.markdown
    assert "Traceback" not in text and 'File "' not in text


def _set_up_steps(run: DrillRun, name: str) -> list[str]:
    assert run.report is not None
    (s,) = [s for s in run.report["scenarios"] if s["name"] == name]
    return [e["description"] for e in s["expectations"] if e["step"] == "set-up"]


@pytest.mark.slow
def test_per_file_fleet_without_envs(tmp_path: Path) -> None:
    fleet = per_file_no_envs(tmp_path / "fleet")
    assert not check(fleet).findings
    run = run_drill(tmp_path / "out", ["--scenario", "all",
                                       "--wrangler", str(require_wrangler())], fleet=fleet)
    _all_pass(run, len(SCENARIOS))
    # the env the scenario needed was built (stage declared, registered, env added) and said so
    (setup,) = _set_up_steps(run, "env-lost-d1")
    assert "stage 'drill' declared, registered for acme" in setup
    assert _set_up_steps(run, "d1-id-swap") == []  # nothing built where nothing was missing


@pytest.mark.slow
def test_env_per_shop_fleet(tmp_path: Path) -> None:
    fleet = env_per_shop(tmp_path / "fleet")
    assert not check(fleet).findings
    run = run_drill(tmp_path / "out", ["--scenario", "all",
                                       "--wrangler", str(require_wrangler())], fleet=fleet)
    _all_pass(run, len(SCENARIOS))
    # an env-per-shop file's top level binds nothing: the trap needs a per-file shop
    (setup,) = _set_up_steps(run, "env-lost-d1")
    assert "a drill shop drill in the per-file layout" in setup


@pytest.mark.slow
def test_a_fleet_of_one_shop(tmp_path: Path) -> None:
    """Swaps need two shops: the drill adds one of its own."""
    fleet = per_file_no_envs(tmp_path / "fleet", shops=("acme",))
    assert not check(fleet).findings
    run = run_drill(tmp_path / "out", ["--scenario", "d1-id-swap", "--scenario", "env-lost-d1"],
                    fleet=fleet)
    _all_pass(run, 2)
    (setup,) = _set_up_steps(run, "d1-id-swap")
    assert "a drill shop drill (helm-drill/drill/wrangler.jsonc)" in setup


def test_missing_wrangler_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A pip-installed helm-guard (no tests/node beside it) in a fleet without node_modules:
    the drill says what to install, first and in the failed expectation."""
    import json

    from helm_guard import cli
    from helm_guard.drill import sandbox

    fleet = per_file_no_envs(tmp_path / "fleet", shops=("acme", "bravo"))
    monkeypatch.setattr(sandbox, "PACKAGE_PARENT", tmp_path / "site-packages")
    monkeypatch.delenv("HELM_GUARD_WRANGLER", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.chdir(fleet)
    assert sandbox.find_wrangler(None, fleet) is None
    code = cli.main(["drill", "--scenario", "live-swap-incident", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "run `npm i -D wrangler@4.86.0` in the fleet repository" in err
    (scenario,) = json.loads(out)["scenarios"]
    assert scenario["verdict"] == "FAIL"
    assert any("npm i -D wrangler@4.86.0" in e["observed"] for e in scenario["expectations"])
