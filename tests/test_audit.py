"""`helm-guard audit` against the local Cloudflare emulator and a real git fleet (bare origin +
clone of the example fleet): verdicts, exit codes, the cursor on the state branch, request
counts, 429s, API failures, --halt-on-drift and the gate honouring it.

Deploys through the real wrangler are in `test_audit_wrangler.py`."""

from __future__ import annotations

import argparse
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from helm_guard import cli, schemas, state
from helm_guard.audit import render
from helm_guard.audit.cursor import Cursor
from helm_guard.audit.engine import run_audit
from helm_guard.audit.model import (
    DRIFT,
    IN_SYNC,
    MISSING,
    OUT_OF_BAND,
    UNKNOWN,
    UNKNOWN_WORKER,
    Deployment,
)
from helm_guard.audit.provenance import is_recorded
from helm_guard.audit.truth import Truth
from helm_guard.bindings import judge_bindings
from helm_guard.cloudflare import api
from helm_guard.commands import audit
from helm_guard.emulator import CloudflareEmulator
from helm_guard.fleet import Tenant, load_fleet
from helm_guard.state.audit_cursor import AUDIT_CURSOR_FILE, read_audit_inputs
from tests.gitrepos import git, make_fleet

TOKEN = "tok"


def own_bindings(fleet, tenant: Tenant) -> list[dict]:
    exp = fleet.expected(tenant)
    return [{"type": "d1", "name": "DB", "id": exp.database_id},
            {"type": "r2_bucket", "name": "ASSETS", "bucket_name": exp.bucket_name},
            {"type": "plain_text", "name": "MODE", "text": "live"}]


@pytest.fixture
def emu():
    with CloudflareEmulator(token=TOKEN) as e:
        yield e


@pytest.fixture
def repo(monkeypatch, tmp_path) -> Path:
    monkeypatch.delenv("GITHUB_ACTOR", raising=False)
    return make_fleet(monkeypatch, tmp_path).a


def client_for(emu, **kw) -> api.Client:
    env = {"CLOUDFLARE_API_TOKEN": TOKEN, "CLOUDFLARE_ACCOUNT_ID": emu.account_id,
           "CLOUDFLARE_API_BASE_URL": emu.base_url}
    kw.setdefault("limiter", api.RateLimiter(rate=10_000, burst=10_000))
    return api.Client.from_env(env, **kw)


def healthy(emu, repo: Path) -> dict[str, str]:
    """Every tenant of the example fleet deployed with its own bindings and recorded in the
    ledger as helm-guard deploy records it; the shops' hosts routed to their Workers."""
    fleet = load_fleet(repo / "helm-fleet.jsonc")
    emu.add_zone("shops.example")
    ids = {}
    for tenant in fleet.tenants():
        worker = fleet.expected(tenant).worker
        vid = emu.seed_version(worker, own_bindings(fleet, tenant), deploy=True)
        ids[tenant.label()] = vid
        state.append_ledger(repo, "origin", tenant.shop, {
            "action": "deploy", "worker": worker, "version_id": vid, "stage": tenant.stage})
    emu.add_route("acme.shops.example/*", "helm-acme")
    emu.add_custom_domain("bravo.shops.example", "helm-bravo")
    return ids


def run(repo: Path, emu, *argv: str, client=None) -> tuple[int, str]:
    p = argparse.ArgumentParser()
    audit.add_arguments(p)
    args = p.parse_args(["--fleet", str(repo / "helm-fleet.jsonc"), "--format", "json", *argv])
    out = repo.parent / f"audit-{len(list(repo.parent.glob('audit-*.json')))}.json"
    args.output = str(out)
    code = audit.run(args, client=client or client_for(emu), err=io.StringIO())
    return code, out.read_text()


def by_tenant(text: str) -> dict[str, dict]:
    return {t["tenant"]: t for t in json.loads(text)["tenants"]}


def test_healthy_fleet_is_in_sync_and_json_matches_schema(emu, repo):
    healthy(emu, repo)
    code, text = run(repo, emu)
    report = json.loads(text)
    assert schemas.validate("helm-audit-output", report) == []
    assert code == 0, text
    assert report["in_sync"] is True
    assert {t["status"] for t in report["tenants"]} == {IN_SYNC}
    assert set(by_tenant(text)) == {"acme", "bravo", "bravo (staging)", "charlie", "delta"}


