"""Every drill scenario, run through the real commands, must PASS."""

from __future__ import annotations

import pytest

from helm_guard.drill.scenarios import SCENARIOS
from tests.drills.conftest import DrillRun


def _explain(scenario: dict) -> str:
    lines = [f"{scenario['name']}: {scenario['verdict']} (failed step: "
             f"{scenario['failed_step']}, error: {scenario['error']})"]
    for e in scenario["expectations"]:
        if not e["ok"]:
            lines.append(f"  [{e['step']}] {e['description']}: expected {e['expected']!r}, "
                         f"observed {e['observed']!r}")
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.parametrize("name", [m.NAME for m in SCENARIOS])
def test_scenario_passes(full_drill: DrillRun, name: str) -> None:
    assert full_drill.report is not None, full_drill.stderr[-2000:]
    found = [s for s in full_drill.report["scenarios"] if s["name"] == name]
    assert len(found) == 1, f"scenario {name} missing from the report"
    scenario = found[0]
    assert scenario["verdict"] == "PASS", _explain(scenario)
    assert all(e["ok"] for e in scenario["expectations"])
    assert scenario["expectations"], "a scenario must check something"


@pytest.mark.slow
def test_all_passed_exit_zero(full_drill: DrillRun) -> None:
    assert full_drill.report is not None
    totals = full_drill.report["totals"]
    assert totals == {**totals, "scenarios": len(SCENARIOS), "passed": len(SCENARIOS),
                      "failed": 0}
    assert full_drill.report["verdict"] == "PASS"
    assert full_drill.exit_code == 0, full_drill.stderr[-2000:]


@pytest.mark.slow
def test_timings_recorded(full_drill: DrillRun) -> None:
    assert full_drill.report is not None
    by_name = {s["name"]: s["timings"] for s in full_drill.report["scenarios"]}
    for name in ("d1-name-swap", "d1-id-swap", "r2-bucket-swap", "secret-in-vars"):
        assert by_name[name]["detect"] is not None and by_name[name]["block"] is not None
    assert by_name["halted-deploy"]["halt"] is not None
    incident = by_name["live-swap-incident"]
    assert incident["halt"] is not None and incident["restore"] is not None
