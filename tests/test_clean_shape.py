"""The clean-shape shortcut (`helm_guard.clean_shape`) never hides a finding: on hundreds of
randomly mutated fleets, a check that skips the covered rules on clean targets reports exactly
what a check running every rule on every target reports."""

from __future__ import annotations

import copy
import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from helm_guard import clean_shape, jsonc, rules
from helm_guard.checker import run_check
from helm_guard.context import Context, load_files
from helm_guard.errors import UsageError
from helm_guard.fleet import load_fleet
from tests.fleets import copy_example

FLEET = "helm-fleet.jsonc"
CONFIGS = ("shops/acme/wrangler.jsonc", "shops/bravo/wrangler.jsonc", "regional/wrangler.jsonc")
TARGET_KEYS = ("name", "account_id", "d1_databases", "r2_buckets", "services", "unsafe",
               "routes", "route", "vars", "kv_namespaces", "legacy_env", "durable_objects",
               "queues", "workflows", "tail_consumers", "streaming_tail_consumers",
               "migrations", "build", "previews", "hyperdrive", "dispatch_namespaces",
               "triggers", "secrets")
# well-formed values of the keys the newer rules judge (own, shared, foreign, look-alike)
SHAPED: tuple[Any, ...] = (
    {"bindings": [{"name": "C", "class_name": "Cart"}]},
    {"bindings": [{"name": "C", "class_name": "Cart", "script_name": "helm-bravo"}]},
    {"producers": [{"binding": "Q", "queue": "orders-acme"}]},
    {"consumers": [{"queue": "orders-bravo", "dead_letter_queue": "jobs"}]},
    [{"binding": "W", "name": "checkout-acme", "class_name": "C"}],
    [{"binding": "W", "name": "wf", "class_name": "C", "script_name": "Helm-Acme"}],
    [{"service": "helm-auth"}], [{"service": "helm-bravo"}],
    [{"tag": "v1", "transferred_classes": [{"from": "A", "from_script": "helm-bravo",
                                            "to": "A"}]}],
    [{"tag": "v1", "new_sqlite_classes": ["A"]}],
    {"command": "sh prebuild.sh"}, {"crons": ["0 3 * * *"]}, {"required": ["K"]},
    [{"binding": "K", "id": "0f2ac74b498b48028cb68387c421e279"}],
    [{"pattern": "*.shops.example/*", "zone_name": "shops.example"}],
    [{"pattern": "acme.shops.example/*", "zone_name": "shops.example"}], "bravo.shops.example/*",
)
BINDING_FIELDS = ("binding", "database_name", "database_id", "preview_database_id",
                  "bucket_name", "preview_bucket_name", "jurisdiction", "migrations_dir")
JUNK: tuple[Any, ...] = ("", "X", 5, None, [], {}, [1], ["x"], [{}], True,
                         "1A9E6C1E-0D6A-4C33-9B8E-6B2F3F6F0A01", "helm-acme-staging",
                         "helm-acme-db ", "helm-echo-db", "0123456789abcdef0123456789abcdee")


def _load(path: Path) -> Any:
    doc = jsonc.parse_file(path)
    assert doc.error is None
    return doc.value


def _strings(value: Any, out: list[Any]) -> list[Any]:
    if isinstance(value, dict):
        for v in value.values():
            _strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out)
    else:
        out.append(value)
    return out


