"""One truth for "the tenant's own": `Fleet.owned` (what the check rules read) and
`bindings.judge_bindings` (what deploy, rollback and audit call) agree.

- `Fleet.owned` and `Fleet.owner_of` are two views of one registry: every identity a tenant
  owns is owned by that tenant and nobody else.
- The differential: the attack corpus's fleets are uploaded with the real wrangler 4.86
  (`versions upload`) to the local API emulator, every target of the shop under attack
  (acme), and the bindings wrangler actually sent are judged. A near miss (check passes) is
  judged clean; an attack carried by a binding (check refuses) is refused by the judge as well.
  One gap: wrangler looks every queue producer up in the Queues API, which the emulator does
  not have; a target with `queues` is turned into API bindings here instead, in the shape the
  Cloudflare API documents (`{"type": "queue", "name": ..., "queue_name": ...}`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helm_guard.bindings import judge_bindings
from helm_guard.cloudflare.wrangler import Wrangler, bindings_of
from helm_guard.context import load_files
from helm_guard.fleet import REGISTRY_LISTS, Tenant, load_fleet
from tests.fleets import copy_example

ATTACKS = Path(__file__).resolve().parent / "attacks"
# attacks that a version's bindings carry (routes, builds, migrations and tail consumers are
# not bindings: only `check` sees them)
BINDING_ATTACKS = ("kv-foreign", "kv-unregistered", "service-foreign", "service-lookalike-shared",
                   "service-uppercase-own", "do-script-foreign", "do-script-lookalike",
                   "queue-producer-foreign", "queue-unregistered", "queue-case-lookalike",
                   "workflow-name-foreign", "workflow-script-foreign", "unsafe-binding",
                   "hyperdrive", "dispatch-namespace")
NEAR_MISSES = tuple(sorted(p.parent.name for p in ATTACKS.glob("near-miss-*/case.json")))


def _fleets() -> list[Path]:
    return [ATTACKS / c / "fleet" for c in (*BINDING_ATTACKS, *NEAR_MISSES)]


@pytest.mark.parametrize("root", _fleets(), ids=lambda p: p.parent.name)
def test_owned_and_owner_of_agree(root: Path) -> None:
    fleet = load_fleet(root / "helm-fleet.jsonc")
    for tenant in fleet.tenants():
        owned = fleet.owned(tenant)
        assert owned.worker == fleet.expected(tenant).worker
        for kind, values in (("kv", owned.kv_ids), ("queue", owned.queues),
                             ("workflow", owned.workflows), ("route", owned.route_hosts)):
            assert REGISTRY_LISTS[kind]
            for value in values:
                assert fleet.owner_of(kind, value) == tenant, (kind, value, tenant)
        others = [t for t in fleet.tenants() if t != tenant]
        for other in others:
            assert not owned.queues & fleet.owned(other).queues
            assert not owned.route_hosts & fleet.owned(other).route_hosts


def test_example_fleet_owned_record() -> None:
    fleet = load_fleet(Path(__file__).resolve().parents[1] / "examples/fleet/helm-fleet.jsonc")
    owned = fleet.owned(Tenant("acme"))
    assert owned.worker == "helm-acme" and owned.route_hosts == {"acme.shops.example"}
    assert owned.allows_worker("helm-auth") and not owned.allows_worker("Helm-Auth")
    assert not owned.allows_worker("helm-bravo")
    assert fleet.owned(Tenant("bravo", "staging")).worker == "helm-bravo-staging"


def test_a_registry_listing_one_identity_twice_is_a_configuration_error(tmp_path: Path) -> None:
    from helm_guard.errors import UsageError

    copy_example(tmp_path)
    path = tmp_path / "helm-fleet.jsonc"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"routes": ["bravo.shops.example"]',
                                 '"routes": ["bravo.shops.example", "ACME.shops.example/shop"]'),
                    encoding="utf-8")
    with pytest.raises(UsageError, match="already registered to acme"):
        load_fleet(path)


def _check_refuses(root: Path) -> bool:
    from helm_guard.commands.check import run_fleet_check

    return bool(run_fleet_check(str(root / "helm-fleet.jsonc")).findings)


@pytest.mark.parametrize("case", (*BINDING_ATTACKS, *NEAR_MISSES))
def test_check_and_the_judge_agree_on_what_wrangler_uploads(
        case: str, tmp_path: Path, wrangler: Wrangler) -> None:
    clean = json.loads((ATTACKS / case / "case.json").read_text(encoding="utf-8"))["clean"]
    root = tmp_path / "fleet"
    shutil.copytree(ATTACKS / case / "fleet", root)
    assert _check_refuses(root) is not clean
    fleet = load_fleet(root / "helm-fleet.jsonc")
    verdicts = []
    for f in load_files(fleet):
        for t in f.targets:
            assert t.tenant is not None and t.target.worker is not None
            if t.tenant.shop != "acme":
                continue
            if "queues" in t.target.raw:
                uploaded = _queue_target_bindings(t.target.raw)
            else:
                version = wrangler.versions_upload(f.entry.path, name=t.target.worker,
                                                   env=t.target.env)
                uploaded = bindings_of(wrangler.versions_view(version, name=t.target.worker))
            mismatches = judge_bindings(fleet, t.tenant, uploaded)
            verdicts.append((t.tenant, [m.message for m in mismatches]))
    assert verdicts
    if clean:
        assert all(not m for _, m in verdicts), verdicts
    else:
        assert any(m for _, m in verdicts), verdicts


def _queue_target_bindings(raw: dict) -> list[dict]:
    """The API bindings of a config with D1, R2 and queue producers (see the module doc)."""
    out: list[dict] = [{"type": "d1", "name": b["binding"], "id": b["database_id"]}
                       for b in raw.get("d1_databases", [])]
    out += [{"type": "r2_bucket", "name": b["binding"], "bucket_name": b["bucket_name"]}
            for b in raw.get("r2_buckets", [])]
    out += [{"type": "queue", "name": q["binding"], "queue_name": q["queue"]}
            for q in raw["queues"].get("producers", [])]
    return out
