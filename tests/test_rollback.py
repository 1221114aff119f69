"""`helm-guard rollback`: real wrangler 4.86 + the local Cloudflare API emulator + real git.

Versions are seeded straight into the emulator (as if uploaded earlier) and the ledger is
seeded with `state.append_ledger`, so each test pays only for the wrangler calls of the
rollback itself (about 1 s each).

The incident file is compared with `tests/golden/incident/*.md` after normalising times,
durations and ids; regenerate with `HELM_GUARD_UPDATE_GOLDEN=1 pytest tests/test_rollback.py`
and review the diff.
"""

from __future__ import annotations

import argparse
import io
import os
import re
from pathlib import Path

import pytest

from helm_guard import state
from helm_guard.cloudflare.wrangler import Wrangler
from helm_guard.commands import rollback
from helm_guard.emulator import CloudflareEmulator
from helm_guard.errors import Blocked, UsageError
from tests.fleets import ACME_ID, BRAVO_ID
from tests.gitrepos import make_fleet
from tests.wrangler_fixtures import require_wrangler

WORKER = "helm-acme"
GOLDEN = Path(__file__).parent / "golden" / "incident"
UPDATE = os.environ.get("HELM_GUARD_UPDATE_GOLDEN") == "1"
R2 = {"type": "r2_bucket", "name": "ASSETS", "bucket_name": "helm-acme-assets"}
AUTH = {"type": "service", "name": "AUTH", "service": "helm-auth"}
VAR = {"type": "plain_text", "name": "SHOP_SLUG", "text": "acme"}
GOOD = [{"type": "d1", "name": "DB", "id": ACME_ID}, R2, AUTH, VAR]
BAD = [{"type": "d1", "name": "DB", "id": BRAVO_ID}, R2, AUTH, VAR]


@pytest.fixture
def repo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("GITHUB_ACTOR", raising=False)
    return make_fleet(monkeypatch, tmp_path).a


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    rollback.add_arguments(p)
    return p.parse_args(argv)


def run_rollback(repo: Path, w: Wrangler, *argv: str, stdin: str = "") -> tuple[int, str]:
    """Run the command; return (exit code, output). Blocked propagates (with the output
    attached as `.output`)."""
    out = io.StringIO()
    args = parse(["--shop", "acme", "--fleet", str(repo), *argv])
    try:
        code = rollback.run(args, wrangler=w, stdin=io.StringIO(stdin), out=out)
    except Blocked as exc:
        exc.output = out.getvalue()  # type: ignore[attr-defined]
        raise
    return code, out.getvalue()


def posts(emulator: CloudflareEmulator) -> list[dict]:
    return [
        r
        for r in emulator.requests
        if r["method"] == "POST" and r["path"].endswith(f"/{WORKER}/deployments")
    ]


def record_deploy(repo: Path, vid: str) -> None:
    state.append_ledger(repo, "origin", "acme", {"action": "deploy", "version_id": vid})


def actions(repo: Path) -> list[str]:
    return [e.record["action"] for e in state.read_ledger(repo, "origin", "acme")]


def swapped_history(emulator: CloudflareEmulator, repo: Path) -> tuple[str, str, str]:
    """good (ledger) -> bad (100%) -> bad again (100%, live). wrangler's own default target
    ("the previous 100% deployment") is the first bad one."""
    good = emulator.seed_version(WORKER, GOOD, deploy=True)
    record_deploy(repo, good)
    bad1 = emulator.seed_version(WORKER, BAD, deploy=True)
    bad2 = emulator.seed_version(WORKER, BAD, deploy=True)
    emulator.clear_requests()
    return good, bad1, bad2


