"""The audit after a deploy through `helm-guard deploy` (the real wrangler 4.86 against the
emulator, real git): IN SYNC; the same Worker then deployed out of band with a swapped D1 id
is DRIFT naming both shops, and `--halt-on-drift` records a halt that blocks the next deploy."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from helm_guard import state
from helm_guard.cloudflare import api
from helm_guard.cloudflare.wrangler import Wrangler
from helm_guard.commands import audit, deploy
from helm_guard.emulator import CloudflareEmulator
from helm_guard.errors import Blocked
from tests.deploy_helpers import parse
from tests.fleets import ACME_ID, BRAVO_ID


def run_audit(repo: Path, emu: CloudflareEmulator, *argv: str) -> tuple[int, dict]:
    p = argparse.ArgumentParser()
    audit.add_arguments(p)
    out = repo.parent / "audit.json"
    args = p.parse_args(["--fleet", str(repo / "helm-fleet.jsonc"), "--format", "json",
                         "--output", str(out), *argv])
    client = api.Client.from_env({"CLOUDFLARE_API_TOKEN": "x",
                                  "CLOUDFLARE_ACCOUNT_ID": emu.account_id,
                                  "CLOUDFLARE_API_BASE_URL": emu.base_url or ""})
    code = audit.run(args, client=client, err=io.StringIO())
    return code, {t["tenant"]: t for t in json.loads(out.read_text())["tenants"]}


def test_deployed_through_helm_guard_is_in_sync_then_swap_is_drift(
    emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path
) -> None:
    args = parse(["--shop", "acme", "--fleet", str(fleet_repo)])
    assert deploy.run(args, wrangler=wrangler, out=io.StringIO()) == 0
    code, rows = run_audit(fleet_repo, emulator, "--shop", "acme")
    assert code == 0, rows
    assert rows["acme"]["status"] == "in-sync" and rows["acme"]["recorded"] is True

    live = emulator.live_version("helm-acme")
    assert live is not None
    swapped = [dict(b, id=BRAVO_ID) if b.get("id") == ACME_ID else b
               for b in live["resources"]["bindings"]]
    emulator.out_of_band_deploy("helm-acme", swapped, author_email="eve@laptop.example")
    code, rows = run_audit(fleet_repo, emulator, "--shop", "acme", "--halt-on-drift")
    assert code == 1
    assert rows["acme"]["status"] == "drift" and rows["acme"]["others"] == ["bravo"]
    assert rows["acme"]["deployment"]["author_email"] == "eve@laptop.example"
    halts = state.read_state(fleet_repo, "origin", must_exist=True).halts
    assert len(halts) == 1 and "acme" in halts[0].reason and "bravo" in halts[0].reason
    with pytest.raises(Blocked):  # the halt blocks the next deploy (verify reads it)
        deploy.run(parse(["--shop", "charlie", "--fleet", str(fleet_repo)]),
                   wrangler=wrangler, out=io.StringIO())
