"""The live audit reports a required secret missing from a live version (issue 15), with the
same function `deploy` uses before activation, and re-judges cached clean versions when the
fleet file's required secrets change."""

from __future__ import annotations

from pathlib import Path

import pytest

from helm_guard.audit.model import DRIFT, IN_SYNC
from helm_guard.audit.truth import Truth
from helm_guard.emulator import CloudflareEmulator
from helm_guard.fleet import Tenant, load_fleet
from tests.fleets import edit
from tests.gitrepos import git, make_fleet
from tests.test_audit import TOKEN, by_tenant, healthy, run

SECRET = "STRIPE_WEBHOOK_SECRET"


@pytest.fixture
def emu():
    with CloudflareEmulator(token=TOKEN) as e:
        yield e


@pytest.fixture
def repo(monkeypatch, tmp_path) -> Path:
    monkeypatch.delenv("GITHUB_ACTOR", raising=False)
    return make_fleet(monkeypatch, tmp_path).a


def _require(repo: Path) -> None:
    edit(repo / "helm-fleet.jsonc", '"shops": {',
         f'"secrets": {{"required": ["{SECRET}"]}},\n  "shops": {{')
    git(repo, "commit", "--quiet", "-am", "require the Stripe secret")


def test_a_live_version_without_a_required_secret_is_drift(emu: CloudflareEmulator,
                                                           repo: Path) -> None:
    healthy(emu, repo)  # every tenant live with its own bindings, recorded, no secret
    code, text = run(repo, emu)
    assert code == 0 and {r["status"] for r in by_tenant(text).values()} == {IN_SYNC}
    _require(repo)
    code, text = run(repo, emu)  # the warm cursor must not hide it: the digest changed
    rows = by_tenant(text)
    assert code == 1
    assert {r["status"] for r in rows.values()} == {DRIFT}
    for row in rows.values():
        assert any(SECRET in p["message"] and "not set" in p["message"]
                   for p in row["problems"]), row


def test_the_verdict_cache_depends_on_the_required_secrets(repo: Path) -> None:
    before = Truth(load_fleet(repo / "helm-fleet.jsonc")).digest(Tenant("acme"))
    _require(repo)
    truth = Truth(load_fleet(repo / "helm-fleet.jsonc"))
    assert truth.digest(Tenant("acme")) != before
    assert truth.judge(Tenant("acme"), [{"type": "secret_text", "name": SECRET}]) == [] \
        or all(SECRET not in m for _, m, _ in
               truth.judge(Tenant("acme"), [{"type": "secret_text", "name": SECRET}]))
    shadowed = truth.judge(Tenant("acme"), [{"type": "plain_text", "name": SECRET}])
    assert [(n, "plain_text" in m) for n, m, _ in shadowed if n == SECRET] == [(SECRET, True)]
