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


@pytest.mark.parametrize(("bravo", "field"), [
    ({"database_id": "1a9e6c1e-0d6a-4c33-9b8e-6b2f3f6f0a01"}, "database_id"),  # acme's id
    ({"database_id": "2b0f7d2f-1e7b-4d44-8c9f-7c3a4a7a1b02",
      "preview_database_id": "1a9e6c1e-0d6a-4c33-9b8e-6b2f3f6f0a01"}, "preview_database_id"),
    ({"database_id": "2b0f7d2f-1e7b-4d44-8c9f-7c3a4a7a1b02",
      "preview_bucket_name": "helm-acme-assets"}, "preview_bucket_name"),  # acme's bucket
])
@pytest.mark.parametrize("bravo_first", [False, True])
def test_a_registry_id_belongs_to_one_tenant(tmp_path: Path, bravo: dict[str, str], field: str,
                                             bravo_first: bool) -> None:
    """Red team: a shop registered with another shop's database id (or preview resource) was
    only HG601 at check time, reported on whichever shop came first in the registry (the
    victim, when the newcomer was listed first). The fleet file is refused instead (exit 2),
    naming both entries; a registry value that is another shop's templated name is pinned on
    the entry that lists it, in either order."""
    shops = {"acme": FLEET["shops"]["acme"]}  # type: ignore[index]
    shops = {"bravo": bravo, **shops} if bravo_first else {**shops, "bravo": bravo}
    (tmp_path / "helm-fleet.jsonc").write_text(json.dumps({**FLEET, "shops": shops}))
    with pytest.raises(UsageError) as info:
        load_fleet(tmp_path / "helm-fleet.jsonc")
    message = str(info.value)
    if field == "preview_bucket_name":  # acme's name by the templates: bravo took it
        assert f": {field} 'helm-acme-assets' of bravo is acme's" in message, message
    else:  # one id listed twice: the later entry is named, with the earlier one's tenant
        later, earlier = ("acme", "bravo") if bravo_first else ("bravo", "acme")
        assert f" of {later} is {earlier}'s" in message, message
