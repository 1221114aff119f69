"""`helm-guard runbook`: every wrangler command of every shop's runbook is run by the real
wrangler 4.86 against the emulator, which must record the request that command exists to make
(right Worker, registry database id, bucket): an unknown command or flag stops wrangler in its
argument parser before any request, so none can rot. Every helm-guard command that exists in
this checkout is parsed by helm-guard's own parser; the others must be the ones issues 13-15
name."""

from __future__ import annotations

import argparse
import io
import os
import re
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from helm_guard import cli, runbook
from helm_guard.commands import runbook as runbook_command
from helm_guard.emulator import CloudflareEmulator
from helm_guard.errors import Blocked, UsageError
from helm_guard.fleet import load_fleet
from tests.d1_helpers import seed_database
from tests.fleets import ACME, ACME_ID, BRAVO_ID, copy_example, edit

ACCOUNT = "0123456789abcdef0123456789abcdef"
SHOPS = ("acme", "bravo", "charlie", "delta")
REGISTRY = {"acme": ACME_ID, "bravo": BRAVO_ID,
            "charlie": "3c1a8e3a-2f8c-4e55-9da0-8d4b5b8b2c03",
            "delta": "4d2b9f4b-3a9d-4f66-8eb1-9e5c6c9c3d04"}
# helm-guard commands built in parallel (issues 13-15): named, checked once they exist here
PLANNED = {"audit", "data-audit", "audit-chain", "restore", "secrets", "revoke-sessions"}


def expected_request(cid: str, slug: str) -> tuple[str, str]:
    """(method, path regex) the wrangler command `cid` of shop `slug` must send."""
    worker, db = f"helm-{slug}", REGISTRY[slug]
    scripts = f"/accounts/{ACCOUNT}/workers/scripts/{worker}"
    d1 = f"/accounts/{ACCOUNT}/d1/database/{db}"
    table = {
        "tail": ("POST", f"{scripts}/tails$"),
        "deployments-status": ("GET", f"{scripts}/deployments$"),
        "d1-audit-tail": ("POST", f"{d1}/query$"),
        "d1-sessions-count": ("POST", f"{d1}/query$"),
        "d1-bookmark": ("GET", f"{d1}/time_travel/bookmark$"),
        "d1-undo": ("POST", f"{d1}/time_travel/restore$"),
        "r2-get-backup": ("GET", f"/accounts/{ACCOUNT}/r2/buckets/helm-{slug}-assets/objects/"
                                 "backups/db/YYYY-MM-DD.sql$"),
        "d1-apply-file": ("POST", f"{d1}/import$"),
        "secret-list": ("GET", f"{scripts}/secrets$"),
    }
    if cid.startswith("secret-put-"):
        return ("PUT", f"{scripts}/secrets$")
    return table[cid]


