"""The deploy gate, verify and batch against real git repositories (no mocks of git)."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from helm_guard import cli, state
from helm_guard.changes import glob_regex
from helm_guard.commands.deploy import find_target
from helm_guard.commands.verify import verify_shop
from helm_guard.digest import target_digest
from helm_guard.errors import Blocked
from helm_guard.plan import MAX_BATCH, make_entry, make_plan, validate_plan
from tests.fleets import ACME, ACME_ID, BRAVO_ID, REGIONAL
from tests.gate_fixtures import FleetRepo, git, make_repo
from tests.gitrepos import isolate_git

GOLDEN = Path(__file__).parent / "golden" / "gate"
NEW_ID = "9f9f9f9f-0000-4000-8000-000000000abc"
ECHO_ID = "5e5e5e5e-1111-4111-8111-000000000005"
ECHO = """{
  "name": "helm-echo",
  "main": "../../src/index.js",
  "compatibility_date": "2026-11-01",
  "account_id": "0123456789abcdef0123456789abcdef",
  "routes": [{"pattern": "echo.shops.example", "custom_domain": true}],
  "vars": {"SHOP_SLUG": "echo"},
  "d1_databases": [{"binding": "DB", "database_name": "helm-echo-db",
                    "database_id": "ECHO_ID"}],
  "r2_buckets": [{"binding": "ASSETS", "bucket_name": "helm-echo-assets"}],
}
""".replace("ECHO_ID", ECHO_ID)


class GateRun(NamedTuple):
    rc: int
    out: str
    err: str
    outputs: dict[str, str]
    summary: str


def parse_outputs(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines) and lines[i]:
        name, _, delim = lines[i].partition("<<")
        assert delim.startswith("ghadelimiter_"), lines[i]
        end = lines.index(delim, i + 1)
        values[name] = "\n".join(lines[i + 1:end])
        i = end + 1
    return values


@pytest.fixture
def repo(tmp_path: Path) -> FleetRepo:
    return make_repo(tmp_path)


@pytest.fixture
def helm(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
    """Run `helm-guard ARGS` in-process in a directory, as in GitHub Actions."""
    isolate_git(monkeypatch, tmp_path)
    for var in ("GITHUB_EVENT_BEFORE", "GITHUB_BASE_REF", "GITHUB_ACTIONS", "HELM_GUARD_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    counter = iter(range(1000))

    def call(cwd: Path, *args: str, **env: str) -> GateRun:
        n = next(counter)
        out_file, summary_file = tmp_path / f"out{n}.txt", tmp_path / f"summary{n}.md"
        out_file.write_text("")
        summary_file.write_text("")
        monkeypatch.setenv("GITHUB_OUTPUT", str(out_file))
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_file))
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            rc = cli.main(list(args))
        finally:
            for k in env:
                monkeypatch.delenv(k)
        cap = capsys.readouterr()
        return GateRun(rc, cap.out, cap.err, parse_outputs(out_file.read_text()),
                       summary_file.read_text())

    return call


def gate(helm, repo: FleetRepo, *args: str, **env: str) -> GateRun:
    return helm(repo.work, "gate", "--format", "text", *args, **env)


def swap_d1(repo: FleetRepo, new_id: str, *, registry: bool) -> None:
    repo.edit(ACME, ACME_ID, new_id)
    if registry:
        repo.edit("helm-fleet.jsonc", ACME_ID, new_id)


# --------------------------------------------------------------------------- gate


def test_clean_change_affects_only_that_shop(helm, repo: FleetRepo) -> None:
    repo.edit(ACME, '"SHOP_SLUG": "acme",', '"SHOP_SLUG": "acme", "THEME": "dark",')
    head = repo.commit("acme: dark theme")
    r = gate(helm, repo)
    assert r.rc == 0, r.out + r.err
    assert r.outputs["blocked"] == "false"
    assert json.loads(r.outputs["shops"]) == ["acme"]
    assert r.outputs["batch_count"] == "1" and json.loads(r.outputs["batches"]) == [0]
    assert r.outputs["commit"] == head
    matrix = json.loads(r.outputs["matrix"])
    assert [(e["shop"], e["config"], e["env"]) for e in matrix["include"]] == \
        [("acme", ACME, None)]
    assert matrix["include"][0]["digest"].startswith("sha256:")
    assert "DEPLOY MAY PROCEED" in r.summary
    assert "merge-base with origin/main" in r.out


def test_comment_only_change_of_env_per_shop_file_affects_nobody(helm, repo: FleetRepo) -> None:
    repo.edit(REGIONAL, "// One file", "// Still one file")
    repo.commit("comment")
    r = gate(helm, repo)
    assert r.rc == 0 and json.loads(r.outputs["shops"]) == []
    assert r.outputs["batch_count"] == "0"


def test_env_per_shop_change_affects_only_that_env(helm, repo: FleetRepo) -> None:
    repo.edit(REGIONAL, '"SHOP_SLUG": "charlie"', '"SHOP_SLUG": "charlie", "X": "1"')
    repo.commit("charlie var")
    r = gate(helm, repo)
    assert r.rc == 0, r.out
    assert json.loads(r.outputs["shops"]) == ["charlie"]
    assert [e["env"] for e in json.loads(r.outputs["matrix"])["include"]] == ["charlie"]


def test_shared_top_level_of_env_per_shop_file_affects_its_shops(helm, repo) -> None:
    repo.edit(REGIONAL, '"compatibility_date": "2026-11-01"', '"compatibility_date": "2026-11-02"')
    repo.commit("bump date")
    r = gate(helm, repo)
    assert json.loads(r.outputs["shops"]) == ["charlie", "delta"]


def test_swapped_d1_id_blocks_with_finding_and_rebind(helm, repo: FleetRepo) -> None:
    swap_d1(repo, BRAVO_ID, registry=False)
    repo.commit("oops")
    r = helm(repo.work, "gate", "--format", "github")
    assert r.rc == 1
    assert r.outputs["blocked"] == "true" and r.outputs["batch_count"] == "0"
    assert json.loads(r.outputs["matrix"]) == {"include": []}
    assert "::error file=shops/acme/wrangler.jsonc" in r.out
    assert "unacknowledged rebind of shop acme" in r.out
    assert f"d1_databases[DB].database_id: {ACME_ID} → {BRAVO_ID}" in r.out
    assert "BLOCKED" in r.summary


def test_rebind_without_trailer_blocks(helm, repo: FleetRepo) -> None:
    swap_d1(repo, NEW_ID, registry=True)
    repo.commit("acme: new database")
    r = gate(helm, repo)
    assert r.rc == 1
    assert "unacknowledged rebind of shop acme" in r.out
    assert "Helm-Rebind: acme" in r.out  # says how to acknowledge
    assert "database\\_id" in r.summary and "NOT acknowledged" in r.summary


def test_rebind_with_trailer_is_allowed_and_reported(helm, repo: FleetRepo) -> None:
    swap_d1(repo, NEW_ID, registry=True)
    sha = repo.commit("acme: new database\n\nRestored from backup.\n\nHelm-Rebind: acme")
    repo.edit(ACME, '"SHOP_SLUG": "acme",', '"SHOP_SLUG": "acme", "Y": "1",')
    repo.commit("later commit without trailer")
    r = gate(helm, repo)
    assert r.rc == 0, r.out
    assert f"acknowledged by Helm-Rebind trailer in {sha[:12]}" in r.out
    assert "acknowledged by Helm-Rebind trailer" in r.summary
    assert json.loads(r.outputs["shops"]) == ["acme"]


def test_trailer_for_another_shop_does_not_acknowledge(helm, repo: FleetRepo) -> None:
    swap_d1(repo, NEW_ID, registry=True)
    repo.commit("acme: new database\n\nHelm-Rebind: bravo")
    assert gate(helm, repo).rc == 1


def test_trailer_outside_the_range_does_not_acknowledge(helm, repo: FleetRepo) -> None:
    repo.commit("old ack\n\nHelm-Rebind: acme")
    repo.push()
    swap_d1(repo, NEW_ID, registry=True)
    repo.commit("acme: new database")
    assert gate(helm, repo).rc == 1


def test_rebind_with_allow_flag(helm, repo: FleetRepo) -> None:
    swap_d1(repo, NEW_ID, registry=True)
    repo.commit("acme: new database")
    r = gate(helm, repo, "--allow-rebind", "acme")
    assert r.rc == 0, r.out
    assert "acknowledged by --allow-rebind" in r.out


def test_registry_only_rebind_is_seen(helm, repo: FleetRepo) -> None:
    repo.edit("helm-fleet.jsonc", '"routes": ["acme.shops.example"]',
              '"routes": ["acme.shops.example", "shop.acme.example"]')
    repo.commit("acme: second route in the registry")
    r = gate(helm, repo)
    assert r.rc == 1
    assert "helm-fleet.jsonc (registry)" in r.out and "routes" in r.out


def test_shop_added(helm, repo: FleetRepo) -> None:
    repo.write("shops/echo/wrangler.jsonc", ECHO)
    repo.edit("helm-fleet.jsonc", '"charlie": {',
              f'"echo": {{"database_id": "{ECHO_ID}", "routes": ["echo.shops.example"]}},\n'
              '    "charlie": {')
    repo.commit("new shop echo")
    r = gate(helm, repo)
    assert r.rc == 0, r.out
    assert json.loads(r.outputs["shops"]) == ["echo"]
    assert "echo (new)" in r.out and "echo (new shop)" in r.summary
    assert "rebind" not in r.out


def test_shop_removed(helm, repo: FleetRepo) -> None:
    shutil.rmtree(repo.path("shops/acme"))
    repo.edit("helm-fleet.jsonc",
              f'"acme": {{"database_id": "{ACME_ID}", "routes": ["acme.shops.example"]}},', "")
    repo.commit("remove acme")
    r = gate(helm, repo)
    assert r.rc == 0, r.out
    assert json.loads(r.outputs["shops"]) == []
    assert "removed shops (1, not deployed" in r.out and "acme" in r.out
    assert "Removed shops (1" in r.summary


def test_shared_code_change_affects_all_shops(helm, repo: FleetRepo) -> None:
    repo.write("src/index.js", "export default { fetch() { return new Response('v2'); } };\n")
    repo.commit("new worker code")
    r = gate(helm, repo)
    assert r.rc == 0, r.out
    assert json.loads(r.outputs["shops"]) == ["acme", "bravo", "charlie", "delta"]
    assert "src/index.js matches the shared path src/**" in r.out
    envs = sorted((e["shop"], e["env"] or "") for e in json.loads(r.outputs["matrix"])["include"])
    assert envs == [("acme", ""), ("bravo", ""), ("bravo", "staging"), ("charlie", "charlie"),
                    ("delta", "delta")]


def test_fleet_setting_change_affects_all_shops(helm, repo: FleetRepo) -> None:
    repo.edit("helm-fleet.jsonc", '"shared": {"services": ["helm-auth"]}',
              '"shared": {"services": ["helm-auth", "helm-mail"]}')
    repo.commit("shared mail service")
    r = gate(helm, repo)
    assert r.rc == 0, r.out
    assert len(json.loads(r.outputs["shops"])) == 4
    assert "fleet settings changed" in r.out


def test_structural_fleet_change_compares_every_config(helm, repo: FleetRepo) -> None:
    repo.edit("helm-fleet.jsonc", '"stages": ["staging"]', '"stages": ["staging", "preview"]')
    repo.edit(REGIONAL, '"database_id": "3c1a8e3a-2f8c-4e55-9da0-8d4b5b8b2c03"',
              '"database_id": "3c1a8e3a-2f8c-4e55-9da0-8d4b5b8b2c03", "preview_database_id": '
              '"3c1a8e3a-2f8c-4e55-9da0-8d4b5b8b2c03"')
    repo.commit("a preview stage; charlie previews on its own database")
    r = helm(repo.work, "gate", "--format", "json")
    doc = json.loads(r.out)
    assert doc["affected_shops"] == ["acme", "bravo", "charlie", "delta"]
    assert [x["shop"] for x in doc["rebinds"]] == ["charlie"]
    assert "preview_database_id" in doc["rebinds"][0]["changes"][0]


def test_fleet_in_a_subfolder_of_the_repository(helm, tmp_path: Path) -> None:
    src = tmp_path / "src-tree"
    shutil.copytree(Path(__file__).resolve().parents[1] / "examples" / "fleet", src / "infra")
    (src / "README.md").write_text("fleet lives in infra/\n")
    (tmp_path / "r").mkdir()
    repo = make_repo(tmp_path / "r", src)
    repo.edit("infra/" + ACME, ACME_ID, NEW_ID)
    repo.edit("infra/helm-fleet.jsonc", ACME_ID, NEW_ID)
    repo.edit("README.md", "fleet", "the fleet")
    repo.commit("acme: new database")
    r = helm(repo.work, "gate", "--format", "text", "--fleet", "infra/helm-fleet.jsonc")
    assert r.rc == 1 and "unacknowledged rebind of shop acme" in r.out
    assert json.loads(r.outputs["shops"]) == ["acme"]


def test_shallow_clone_without_base_blocks_with_fetch_depth_hint(helm, repo: FleetRepo) -> None:
    base = repo.head()
    repo.edit(ACME, '"SHOP_SLUG": "acme",', '"SHOP_SLUG": "acme", "Z": "1",')
    repo.commit("change")
    repo.push()
    shallow = repo.clone("shallow", "--depth", "1")
    r = helm(shallow, "gate", "--format", "text", GITHUB_EVENT_BEFORE=base)
    assert r.rc == 1
    assert "not in this clone (this clone is shallow)" in r.out
    assert "fetch-depth: 0" in r.out
    assert r.outputs["blocked"] == "true"
    full = repo.clone("full")
    r = helm(full, "gate", "--format", "text", GITHUB_EVENT_BEFORE=base)
    assert r.rc == 0, r.out
    assert "(base: $GITHUB_EVENT_BEFORE)" in r.out


def test_pull_request_base_is_the_merge_base_with_the_target_branch(helm, repo) -> None:
    fork = repo.head()
    git(repo.work, "checkout", "-q", "-b", "feature")
    repo.edit(ACME, '"SHOP_SLUG": "acme",', '"SHOP_SLUG": "acme", "PR": "1",')
    repo.commit("feature work")
    r = gate(helm, repo, "--report-only", GITHUB_BASE_REF="main")
    assert r.rc == 0, r.out
    assert r.outputs["base"] == fork and json.loads(r.outputs["shops"]) == ["acme"]
    assert "merge-base with origin/main" in r.out


def test_zero_event_before_falls_back_to_the_default_branch(helm, repo: FleetRepo) -> None:
    fork = repo.head()
    repo.write("src/index.js", "// v9\n")
    repo.commit("code")
    r = gate(helm, repo, GITHUB_EVENT_BEFORE="0" * 40)
    assert r.rc == 0 and r.outputs["base"] == fork


def test_unknown_base_ref_blocks(helm, repo: FleetRepo) -> None:
    r = gate(helm, repo, "--base", "no-such-branch")
    assert r.rc == 1 and "fetch-depth" in r.out


def test_bad_ref_and_slug_are_usage_errors(helm, repo: FleetRepo) -> None:
    assert gate(helm, repo, "--base", "--upload-pack=evil").rc == 2
    assert gate(helm, repo, "--allow-rebind", "Not A Slug").rc == 2


def test_dirty_work_tree_blocks(helm, repo: FleetRepo) -> None:
    repo.edit(ACME, '"SHOP_SLUG": "acme",', '"SHOP_SLUG": "acme", "Z": "1",')
    r = gate(helm, repo)
    assert r.rc == 1 and "work tree differs" in r.out and ACME in r.out
    git(repo.work, "checkout", "-q", "--", ACME)
    repo.write("shops/zulu/wrangler.jsonc", ECHO.replace("echo", "zulu"))
    r = gate(helm, repo)
    assert r.rc == 1 and "work tree differs from the head commit: shops/zulu" in r.out


def test_report_only_still_fails_when_blocked(helm, repo: FleetRepo) -> None:
    swap_d1(repo, NEW_ID, registry=True)
    repo.commit("acme: new database")
    r = gate(helm, repo, "--report-only")
    assert r.rc == 1
    assert "report only: nothing is deployed by this run" in r.out
    assert "nothing is deployed by this run" in r.summary
    assert r.outputs["report_only"] == "true"


def test_plan_and_sarif_files(helm, repo: FleetRepo, tmp_path: Path) -> None:
    repo.write("src/index.js", "// v3\n")
    head = repo.commit("code")
    r = gate(helm, repo, "--plan", str(tmp_path / "plan.json"),
             "--sarif", str(tmp_path / "gate.sarif"))
    assert r.rc == 0
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert validate_plan(plan) == []
    assert plan["commit"] == head and plan["batch_size"] == MAX_BATCH
    assert len(plan["entries"]) == 5
    assert json.loads((tmp_path / "gate.sarif").read_text())["version"] == "2.1.0"


def test_json_format(helm, repo: FleetRepo) -> None:
    swap_d1(repo, NEW_ID, registry=True)
    repo.commit("acme: new database")
    r = helm(repo.work, "gate", "--format", "json")
    doc = json.loads(r.out)
    assert doc["verdict"] == "blocked"
    assert doc["rebinds"][0]["shop"] == "acme" and doc["rebinds"][0]["acknowledged_by"] is None


def test_halted_shop_blocks_with_who_when_why(helm, repo: FleetRepo) -> None:
    repo.edit(ACME, '"SHOP_SLUG": "acme",', '"SHOP_SLUG": "acme", "Z": "1",')
    repo.commit("change")
    state.halt(repo.work, "origin", reason="binding swap under investigation", shops=["acme"])
    r = gate(helm, repo)
    assert r.rc == 1
    assert "shop acme is halted (by Gate Tester <gate@example.invalid>, since 20" in r.out
    assert "binding swap under investigation" in r.out
    assert "binding swap under investigation" in r.summary
    assert "Halts in force" in r.summary
    # a halt of another shop does not block this deploy, but is shown
    state.resume(repo.work, "origin", reason="fixed", shops=["acme"])
    state.halt(repo.work, "origin", reason="bravo incident", shops=["bravo"])
    r = gate(helm, repo)
    assert r.rc == 0, r.out
    assert "bravo incident" in r.out


def test_fleet_halt_blocks_every_shop(helm, repo: FleetRepo) -> None:
    repo.write("src/index.js", "// v4\n")
    repo.commit("code")
    state.halt(repo.work, "origin", reason="stop everything")
    r = gate(helm, repo)
    assert r.rc == 1 and "the fleet is halted" in r.out


def test_unreadable_state_blocks(helm, repo: FleetRepo) -> None:
    repo.edit(ACME, '"SHOP_SLUG": "acme",', '"SHOP_SLUG": "acme", "Z": "1",')
    repo.commit("change")
    state.halt(repo.work, "origin", reason="x", shops=["bravo"])
    git(repo.origin, "update-ref", "-d", "refs/heads/helm-guard/state")
    r = gate(helm, repo)
    assert r.rc == 1 and "halt state unreadable" in r.out


# --------------------------------------------------------------------------- golden


def _normalise(text: str, repo: FleetRepo) -> str:
    for sha in git(repo.work, "rev-list", "--all").split():
        text = text.replace(sha, "<sha>").replace(sha[:12], "<sha12>")
    return re.sub(r"\d+ms", "<ms>", text)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("HELM_GUARD_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text, f"golden {name} differs " \
        "(regenerate with HELM_GUARD_UPDATE_GOLDEN=1 if the change is intended)"


def test_golden_summary_and_annotations(helm, repo: FleetRepo) -> None:
    swap_d1(repo, BRAVO_ID, registry=False)
    repo.write("shops/echo/wrangler.jsonc", ECHO)
    repo.edit("helm-fleet.jsonc", '"charlie": {', f'"echo": {{"database_id": "{ECHO_ID}", '
              '"routes": ["echo.shops.example"]},\n    "charlie": {')
    repo.commit("swap acme's database, add echo")
    r = helm(repo.work, "gate", "--format", "github")
    assert r.rc == 1
    check_golden("swap.annotations.txt", _normalise(r.out, repo))
    check_golden("swap.summary.md", _normalise(r.summary, repo))


# --------------------------------------------------------------------------- verify


def _plan(helm, repo: FleetRepo, tmp_path: Path) -> dict[str, Any]:
    r = gate(helm, repo, "--plan", str(tmp_path / "plan.json"))
    assert r.rc == 0, r.out
    return json.loads((tmp_path / "plan.json").read_text())


def test_verify_clean_checkout_passes(helm, repo: FleetRepo, tmp_path: Path) -> None:
    repo.write("src/index.js", "// v5\n")
    repo.commit("code")
    plan = _plan(helm, repo, tmp_path)
    for e in plan["entries"]:
        args = ["verify", "--shop", e["shop"], "--digest", e["digest"], "--commit", plan["commit"]]
        if e["env"] is not None:
            args += ["--env", e["env"]]
        r = helm(repo.work, *args)
        assert r.rc == 0, r.err
        assert "matches" in r.out
    v = verify_shop(str(repo.fleet), "acme", plan["entries"][0]["digest"], "origin")
    assert v.config == ACME and v.worker == "helm-acme" and v.env is None


def test_verify_digest_mismatch_after_edit(helm, repo: FleetRepo, tmp_path: Path) -> None:
    repo.write("src/index.js", "// v6\n")
    repo.commit("code")
    acme = next(e for e in _plan(helm, repo, tmp_path)["entries"] if e["shop"] == "acme")
    repo.edit(ACME, '"SHOP_SLUG": "acme",', '"SHOP_SLUG": "acme", "SNEAKY": "1",')
    r = helm(repo.work, "verify", "--shop", "acme", "--digest", acme["digest"])
    assert r.rc == 1
    assert f"the checked config was {acme['digest']}, now it is sha256:" in r.err


def test_verify_blocks_on_findings_and_halts(helm, repo: FleetRepo, tmp_path: Path) -> None:
    repo.write("src/index.js", "// v7\n")
    repo.commit("code")
    acme = next(e for e in _plan(helm, repo, tmp_path)["entries"] if e["shop"] == "acme")
    state.halt(repo.work, "origin", reason="incident 42", shops=["acme"])
    r = helm(repo.work, "verify", "--shop", "acme", "--digest", acme["digest"])
    assert r.rc == 1 and "incident 42" in r.err
    with pytest.raises(Blocked, match="incident 42"):
        verify_shop(str(repo.fleet), "acme", acme["digest"], "origin")


def test_verify_bad_arguments_exit_2(helm, repo: FleetRepo) -> None:
    assert helm(repo.work, "verify", "--shop", "ACME!", "--digest", "sha256:" + "0" * 64).rc == 2
    assert helm(repo.work, "verify", "--shop", "acme", "--digest", "md5:abc").rc == 2
    assert helm(repo.work, "verify", "--shop", "acme", "--digest", "sha256:" + "A" * 64).rc == 2


def test_verify_unknown_shop_blocks(helm, repo: FleetRepo) -> None:
    assert helm(repo.work, "verify", "--shop", "zulu", "--digest", "sha256:" + "0" * 64).rc == 1


# --------------------------------------------------------------------------- verify: deploy order

def _ledger_deploy(repo: FleetRepo, shop: str, commit: str, stage: str | None = None) -> None:
    """What a successful `helm-guard deploy` appends (the fields the order check reads)."""
    state.append_ledger(repo.work, "origin", shop, {
        "action": "deploy", "worker": f"helm-{shop}", "version_id": "v-" + commit[:8],
        "commit": commit, "env": stage, "stage": stage})


def _verify(helm, where: Path, shop: str, env: str | None = None) -> GateRun:
    digest = find_target(str(where / "helm-fleet.jsonc"), shop, env).digest
    head = git(where, "rev-parse", "HEAD")
    return helm(where, "verify", "--shop", shop, "--digest", digest, "--commit", head,
                *(["--env", env] if env else []))


def test_verify_refuses_a_commit_older_than_the_last_deploy(helm, repo: FleetRepo) -> None:
    old = repo.head()
    repo.write("src/index.js", "// v8\n")
    new = repo.commit("code")
    _ledger_deploy(repo, "acme", new)
    git(repo.work, "checkout", "-q", old)
    r = _verify(helm, repo.work, "acme")
    assert r.rc == 1
    assert f"a newer commit {new[:12]} was already deployed for shop acme at 20" in r.err
    assert f"this job (commit {old[:12]}) is older: re-run the latest pipeline" in r.err
    with pytest.raises(Blocked, match="newer commit"):
        verify_shop(str(repo.fleet), "acme", find_target(str(repo.fleet), "acme").digest)
    assert _verify(helm, repo.work, "bravo").rc == 0  # another shop's ledger does not count
    git(repo.work, "checkout", "-q", new)
    r = _verify(helm, repo.work, "acme")  # the same commit again (a re-run) is fine
    assert r.rc == 0, r.err
    assert f"not older than the last deploy ({new[:12]})" in r.out
    repo.write("src/index.js", "// v9\n")
    repo.commit("newer code")
    assert _verify(helm, repo.work, "acme").rc == 0  # and so is a newer one


def test_verify_deploy_order_is_per_stage(helm, repo: FleetRepo) -> None:
    old = repo.head()
    repo.write("src/index.js", "// v10\n")
    new = repo.commit("code")
    _ledger_deploy(repo, "bravo", new, "staging")
    git(repo.work, "checkout", "-q", old)
    r = _verify(helm, repo.work, "bravo", "staging")
    assert r.rc == 1 and "already deployed for shop bravo (staging) at" in r.err
    assert _verify(helm, repo.work, "bravo").rc == 0  # production has no deploy yet
    _ledger_deploy(repo, "bravo", new)
    assert "already deployed for shop bravo at" in _verify(helm, repo.work, "bravo").err
    git(repo.work, "checkout", "-q", new)
    assert _verify(helm, repo.work, "bravo", "staging").rc == 0


def test_verify_deploy_order_with_unknown_or_unrelated_commits(helm, repo: FleetRepo) -> None:
    base = repo.head()
    repo.write("src/index.js", "// v11\n")
    new = repo.commit("code")
    repo.push()
    # a shallow checkout does not have the older deployed commit: it cannot tell, so it blocks
    _ledger_deploy(repo, "acme", base)
    shallow = repo.clone("shallow", "--depth", "1")
    r = _verify(helm, shallow, "acme")
    assert r.rc == 1
    assert f"was commit {base[:12]}, which this shallow clone does not have" in r.err
    assert "fetch-depth: 0" in r.err
    assert _verify(helm, repo.clone("full"), "acme").rc == 0
    # a commit no clone has (e.g. deployed from a branch that was never pushed) blocks too
    _ledger_deploy(repo, "acme", "f" * 40)
    r = _verify(helm, repo.work, "acme")
    assert r.rc == 1 and "does not have" in r.err and "fetch-depth: 0" in r.err
    # unrelated histories (a rewritten branch): not an ordering question in a full clone
    git(repo.work, "checkout", "-q", "-b", "rewrite", base)
    repo.write("src/index.js", "// v11, rewritten\n")
    repo.commit("rewritten code")
    _ledger_deploy(repo, "acme", new)
    assert _verify(helm, repo.work, "acme").rc == 0


# --------------------------------------------------------------------------- batch


def _big_plan(n: int) -> dict[str, Any]:
    return make_plan("a" * 40, [make_entry(f"shop-{i:05d}", f"shops/shop-{i:05d}/wrangler.jsonc",
                                           None, "sha256:" + "0" * 64) for i in range(n)])


def test_batch_prints_each_batch(helm, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(_big_plan(600)))
    sizes = []
    for i in range(3):
        r = helm(tmp_path, "batch", "--plan", str(plan_file), "--index", str(i))
        assert r.rc == 0
        assert json.loads(r.out) == json.loads(r.outputs["matrix"])
        sizes.append(len(json.loads(r.out)["include"]))
    assert sizes == [256, 256, 88]
    assert helm(tmp_path, "batch", "--plan", str(plan_file), "--index", "3").rc == 2
    assert helm(tmp_path, "batch", "--plan", str(plan_file), "--index", "-1").rc == 2


@pytest.mark.parametrize("mutate", [
    lambda p: p.update(version=2),
    lambda p: p.update(batch_size=257),
    lambda p: p.update(commit="HEAD"),
    lambda p: p["entries"][0].update(shop="../x"),
    lambda p: p["entries"][0].update(config="../../etc/passwd"),
    lambda p: p["entries"][0].update(digest="sha256:xyz"),
    lambda p: p["entries"][0].update(extra=1),
    lambda p: p["entries"].append(dict(p["entries"][0])),
])
def test_batch_rejects_invalid_plans(helm, tmp_path: Path, mutate) -> None:
    plan = _big_plan(3)
    mutate(plan)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    r = helm(tmp_path, "batch", "--plan", str(plan_file), "--index", "0")
    assert r.rc == 2 and "invalid" in r.err


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize(("pattern", "path", "hit"), [
    ("src/**", "src/index.js", True),
    ("src/**", "src/a/b/c.ts", True),
    ("src/**", "srcx/index.js", False),
    ("src/*.js", "src/a/b.js", False),
    ("src/*.js", "src/b.js", True),
    ("**/package.json", "package.json", True),
    ("**/package.json", "a/b/package.json", True),
    ("lib/[ab].js", "lib/a.js", True),
    ("lib/[!ab].js", "lib/a.js", False),
])
def test_glob_regex(pattern: str, path: str, hit: bool) -> None:
    assert bool(glob_regex(pattern).match(path)) is hit


def test_digest_ignores_order_and_warnings_but_not_values() -> None:
    a = {"env": None, "worker": "helm-acme", "vars": {"A": "1", "B": "2"}, "warnings": ["x"]}
    b = {"vars": {"B": "2", "A": "1"}, "worker": "helm-acme", "env": None, "warnings": []}
    reg = {"database_id": ACME_ID}
    inp = {"config": ["shops/acme/wrangler.jsonc", "0" * 64], "files": []}

    def d(t: dict[str, Any], r: dict[str, Any], naming: dict[str, str] | None = None,
          inputs: dict[str, Any] = inp) -> str:
        return target_digest(t, r, naming, inputs=inputs)

    assert d(a, reg) == d(b, reg)
    assert d(a, reg) != d({**a, "worker": "helm-bravo"}, reg)
    assert d(a, reg) != d(a, {"database_id": BRAVO_ID})
    assert d(a, reg) != d(a, reg, {"worker": "shop-{slug}"})
    assert d(a, reg) != d(a, reg, inputs={**inp, "files": [["shops/acme/.env", "1" * 64]]})
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", d(a, reg))


# --------------------------------------------------------------------------- scale


@pytest.mark.slow
def test_ten_thousand_shops_batches_and_summary(helm, tmp_path: Path) -> None:
    from benchmarks.fleetgen import generate

    src = tmp_path / "gen"
    src.mkdir()
    generate(src, 10_000)
    (src / "src").mkdir()
    (src / "src" / "index.js").write_text("// v1\n")
    (tmp_path / "r").mkdir()
    repo = make_repo(tmp_path / "r", src)
    repo.write("src/index.js", "// v2\n")
    repo.commit("new code for everyone")
    started = time.perf_counter()
    plan_file = tmp_path / "plan.json"
    r = helm(repo.work, "gate", "--format", "github", "--plan", str(plan_file))
    elapsed = time.perf_counter() - started
    print(f"gate on 10,000 shops, all affected: {elapsed:.2f} s")
    assert r.rc == 0, r.out[-2000:]
    shops = json.loads(r.outputs["shops"])
    assert len(shops) == 10_000
    plan = json.loads(plan_file.read_text())
    assert validate_plan(plan) == []
    count = int(r.outputs["batch_count"])
    assert count == -(-len(plan["entries"]) // 256)
    assert json.loads(r.outputs["batches"]) == list(range(count))
    assert len(json.loads(r.outputs["matrix"])["include"]) == 256
    covered = []
    for i in (0, count - 1):
        b = helm(tmp_path, "batch", "--plan", str(plan_file), "--index", str(i))
        include = json.loads(b.out)["include"]
        assert 0 < len(include) <= 256
        covered.append(len(include))
    assert covered[0] * (count - 1) + covered[1] == len(plan["entries"])
    assert len(r.summary.encode("utf-8")) < 1024 * 1024
    assert "### Affected shops (10,000)" in r.summary
    assert elapsed < 30, f"gate took {elapsed:.1f} s"
