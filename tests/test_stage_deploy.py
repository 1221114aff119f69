"""`helm-guard deploy --env`: deploying a shop's stage (bravo's `staging` in the example fleet)
with the real wrangler against the local Cloudflare API emulator and real git, plus the target
resolution of `--env` in both config layouts (no wrangler needed).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from helm_guard import state
from helm_guard.cloudflare.wrangler import Wrangler
from helm_guard.commands import deploy
from helm_guard.emulator import CloudflareEmulator
from helm_guard.errors import Blocked, UsageError
from tests.deploy_helpers import parse
from tests.fleets import BRAVO, BRAVO_ID, REGIONAL, copy_example, edit

STAGING_ID = "2b0f7d2f-1e7b-4d44-8c9f-7c3a4a7a1b99"
STAGE_WORKER = "helm-bravo-staging"




def posts(emulator: CloudflareEmulator, worker: str, what: str) -> list[dict]:
    return [
        r
        for r in emulator.requests
        if r["method"] == "POST" and r["path"].endswith(f"/{worker}/{what}")
    ]


def touched(emulator: CloudflareEmulator, worker: str) -> list[dict]:
    return [r for r in emulator.requests if f"/{worker}/" in r["path"] + "/"]




def test_stage_deploy_binds_the_stage_database_and_is_ledgered_with_the_stage(
    emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path
) -> None:
    out = io.StringIO()
    args = parse(["--shop", "bravo", "--env", "staging", "--fleet", str(fleet_repo)])
    assert deploy.run(args, wrangler=wrangler, out=out) == 0
    text = out.getvalue()
    assert "FAILED" not in text
    assert "--env=staging --name=helm-bravo-staging" in text

    live = emulator.live_version(STAGE_WORKER)
    assert live is not None
    bindings = live["resources"]["bindings"]
    assert [b for b in bindings if b["type"] == "d1"] == [
        {"type": "d1", "name": "DB", "id": STAGING_ID}
    ]
    assert [b["bucket_name"] for b in bindings if b["type"] == "r2_bucket"] == [
        "helm-bravo-staging-assets"
    ]
    assert len(posts(emulator, STAGE_WORKER, "versions")) == 1
    assert len(posts(emulator, STAGE_WORKER, "deployments")) == 1
    # production was not touched at all
    assert touched(emulator, "helm-bravo") == []
    assert emulator.live_version("helm-bravo") is None

    ledger = state.read_ledger(fleet_repo, "origin", "bravo")
    assert len(ledger) == 1
    rec = ledger[0].record
    assert ledger[0].shop == "bravo"
    assert rec["action"] == "deploy"
    assert rec["stage"] == "staging" and rec["env"] == "staging"
    assert rec["worker"] == STAGE_WORKER
    assert rec["version_id"] == live["id"]
    assert {"name": "DB", "type": "d1", "points_at": f"d1 {STAGING_ID}"} in rec["bindings"]


def test_stage_version_binding_the_production_database_is_never_activated(
    emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path
) -> None:
    def swap(config: Path) -> None:  # the seam: tamper after the check, before the upload
        text = config.read_text(encoding="utf-8")
        assert text.count(STAGING_ID) == 1
        config.write_text(text.replace(STAGING_ID, BRAVO_ID), encoding="utf-8")

    with pytest.raises(Blocked) as exc:
        deploy.deploy_shop(
            str(fleet_repo),
            "bravo",
            env="staging",
            wrangler=wrangler,
            out=io.StringIO(),
            before_upload=swap,
        )
    message = str(exc.value)
    assert "stopped at step 3/6" in message
    assert "NOT activated" in message
    assert f"binds shop bravo's database {BRAVO_ID}" in message
    assert f"expected shop bravo (staging)'s {STAGING_ID}" in message
    assert len(posts(emulator, STAGE_WORKER, "versions")) == 1  # uploaded and read back
    assert posts(emulator, STAGE_WORKER, "deployments") == []
    assert emulator.live_version(STAGE_WORKER) is None
    assert touched(emulator, "helm-bravo") == []
    assert state.read_ledger(fleet_repo, "origin", "bravo") == []


@pytest.mark.parametrize(
    ("shop", "env", "needle"),
    [
        ("bravo", "production", "not a deploy target of shop bravo"),
        ("acme", "staging", "not a deploy target of shop acme"),
        ("bravo", "--staging", "not an env name"),
        ("bravo", "", "not an env name"),
    ],
)
def test_bad_env_is_a_usage_error_before_any_wrangler_call(
    emulator: CloudflareEmulator,
    wrangler: Wrangler,
    fleet_repo: Path,
    shop: str,
    env: str,
    needle: str,
) -> None:
    args = parse(["--shop", shop, f"--env={env}", "--fleet", str(fleet_repo)])
    with pytest.raises(UsageError, match=needle):
        deploy.run(args, wrangler=wrangler, out=io.StringIO())
    assert emulator.requests == []


# ---------------------------------------------------------------------- target resolution
def test_env_resolves_to_the_checked_target_in_both_layouts(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "fleet")
    # an env-per-shop stage: env "charlie-staging" of the regional file, registered for charlie
    edit(
        root / REGIONAL,
        '    "delta": {',
        '    "charlie-staging": {\n'
        '      "vars": {"SHOP_SLUG": "charlie"},\n'
        '      "d1_databases": [{"binding": "DB", "database_name": "helm-charlie-staging-db",'
        ' "database_id": "3c1a8e3a-2f8c-4e55-9da0-8d4b5b8b2c99"}],\n'
        '      "r2_buckets": [{"binding": "ASSETS", "bucket_name": "helm-charlie-staging-assets"}],'
        "\n    },\n"
        '    "delta": {',
    )
    edit(
        root / "helm-fleet.jsonc",
        '"charlie": {"database_id": "3c1a8e3a-2f8c-4e55-9da0-8d4b5b8b2c03"}',
        '"charlie": {"database_id": "3c1a8e3a-2f8c-4e55-9da0-8d4b5b8b2c03", "stages": '
        '{"staging": {"database_id": "3c1a8e3a-2f8c-4e55-9da0-8d4b5b8b2c99"}}}',
    )
    fleet = str(root / "helm-fleet.jsonc")

    prod = deploy.find_target(fleet, "bravo")
    assert (prod.stage, prod.env, prod.worker) == (None, "", "helm-bravo")
    stage = deploy.find_target(fleet, "bravo", "staging")
    assert (stage.config_rel, stage.stage, stage.env) == (BRAVO, "staging", "staging")
    assert stage.worker == STAGE_WORKER
    assert stage.expected.database_id == STAGING_ID
    assert stage.expected.bucket_name == "helm-bravo-staging-assets"
    assert stage.label() == "bravo (staging)"
    assert stage.digest != prod.digest

    # env-per-shop: the env named after the shop is its production target
    charlie = deploy.find_target(fleet, "charlie", "charlie")
    assert (charlie.stage, charlie.env, charlie.worker) == (None, "charlie", "helm-charlie")
    assert charlie.digest == deploy.find_target(fleet, "charlie").digest
    cstage = deploy.find_target(fleet, "charlie", "charlie-staging")
    assert (cstage.config_rel, cstage.stage, cstage.env) == (REGIONAL, "staging", "charlie-staging")
    assert cstage.worker == "helm-charlie-staging"
    assert cstage.expected.database_id == "3c1a8e3a-2f8c-4e55-9da0-8d4b5b8b2c99"
    # the stage name alone is not an env of the regional file, and another shop's env is no
    # target of this one
    with pytest.raises(UsageError, match="not a deploy target of shop charlie"):
        deploy.find_target(fleet, "charlie", "staging")
    with pytest.raises(UsageError, match="not a deploy target of shop delta"):
        deploy.find_target(fleet, "delta", "charlie-staging")


def test_stage_declared_but_not_registered_for_the_shop_is_refused(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "fleet")
    edit(
        root / "helm-fleet.jsonc",
        f'"stages": {{"staging": {{"database_id": "{STAGING_ID}"}}}},',
        "",
    )
    with pytest.raises(UsageError, match="registered under shops.bravo.stages"):
        deploy.find_target(str(root / "helm-fleet.jsonc"), "bravo", "staging")
