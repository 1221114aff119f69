"""The audit engine and the emulator additions it relies on, without git: a fake ledger, the
emulator over HTTP. Resume after an interruption, the progress line, 429 handling, scripts'
`modified_on`, routes and custom domains."""

from __future__ import annotations

import io
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from helm_guard.audit.cursor import Cursor
from helm_guard.audit.engine import run_audit
from helm_guard.audit.model import IN_SYNC, OUT_OF_BAND
from helm_guard.cloudflare import api
from helm_guard.commands.audit import _progress
from helm_guard.emulator import CloudflareEmulator
from helm_guard.fleet import Fleet, Tenant
from helm_guard.state import LedgerEntry, utcnow
from helm_guard.state.audit_cursor import cursor_problem


class FakeLedger:
    """Every deploy recorded now, as helm-guard deploy would."""

    error = None

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.records: dict[str, list[LedgerEntry]] = {}

    def record(self, shop: str, version_id: str) -> None:
        entries = self.records.setdefault(shop, [])
        entries.append(LedgerEntry(len(entries) + 1, utcnow(), "t", shop,
                                   {"action": "deploy", "version_id": version_id, "stage": None}))
        self.ids[shop] = f"{len(entries):040x}"

    def entries(self, slugs: Iterable[str]) -> dict[str, list[LedgerEntry]]:
        return {s: list(self.records.get(s, [])) for s in slugs}


def fleet_of(n: int) -> Fleet:
    return Fleet(Path("/nonexistent/helm-fleet.jsonc"), {"version": 1, "configs": [], "shops": {
        f"s{i:03d}": {"database_id": f"00000000-0000-4000-8000-{i:012d}"} for i in range(n)}})


def seeded(emu: CloudflareEmulator, fleet: Fleet) -> FakeLedger:
    ledger = FakeLedger()
    for tenant in fleet.tenants():
        exp = fleet.expected(tenant)
        vid = emu.seed_version(exp.worker, [
            {"type": "d1", "name": "DB", "id": exp.database_id},
            {"type": "r2_bucket", "name": "A", "bucket_name": exp.bucket_name}], deploy=True)
        ledger.record(tenant.shop, vid)
    return ledger


@pytest.fixture
def emu():
    with CloudflareEmulator(token="tok") as e:
        yield e


def client(emu, **kw) -> api.Client:
    kw.setdefault("limiter", api.RateLimiter(rate=10_000, burst=10_000))
    return api.Client.from_env({"CLOUDFLARE_API_TOKEN": "tok",
                                "CLOUDFLARE_ACCOUNT_ID": emu.account_id,
                                "CLOUDFLARE_API_BASE_URL": emu.base_url}, **kw)


def test_interrupted_audit_saves_progress_and_resumes(emu):
    fleet = fleet_of(30)
    ledger = seeded(emu, fleet)
    saved: list[dict] = []

    def stop_after_ten(done: int, total: int) -> None:
        if done == 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_audit(fleet, client(emu), ledger, Cursor(emu.account_id), threads=1,
                  progress=stop_after_ten, save=saved.append)
    assert saved and cursor_problem(saved[-1]) is None
    done_before = len(saved[-1]["workers"])
    assert 10 <= done_before < 30
    c = client(emu)
    report = run_audit(fleet, c, ledger, Cursor(emu.account_id, saved[-1]), save=saved.append)
    assert {v.status for v in report.verdicts} == {IN_SYNC}
    assert report.stats.workers_read == 30 - done_before  # only the rest is read
    assert c.requests == 3 + 2 * (30 - done_before)  # scripts, domains, zones + 2 per Worker