def test_swapped_out_of_band_deploy_is_drift_naming_both_shops(emu, repo):
    healthy(emu, repo)
    fleet = load_fleet(repo / "helm-fleet.jsonc")
    swapped = own_bindings(fleet, Tenant("acme"))
    swapped[0] = {"type": "d1", "name": "DB", "id": fleet.expected(Tenant("bravo")).database_id}
    emu.out_of_band_deploy("helm-acme", swapped, author_email="eve@laptop.example")
    code, text = run(repo, emu)
    acme = by_tenant(text)["acme"]
    assert code == 1
    assert acme["status"] == DRIFT
    assert acme["others"] == ["bravo"]
    assert any("bravo" in p["message"] and "acme" in p["message"] for p in acme["problems"])
    assert acme["recorded"] is False and acme["deployment"]["author_email"] == "eve@laptop.example"
    assert by_tenant(text)["bravo"]["status"] == IN_SYNC


def test_correct_out_of_band_deploy_is_out_of_band_with_its_source(emu, repo):
    healthy(emu, repo)
    fleet = load_fleet(repo / "helm-fleet.jsonc")
    emu.out_of_band_deploy("helm-charlie", own_bindings(fleet, Tenant("charlie")),
                           author_email="ops@laptop.example", message="hotfix")
    code, text = run(repo, emu)
    charlie = by_tenant(text)["charlie"]
    assert code == 1
    assert charlie["status"] == OUT_OF_BAND
    assert charlie["deployment"]["annotations"]["workers/message"] == "hotfix"
    assert charlie["deployment"]["author_email"] == "ops@laptop.example"
    assert charlie["deployment"]["created_on"]


def test_provenance_matches_records_by_version_tenant_and_time(emu, repo):
    ids = healthy(emu, repo)
    entries = state.read_ledger(repo, "origin", "delta")
    dep = Deployment.from_api(emu.deployments("helm-delta")[0])
    assert ids["delta"] == dep.versions[0][0]
    assert is_recorded(dep, entries, None)
    assert not is_recorded(dep, entries, "staging")  # another tenant's record
    # a record written long after or long before the deployment is not its record
    for shift in (timedelta(hours=2), -timedelta(minutes=10)):
        moved = [e._replace(at=e.at + shift) for e in entries]
        assert not is_recorded(dep, moved, None)
    # the recorded version re-deployed out of band later (a laptop's `wrangler rollback`):
    # its deployment is newer than the record
    old = [e._replace(at=e.at - timedelta(minutes=10)) for e in entries]
    redeploy = dep._replace(created_on=(old[0].at + timedelta(minutes=10)).isoformat())
    assert not is_recorded(redeploy, old, None)
    split = dep._replace(versions=((dep.versions[0][0], 50.0), ("other", 50.0)))
    assert not is_recorded(split, entries, None)  # helm-guard never splits traffic


def test_missing_unknown_worker_and_routes(emu, repo):
    healthy(emu, repo)
    emu.seed_version("helm-zulu", [], deploy=True)  # named like a shop nobody registered
    emu.seed_version("cron-thing", [], deploy=True)
    emu.add_route("bravo.shops.example/api/*", "helm-acme")  # acme serves bravo's host
    code, text = run(repo, emu)
    rows = by_tenant(text)
    assert code == 1
    assert rows["helm-zulu"]["status"] == UNKNOWN_WORKER and "zulu" in rows["helm-zulu"]["reason"]
    assert rows["cron-thing"]["status"] == UNKNOWN_WORKER
    assert rows["acme"]["status"] == DRIFT and rows["acme"]["others"] == ["bravo"]
    assert rows["bravo"]["status"] == DRIFT and rows["bravo"]["others"] == ["acme"]


def test_a_tenant_without_a_worker_is_missing(emu, repo):
    healthy(emu, repo)
    emu._scripts.pop("helm-delta")  # the Worker was deleted
    code, text = run(repo, emu)
    assert code == 1 and by_tenant(text)["delta"]["status"] == MISSING


