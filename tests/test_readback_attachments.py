"""`helm-guard deploy` reads back, before and after activation, everything besides the version's
bindings that can cross tenants: the routes and custom domains of the shop's hosts (zone by
zone), the account's Durable Object namespaces and the Worker's preview settings. Real wrangler
4.86, the local emulator, real git (the example fleet: acme owns acme.shops.example, bravo
owns bravo.shops.example, both in the zone shops.example).

The attacker holds the account-wide token: they act through the emulator's HTTP API, at the
moment of activation (`emulator.after_next` on acme's `POST .../deployments`), so only the
read-back after activation can see it.
"""

from __future__ import annotations

import io
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from helm_guard.cloudflare.wrangler import Wrangler
from helm_guard.commands import deploy
from helm_guard.deploying import judge_attachments
from helm_guard.emulator import CloudflareEmulator
from helm_guard.errors import Blocked
from helm_guard.fleet import Tenant, load_fleet
from helm_guard.hosts import Served, judge_hosts
from tests.fleets import BRAVO_ID, EXAMPLE

ACME, BRAVO = "helm-acme", "helm-bravo"
ACTIVATION = rf"/{ACME}/deployments$"


def call(emu: CloudflareEmulator, method: str, path: str, body: Any = None, *,
         raw: bytes | None = None, content_type: str = "application/json") -> Any:
    """One API call with a token, as an attacker holding it would make."""
    assert emu.base_url is not None
    data = raw if raw is not None else json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(emu.base_url + path, data=data, method=method, headers={
        "Authorization": "Bearer attacker", "Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=10) as answer:  # noqa: S310 - loopback emulator
        return json.loads(answer.read())["result"]


def upload(emu: CloudflareEmulator, script: str, metadata: dict[str, Any]) -> Any:
    """`POST S/versions` multipart, as wrangler sends it."""
    boundary = "helmguardtest"
    parts = [("metadata", "application/json", json.dumps(metadata)),
             ("index.js", "application/javascript+module", "export default {};")]
    raw = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{n}"; filename="{n}"\r\n'
        f"Content-Type: {t}\r\n\r\n{v}\r\n".encode() for n, t, v in parts
    ) + f"--{boundary}--\r\n".encode()
    return call(emu, "POST", f"/accounts/{emu.account_id}/workers/scripts/{script}/versions",
                raw=raw, content_type=f"multipart/form-data; boundary={boundary}")


def zone_id(emu: CloudflareEmulator, name: str = "shops.example") -> str:
    return str(call(emu, "GET", f"/zones?name={name}")[0]["id"])


def run_deploy(fleet_repo: Path, wrangler: Wrangler) -> tuple[dict[str, Any], str]:
    out = io.StringIO()
    record = deploy.deploy_shop(str(fleet_repo), "acme", wrangler=wrangler, out=out)
    return record, out.getvalue()


def blocked(fleet_repo: Path, wrangler: Wrangler) -> str:
    with pytest.raises(Blocked) as exc:
        deploy.deploy_shop(str(fleet_repo), "acme", wrangler=wrangler, out=io.StringIO())
    return str(exc.value)


# ---------------------------------------------------------------------- deploys
def test_clean_deploy_reads_routes_namespaces_and_previews_before_and_after_activation(
    emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path
) -> None:
    zid = zone_id(emulator)
    call(emulator, "POST", f"/zones/{zid}/workers/routes",
         {"pattern": "bravo.shops.example/*", "script": BRAVO})  # bravo's own: fine
    emulator.add_do_namespace(BRAVO, "Counter")  # another Worker's namespace, untouched
    record, text = run_deploy(fleet_repo, wrangler)
    assert emulator.live_version(ACME)["id"] == record["version_id"]
    assert "routes, custom domains, Durable Object namespaces and preview settings" in text
    paths = [(r["method"], r["path"], r["query"]) for r in emulator.requests]
    activation = next(i for i, (m, p, _) in enumerate(paths)
                      if m == "POST" and p.endswith(f"/{ACME}/deployments"))
    for seen in (paths[:activation], paths[activation:]):  # before and after activation
        assert ("GET", "/zones", {"name": "acme.shops.example",
                                  "account.id": emulator.account_id}) in seen
        assert ("GET", "/zones", {"name": "shops.example",
                                  "account.id": emulator.account_id}) in seen
        assert any(p == f"/zones/{zid}/workers/routes" for _, p, _ in seen)
        assert any(p.endswith("/workers/durable_objects/namespaces") for _, p, _ in seen)
        assert any(p.endswith(f"/workers/workers/{ACME}") for _, p, _ in seen)


def test_a_route_of_bravos_host_to_acmes_worker_made_at_activation_blocks_after_it(
    emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path
) -> None:
    zid = zone_id(emulator)
    emulator.after_next("POST", ACTIVATION, lambda: call(
        emulator, "POST", f"/zones/{zid}/workers/routes",
        {"pattern": "bravo.shops.example/*", "script": ACME}))
    message = blocked(fleet_repo, wrangler)
    assert "stopped at step 5/6" in message
    assert "LIVE version" in message and "is active" in message
    assert ("route bravo.shops.example/* (shop bravo's host) sends bravo.shops.example to "
            "helm-acme") in message
    assert emulator.live_version(ACME) is not None  # it did go live: the failure is loud

    # the other direction: acme's own host moved to bravo's Worker (a swap by route)
    (route,) = [r for r in emulator.zone_routes(zid) if r["script"] == ACME]
    call(emulator, "PUT", f"/zones/{zid}/workers/routes/{route['id']}",
         {"pattern": "acme.shops.example/checkout/*", "script": BRAVO})
    message = blocked(fleet_repo, wrangler)
    assert "stopped at step 3/6" in message
    assert ("route acme.shops.example/checkout/* sends shop acme's host acme.shops.example to "
            "shop bravo's Worker helm-bravo") in message


def test_a_durable_object_namespace_transferred_to_acme_at_activation_blocks(
    emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path
) -> None:
    ns = emulator.add_do_namespace(BRAVO, "Counter")
    steal = {"main_module": "index.js", "bindings": [], "migrations": {
        "new_tag": "v1", "steps": [{"transferred_classes": [
            {"from": "Counter", "from_script": BRAVO, "to": "Counter"}]}]}}
    emulator.after_next("POST", ACTIVATION, lambda: upload(emulator, ACME, steal))
    message = blocked(fleet_repo, wrangler)
    assert "stopped at step 5/6" in message
    assert (f"Durable Object namespace {BRAVO}_Counter ({ns}) was created for shop bravo's "
            f"Worker {BRAVO} and now belongs to {ACME}") in message
    assert [n["script"] for n in emulator.do_namespaces()] == [ACME]


def test_an_unknown_or_unreadable_zone_blocks(
    emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path
) -> None:
    # unreadable after activation (the token lost the zone): fail closed, after activation
    emulator.after_next("POST", ACTIVATION, lambda: emulator.fail_next(
        "GET", r"^/zones/[^/]+/workers/routes$", "403"))
    message = blocked(fleet_repo, wrangler)
    assert "stopped at step 5/6" in message
    assert "cannot read the Worker routes of zone shops.example" in message

    # no zone of the account holds acme's registered host: refused before activation
    emulator._zones.clear()
    live = emulator.live_version(ACME)["id"]
    message = blocked(fleet_repo, wrangler)
    assert "stopped at step 3/6" in message
    assert ("no Cloudflare zone of this account holds host acme.shops.example (looked up "
            "acme.shops.example, shops.example)") in message
    assert emulator.live_version(ACME)["id"] == live


def test_preview_settings_binding_another_shops_database_block(
    emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path
) -> None:
    emulator.seed_version(ACME, [], deploy=True)
    call(emulator, "PATCH", f"/accounts/{emulator.account_id}/workers/workers/{ACME}",
         {"preview_defaults": {"env": {"DB": {"type": "d1", "database_id": BRAVO_ID}},
                               "tail_consumers": [{"name": BRAVO}]}})
    message = blocked(fleet_repo, wrangler)
    assert "stopped at step 3/6" in message
    assert f"preview settings: DB (D1) binds shop bravo's database {BRAVO_ID}" in message
    assert "preview settings: previews.tail_consumers[0] (tail_consumer)" in message


# ---------------------------------------------------------------------- one judge
CASES = [
    Served("route", "acme.shops.example/*", "acme.shops.example", ACME),
    Served("route", "bravo.shops.example/*", "bravo.shops.example", ACME),
    Served("route", "*.shops.example/*", "*.shops.example", ACME),
    Served("route", "*.shops.example/*", "*.shops.example", BRAVO),
    Served("custom-domain", "acme.shops.example", "acme.shops.example", "helm-auth"),
    Served("route", "acme.shops.example/static/*", "acme.shops.example", None),
    Served("route", "Other.Example/*", "other.example", ACME),
    Served("route", "bravo.shops.example/*", "bravo.shops.example", BRAVO),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.pattern}->{c.worker}" for c in CASES])
def test_deploy_and_audit_judge_every_host_alike(case: Served) -> None:
    """Differential: the deploy's judgement (`judge_attachments`) and the audit's
    (`audit.engine._host_problems`, over its indexes) refuse exactly the same entries."""
    from helm_guard.audit.engine import _host_problems, _Hosts
    from helm_guard.audit.truth import Truth

    fleet = load_fleet(EXAMPLE / "helm-fleet.jsonc")
    acme = Tenant("acme")
    deploy_says = judge_attachments(fleet, acme, {}, [case])
    hosts = _Hosts({case.worker: [case]}, {} if "*" in case.host else {case.host: [case]},
                   [case] if "*" in case.host else [], None)
    audit_says = _host_problems(Truth(fleet), acme, ACME, hosts)
    assert [d.message for d in deploy_says] == [p.message for p in audit_says]
    expected_refused = case.pattern not in ("acme.shops.example/*",
                                            "acme.shops.example/static/*") \
        and not (case.worker == BRAVO and case.host == "bravo.shops.example")
    assert bool(judge_hosts(fleet, acme, [case])) == expected_refused
