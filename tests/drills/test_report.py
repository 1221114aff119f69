"""The drill's report: valid against its schema, in the job summary, never a secret, and the
sandbox promise printed first."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from tests.drills.conftest import REPO, DrillRun

SECRET_SHAPE = re.compile(r"(?:sk|rk)_live_[A-Za-z0-9]{8,}")


@pytest.mark.slow
def test_json_report_validates_against_schema(full_drill: DrillRun) -> None:
    schema = json.loads((REPO / "schemas" / "helm-drill-report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert full_drill.report is not None
    jsonschema.Draft202012Validator(schema).validate(full_drill.report)


@pytest.mark.slow
def test_markdown_report_and_job_summary(full_drill: DrillRun) -> None:
    assert full_drill.markdown.startswith("## helm-guard drill: PASS")
    assert full_drill.markdown in full_drill.summary
    for name in ("d1-name-swap", "live-swap-incident"):
        assert f"`{name}`" in full_drill.markdown
    assert "**Hypothesis:**" in full_drill.markdown


@pytest.mark.slow
def test_secret_appears_nowhere(full_drill: DrillRun) -> None:
    for text in (full_drill.stdout, full_drill.stderr, full_drill.markdown, full_drill.summary):
        assert not SECRET_SHAPE.search(text)
    assert full_drill.report is not None
    secret = next(s for s in full_drill.report["scenarios"] if s["name"] == "secret-in-vars")
    descriptions = " ".join(e["description"] for e in secret["expectations"])
    assert "never contain the planted secret" in descriptions
    assert "no command printed the secret" in descriptions


@pytest.mark.slow
def test_sandbox_promise_printed_first(full_drill: DrillRun) -> None:
    first = full_drill.stderr.splitlines()[0]
    assert "never touched" in first and "emulator" in first
