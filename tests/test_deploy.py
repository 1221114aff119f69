"""`helm-guard deploy`: the two-phase verified deploy, against the real wrangler 4.86, the
local Cloudflare API emulator and real git (a bare origin + a clone of the example fleet).

The swapped-binding test uses the documented seam `deploy_shop(..., before_upload=fn)`: it
rewrites the shop's config *after* the fleet check passed and before the upload, the window
a real swap would slip through, and the check of the uploaded version must stop it.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from helm_guard import state
from helm_guard.bindings import (
    ExpectedBindings,
    OwnerIndex,
    compare,
    expected_bindings,
    other_shops,
)
from helm_guard.cloudflare.wrangler import Wrangler
from helm_guard.commands import deploy
from helm_guard.emulator import CloudflareEmulator
from helm_guard.errors import Blocked
from helm_guard.fleet import load_fleet
from tests.deploy_helpers import parse
from tests.fleets import ACME, ACME_ID, BRAVO_ID, EXAMPLE

WORKER = "helm-acme"


def deployment_posts(emulator: CloudflareEmulator) -> list[dict]:
    return [
        r
        for r in emulator.requests
        if r["method"] == "POST" and r["path"].endswith(f"/{WORKER}/deployments")
    ]






def test_two_phase_deploy_succeeds_and_is_recorded(
    emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path
) -> None:
    out = io.StringIO()
    args = parse(["--shop", "acme", "--fleet", str(fleet_repo), "-m", "release 1"])
    assert deploy.run(args, wrangler=wrangler, out=out) == 0
    text = out.getvalue()
    live = emulator.live_version(WORKER)
    assert live is not None
    vid = live["id"]
    d1 = [b for b in live["resources"]["bindings"] if b["type"] == "d1"]
    assert d1 == [{"type": "d1", "name": "DB", "id": ACME_ID}]
    for n in range(1, 7):
        assert f"[{n}/6] " in text
    assert "FAILED" not in text
    # upload first, activation only after the version was read back
    paths = [(r["method"], r["path"].rsplit("/", 2)[-2:]) for r in emulator.requests]
    upload = paths.index(("POST", ["helm-acme", "versions"]))
    view = paths.index(("GET", ["versions", vid]))
    post = paths.index(("POST", ["helm-acme", "deployments"]))
    assert upload < view < post
    assert len(deployment_posts(emulator)) == 1

    ledger = state.read_ledger(fleet_repo, "origin", "acme")
    assert len(ledger) == 1
    rec = ledger[0].record
    assert rec["action"] == "deploy"
    assert rec["version_id"] == vid
    assert rec["worker"] == WORKER
    assert rec["digest"].startswith("sha256:")
    assert len(rec["commit"]) == 40
    assert rec["actor"] == "Ana <ana@example.invalid>"
    assert ledger[0].by == "Ana <ana@example.invalid>"


def test_uploaded_version_binding_another_shops_db_is_never_activated(
    emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path
) -> None:
    def swap(config: Path) -> None:  # the seam: tamper after the check, before the upload
        text = config.read_text(encoding="utf-8")
        assert ACME_ID in text
        config.write_text(text.replace(ACME_ID, BRAVO_ID), encoding="utf-8")

    out = io.StringIO()
    with pytest.raises(Blocked) as exc:
        deploy.deploy_shop(str(fleet_repo), "acme", wrangler=wrangler, out=out, before_upload=swap)
    message = str(exc.value)
    assert "stopped at step 3/6" in message
    assert "bravo" in message and BRAVO_ID in message
    assert "NOT activated" in message
    assert deployment_posts(emulator) == []  # no POST .../deployments at all
    assert emulator.live_version(WORKER) is None
    uploaded = emulator.versions(WORKER)
    assert len(uploaded) == 1  # it was uploaded (and read back), just never deployed
    assert state.read_ledger(fleet_repo, "origin", "acme") == []
    assert (fleet_repo / ACME).read_text(encoding="utf-8").count(BRAVO_ID) == 1


def test_wrong_digest_blocks_before_any_wrangler_call(
    emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path
) -> None:
    args = parse(["--shop", "acme", "--fleet", str(fleet_repo), "--digest", "sha256:" + "0" * 64])
    with pytest.raises(Blocked, match="stopped at step 1/6.*digest"):
        deploy.run(args, wrangler=wrangler, out=io.StringIO())
    assert emulator.requests == []


def test_halted_shop_is_not_deployed(
    emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path
) -> None:
    state.halt(fleet_repo, "origin", reason="binding swap drill")
    args = parse(["--shop", "acme", "--fleet", str(fleet_repo)])
    with pytest.raises(Blocked, match="halted|blocked"):
        deploy.run(args, wrangler=wrangler, out=io.StringIO())
    assert emulator.requests == []


# ---------------------------------------------------------------------- bindings (pure)
def _expected() -> tuple[ExpectedBindings, OwnerIndex]:
    fleet = load_fleet(EXAMPLE / "helm-fleet.jsonc")
    return expected_bindings(fleet, "acme"), OwnerIndex(fleet)


GOOD = [
    {"type": "d1", "name": "DB", "id": ACME_ID},
    {"type": "r2_bucket", "name": "ASSETS", "bucket_name": "helm-acme-assets"},
    {"type": "service", "name": "AUTH", "service": "helm-auth"},
    {"type": "plain_text", "name": "SHOP_SLUG", "text": "acme"},
    {"type": "secret_text", "name": "STRIPE_WEBHOOK_SECRET"},
]


def test_compare_accepts_own_and_harmless_bindings() -> None:
    exp, index = _expected()
    assert compare(GOOD, exp, index) == []


@pytest.mark.parametrize(
    ("change", "owner", "needle"),
    [
        ({"type": "d1", "name": "DB", "id": BRAVO_ID}, "bravo", "shop bravo's database"),
        (
            {"type": "d1", "name": "DB", "id": "2b0f7d2f-1e7b-4d44-8c9f-7c3a4a7a1b99"},
            "bravo (staging)",
            "shop bravo (staging)'s database",
        ),
        (
            {"type": "r2_bucket", "name": "ASSETS", "bucket_name": "helm-charlie-assets"},
            "charlie",
            "shop charlie's bucket",
        ),
        ({"type": "service", "name": "AUTH", "service": "helm-delta"}, "delta", "Worker"),
        (
            {"type": "d1", "name": "DB", "id": "00000000-0000-4000-8000-000000000000"},
            None,
            "belongs to no shop",
        ),
        ({"type": "queue", "name": "Q", "queue_name": "x"}, None, "fail closed"),
    ],
)
def test_compare_names_the_owner_of_foreign_resources(
    change: dict, owner: str | None, needle: str
) -> None:
    exp, index = _expected()
    bindings = [b for b in GOOD if b["name"] != change["name"]] + [change]
    diffs = compare(bindings, exp, index)
    assert len(diffs) == 1, diffs
    assert diffs[0].owner == owner
    assert needle in diffs[0].message


def test_compare_requires_the_shops_own_database_and_bucket() -> None:
    exp, index = _expected()
    diffs = compare([b for b in GOOD if b["type"] not in ("d1", "r2_bucket")], exp, index)
    assert sorted(d.type for d in diffs) == ["d1", "r2_bucket"]
    assert other_shops(diffs, "acme") == []


def test_kv_listed_in_the_registry_deploys_and_an_unlisted_one_is_refused_with_the_fix(
    emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path
) -> None:
    """One truth (issue 12.1): the judge deploy uses accepts a KV namespace the registry lists
    and refuses one it does not, naming the same fix as rollback (tests/test_rollback.py)."""
    from tests.test_rollback import KV_FIX, KV_LISTED, KV_UNLISTED, register_kv

    register_kv(fleet_repo, KV_LISTED)
    cfg = fleet_repo / "shops" / "acme" / "wrangler.jsonc"
    text = cfg.read_text(encoding="utf-8")
    kv = '"kv_namespaces": [{"binding": "CACHE", "id": "%s"}],\n  "services":'
    cfg.write_text(text.replace('"services":', kv % KV_LISTED, 1), encoding="utf-8")
    deploy.deploy_shop(str(fleet_repo), "acme", wrangler=wrangler, out=io.StringIO())
    live = emulator.live_version(WORKER)
    assert {"type": "kv_namespace", "name": "CACHE", "namespace_id": KV_LISTED} in \
        live["resources"]["bindings"]

    def swap(config: Path) -> None:  # after the check: only deploy's own judge can stop it
        config.write_text(config.read_text(encoding="utf-8").replace(KV_LISTED, KV_UNLISTED))

    with pytest.raises(Blocked) as exc:
        deploy.deploy_shop(str(fleet_repo), "acme", wrangler=wrangler, out=io.StringIO(),
                           before_upload=swap)
    assert "stopped at step 3/6" in str(exc.value) and KV_FIX in str(exc.value)
    assert emulator.live_version(WORKER)["id"] == live["id"]


def test_attachments_are_read_back_and_judged_before_activation(
    emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path
) -> None:
    """A custom domain of another shop or a foreign tail consumer attached to the Worker (set
    outside the repository) stops the deploy before activation; its own domain passes."""
    import json
    import urllib.request

    first = emulator.seed_version(WORKER, [], deploy=True)
    emulator.add_zone("shops.example")
    emulator.add_custom_domain("bravo.shops.example", "helm-bravo")  # bravo's: not judged
    emulator.add_custom_domain("acme.shops.example", WORKER)
    emulator.add_custom_domain("shop.bravo.shops.example", WORKER)
    with pytest.raises(Blocked) as exc:
        deploy.deploy_shop(str(fleet_repo), "acme", wrangler=wrangler, out=io.StringIO())
    assert "stopped at step 3/6" in str(exc.value)
    assert "custom domain shop.bravo.shops.example (a host no shop registers)" in str(exc.value)
    emulator.add_custom_domain("bravo.shops.example", WORKER)  # moved onto acme's Worker
    emulator.add_custom_domain("shop.bravo.shops.example", "helm-bravo")
    with pytest.raises(Blocked) as exc:
        deploy.deploy_shop(str(fleet_repo), "acme", wrangler=wrangler, out=io.StringIO())
    assert "custom domain bravo.shops.example (shop bravo's host)" in str(exc.value)
    assert emulator.live_version(WORKER)["id"] == first and not deployment_posts(emulator)

    emulator.add_custom_domain("bravo.shops.example", "helm-bravo")  # back where it belongs
    req = urllib.request.Request(
        f"{emulator.base_url}/accounts/{emulator.account_id}/workers/scripts/{WORKER}"
        "/script-settings", method="PATCH",
        headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
        data=json.dumps({"tail_consumers": [{"service": "helm-bravo"}]}).encode())
    urllib.request.urlopen(req).close()  # noqa: S310
    with pytest.raises(Blocked) as exc:
        deploy.deploy_shop(str(fleet_repo), "acme", wrangler=wrangler, out=io.StringIO())
    assert "stopped at step 3/6" in str(exc.value) and "helm-bravo" in str(exc.value)

    urllib.request.urlopen(urllib.request.Request(  # noqa: S310
        req.full_url, method="PATCH",
        headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
        data=json.dumps({"tail_consumers": []}).encode())).close()
    record = deploy.deploy_shop(str(fleet_repo), "acme", wrangler=wrangler, out=io.StringIO())
    assert emulator.live_version(WORKER)["id"] == record["version_id"]
    newest = emulator.deployments(WORKER)[0]
    assert record["live_since"] == newest["created_on"]


def test_repository_refusals() -> None:
    from helm_guard.preflight import account_refusal, config_refusals

    doc = {"migrations": [{"tag": "v1", "transferred_classes": [
        {"from": "A", "from_script": "helm-bravo", "to": "A"}]}],
        "env": {"staging": {"build": {"command": "make"}}}}
    found = config_refusals(doc, "shops/acme/wrangler.jsonc", "helm-acme")
    assert any("$.env.staging.build" in f for f in found)
    assert any("$.migrations[0].transferred_classes[0]" in f and "'helm-bravo'" in f
               for f in found)
    own = {"migrations": [{"new_classes": ["A"]}, {"transferred_classes": [
        {"from": "A", "from_script": "helm-acme", "to": "B"}]}]}
    assert config_refusals(own, "x", "helm-acme") == []  # HG806's near miss: its own Worker
    assert config_refusals(own, "x", "Helm-Acme") and config_refusals(own, "x")
    assert account_refusal("f" * 32, "0" * 32, "x") and not account_refusal(None, "0" * 32, "x")


def test_foreign_tail_consumer_and_other_account_in_the_config_are_refused(
    emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path
) -> None:
    cfg = fleet_repo / "shops" / "acme" / "wrangler.jsonc"
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace('"services":', '"tail_consumers": [{"service": "helm-bravo"}],\n'
                                '  "services":', 1), encoding="utf-8")
    with pytest.raises(Blocked) as exc:
        deploy.deploy_shop(str(fleet_repo), "acme", wrangler=wrangler, out=io.StringIO())
    assert "stopped at step 1/6" in str(exc.value) and "helm-bravo" in str(exc.value)
    assert emulator.requests == [] or all(r["method"] == "GET" for r in emulator.requests)


def test_env_files_up_to_the_work_tree_root_are_refused(tmp_path: Path) -> None:
    from helm_guard.preflight import file_refusals

    top = tmp_path / "repo"
    root = top / "fleet"
    cfg = root / "shops" / "acme" / "wrangler.jsonc"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("{}")
    assert file_refusals(root, cfg, top) == []
    (top / ".env.production").write_text("CLOUDFLARE_ENV=x\n")
    assert file_refusals(root, cfg) == []  # beside the work tree root, above the fleet
    [found] = file_refusals(root, cfg, top)
    assert found.startswith(f"{top}/.env.production:")
    (root / "shops" / "acme" / "link.jsonc").symlink_to(cfg)
    assert any("symbolic link" in f for f in
               file_refusals(root, root / "shops" / "acme" / "link.jsonc", top))
