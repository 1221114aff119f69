"""Required secrets (issue 15): the fleet file's declaration and its schema, the pure checks,
`helm-guard secrets` against the emulator, HG901 for a required name under `vars`, and a deploy
of a version without a required secret stopped before activation (real wrangler + emulator)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from helm_guard import state
from helm_guard.cloudflare import api
from helm_guard.cloudflare.wrangler import Wrangler
from helm_guard.commands import deploy, secrets
from helm_guard.emulator import CloudflareEmulator
from helm_guard.errors import Blocked, UsageError
from helm_guard.fleet import Tenant, load_fleet
from helm_guard.secrets_policy import (
    describe_missing,
    missing_secrets,
    required_secrets,
)
from tests.fleets import ACME, ACME_ID, check, copy_example, edit
from tests.gitrepos import git

FLEET = "helm-fleet.jsonc"
STRIPE = "STRIPE_WEBHOOK_SECRET"
SIGNING = "SESSION_SIGNING_KEY"
DECLARE = f'"secrets": {{"required": ["{STRIPE}", "{SIGNING}"]}},\n  "shops": {{'


def declare(root: Path, extra_acme: str | None = None, stage: str | None = None) -> Path:
    """Add the fleet-wide required secrets (and optional additions) to the fleet file."""
    edit(root / FLEET, '"shops": {', DECLARE)
    if extra_acme:
        edit(root / FLEET, '"routes": ["acme.shops.example"]',
             f'"routes": ["acme.shops.example"], "secrets": {{"required": ["{extra_acme}"]}}')
    if stage:
        edit(root / FLEET, '"2b0f7d2f-1e7b-4d44-8c9f-7c3a4a7a1b99"',
             f'"2b0f7d2f-1e7b-4d44-8c9f-7c3a4a7a1b99", "secrets": {{"required": ["{stage}"]}}')
    return root / FLEET


# ---------------------------------------------------------------------- declaration (pure)
def test_required_is_fleet_then_shop_then_stage_each_once(tmp_path: Path) -> None:
    fleet = load_fleet(declare(copy_example(tmp_path), extra_acme="ACME_ERP_TOKEN",
                               stage="STAGING_ONLY"))
    assert required_secrets(fleet, Tenant("acme")) == (STRIPE, SIGNING, "ACME_ERP_TOKEN")
    assert required_secrets(fleet, Tenant("bravo")) == (STRIPE, SIGNING)
    assert required_secrets(fleet, Tenant("bravo", "staging")) == (STRIPE, SIGNING,
                                                                   "STAGING_ONLY")


def test_no_declaration_requires_nothing(tmp_path: Path) -> None:
    fleet = load_fleet(copy_example(tmp_path) / FLEET)
    assert all(required_secrets(fleet, t) == () for t in fleet.tenants())


@pytest.mark.parametrize("bad", ['"1BAD"', '"A-B"', '"A B"', '""', '42', '"$(id)"'])
def test_schema_refuses_what_is_not_a_secret_name(tmp_path: Path, bad: str) -> None:
    root = copy_example(tmp_path)
    edit(root / FLEET, '"shops": {', f'"secrets": {{"required": [{bad}]}},\n  "shops": {{')
    with pytest.raises(UsageError, match="secrets"):
        load_fleet(root / FLEET)


def test_schema_refuses_unknown_keys_and_duplicates(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    edit(root / FLEET, '"shops": {', '"secrets": {"required": ["A", "A"]},\n  "shops": {')
    with pytest.raises(UsageError):
        load_fleet(root / FLEET)
    root = copy_example(tmp_path / "2")
    edit(root / FLEET, '"shops": {', '"secrets": {"optional": ["A"]},\n  "shops": {')
    with pytest.raises(UsageError):
        load_fleet(root / FLEET)


def test_only_a_secret_text_binding_of_exactly_that_name_counts(tmp_path: Path) -> None:
    fleet = load_fleet(declare(copy_example(tmp_path)))
    acme = Tenant("acme")
    good = [{"type": "secret_text", "name": STRIPE}, {"type": "secret_text", "name": SIGNING}]
    assert missing_secrets(fleet, acme, good) == []
    shadowed = [{"type": "plain_text", "name": STRIPE, "text": "whsec_x"},
                {"type": "secret_text", "name": SIGNING.lower()}]
    missing = missing_secrets(fleet, acme, shadowed)
    assert missing == [STRIPE, SIGNING]
    lines = describe_missing(missing, shadowed)
    assert "plain_text" in lines[0] and "whsec_x" not in "".join(lines)
    assert lines[1] == f"{SIGNING}: not set"
    assert missing_secrets(fleet, acme, []) == [STRIPE, SIGNING]


# ---------------------------------------------------------------------- HG901 keeps it so
@pytest.mark.parametrize(("name", "value"), [(STRIPE, ""), (STRIPE, "changeme"),
                                             (SIGNING, "hello"), (STRIPE, "whsec_" + "a" * 20)])
def test_required_secret_name_under_vars_is_hg901_whatever_the_value(
        tmp_path: Path, name: str, value: str) -> None:
    root = copy_example(tmp_path)
    declare(root)
    edit(root / ACME, '"SHOP_SLUG": "acme",', f'"SHOP_SLUG": "acme", "{name}": "{value}",')
    findings = check(root).findings
    assert [f.rule for f in findings] == ["HG901"], findings
    assert name in findings[0].message and "required secret" in findings[0].message
    if value:
        assert value not in findings[0].message


def test_without_the_declaration_a_placeholder_var_is_not_a_finding(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    edit(root / ACME, '"SHOP_SLUG": "acme",', f'"SHOP_SLUG": "acme", "{SIGNING}": "hello",')
    assert check(root).findings == []


# ---------------------------------------------------------------------- helm-guard secrets
def client_for(emu: CloudflareEmulator) -> api.Client:
    return api.Client.from_env({"CLOUDFLARE_API_TOKEN": "tok",
                                "CLOUDFLARE_ACCOUNT_ID": emu.account_id,
                                "CLOUDFLARE_API_BASE_URL": str(emu.base_url)}, max_retries=0)


def secrets_args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    secrets.add_arguments(p)
    return p.parse_args(list(argv))


@pytest.fixture
def live(emulator: CloudflareEmulator) -> CloudflareEmulator:
    """acme has both secrets, bravo only the Stripe one, bravo staging both; charlie and delta
    exist with none."""
    for worker in ("helm-acme", "helm-bravo", "helm-bravo-staging", "helm-charlie",
                   "helm-delta"):
        emulator.seed_version(worker, [], deploy=True)
    for worker, names in (("helm-acme", (STRIPE, SIGNING)), ("helm-bravo", (STRIPE,)),
                          ("helm-bravo-staging", (STRIPE, SIGNING))):
        for n in names:
            emulator.set_secret(worker, n)
    return emulator


def test_secrets_lists_present_and_missing_per_tenant(tmp_path: Path,
                                                       live: CloudflareEmulator) -> None:
    fleet = declare(copy_example(tmp_path))
    out = io.StringIO()
    code = secrets.run(secrets_args("--fleet", str(fleet), "--format", "json"),
                       client=client_for(live), out=out)
    assert code == 1
    doc = json.loads(out.getvalue())
    by = {(t["shop"], t["stage"]): t for t in doc["tenants"]}
    assert by[("acme", None)]["status"] == "OK"
    assert by[("bravo", None)]["status"] == "MISSING"
    assert by[("bravo", None)]["missing"] == [SIGNING]
    assert by[("bravo", "staging")]["status"] == "OK"
    assert by[("charlie", None)]["missing"] == [STRIPE, SIGNING]
    assert doc["counts"] == {"OK": 2, "MISSING": 3, "UNKNOWN": 0}
    # names only: every request was a GET of a secrets list
    assert {(r["method"], r["path"].rsplit("/", 1)[-1]) for r in live.requests} == {
        ("GET", "secrets")}


def test_secrets_narrowed_to_a_complete_shop_exits_0(tmp_path: Path,
                                                     live: CloudflareEmulator) -> None:
    fleet = declare(copy_example(tmp_path))
    out = io.StringIO()
    assert secrets.run(secrets_args("--fleet", str(fleet), "--shop", "acme"),
                       client=client_for(live), out=out) == 0
    text = out.getvalue()
    assert text.startswith("OK       acme (helm-acme)") and "1 tenant(s): 1 ok" in text
    out = io.StringIO()
    assert secrets.run(secrets_args("--fleet", str(fleet), "--shop", "bravo", "--format",
                                    "markdown"), client=client_for(live), out=out) == 1
    assert f"| MISSING | bravo | `helm-bravo` | {SIGNING} | {STRIPE} |" in out.getvalue()


def test_an_api_failure_is_unknown_and_blocks(tmp_path: Path,
                                              live: CloudflareEmulator) -> None:
    fleet = declare(copy_example(tmp_path))
    live.fail_next("GET", r"/helm-acme/secrets$", "500")
    out = io.StringIO()
    code = secrets.run(secrets_args("--fleet", str(fleet), "--shop", "acme"),
                       client=client_for(live), out=out)
    assert code == 1
    assert out.getvalue().startswith("UNKNOWN  acme") and "HTTP 500" in out.getvalue()


def test_a_worker_that_does_not_exist_is_unknown(tmp_path: Path,
                                                 emulator: CloudflareEmulator) -> None:
    fleet = declare(copy_example(tmp_path))
    out = io.StringIO()
    assert secrets.run(secrets_args("--fleet", str(fleet), "--shop", "acme"),
                       client=client_for(emulator), out=out) == 1
    assert "UNKNOWN" in out.getvalue() and "10007" in out.getvalue()


def test_unknown_shop_and_bad_slug_are_usage_errors(tmp_path: Path) -> None:
    fleet = declare(copy_example(tmp_path))
    with pytest.raises(UsageError, match="not in the registry"):
        secrets.run(secrets_args("--fleet", str(fleet), "--shop", "zulu"), client=object())
    with pytest.raises(UsageError, match="not a shop slug"):
        secrets.run(secrets_args("--fleet", str(fleet), "--shop", "Acme;x"), client=object())


def test_no_token_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fleet = declare(copy_example(tmp_path))
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    with pytest.raises(UsageError, match="CLOUDFLARE_API_TOKEN"):
        secrets.run(secrets_args("--fleet", str(fleet)))


# ---------------------------------------------------------------------- deploy refuses
def _require_in_repo(repo: Path) -> None:
    declare(repo)
    git(repo, "commit", "--quiet", "-am", "require secrets")
    git(repo, "push", "--quiet", "origin", "HEAD:main")


def test_deploy_without_a_required_secret_is_never_activated(
        emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path) -> None:
    _require_in_repo(fleet_repo)
    good = [{"type": "d1", "name": "DB", "id": ACME_ID},
            {"type": "r2_bucket", "name": "ASSETS", "bucket_name": "helm-acme-assets"}]
    before = emulator.seed_version("helm-acme", good, deploy=True)
    emulator.set_secret("helm-acme", STRIPE)  # a new live version with the Stripe secret only
    live_before = emulator.live_version("helm-acme")
    assert live_before is not None and live_before["id"] != before
    emulator.clear_requests()
    out = io.StringIO()
    with pytest.raises(Blocked) as exc:
        deploy.deploy_shop(str(fleet_repo), "acme", wrangler=wrangler, out=out)
    message = str(exc.value)
    assert "stopped at step 3/6" in message and "NOT activated" in message
    assert f"{SIGNING}: not set" in message and f"{STRIPE}:" not in message
    posts = [r for r in emulator.requests
             if r["method"] == "POST" and r["path"].endswith("/helm-acme/deployments")]
    assert posts == []
    live_after = emulator.live_version("helm-acme")
    assert live_after is not None and live_after["id"] == live_before["id"]
    assert state.read_ledger(fleet_repo, "origin", "acme") == []


def test_deploy_with_every_required_secret_goes_live(
        emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path) -> None:
    _require_in_repo(fleet_repo)
    good = [{"type": "d1", "name": "DB", "id": ACME_ID},
            {"type": "r2_bucket", "name": "ASSETS", "bucket_name": "helm-acme-assets"}]
    emulator.seed_version("helm-acme", good, deploy=True)
    emulator.set_secret("helm-acme", STRIPE)
    emulator.set_secret("helm-acme", SIGNING)
    out = io.StringIO()
    args = deploy_args(fleet_repo)
    assert deploy.run(args, wrangler=wrangler, out=out) == 0
    live = emulator.live_version("helm-acme")
    assert live is not None
    names = {b["name"] for b in live["resources"]["bindings"] if b["type"] == "secret_text"}
    assert names == {STRIPE, SIGNING}


def deploy_args(repo: Path) -> argparse.Namespace:
    from tests.deploy_helpers import parse

    return parse(["--shop", "acme", "--fleet", str(repo)])


def test_no_declaration_makes_no_request_and_says_so(tmp_path: Path,
                                                     emulator: CloudflareEmulator) -> None:
    fleet = copy_example(tmp_path) / FLEET
    out = io.StringIO()
    assert secrets.run(secrets_args("--fleet", str(fleet)), client=client_for(emulator),
                       out=out) == 0
    assert "declares no required secrets" in out.getvalue()
    assert emulator.requests == []
