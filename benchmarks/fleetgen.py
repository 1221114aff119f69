"""Deterministic synthetic fleets for benchmarks: N shops, one ~90-line wrangler.jsonc each,
with comments, trailing commas, `//` and `/*` inside strings, an optional staging env."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

WORDS = ["amber", "kiln", "birch", "cobalt", "delta", "ember", "fable", "grove", "harbor",
         "iris", "juniper", "koi", "lumen", "maple", "nectar", "onyx", "pine", "quill"]
ACCOUNT = "0123456789abcdef0123456789abcdef"


def slug_for(i: int, rng: random.Random) -> str:
    return f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i:05d}"


def config_text(slug: str, db: str, stage_db: str | None, rng: random.Random) -> str:
    n_vars = rng.randint(7, 15)
    plain = {f"VAR_{k}": f"value {k} for {slug}" for k in range(n_vars - 2)}
    vars_ = [f'    "{k}": "{v}",' for k, v in plain.items()]
    vars_.append(f'    "HOME_URL": "https://{slug}.shops.example/", // the storefront')
    vars_.append('    "PROMO": "Free shipping /* over $50 */ today",')
    lines = [
        f"// helm-{slug}: generated benchmark shop",
        "/*",
        " * One Worker, one D1, one R2. Do not share bindings between shops.",
        " */",
        "{",
        '  "$schema": "../../node_modules/wrangler/config-schema.json",',
        f'  "name": "helm-{slug}",',
        '  "main": "../../src/index.js",',
        '  "compatibility_date": "2026-11-01", /* pinned */',
        '  "compatibility_flags": ["nodejs_compat"],',
        f'  "account_id": "{ACCOUNT}",',
        '  "workers_dev": false,',
        '  "routes": [',
        f'    {{"pattern": "{slug}.shops.example", "custom_domain": true}},',
        "  ],",
        '  "vars": {',
        *vars_,
        "  },",
        '  "d1_databases": [',
        "    {",
        '      "binding": "DB",',
        f'      "database_name": "helm-{slug}-db",',
        f'      "database_id": "{db}", // from the registry',
        '      "migrations_dir": "../../migrations",',
        "    },",
        "  ],",
        '  "r2_buckets": [',
        f'    {{"binding": "ASSETS", "bucket_name": "helm-{slug}-assets"}},',
        "  ],",
        '  "triggers": {"crons": ["0 3 * * *", "*/15 * * * *"]},',
        '  "observability": {"enabled": true},',
        '  "limits": {"cpu_ms": 50},',
    ]
    if stage_db:
        stage_vars = {**plain, "HOME_URL": f"https://{slug}.shops.example/",
                      "PROMO": "Free shipping /* over $50 */ today"}
        lines += [
            '  "env": {',
            '    "staging": {',
            '      "routes": [],',
            f'      "vars": {json.dumps(stage_vars)},',
            '      "d1_databases": [',
            f'        {{"binding": "DB", "database_name": "helm-{slug}-staging-db", '
            f'"database_id": "{stage_db}"}},',
            "      ],",
            '      "r2_buckets": [',
            f'        {{"binding": "ASSETS", "bucket_name": "helm-{slug}-staging-assets"}},',
            "      ],",
            "    },",
            "  },",
        ]
    lines.append("}")
    lines += [f"// trailing note {k}" for k in range(rng.randint(0, 20))]
    return "\n".join(lines) + "\n"


def shops(n: int, seed: int = 42) -> Iterator[tuple[str, str, str | None, str]]:
    """`(slug, database id, staging database id or None, config text)` of `n` shops."""
    rng = random.Random(seed)
    for i in range(n):
        slug = slug_for(i, rng)
        db = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        stage_db = str(uuid.UUID(int=rng.getrandbits(128), version=4)) if rng.random() < 0.5 \
            else None
        yield slug, db, stage_db, config_text(slug, db, stage_db, rng)


def generate(root: Path, n: int, seed: int = 42) -> list[str]:
    """Write a fleet of `n` shops under `root`; returns the slugs."""
    registry: dict[str, dict[str, object]] = {}
    (root / "shops").mkdir(parents=True, exist_ok=True)
    for slug, db, stage_db, text in shops(n, seed):
        entry: dict[str, object] = {"database_id": db, "routes": [f"{slug}.shops.example"]}
        if stage_db:
            entry["stages"] = {"staging": {"database_id": stage_db}}
        registry[slug] = entry
        d = root / "shops" / slug
        d.mkdir(exist_ok=True)
        (d / "wrangler.jsonc").write_text(text, encoding="utf-8")
    fleet = {"version": 1, "configs": ["shops/*/wrangler.jsonc"], "account_id": ACCOUNT,
             "stages": ["staging"], "shared_paths": ["src/**"], "shops": registry}
    (root / "helm-fleet.jsonc").write_text("// generated fleet\n" + json.dumps(fleet, indent=1),
                                           encoding="utf-8")
    return list(registry)