def test_warm_run_reads_nothing_and_saves_nothing(emu):
    fleet = fleet_of(12)
    ledger = seeded(emu, fleet)
    saved: list[dict] = []
    run_audit(fleet, client(emu), ledger, Cursor(emu.account_id), save=saved.append)
    assert len(saved) == 1
    c = client(emu)
    report = run_audit(fleet, c, ledger, Cursor(emu.account_id, saved[-1]), save=saved.append)
    assert report.in_sync and c.requests == 3 and len(saved) == 1
    assert all(v.cached for v in report.verdicts)


def test_a_cursor_of_another_account_is_ignored(emu):
    fleet = fleet_of(3)
    ledger = seeded(emu, fleet)
    saved: list[dict] = []
    run_audit(fleet, client(emu), ledger, Cursor(emu.account_id), save=saved.append)
    other = {**saved[-1], "account_id": "f" * 32}
    c = client(emu)
    run_audit(fleet, c, ledger, Cursor(emu.account_id, other))
    assert c.requests == 3 + 2 * 3


def test_ledger_recorded_later_is_seen_on_the_second_look(emu):
    fleet = fleet_of(1)
    ledger = FakeLedger()
    exp = fleet.expected(Tenant("s000"))
    vid = emu.seed_version(exp.worker, [{"type": "d1", "name": "DB", "id": exp.database_id},
                                        {"type": "r2_bucket", "name": "A",
                                         "bucket_name": exp.bucket_name}], deploy=True)
    report = run_audit(fleet, client(emu), ledger, Cursor(emu.account_id))
    assert report.verdicts[0].status == OUT_OF_BAND  # no refresh(): no second look

    class Late(FakeLedger):
        def refresh(self) -> bool:
            self.record("s000", vid)  # the deploy recorded itself meanwhile
            return True

    report = run_audit(fleet, client(emu), Late(), Cursor(emu.account_id))
    assert report.verdicts[0].status == IN_SYNC


def test_progress_line_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert _progress(io.StringIO()) is None
    tty = Tty()
    show = _progress(tty)
    show(1, 3)
    show(3, 3)
    assert "audit: 1/3 tenants" in tty.getvalue() and tty.getvalue().endswith("3/3 tenants\n")


def test_emulator_scripts_modified_on_moves_on_deploy_and_secret(emu):
    vid = emu.seed_version("helm-a", [], deploy=True)
    c = client(emu)
    first = c.scripts()[0]["modified_on"]
    emu.deploy("helm-a", vid)
    second = c.scripts()[0]["modified_on"]
    emu.set_secret("helm-a", "KEY")
    third = c.scripts()[0]["modified_on"]
    assert first < second < third


def test_emulator_429_carries_retry_after_and_the_client_waits(emu):
    emu.seed_version("helm-a", [], deploy=True)
    emu.throttle_next("GET", r"/deployments$", count=2, retry_after=0.4)
    c = client(emu, max_retries=3)
    start = time.monotonic()
    assert c.deployments("helm-a")
    assert time.monotonic() - start >= 0.8  # both Retry-After waits were honoured
    assert c.requests == 3 and c.retried == 2
    assert [r["fault"] for r in emu.requests] == ["429", "429", None]


def test_a_retry_after_beyond_the_limit_is_an_error(emu):
    emu.seed_version("helm-a", [], deploy=True)
    emu.throttle_next("GET", r"/deployments$", count=5, retry_after=3600)
    c = client(emu, max_retries=0, max_retry_after=60)
    with pytest.raises(api.CloudflareError, match="3600"):
        c.deployments("helm-a")


def test_emulator_routes_and_custom_domains(emu):
    zone = emu.add_zone("shops.example")
    emu.add_route("a.shops.example/*", "helm-a")
    emu.add_custom_domain("b.shops.example", "helm-b")
    c = client(emu)
    assert [z["id"] for z in c.zones()] == [zone]
    assert [(r["pattern"], r["script"]) for r in c.zone_routes(zone)] == [
        ("a.shops.example/*", "helm-a")]
    assert [(d["hostname"], d["service"]) for d in c.custom_domains()] == [
        ("b.shops.example", "helm-b")]
