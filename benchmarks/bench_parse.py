"""Benchmark helm_guard.jsonc against the parse floor: `python benchmarks/bench_parse.py [-n N]`.

Generates N synthetic ~90-line wrangler.jsonc texts in memory (deterministic, seed 42; comments,
a multi-line block comment, `//` and `/*` inside strings, trailing commas, an env block in half
of them, trailing comment lines), then times, in interleaved rounds, per file:

* `json.loads` of the pre-stripped text: the floor anchor (see shared/notes/perf.md);
* `parse_text`: our fast path (RapidJSON with a duplicate-key hook, see helm_guard/jsonc.py);
* `_stdlib_value`: the stdlib fast path it falls back to (strip + `json.loads` with hooks);
* `parse_tree`: our positional parser (what positions and errors cost);
* `pyjson5.decode` (JSON5 semantics, no duplicate detection) and `json5.loads` (on a sample),
  if installed.

Prints the median µs/file of each method and the median of per-round ratios to the anchor.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helm_guard.jsonc import _stdlib_value, _strip, parse_text  # noqa: E402
from helm_guard.jsonc_tree import parse_tree  # noqa: E402

WORDS = ["amber", "kiln", "birch", "cobalt", "dune", "ember", "fjord", "grove", "harbor", "iris"]


def make_config(rng: random.Random, i: int) -> str:
    """One synthetic wrangler.jsonc, shaped like the perf.md fleet (~90 lines, ~2.7 KB)."""
    slug = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{i:05d}"
    hex32 = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    out = [
        f"// wrangler config for {slug}",
        "{",
        '  "$schema": "node_modules/wrangler/config-schema.json",',
        f'  "name": "helm-{slug}", // the Worker',
        '  "main": "src/index.ts",',
        '  "compatibility_date": "2025-01-15",',
    ]
    if rng.random() < 0.5:
        out.append('  "compatibility_flags": ["nodejs_compat"],')
    out += [f'  "account_id": "{hex32}",', '  "workers_dev": false,']
    out += [
        "  /*",
        "   * Routes: custom domains only.",
        "   * Keep www. in sync with DNS.",
        "   */",
    ]
    out.append('  "routes": [')
    for j in range(rng.randint(1, 3)):
        host = f"{('www.', 'shop.', '')[j - 1] if j else ''}{slug}.example.com"
        out += ["    {", f'      "pattern": "{host}",', '      "custom_domain": true,']
        if rng.random() < 0.3:
            out.append('      "zone_name": "example.com",')
        out.append("    },")
    out += ["  ],", '  "vars": {', f'    "SHOP_SLUG": "{slug}",']
    out.append(f'    "PUBLIC_URL": "https://{slug}.example.com/", // a // inside a string')
    out.append('    "BANNER": "Free shipping /* over $50 */ today",')
    for k in range(rng.randint(4, 12)):
        out.append(f'    "VAR_{k}": "{rng.choice(WORDS)}-{rng.randint(0, 999)}", /* inline */')
    out += ["  },", "  // storage", '  "d1_databases": [', "    {", '      "binding": "DB",']
    out += [
        f'      "database_name": "helm-{slug}-db",',
        f'      "database_id": "{uuid.UUID(int=rng.getrandbits(128))}",',
        '      "migrations_dir": "migrations",',
        "    },",
        "  ],",
        '  "r2_buckets": [',
        "    {",
        '      "binding": "ASSETS",',
        f'      "bucket_name": "helm-{slug}-assets",',
        "    },",
        "  ],",
        '  "kv_namespaces": [',
    ]
    for k in range(rng.randint(1, 2)):
        out += [
            "    {",
            f'      "binding": "KV{k}",',
            f'      "id": "{rng.getrandbits(128):032x}",',
        ]
        out.append("    },")
    out += ["  ],", '  "triggers": {', '    "crons": [']
    for _ in range(rng.randint(1, 3)):
        out.append(f'      "{rng.randint(0, 59)} {rng.randint(0, 23)} * * *",')
    out += ["    ],", "  },", '  "observability": {', '    "enabled": true,', "  },"]
    out += ['  "limits": {', '    "cpu_ms": 50,', "  },"]
    if rng.random() < 0.5:
        out += ['  "env": {', '    "staging": {', '      "routes": [', "        {"]
        out += [
            f'          "pattern": "staging.{slug}.example.com",',
            '          "custom_domain": true,',
            "        },",
            "      ],",
            '      "vars": {',
            f'        "SHOP_SLUG": "{slug}",',
            '        "STAGE": "staging",',
            "      },",
            '      "d1_databases": [',
            "        {",
            '          "binding": "DB",',
            f'          "database_name": "helm-{slug}-db-staging",',
            f'          "database_id": "{uuid.UUID(int=rng.getrandbits(128))}",',
            "        },",
            "      ],",
            '      "r2_buckets": [',
            f'        {{ "binding": "ASSETS", "bucket_name": "helm-{slug}-stg" }},',
            "      ],",
            "    },",
            "  },",
        ]
    out.append("}")
    out += [f"// note {k}: keep in sync with the registry" for k in range(rng.randint(0, 20))]
    return "\n".join(out) + "\n"


def time_per_file(fn: Callable[[str], object], texts: list[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        fn(text)
    return (time.perf_counter() - start) / len(texts) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="number of files (default 1000)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json5-sample", type=int, default=50)
    args = parser.parse_args()

    rng = random.Random(42)
    texts = [make_config(rng, i) for i in range(args.n)]
    stripped = [_strip(t) for t in texts]
    for text in texts[:200]:  # the figures mean nothing if the parsers disagree
        assert parse_text(text).value == parse_tree(text).value == json.loads(_strip(text))
    size = sum(len(t.encode()) for t in texts) / len(texts)
    lines = sum(t.count("\n") for t in texts) / len(texts)
    print(f"{args.n} files, mean {size / 1024:.2f} KiB, {lines:.0f} lines; {args.rounds} rounds")

    methods: dict[str, tuple[Callable[[str], object], list[str]]] = {
        "json.loads(pre-stripped) [anchor]": (json.loads, stripped),
        "jsonc.parse_text (fast path)": (parse_text, texts),
        "jsonc._stdlib_value (stdlib path)": (_stdlib_value, texts),
        "jsonc_tree.parse_tree (positional)": (parse_tree, texts),
    }
    try:
        import pyjson5

        methods["pyjson5.decode"] = (pyjson5.decode, texts)
    except ImportError:
        print("pyjson5 not installed: skipped")
    try:
        import json5

        methods["json5.loads (sample)"] = (json5.loads, texts[: args.json5_sample])
    except ImportError:
        print("json5 not installed: skipped")

    times: dict[str, list[float]] = {name: [] for name in methods}
    ratios: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(args.rounds):
        anchor = 0.0
        for name, (fn, inputs) in methods.items():
            t = time_per_file(fn, inputs)
            anchor = anchor or t
            times[name].append(t)
            ratios[name].append(t / anchor)
    print(f"{'method':<38} {'µs/file':>10} {'x anchor':>9}")
    for name in methods:
        med, ratio = statistics.median(times[name]), statistics.median(ratios[name])
        print(f"{name:<38} {med:>10.1f} {ratio:>9.2f}")
    floor = statistics.median(times["json.loads(pre-stripped) [anchor]"])
    fast = statistics.median(times["jsonc.parse_text (fast path)"])
    print(f"projected for 10,000 files: {fast / 100:.2f} s of parsing (floor {floor / 100:.2f} s)")


if __name__ == "__main__":
    main()
