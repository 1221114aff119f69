"""The deploy digest covers every input that can change what is deployed: in a real git
repository (bare origin), the gate plans a digest, one input changes (committed, or a file
dropped into the checkout), and `verify` refuses that digest; inputs that cannot change the
deploy leave it alone."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from helm_guard.commands.check import run_fleet_check
from helm_guard.commands.verify import verify_shop
from helm_guard.digest import InputReader, deploy_digest
from helm_guard.errors import Blocked
from helm_guard.fleet import Tenant
from tests.fleets import ACME, edit
from tests.gate_fixtures import FleetRepo, git_env, make_repo

FLEET = "helm-fleet.jsonc"


def _gate_plan(repo: FleetRepo, tmp_path: Path) -> dict[str, str]:
    """The digests the gate plans after a shared-code change (every shop affected)."""
    _write(repo, "src/index.js", "// a new release\n")
    repo.commit("code")
    env = git_env()
    for var in ("GITHUB_ACTIONS", "GITHUB_EVENT_BEFORE", "GITHUB_BASE_REF", "GITHUB_OUTPUT",
                "GITHUB_STEP_SUMMARY"):
        env.pop(var, None)
    plan = tmp_path / "plan.json"
    proc = subprocess.run([sys.executable, "-m", "helm_guard", "gate", "--base", "HEAD~1",  # noqa: S603
                           "--plan", str(plan), "--format", "text"], cwd=repo.work, env=env,
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    entries = json.loads(plan.read_text())["entries"]
    return {(e["shop"] + ("" if e["env"] is None else f"@{e['env']}")): e["digest"]
            for e in entries}


def _acme_digest(repo: FleetRepo) -> str:
    result = run_fleet_check(str(repo.fleet))
    t = next(x for x in result.context.targets if x.tenant == Tenant("acme"))
    return deploy_digest(result.context.fleet, t)


def _write(repo: FleetRepo, rel: str, text: str) -> None:
    path = repo.work / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


Change = Callable[[FleetRepo], None]
# (what, change, committed): every one must change acme's digest and make verify refuse it
CHANGES: list[tuple[str, Change, bool]] = [
    ("build command", lambda r: edit(r.work / ACME, '"main": "../../src/index.js",',
                                     '"main": "../../src/index.js", "build": {"command": '
                                     '"node scripts/fetch-other-shop.js"},'), True),
    ("durable object migrations", lambda r: edit(
        r.work / ACME, '"main": "../../src/index.js",', '"main": "../../src/index.js", '
        '"migrations": [{"tag": "v1", "deleted_classes": ["Cart"]}],'), True),
    ("a comment", lambda r: edit(r.work / ACME, "// helm-acme: one Worker",
                                 "// helm-acme: the Worker"), True),
    ("registry entry", lambda r: edit(r.work / FLEET, '"routes": ["acme.shops.example"]',
                                      '"routes": ["acme.shops.example"], "owner": "ops"'),
     True),
    ("naming", lambda r: edit(r.work / FLEET, '"r2": "helm-{slug}-assets",',
                              '"r2": "helm-{slug}-assets", "stage_r2": "helm-{slug}-{stage}-r2",'),
     True),
    ("shop .env", lambda r: _write(r, "shops/acme/.env", "WRANGLER_CI_OVERRIDE_NAME=helm-bravo\n"),
     False),
    ("shop .env.staging", lambda r: _write(r, "shops/acme/.env.staging", "X=1\n"), False),
    ("shop .ENV.local (case)", lambda r: _write(r, "shops/acme/.ENV.local", "X=1\n"), False),
    ("root .env", lambda r: _write(r, ".env", "CLOUDFLARE_API_BASE_URL=http://x.invalid\n"),
     True),
    ("shops/.env", lambda r: _write(r, "shops/.env", "CLOUDFLARE_ENV=staging\n"), False),
    ("shop .dev.vars", lambda r: _write(r, "shops/acme/.dev.vars", "K=v\n"), False),
    ("redirect", lambda r: _write(r, "shops/acme/.wrangler/deploy/config.json",
                                  '{"configPath": "../../x/wrangler.json"}'), False),
    ("root redirect", lambda r: _write(r, ".wrangler/deploy/config.json", "{}"), False),
    ("stray wrangler.json beside", lambda r: _write(r, "shops/acme/wrangler.json", "{}"), True),
    ("parent wrangler.json above the fleet root",
     lambda r: (r.tmp / "wrangler.json").write_text("{}"), False),
    ("folder named .env", lambda r: (r.work / "shops" / "acme" / ".env").mkdir(), False),
]


@pytest.fixture
def repo(tmp_path: Path) -> FleetRepo:
    (tmp_path / "r").mkdir()
    return make_repo(tmp_path / "r")


@pytest.mark.parametrize(("what", "change", "committed"), CHANGES, ids=[c[0] for c in CHANGES])
def test_every_input_changes_the_digest_and_verify_refuses(
        repo: FleetRepo, tmp_path: Path, what: str, change: Change, committed: bool) -> None:
    planned = _gate_plan(repo, tmp_path)["acme"]
    assert planned == _acme_digest(repo)  # gate and verify compute the same digest
    verify_shop(str(repo.fleet), "acme", planned, "origin")  # and it passes before
    change(repo)
    if committed:
        repo.commit(f"change: {what}")
    assert _acme_digest(repo) != planned, what
    with pytest.raises(Blocked, match="the checked config was sha256:[0-9a-f]{64}, now it is"):
        verify_shop(str(repo.fleet), "acme", planned, "origin")


def test_bytes_of_an_existing_dotenv_count(repo: FleetRepo) -> None:
    _write(repo, "shops/acme/.env", "X=1\n")
    before = _acme_digest(repo)
    _write(repo, "shops/acme/.env", "X=2\n")
    assert _acme_digest(repo) != before


def test_what_cannot_change_the_deploy_leaves_the_digest(repo: FleetRepo) -> None:
    before = _acme_digest(repo)
    _write(repo, "shops/acme/README.md", "notes\n")
    _write(repo, "shops/bravo/.env", "X=1\n")  # another shop's folder: not read for acme
    _write(repo, "shops/acme/env.example", "X=1\n")
    _write(repo, "src/index.js", "// v2\n")  # code: the plan pins the commit instead
    assert _acme_digest(repo) == before


def test_inputs_listed_for_a_target(repo: FleetRepo) -> None:
    _write(repo, "shops/acme/.env", "X=1\n")
    _write(repo, ".env.local", "Y=1\n")
    result = run_fleet_check(str(repo.fleet))
    t = next(x for x in result.context.targets if x.tenant == Tenant("acme"))
    inputs = InputReader(result.context.fleet.root).of(t.file)
    assert inputs["config"][0] == ACME
    paths = [p for p, _ in inputs["files"]]
    assert "shops/acme/.env" in paths and ".env.local" in paths
    assert ACME not in paths


def test_verify_refuses_on_a_repository_wide_side_input(repo: FleetRepo) -> None:
    """Even with a matching digest, a .env at the fleet root (a finding that names no shop)
    blocks every shop's verify: any wrangler run from the root reads it."""
    _write(repo, ".env", "WRANGLER_CI_OVERRIDE_NAME=helm-bravo\n")
    repo.commit("a root .env")
    with pytest.raises(Blocked, match=r"HG104 at \.env:1:1"):
        verify_shop(str(repo.fleet), "acme", _acme_digest(repo), "origin")
    _write(repo, "stray/wrangler.json", "{}")
    (repo.work / ".env").unlink()
    repo.commit("a stray config instead")
    with pytest.raises(Blocked, match=r"HG606 at stray/wrangler\.json"):
        verify_shop(str(repo.fleet), "acme", _acme_digest(repo), "origin")