def normalise(text: str, names: dict[str, str]) -> str:
    for value, name in names.items():
        text = text.replace(value, name)
    text = re.sub(r"\d{8}T\d{6}Z-acme-[0-9a-f]{6}", "<INCIDENT>", text)
    text = re.sub(r"h-\d{8}T\d{6}Z-[0-9a-f]{6}", "<HALT>", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z", "<TIME>", text)
    text = re.sub(r"\d{4}-\d\d-\d\d", "<DATE>", text)
    return re.sub(r"\| \d+\.\d \|", "| <S> |", text)


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden {path}; run with HELM_GUARD_UPDATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8")


def incident_files(repo: Path) -> list[Path]:
    return sorted(rollback.incident_dir(repo).glob("*.md"))


# ---------------------------------------------------------------------- the main path
def test_skips_the_swapped_previous_deployment_and_records_the_incident(
    emulator: CloudflareEmulator, wrangler: Wrangler, repo: Path
) -> None:
    good, bad1, bad2 = swapped_history(emulator, repo)
    code, out = run_rollback(repo, wrangler, "--yes")
    assert code == 0, out
    assert emulator.live_version(WORKER)["id"] == good  # not bad1, wrangler's default
    assert [p["body"]["versions"] for p in posts(emulator)] == [
        [{"version_id": good, "percentage": 100}]
    ]
    for n in range(1, 8):
        assert re.search(rf"^\[{n}/7\] .* (ok|skipped) \(\d+\.\d s\)$", out, re.MULTILINE), out
    assert "OTHER SHOP(S) whose resources the live version touches: bravo" in out
    assert "audit both shops' data (acme and bravo)" in out
    assert "helm-guard resume" in out

    st = state.read_state(repo, "origin", must_exist=True)
    assert [(h.scope, h.reason) for h in st.active()] == [("fleet", "rollback of acme")]
    assert actions(repo) == ["deploy", "rollback-started", "rollback"]
    done = state.read_ledger(repo, "origin", "acme")[-1].record
    assert (done["from_version"], done["to_version"]) == (bad2, good)
    assert done["other_shops"] == ["bravo"]
    # when the swapped version went live: Cloudflare's deployment that first gave it traffic
    went = [d["created_on"] for d in emulator.deployments(WORKER)
            if any(v["version_id"] == bad2 for v in d["versions"])]
    assert done["went_live"] == min(went)

    [incident] = incident_files(repo)
    assert f"- The bad version went live: {min(went)}" in incident.read_text(encoding="utf-8")
    assert incident.name.endswith("-acme.md")
    names = {good: "<GOOD>", bad1: "<BAD1>", bad2: "<BAD2>"}
    check_golden("swapped-binding.md", normalise(incident.read_text(encoding="utf-8"), names))

    # running it again converges: nothing to do, no new request to Cloudflare's write API
    code, out = run_rollback(repo, wrangler, "--yes")
    assert code == 0
    assert "already rolled back" in out
    assert len(posts(emulator)) == 1
    assert len(state.read_state(repo, "origin", must_exist=True).active()) == 1  # no duplicate
    assert incident_files(repo) == [incident]


def test_to_a_swapped_version_is_refused(
    emulator: CloudflareEmulator, wrangler: Wrangler, repo: Path
) -> None:
    _, bad1, _ = swapped_history(emulator, repo)
    with pytest.raises(Blocked) as exc:
        run_rollback(repo, wrangler, "--yes", "--to", bad1, "--halt-scope", "shop")
    assert "refusing --to" in str(exc.value) and "bravo" in str(exc.value)
    assert "stopped at step 2/7" in str(exc.value)
    assert posts(emulator) == []
    st = state.read_state(repo, "origin", must_exist=True)
    assert [(h.scope, h.shop) for h in st.active()] == [("shop", "acme")]  # the halt stays


def test_no_eligible_version_stops_and_lists_the_options(
    emulator: CloudflareEmulator, wrangler: Wrangler, repo: Path
) -> None:
    emulator.seed_version(WORKER, BAD, deploy=True)
    emulator.seed_version(WORKER, BAD + [{"type": "queue", "name": "Q", "queue_name": "q"}])
    with pytest.raises(Blocked) as exc:
        run_rollback(repo, wrangler, "--yes")
    text = str(exc.value)
    assert "no version of helm-acme" in text and "options:" in text and "--to" in text
    assert posts(emulator) == []
    assert actions(repo) == []


def test_bad_to_argument_is_a_usage_error(wrangler: Wrangler, repo: Path) -> None:
    with pytest.raises(UsageError):
        run_rollback(repo, wrangler, "--to", "1234; rm -rf /")


def test_dry_run_changes_nothing(
    emulator: CloudflareEmulator, wrangler: Wrangler, repo: Path
) -> None:
    good, _, bad2 = swapped_history(emulator, repo)
    before = state.read_state(repo, "origin", must_exist=False)
    code, out = run_rollback(repo, wrangler, "--dry-run")
    assert code == 0
    assert "stopped (dry run)" in out and good in out
    assert [r for r in emulator.requests if r["method"] != "GET"] == []  # no POST at all
    assert emulator.live_version(WORKER)["id"] == bad2
    after = state.read_state(repo, "origin", must_exist=False)
    assert after.commit == before.commit and after.halts == ()
    assert actions(repo) == ["deploy"]
    assert incident_files(repo) == []


def test_typed_confirmation_must_be_the_slug(
    emulator: CloudflareEmulator, wrangler: Wrangler, repo: Path
) -> None:
    swapped_history(emulator, repo)
    with pytest.raises(Blocked, match="not confirmed") as exc:
        run_rollback(repo, wrangler, stdin="y\n")
    assert "type 'acme' to continue" in exc.value.output  # type: ignore[attr-defined]
    assert posts(emulator) == []
    assert actions(repo) == ["deploy"]


# ---------------------------------------------------------------------- 10220
def secrets_history(emulator: CloudflareEmulator, repo: Path) -> tuple[str, str]:
    good = emulator.seed_version(WORKER, GOOD, deploy=True)
    record_deploy(repo, good)
    emulator.set_secret(WORKER, "STRIPE_WEBHOOK_SECRET", new_version=False)
    bad = emulator.seed_version(WORKER, BAD, deploy=True)
    emulator.clear_requests()
    return good, bad


def test_secrets_changed_needs_a_second_typed_confirmation(
    emulator: CloudflareEmulator, wrangler: Wrangler, repo: Path
) -> None:
    good, bad = secrets_history(emulator, repo)
    # --yes alone never forces changed secrets
    with pytest.raises(Blocked) as exc:
        run_rollback(repo, wrangler, "--yes")
    assert "STRIPE_WEBHOOK_SECRET" in str(exc.value) and "--force-secrets" in str(exc.value)
    assert "stopped at step 5/7" in str(exc.value)
    assert emulator.live_version(WORKER)["id"] == bad
    assert all(p["query"].get("force") != "true" for p in posts(emulator))

    # interactively: the slug once for the rollback, once more for the secrets
    code, out = run_rollback(repo, wrangler, stdin="acme\nacme\n")
    assert code == 0, out
    assert "these secrets changed" in out and "CURRENT secret values" in out
    assert emulator.live_version(WORKER)["id"] == good
    assert posts(emulator)[-1]["query"].get("force") == "true"
    done = state.read_ledger(repo, "origin", "acme")[-1].record
    assert done["forced_secrets"] == ["STRIPE_WEBHOOK_SECRET"]
    assert "STRIPE_WEBHOOK_SECRET" in incident_files(repo)[0].read_text(encoding="utf-8")


def test_secrets_changed_with_yes_and_force_secrets(
    emulator: CloudflareEmulator, wrangler: Wrangler, repo: Path
) -> None:
    good, _ = secrets_history(emulator, repo)
    code, out = run_rollback(repo, wrangler, "--yes", "--force-secrets")
    assert code == 0, out
    assert "--force-secrets given" in out
    assert emulator.live_version(WORKER)["id"] == good


# ---------------------------------------------------------------------- faults + re-runs
def test_api_500_mid_rollback_then_rerun_converges(
    emulator: CloudflareEmulator, wrangler: Wrangler, repo: Path
) -> None:
    good, _, bad2 = swapped_history(emulator, repo)
    emulator.fail_next("POST", r"/workers/scripts/helm-acme/deployments$", "500")
    with pytest.raises(Blocked) as exc:
        run_rollback(repo, wrangler, "--yes")
    text = str(exc.value)
    assert "stopped at step 5/7" in text and "live version is unchanged" in text
    assert f"helm-guard rollback --shop acme --to {good}" in text
    assert emulator.live_version(WORKER)["id"] == bad2
    assert actions(repo) == ["deploy", "rollback-started", "rollback-failed"]

    code, out = run_rollback(repo, wrangler, "--yes")
    assert code == 0, out
    assert emulator.live_version(WORKER)["id"] == good
    assert actions(repo) == ["deploy", "rollback-started", "rollback-failed", "rollback"]
    assert len(state.read_state(repo, "origin", must_exist=True).active()) == 1
    [incident] = incident_files(repo)
    text = incident.read_text(encoding="utf-8")
    assert "| failed |" in text  # the failed attempt is in the timeline
    assert bad2 in text and good in text


def test_timeout_mid_rollback_then_rerun_skips_to_verify(
    emulator: CloudflareEmulator, wrangler_env: dict[str, str], repo: Path
) -> None:
    fast = Wrangler(require_wrangler(), extra_env=wrangler_env, timeout=5)
    good, _, bad2 = swapped_history(emulator, repo)
    emulator.fail_next("POST", r"/workers/scripts/helm-acme/deployments$", "timeout")
    with pytest.raises(Blocked) as exc:
        run_rollback(repo, fast, "--yes")
    assert "NOT known whether Cloudflare applied it" in str(exc.value)
    assert "stopped at step 5/7" in str(exc.value)
    # the request took effect after all (the answer was lost on the way back)
    emulator.deploy(WORKER, good)
    emulator.clear_requests()

    code, out = run_rollback(repo, fast, "--yes")
    assert code == 0, out
    assert "an earlier run got this far" in out
    assert posts(emulator) == []  # nothing sent again
    done = state.read_ledger(repo, "origin", "acme")[-1].record
    assert (done["action"], done["from_version"], done["to_version"]) == (
        "rollback",
        bad2,
        good,
    )
    text = incident_files(repo)[0].read_text(encoding="utf-8")
    assert "bravo" in text and f"DB (d1): d1 {BRAVO_ID} [shop bravo]" in text


# ---------------------------------------------------------------------- one truth (issue 12.1)
KV_LISTED = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"
KV_UNLISTED = "1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e"
KV_FIX = 'add it to "shops.acme.kv_namespaces"'


def register_kv(repo: Path, kv: str) -> None:
    fleet = repo / "helm-fleet.jsonc"
    text = fleet.read_text(encoding="utf-8")
    old = '"acme": {"database_id": "1a9e6c1e-0d6a-4c33-9b8e-6b2f3f6f0a01",'
    assert old in text
    fleet.write_text(text.replace(old, old + f' "kv_namespaces": ["{kv}"],'), encoding="utf-8")


def test_a_registered_kv_is_accepted_and_an_unregistered_one_refused_with_the_same_fix(
    emulator: CloudflareEmulator, wrangler: Wrangler, repo: Path
) -> None:
    """Rollback chooses with deploy's judge: the version binding the registry's KV namespace
    is eligible; a newer one binding an unlisted namespace is skipped, and `--to` it names
    the fix deploy names (tests/test_deploy.py)."""
    register_kv(repo, KV_LISTED)
    kv = {"type": "kv_namespace", "name": "CACHE"}
    listed = emulator.seed_version(WORKER, [*GOOD, {**kv, "namespace_id": KV_LISTED}], deploy=True)
    record_deploy(repo, listed)
    unlisted = emulator.seed_version(WORKER, [*GOOD, {**kv, "namespace_id": KV_UNLISTED}],
                                     deploy=True)
    emulator.seed_version(WORKER, BAD, deploy=True)
    with pytest.raises(Blocked) as exc:
        run_rollback(repo, wrangler, "--dry-run", "--to", unlisted)
    assert KV_FIX in str(exc.value)
    code, out = run_rollback(repo, wrangler, "--dry-run")
    assert code == 0 and f"target: {listed}" in out, out
