"""Fleets of every layout for the drill: one file per shop without envs, one file with an env per
shop (no per-file shop at all), and one shop alone. (The example fleet is the mixed one.) Each is
a fresh directory that `helm-guard check` finds clean."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.fleets import EXAMPLE

IDS = {"acme": "1a9e6c1e-0d6a-4c33-9b8e-6b2f3f6f0a01",
       "bravo": "2b0f7d2f-1e7b-4d44-8c9f-7c3a4a7a1b02",
       "charlie": "3c1a8e3a-2f8c-4e55-9da0-8d4b5b8b2c03",
       "delta": "4d2b9f4b-3a9d-4f66-8eb1-9e5c6c9c3d04"}


def _shop_config(slug: str, main: str) -> dict:
    return {"name": f"helm-{slug}", "main": main, "compatibility_date": "2026-11-01",
            "vars": {"SHOP_SLUG": slug},
            "d1_databases": [{"binding": "DB", "database_name": f"helm-{slug}-db",
                              "database_id": IDS[slug]}],
            "r2_buckets": [{"binding": "ASSETS", "bucket_name": f"helm-{slug}-assets"}]}


def _src(root: Path) -> None:
    shutil.copytree(EXAMPLE / "src", root / "src")


def per_file_no_envs(root: Path, shops: tuple[str, ...] = ("acme", "bravo", "charlie")) -> Path:
    """`shops/<slug>/wrangler.jsonc` per shop, no envs, no stages, no account id."""
    _src(root)
    for slug in shops:
        (root / "shops" / slug).mkdir(parents=True)
        (root / "shops" / slug / "wrangler.jsonc").write_text(
            "// one shop, one file\n" + json.dumps(_shop_config(slug, "../../src/index.js"),
                                                  indent=2) + "\n", encoding="utf-8")
    fleet = {"version": 1, "configs": ["shops/*/wrangler.jsonc"],
             "shops": {s: {"database_id": IDS[s]} for s in shops}}
    (root / "helm-fleet.jsonc").write_text(json.dumps(fleet, indent=2) + "\n", encoding="utf-8")
    return root


def env_per_shop(root: Path) -> Path:
    """One root `wrangler.jsonc` whose envs are the shops; a pinned account id."""
    _src(root)
    account = "0123456789abcdef0123456789abcdef"
    envs = {}
    for slug in ("acme", "bravo", "charlie"):
        block = _shop_config(slug, "src/index.js")
        del block["main"], block["compatibility_date"]
        envs[slug] = block
    config = {"name": "helm", "main": "src/index.js", "compatibility_date": "2026-11-01",
              "account_id": account, "env": envs}
    (root / "wrangler.jsonc").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    fleet = {"version": 1, "configs": [{"glob": "wrangler.jsonc", "layout": "env-per-shop"}],
             "account_id": account,
             "shops": {s: {"database_id": IDS[s]} for s in envs}}
    (root / "helm-fleet.jsonc").write_text(json.dumps(fleet, indent=2) + "\n", encoding="utf-8")
    return root