def test_api_500_for_one_tenant_is_unknown_and_blocks(emu, repo):
    healthy(emu, repo)
    emu.fail_next("GET", r"/helm-charlie/deployments$", "500", count=2)  # a try + a retry
    code, text = run(repo, emu, "--full", client=client_for(emu, max_retries=1))
    rows = by_tenant(text)
    assert code == 1
    assert rows["charlie"]["status"] == UNKNOWN and "helm-charlie" in rows["charlie"]["reason"]
    assert rows["acme"]["status"] == IN_SYNC
    # the failure is not remembered as a verdict: the next audit reads charlie again
    code, text = run(repo, emu)
    assert code == 0 and by_tenant(text)["charlie"]["status"] == IN_SYNC


def test_listing_failure_makes_every_tenant_unknown(emu, repo):
    healthy(emu, repo)
    emu.fail_next("GET", r"/workers/scripts$", "503", count=10)
    code, text = run(repo, emu, client=client_for(emu, max_retries=0))
    assert code == 1
    assert {t["status"] for t in json.loads(text)["tenants"]} == {UNKNOWN}


def test_429_storm_is_waited_out(emu, repo):
    healthy(emu, repo)
    emu.throttle_next("GET", r"/deployments$", count=3, retry_after=0.3)
    c = client_for(emu, max_retries=4)
    code, text = run(repo, emu, "--threads", "2", client=c)
    assert code == 0, text
    assert c.retried == 3 and c.throttled_seconds == pytest.approx(0.9)
    assert [r["fault"] for r in emu.requests].count("429") == 3


def test_retry_budget_bounds_a_storm(emu, repo):
    healthy(emu, repo)
    emu.throttle_next("GET", r"/deployments$", count=1000, retry_after=0.01)
    c = client_for(emu, max_retries=2, retry_budget=5)
    code, text = run(repo, emu, client=c)
    assert code == 1
    assert {t["status"] for t in json.loads(text)["tenants"]} == {UNKNOWN}
    assert c.requests < 30  # bounded: budget + one call's retries per thread


def test_cursor_makes_the_next_audit_incremental(emu, repo):
    healthy(emu, repo)
    c1 = client_for(emu)
    assert run(repo, emu, client=c1)[0] == 0
    inputs = read_audit_inputs(repo, "origin")
    assert inputs.cursor is not None and len(inputs.cursor["workers"]) == 5
    tip = git(repo, "ls-remote", "origin", "refs/heads/helm-guard/state")
    c2 = client_for(emu)
    code, text = run(repo, emu, client=c2)
    assert code == 0
    # unchanged: scripts + domains + zones + routes of one zone, nothing re-read or written
    assert c2.requests == 4
    assert all(t["cached"] for t in json.loads(text)["tenants"])
    assert git(repo, "ls-remote", "origin", "refs/heads/helm-guard/state") == tip
    # one Worker changes: only it is re-read (deployments + its new version)
    fleet = load_fleet(repo / "helm-fleet.jsonc")
    emu.out_of_band_deploy("helm-acme", own_bindings(fleet, Tenant("acme")))
    c3 = client_for(emu)
    code, text = run(repo, emu, client=c3)
    assert code == 1 and by_tenant(text)["acme"]["status"] == OUT_OF_BAND
    assert c3.requests == 6


def test_registry_change_rejudges_from_cache_digest(emu, repo):
    healthy(emu, repo)
    assert run(repo, emu)[0] == 0
    # bravo's database id changes in the registry: its live version is judged again
    fleet_file = repo / "helm-fleet.jsonc"
    fleet_file.write_text(fleet_file.read_text().replace(
        "2b0f7d2f-1e7b-4d44-8c9f-7c3a4a7a1b02", "2b0f7d2f-1e7b-4d44-8c9f-7c3a4a7a1b03"))
    c = client_for(emu)
    code, text = run(repo, emu, client=c)
    assert code == 1 and by_tenant(text)["bravo"]["status"] == DRIFT
    # 4 + the live version of bravo and of bravo (staging) (the digest covers the shop's
    # entry); their deployments came from the cursor
    assert c.requests == 6


