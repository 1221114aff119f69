"""Red-team attacks that the case corpus (`tests/attacks/`) cannot express: a fleet file the
guard must refuse as a configuration error (exit 2), and near misses around it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helm_guard.errors import UsageError
from helm_guard.fleet import load_fleet
from tests.fleets import copy_example, edit

REPO_ROOT = Path(__file__).resolve().parent.parent


def _add_shop(fleet_dir: Path, slug: str) -> None:
    edit(fleet_dir / "helm-fleet.jsonc", '"shops": {',
         f'"shops": {{"{slug}": {{"database_id": "3c0f7d2f-1e7b-4d44-8c9f-7c3a4a7a1b03"}},')


def test_a_shop_named_like_another_shops_stage_is_refused(tmp_path: Path) -> None:
    """Shop `bravo-staging` and shop `bravo`'s stage `staging` would both own Worker
    `helm-bravo-staging` (and its database and bucket names): whichever deploys last takes
    the other's Worker, and "whose is it" has two answers. The fleet file is refused."""
    copy_example(tmp_path)
    _add_shop(tmp_path, "bravo-staging")
    with pytest.raises(UsageError, match="helm-bravo-staging"):
        load_fleet(tmp_path / "helm-fleet.jsonc")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(  # noqa: S603 - fixed interpreter, argument list
        [sys.executable, "-m", "helm_guard", "check"], cwd=tmp_path, capture_output=True,
        text=True, timeout=60, check=False, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "would both be named 'helm-bravo-staging'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_custom_stage_templates_colliding_with_a_shop_are_refused(tmp_path: Path) -> None:
    """Stage templates of another shape (`helm-{stage}-{slug}`): shop `staging-bravo` and
    bravo's stage `staging` are both `helm-staging-bravo` (the rendering path)."""
    copy_example(tmp_path)
    edit(tmp_path / "helm-fleet.jsonc", '"worker": "helm-{slug}",',
         '"worker": "helm-{slug}", "stage_worker": "helm-{stage}-{slug}",')
    _add_shop(tmp_path, "staging-bravo")
    with pytest.raises(UsageError, match="helm-staging-bravo"):
        load_fleet(tmp_path / "helm-fleet.jsonc")


def test_near_miss_a_dashed_shop_that_is_no_stage_stays_valid(tmp_path: Path) -> None:
    copy_example(tmp_path)
    _add_shop(tmp_path, "bravo-east")  # `east` is no declared stage
    fleet = load_fleet(tmp_path / "helm-fleet.jsonc")
    assert fleet.name_collisions() is None


def test_near_miss_stage_templates_that_cannot_collide(tmp_path: Path) -> None:
    """A fleet whose stage templates use a separator no slug holds keeps the shop."""
    copy_example(tmp_path)
    _add_shop(tmp_path, "bravo-staging")
    fleet_file = tmp_path / "helm-fleet.jsonc"
    edit(fleet_file, '"worker": "helm-{slug}",',
         '"worker": "helm-{slug}", "stage_worker": "helm-{slug}--{stage}", '
         '"stage_d1": "helm-{slug}--{stage}-db", "stage_r2": "helm-{slug}--{stage}-assets",')
    assert load_fleet(fleet_file).name_collisions() is None



def test_a_config_read_with_two_layouts_is_refused(tmp_path: Path) -> None:
    """`configs` lists acme's file as env-per-shop before `shops/*/wrangler.jsonc`: the first
    pattern decided the layout, so acme's own Worker became "the shared base" and its envs
    would be read as other shops' targets. Two readings of one file: refused."""
    copy_example(tmp_path)
    edit(tmp_path / "helm-fleet.jsonc", '"configs": [',
         '"configs": [{"glob": "shops/acme/wrangler.jsonc", "layout": "env-per-shop"}, ')
    with pytest.raises(UsageError, match="layout 'env-per-shop'"):
        load_fleet(tmp_path / "helm-fleet.jsonc").config_entries()


def test_near_miss_a_config_matched_twice_with_one_layout(tmp_path: Path) -> None:
    copy_example(tmp_path)
    edit(tmp_path / "helm-fleet.jsonc", '"configs": [', '"configs": ["shops/acme/wrangler.jsonc", ')
    entries = load_fleet(tmp_path / "helm-fleet.jsonc").config_entries()
    assert [e.rel for e in entries].count("shops/acme/wrangler.jsonc") == 1



def test_parallel_check_sees_a_stray_config_in_a_folder_without_a_shop(tmp_path: Path) -> None:
    """Above the parallel threshold, `shops/zz-ops/wrangler.json` (a folder the pattern
    `shops/*/wrangler.jsonc` proposes as a candidate that does not exist) was pruned from the
    fleet-wide walk and walked by no worker: `check` exited 0 (issue 11, class 4)."""
    from helm_guard.checker import PARALLEL_MIN_FILES
    from tests.test_parallel import _both_ways, _fleet

    slugs = _fleet(tmp_path, PARALLEL_MIN_FILES + 40)
    shops = tmp_path / "shops"
    (shops / "zz-ops").mkdir()
    (shops / "zz-ops" / "wrangler.json").write_text("{}")
    (shops / "aa-ops" / "deep").mkdir(parents=True)
    (shops / "aa-ops" / "deep" / "wrangler.toml").write_text("")
    (shops / slugs[7] / "WRANGLER.JSON").write_text("{}")
    _, serial, parallel = _both_ways(tmp_path)
    strays = sorted(f.path for f in parallel.findings if f.rule == "HG606")
    assert strays == ["shops/aa-ops/deep/wrangler.toml", f"shops/{slugs[7]}/WRANGLER.JSON",
                      "shops/zz-ops/wrangler.json"], parallel.findings


# --------------------------------------------------------------------------- gate: rebinds

from tests.gate_fixtures import FleetRepo, make_repo  # noqa: E402
from tests.test_gate import gate, helm  # noqa: E402,F401 - the in-process gate fixture

QUEUES = REPO_ROOT / "tests" / "attacks" / "near-miss-own-queues" / "fleet"
ACME_CFG = "shops/acme/wrangler.jsonc"
BRAVO_CFG = "shops/bravo/wrangler.jsonc"


def test_moving_a_queue_between_shops_is_a_rebind(helm, tmp_path: Path) -> None:  # noqa: F811
    """One commit hands bravo's queue to acme: the registry moves `orders-bravo` from bravo to
    acme, acme produces to it, bravo stops. Every rule agrees with the new registry, so only
    the rebind check stands between acme and bravo's orders: like a swapped database id it
    must be acknowledged (`Helm-Rebind`), for both shops."""
    (tmp_path / "g").mkdir()
    repo: FleetRepo = make_repo(tmp_path / "g", QUEUES)
    repo.edit("helm-fleet.jsonc", '"queues": ["orders-bravo"]', '"queues": []')
    repo.edit("helm-fleet.jsonc", '"queues": ["orders-acme", "orders-acme-dlq"]',
              '"queues": ["orders-acme", "orders-acme-dlq", "orders-bravo"]')
    repo.edit(ACME_CFG, '"producers": [{"binding": "Q", "queue": "orders-acme"}]',
              '"producers": [{"binding": "Q", "queue": "orders-bravo"}]')
    repo.edit(BRAVO_CFG,
              '"queues": {"producers": [{"binding": "ORDERS", "queue": "orders-bravo"}]},', '')
    repo.commit("move a queue")
    r = gate(helm, repo)
    assert r.rc == 1, r.out
    assert "unacknowledged rebind of shop acme" in r.out
    assert "unacknowledged rebind of shop bravo" in r.out
    assert "orders-bravo" in r.out


def test_near_miss_a_queue_setting_is_no_rebind(helm, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "g").mkdir()
    repo: FleetRepo = make_repo(tmp_path / "g", QUEUES)
    repo.edit(ACME_CFG, '"consumers": [{"queue": "orders-acme",',
              '"consumers": [{"queue": "orders-acme", "max_batch_size": 10,')
    repo.commit("batch size")
    r = gate(helm, repo)
    assert r.rc == 0, r.out
    assert "rebind" not in r.out.replace("rebinds: none", "")
