"""A `shared` entry naming a shop's own Worker or registered KV namespace would let every shop
bind it (HG802/HG503/HG601 exempt shared resources): the fleet file is refused (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helm_guard.errors import UsageError
from helm_guard.fleet import load_fleet

FLEET = {
    "version": 1, "configs": ["shops/*/wrangler.jsonc"],
    "account_id": "0123456789abcdef0123456789abcdef",
    "shared": {"services": ["helm-auth"]},
    "shops": {"acme": {"database_id": "1a9e6c1e-0d6a-4c33-9b8e-6b2f3f6f0a01"},
              "bravo": {"database_id": "2b0f7d2f-1e7b-4d44-8c9f-7c3a4a7a1b02",
                        "kv_namespaces": ["bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"]}},
}


@pytest.mark.parametrize("shared", [
    {"services": ["helm-auth", "helm-bravo"]},
    {"services": ["HELM-BRAVO"]},
    {"kv_namespaces": ["bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"]},
])
def test_a_shops_resource_cannot_be_shared(tmp_path: Path, shared: dict[str, list[str]]) -> None:
    (tmp_path / "helm-fleet.jsonc").write_text(json.dumps({**FLEET, "shared": shared}))
    with pytest.raises(UsageError, match="own resource"):
        load_fleet(tmp_path / "helm-fleet.jsonc")


def test_a_real_shared_service_passes(tmp_path: Path) -> None:
    (tmp_path / "helm-fleet.jsonc").write_text(json.dumps(FLEET))
    assert load_fleet(tmp_path / "helm-fleet.jsonc").shared_services == {"helm-auth"}
