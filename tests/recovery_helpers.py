"""Shared set-up for the recovery commands' tests: the example fleet in real git (with the
demo `"audit"` block), the emulator with both shops' databases (registry ids) and buckets,
and an API client pointed at it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from helm_guard.cloudflare import api
from helm_guard.emulator import CloudflareEmulator
from helm_guard.recovery.seed import DEMO_AUDIT_BLOCK
from tests.fleets import ACME_ID, BRAVO_ID
from tests.gitrepos import make_fleet


class World(NamedTuple):
    emu: CloudflareEmulator
    repo: Path
    client: api.Client


def client_for(emu: CloudflareEmulator) -> api.Client:
    env = {"CLOUDFLARE_API_TOKEN": "tok", "CLOUDFLARE_ACCOUNT_ID": emu.account_id,
           "CLOUDFLARE_API_BASE_URL": str(emu.base_url)}
    # the emulator is not rate limited: a generous limiter keeps tests fast
    return api.Client.from_env(env, max_retries=0,
                               limiter=api.RateLimiter(rate=10_000, burst=1_000))


def add_audit_block(repo: Path, block: dict | None = None) -> None:
    path = repo / "helm-fleet.jsonc"
    text = path.read_text()
    marker = '"shared_paths": ["src/**"],'
    assert marker in text
    path.write_text(text.replace(
        marker, marker + f'\n  "audit": {json.dumps(block or DEMO_AUDIT_BLOCK)},'))


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[World]:
    monkeypatch.delenv("GITHUB_ACTOR", raising=False)
    repo = make_fleet(monkeypatch, tmp_path).a
    add_audit_block(repo)
    with CloudflareEmulator(token="tok") as emu:
        emu.add_d1_database("helm-acme-db", ACME_ID)
        emu.add_d1_database("helm-bravo-db", BRAVO_ID)
        emu.add_r2_bucket("helm-acme-assets")
        emu.add_r2_bucket("helm-bravo-assets")
        yield World(emu, repo, client_for(emu))