def _blocks(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    out = [cfg]
    env = cfg.get("env")
    if isinstance(env, dict):
        out.extend(b for b in env.values() if isinstance(b, dict))
    return out


def _mutate(rng: random.Random, configs: dict[str, Any], fleet: dict[str, Any],
            pool: list[Any]) -> None:
    """One random edit of the kind that turns a clean target into a dirty one."""
    value = rng.choice(pool + list(JUNK) + list(SHAPED))
    cfg = configs[rng.choice(CONFIGS)]
    block = rng.choice(_blocks(cfg))
    kind = rng.randrange(9)
    if kind <= 2:  # a target key: set, delete, or copy from another block
        key = rng.choice(TARGET_KEYS)
        if rng.random() < 0.3:
            block.pop(key, None)
        elif rng.random() < 0.5:
            other = rng.choice([b for c in configs.values() for b in _blocks(c)])
            if key in other:
                block[key] = copy.deepcopy(other[key])
        else:
            block[key] = value
    elif kind <= 5:  # a field of a D1 or R2 binding
        lists = [b[k] for k in ("d1_databases", "r2_buckets") if isinstance(b := block, dict)
                 and isinstance(b.get(k), list) and b[k]]
        if lists:
            entry = rng.choice(rng.choice(lists))
            if isinstance(entry, dict):
                field = rng.choice(BINDING_FIELDS)
                if rng.random() < 0.3:
                    entry.pop(field, None)
                else:
                    entry[field] = value
            if rng.random() < 0.2:
                rng.choice(lists).append(copy.deepcopy(entry))
    elif kind == 6:  # an env: add, drop or rename
        env = cfg.setdefault("env", {})
        if isinstance(env, dict):
            if env and rng.random() < 0.5:
                name = rng.choice(list(env))
                block_ = env.pop(name)
                if rng.random() < 0.5:
                    env[rng.choice(["staging", "prod2", "acme", "echo", "delta-staging"])] = \
                        block_
            else:
                env[rng.choice(["staging", "charlie", "bravo-staging"])] = copy.deepcopy(
                    rng.choice(_blocks(rng.choice(list(configs.values())))))
    elif kind == 7:  # the registry
        shops = fleet["shops"]
        slug = rng.choice(list(shops))
        choice = rng.randrange(6)
        if choice == 4:  # registry lists the newer rules read
            shops[slug][rng.choice(["queues", "workflows"])] = rng.choice(
                [["orders-acme"], ["checkout-acme"], ["orders-bravo", "jobs"]])
        elif choice == 5:
            shops[slug]["kv_namespaces"] = ["0f2ac74b498b48028cb68387c421e279"]
        elif choice == 0:
            del shops[slug]
        elif choice == 1:
            shops[slug]["database_id"] = rng.choice(
                [s["database_id"] for s in shops.values()])
        elif choice == 2:
            shops[slug].pop("stages", None)
        else:
            shops[slug]["preview_database_id"] = rng.choice(
                [s["database_id"] for s in shops.values()])
    else:  # the fleet's pins and stages
        if rng.random() < 0.5:
            fleet["account_id"] = rng.choice(["0123456789abcdef0123456789abcdee",
                                              "0123456789abcdef0123456789abcdef"])
        else:
            fleet["stages"] = rng.choice([[], ["staging"], ["staging", "prod2"]])


def _check(root: Path, skip_clean: bool) -> list[Any]:
    fleet = load_fleet(root / FLEET)
    assert fleet.doc is not None
    return run_check(fleet, fleet.doc, skip_clean=skip_clean).findings


def _clean_targets(root: Path) -> int:
    fleet = load_fleet(root / FLEET)
    assert fleet.doc is not None
    ctx = Context(fleet, load_files(fleet), fleet.doc)
    return sum(clean_shape.is_clean(t, ctx) for t in ctx.targets)


def test_the_example_fleet_has_clean_and_dirty_targets(tmp_path: Path) -> None:
    copy_example(tmp_path)
    fleet = load_fleet(tmp_path / FLEET)
    assert fleet.doc is not None
    ctx = Context(fleet, load_files(fleet), fleet.doc)
    clean = {(t.file.rel, t.target.env) for t in ctx.targets if clean_shape.is_clean(t, ctx)}
    # acme binds a service (HG802 must judge it) and the regional base is not a shop
    assert clean == {("shops/bravo/wrangler.jsonc", None), ("shops/bravo/wrangler.jsonc",
                     "staging"), ("regional/wrangler.jsonc", "charlie"),
                     ("regional/wrangler.jsonc", "delta")}


def test_covers_only_target_rules_that_exist() -> None:
    scopes = {m.ID: m.SCOPE for m in rules.all_rules()}
    assert clean_shape.COVERS <= set(scopes)
    assert all(scopes[r] == "target" for r in clean_shape.COVERS)


@pytest.mark.parametrize("seed", range(8))
def test_skipping_clean_targets_never_changes_the_findings(tmp_path: Path, seed: int) -> None:
    base = copy_example(tmp_path / "base")
    originals = {rel: _load(base / rel) for rel in CONFIGS}
    fleet_value = _load(base / FLEET)
    pool = sorted({s for v in originals.values() for s in _strings(v, [])
                   if isinstance(s, str)} | {s["database_id"] for s in
                                             fleet_value["shops"].values()})
    rng = random.Random(seed)
    compared = with_findings = clean_seen = 0
    for i in range(60):
        root = tmp_path / f"m{i}"
        shutil.copytree(base, root)
        configs = copy.deepcopy(originals)
        fleet = copy.deepcopy(fleet_value)
        for _ in range(rng.randint(1, 3)):
            _mutate(rng, configs, fleet, pool)
        for rel, value in configs.items():
            (root / rel).write_text(json.dumps(value, indent=1), encoding="utf-8")
        (root / FLEET).write_text(json.dumps(fleet, indent=1), encoding="utf-8")
        try:
            fast = _check(root, skip_clean=True)
        except UsageError:
            continue  # a fleet file the schema refuses: no check runs at all
        slow = _check(root, skip_clean=False)
        assert fast == slow, f"seed {seed}, mutation {i}: the shortcut changed the findings"
        compared += 1
        with_findings += bool(slow)
        clean_seen += _clean_targets(root)
        shutil.rmtree(root)
    # the comparison must have had teeth: mostly dirty fleets, with clean targets among them
    assert compared >= 40 and with_findings >= 30 and clean_seen >= 40, \
        (compared, with_findings, clean_seen)


@pytest.mark.parametrize("seed", range(3))
def test_has_inheritance_gaps_agrees_with_the_warnings(seed: int) -> None:
    """The clean-shape test's cheap `has_inheritance_gaps` says yes exactly when wrangler's
    env-gap warnings (`inheritance_gaps`) are not empty, on random top-level/env pairs."""
    from helm_guard.resolve import Target, has_inheritance_gaps, inheritance_gaps

    rng = random.Random(seed)
    keys = ("vars", "d1_databases", "r2_buckets", "kv_namespaces", "services", "define",
            "routes", "main", "name")

    def block() -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in rng.sample(keys, rng.randint(0, len(keys))):
            if key == "vars":
                out[key] = {rng.choice("ABC"): "x" for _ in range(rng.randint(0, 3))} \
                    if rng.random() < 0.8 else ["not", "a", "map"]
            elif key in ("main", "name", "routes"):
                out[key] = "x"
            else:
                out[key] = [rng.choice([{"binding": rng.choice("XYZ")}, {"binding": None},
                                        {}, "junk"]) for _ in range(rng.randint(0, 3))] \
                    if rng.random() < 0.9 else {"binding": "X"}
        return out

    seen = {True: 0, False: 0}
    for _ in range(2000):
        top = block()
        env = block()
        t = Target("e", env, {**top, "env": {"e": env}})
        want = bool(inheritance_gaps(t))
        assert has_inheritance_gaps(t) is want, (top, env)
        seen[want] += 1
    assert seen[True] and seen[False]  # both outcomes were exercised