def test_halt_on_drift_records_a_halt_that_gate_honours(emu, repo, monkeypatch, capsys,
                                                         tmp_path):
    healthy(emu, repo)
    fleet = load_fleet(repo / "helm-fleet.jsonc")
    swapped = own_bindings(fleet, Tenant("bravo"))
    swapped[1] = {"type": "r2_bucket", "name": "ASSETS", "bucket_name": "helm-acme-assets"}
    emu.out_of_band_deploy("helm-bravo", swapped)
    code, text = run(repo, emu, "--halt-on-drift")
    assert code == 1
    halt = json.loads(text)["halt"]
    assert "bravo" in halt and "acme" in halt
    st = state.read_state(repo, "origin", must_exist=True)
    assert [h.scope for h in st.halts] == ["fleet"] and "bravo" in st.halts[0].reason
    # the gate, on the next push (a change to shared code: every shop), is blocked by it
    base = git(repo, "rev-parse", "HEAD")
    (repo / "src" / "index.js").write_text("// changed\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "code")
    for var in ("GITHUB_EVENT_BEFORE", "GITHUB_BASE_REF", "GITHUB_ACTIONS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "gh-out"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "gh-summary"))
    monkeypatch.chdir(repo)
    capsys.readouterr()
    rc = cli.main(["gate", "--base", base, "--head", "HEAD"])
    out = capsys.readouterr().out
    assert rc == 1 and "the fleet is halted" in out and "audit: live drift" in out


def test_shop_filter_and_usage_errors(emu, repo):
    healthy(emu, repo)
    code, text = run(repo, emu, "--shop", "bravo")
    assert code == 0 and set(by_tenant(text)) == {"bravo", "bravo (staging)"}
    from helm_guard.errors import UsageError
    with pytest.raises(UsageError):
        run(repo, emu, "--shop", "nope")
    with pytest.raises(UsageError):
        run(repo, emu, "--shop", "Bad_Slug")


def test_text_and_markdown_render(emu, repo):
    healthy(emu, repo)
    emu.out_of_band_deploy("helm-charlie", [], author_email="x@laptop.example")
    fleet = load_fleet(repo / "helm-fleet.jsonc")
    from helm_guard.audit.sources import StateLedger
    ledger = StateLedger(repo, "origin")
    report = run_audit(fleet, client_for(emu), ledger, Cursor(emu.account_id))
    txt = render.text(report)
    assert "charlie" in txt and "DRIFT" in txt and "NOT IN SYNC" in txt
    md = render.markdown(report)
    assert md.startswith("## ") and "| charlie |" in md


def test_judge_agrees_with_deploy_comparison(emu, repo):
    """Differential: the audit's judge gives exactly deploy's and rollback's mismatches."""
    fleet = load_fleet(repo / "helm-fleet.jsonc")
    truth = Truth(fleet)
    samples = [
        own_bindings(fleet, Tenant("acme")),
        [{"type": "d1", "name": "DB", "id": fleet.expected(Tenant("bravo")).database_id}],
        [{"type": "queue", "name": "Q", "queue_name": "x"}],
        [{"type": "service", "name": "S", "service": "helm-auth"},
         {"type": "kv_namespace", "name": "K", "namespace_id": "abc"}],
    ]
    for tenant in fleet.tenants():
        for live in samples:
            want = judge_bindings(fleet, tenant, live)
            got = truth.judge(tenant, live)
            assert [(d.binding, d.message, d.owner) for d in want] == got


def test_cursor_file_is_schema_checked(emu, repo):
    from tests.gitrepos import push_to_state
    healthy(emu, repo)
    push_to_state(repo, {AUDIT_CURSOR_FILE: '{"version": 9}'})
    inputs = read_audit_inputs(repo, "origin")
    assert inputs.cursor is None and "schema" in (inputs.note or "")
    code, text = run(repo, emu)
    assert code == 0 and any("schema" in n for n in json.loads(text)["notes"])
    assert read_audit_inputs(repo, "origin").cursor is not None  # rewritten


def test_unreadable_ledger_makes_clean_tenants_unknown_but_drift_stays_drift(emu, repo):
    healthy(emu, repo)
    fleet = load_fleet(repo / "helm-fleet.jsonc")
    swapped = own_bindings(fleet, Tenant("acme"))
    swapped[0] = {"type": "d1", "name": "DB", "id": fleet.expected(Tenant("delta")).database_id}
    emu.out_of_band_deploy("helm-acme", swapped)
    git(repo, "push", "--quiet", "origin", "--delete", "helm-guard/state")  # anchor remains
    code, text = run(repo, emu)
    rows = by_tenant(text)
    assert code == 1
    assert rows["acme"]["status"] == DRIFT and rows["acme"]["others"] == ["delta"]
    assert rows["charlie"]["status"] == UNKNOWN and "ledger" in rows["charlie"]["reason"]
    assert any("ledger could not be read" in n for n in json.loads(text)["notes"])