def run_one(wrangler_bin: Path, root: Path, env: dict[str, str], argv: list[str]
            ) -> tuple[int, str]:
    proc = subprocess.run(  # noqa: S603 - argument list
        [str(wrangler_bin), *argv], cwd=root, env=env, input="not-a-real-secret\n",
        capture_output=True, text=True, timeout=120, check=False)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def fleet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_example(tmp_path_factory.mktemp("runbook-fleet"))
    edit(root / "helm-fleet.jsonc", '"shops": {',
         '"secrets": {"required": ["STRIPE_WEBHOOK_SECRET", "SESSION_SIGNING_KEY"]},\n'
         '  "shops": {')
    (root / "backup.sql").write_text("SELECT 1;\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def observed(fleet_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run every wrangler command of every shop's runbook once; per command: the requests
    the emulator recorded, the exit code, the output."""
    from tests.wrangler_fixtures import require_wrangler

    wrangler_bin = require_wrangler()
    home = tmp_path_factory.mktemp("wrangler-home")
    fleet = load_fleet(fleet_dir / "helm-fleet.jsonc")
    jobs = [(slug, cid, argv) for slug in SHOPS
            for cid, argv in runbook.wrangler_commands(runbook.shop_facts(fleet, slug)).items()]
    results: dict[str, Any] = {}
    # one emulator per command: requests are attributed without ambiguity
    def one(job: tuple[str, str, list[str]]) -> None:
        slug, cid, argv = job
        with CloudflareEmulator(ACCOUNT, hold_seconds=2.0) as emu:
            seed_database(emu, f"helm-{slug}-db", REGISTRY[slug])
            env = {**os.environ, "CLOUDFLARE_API_BASE_URL": str(emu.base_url),
                   "CLOUDFLARE_API_TOKEN": "test-token", "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
                   "WRANGLER_SEND_METRICS": "false", "HOME": str(home),
                   "XDG_CONFIG_HOME": str(home / ".config"),
                   "WRANGLER_LOG_PATH": str(home / "logs"), "CI": "1"}
            code, output = run_one(wrangler_bin, fleet_dir, env, argv)
            results[f"{slug}:{cid}"] = {"argv": argv, "code": code, "output": output,
                                        "requests": emu.requests}

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(one, jobs))
    return results


def _ids() -> list[str]:
    fleet = load_fleet(Path(__file__).resolve().parents[1] / "examples/fleet/helm-fleet.jsonc")
    out = []
    for slug in SHOPS:
        facts = runbook.shop_facts(fleet, slug)._replace(
            required_secrets=("STRIPE_WEBHOOK_SECRET", "SESSION_SIGNING_KEY"))
        out += [f"{slug}:{cid}" for cid in runbook.wrangler_commands(facts)]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("key", _ids())
def test_every_wrangler_command_parses_and_reaches_the_shops_own_resource(
        observed: dict[str, Any], key: str) -> None:
    slug, cid = key.split(":", 1)
    seen = observed[key]
    method, pattern = expected_request(cid, slug)
    hits = [r for r in seen["requests"] if r["method"] == method and re.search(pattern, r["path"])]
    assert hits, (f"wrangler {shlex.join(seen['argv'])} did not send {method} {pattern}; "
                  f"exit {seen['code']}; requests "
                  f"{[(r['method'], r['path']) for r in seen['requests']]}\n{seen['output']}")
    assert "Unknown argument" not in seen["output"] and "Unknown command" not in seen["output"]
    # never another shop's Worker, database or bucket
    others = [s for s in SHOPS if s != slug]
    for r in seen["requests"]:
        for other in others:
            assert f"helm-{other}" not in r["path"] and REGISTRY[other] not in r["path"], r


def test_the_parser_check_can_fail(fleet_dir: Path) -> None:
    """The oracle above is not vacuous: the runbook's broken wrangler 3 forms send nothing."""
    from tests.wrangler_fixtures import require_wrangler

    wrangler_bin = require_wrangler()
    with CloudflareEmulator(ACCOUNT) as emu:
        env = {**os.environ, "CLOUDFLARE_API_BASE_URL": str(emu.base_url),
               "CLOUDFLARE_API_TOKEN": "t", "CLOUDFLARE_ACCOUNT_ID": ACCOUNT,
               "WRANGLER_SEND_METRICS": "false", "CI": "1"}
        for argv in (["d1", "import", "helm-acme-db", "./backup.sql"],
                     ["r2", "object", "list", "helm-acme-assets", "--prefix", "backups/db/"],
                     ["d1", "execute", "DB", "--remote", "--config", ACME, "--comand", "x"]):
            code, output = run_one(wrangler_bin, fleet_dir, env, argv)
            assert code != 0 and "Unknown argument" in output, output
        assert emu.requests == []


# ---------------------------------------------------------------------- the text
def render(fleet_dir: Path, slug: str, fmt: str = "markdown") -> str:
    return runbook.render(load_fleet(fleet_dir / "helm-fleet.jsonc"), slug, fmt)


@pytest.mark.parametrize("slug", SHOPS)
def test_every_command_in_the_text_is_a_checked_one(fleet_dir: Path, slug: str) -> None:
    text = render(fleet_dir, slug)
    assert "{{" not in text and "}}" not in text
    facts = runbook.shop_facts(load_fleet(fleet_dir / "helm-fleet.jsonc"), slug)
    checked_w = {runbook.shell(["wrangler", *a]) for a in runbook.wrangler_commands(facts).values()}
    checked_h = {runbook.shell(["helm-guard", *a]) for a in runbook.helm_commands(facts).values()}
    wr = runbook.command_lines(text, "wrangler")
    hg = runbook.command_lines(text, "helm-guard")
    assert set(wr) == checked_w  # every generated command appears, nothing else does
    assert set(hg) <= checked_h and hg
    for line in wr:
        assert " import " not in line and "object list" not in line
        if " secret " in f" {line} ":
            assert "--name" not in line
    assert f"helm-{slug}" in text and REGISTRY[slug] in text


def test_layout_flags(fleet_dir: Path) -> None:
    fleet = load_fleet(fleet_dir / "helm-fleet.jsonc")
    acme, bravo, charlie = (runbook.shop_facts(fleet, s) for s in ("acme", "bravo", "charlie"))
    assert acme.target_flags() == ["--config", "shops/acme/wrangler.jsonc"]
    assert bravo.target_flags() == ["--config", "shops/bravo/wrangler.jsonc", "--env="]
    assert charlie.target_flags() == ["--config", "regional/wrangler.jsonc", "--env", "charlie"]
    assert runbook.shell(["x", "--env="]) == 'x --env=""'
    text = render(fleet_dir, "charlie")
    assert ("wrangler r2 object get helm-charlie-assets/backups/db/YYYY-MM-DD.sql "
            "--file ./backup.sql --remote") in text
    assert "wrangler secret put STRIPE_WEBHOOK_SECRET --config regional/wrangler.jsonc " \
           "--env charlie" in text


@pytest.mark.parametrize("slug", SHOPS)
def test_helm_guard_commands_parse_or_are_planned(fleet_dir: Path, slug: str) -> None:
    facts = runbook.shop_facts(load_fleet(fleet_dir / "helm-fleet.jsonc"), slug)
    for argv in runbook.helm_commands(facts).values():
        name = argv[0]
        if name not in cli.COMMANDS:
            assert name in PLANNED, argv
            continue
        parser = cli._build_parser(name)
        try:
            parser.parse_args(argv)
        except SystemExit as exc:  # argparse refused it
            raise AssertionError(f"helm-guard {shlex.join(argv)} does not parse") from exc


def test_text_format_has_no_markdown(fleet_dir: Path) -> None:
    text = render(fleet_dir, "acme", "text")
    assert "```" not in text and "`" not in text and "**" not in text
    assert text.startswith("RUNBOOK FOR SHOP ACME\n=====")
    assert "wrangler secret list --config shops/acme/wrangler.jsonc" in text


def test_command_writes_a_file_and_refuses_unknown_shops(fleet_dir: Path, tmp_path: Path) -> None:
    p = argparse.ArgumentParser()
    runbook_command.add_arguments(p)
    out = tmp_path / "acme.md"
    args = p.parse_args(["--shop", "acme", "--fleet", str(fleet_dir), "-o", str(out)])
    assert runbook_command.run(args) == 0
    assert out.read_text(encoding="utf-8") == render(fleet_dir, "acme")
    with pytest.raises(UsageError, match="not in the registry"):
        runbook_command.run(p.parse_args(["--shop", "zulu", "--fleet", str(fleet_dir)]))
    with pytest.raises(UsageError, match="not a shop slug"):
        runbook_command.run(p.parse_args(["--shop", "../x", "--fleet", str(fleet_dir)]))
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert cli.main(["runbook", "--shop", "delta", "--fleet", str(fleet_dir)]) == 0
    assert "wrangler secret list --config regional/wrangler.jsonc --env delta" in buf.getvalue()


def test_a_config_that_binds_another_database_gets_no_commands(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    edit(root / ACME, ACME_ID, BRAVO_ID)
    with pytest.raises(Blocked, match="registry's database id"):
        runbook.render(load_fleet(root / "helm-fleet.jsonc"), "acme")


def test_sessions_table_is_configurable(tmp_path: Path) -> None:
    root = copy_example(tmp_path)
    edit(root / "helm-fleet.jsonc", '"shops": {',
         '"sessions": {"table": "sessions_v2", "staff_column": "member_id"},\n  "shops": {')
    text = runbook.render(load_fleet(root / "helm-fleet.jsonc"), "acme")
    assert "SELECT member_id, COUNT(*) AS sessions FROM sessions_v2 GROUP BY member_id;" in text
    edit(root / "helm-fleet.jsonc", '"sessions_v2"', '"x; DROP TABLE y"')
    with pytest.raises(UsageError):
        load_fleet(root / "helm-fleet.jsonc")
