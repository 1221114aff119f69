"""The scheduled audit workflow (`.github/workflows/audit.yml`): read-only Cloudflare token,
never deploys, never cancelled, every 15 minutes and on demand, fails closed. actionlint and
the workflow schema check it with the others (`test_workflows.py`)."""

from __future__ import annotations

from pathlib import Path

import yaml

PATH = Path(__file__).resolve().parent.parent / ".github" / "workflows" / "audit.yml"


def load() -> dict:
    doc = yaml.safe_load(PATH.read_text(encoding="utf-8"))
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads `on` as True
    return doc


def test_schedule_and_dispatch() -> None:
    doc = load()
    assert doc["on"]["schedule"] == [{"cron": "*/15 * * * *"}]
    assert "workflow_dispatch" in doc["on"]
    assert doc["concurrency"]["cancel-in-progress"] is False


def test_token_is_the_read_only_audit_token_and_reaches_only_the_audit_step() -> None:
    job = load()["jobs"]["audit"]
    holders = [s for s in job["steps"] if "secrets." in yaml.safe_dump(s)]
    assert len(holders) == 1
    step = holders[0]
    assert step["env"]["CLOUDFLARE_API_TOKEN"] == "${{ secrets.CLOUDFLARE_AUDIT_TOKEN }}"
    assert "helm-guard audit" in step["run"]
    for s in job["steps"]:
        for word in ("helm-guard deploy", "helm-guard rollback", "wrangler"):
            assert word not in str(s.get("run", ""))
    assert job["permissions"] == {"contents": "write"}


def test_verdict_fails_closed() -> None:
    steps = load()["jobs"]["audit"]["steps"]
    verdict = steps[-1]
    assert verdict["if"] == "${{ !cancelled() }}"
    assert 'AUDIT_EXIT" != "0"' in verdict["run"] and "! -s audit.json" in verdict["run"]
