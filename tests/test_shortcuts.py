"""A shortcut can never hide a finding (issue 11 class 4, issue 12 item 5).

The check has shortcuts, each with a threshold or a condition: the parallel map (forked workers
from `checker.PARALLEL_MIN_FILES` configs; the gate's plan from `gate.PARALLEL_PLAN_FILES`),
the clean-shape skip (`clean_shape`), HG801's `_Sieve`, the RapidJSON fast path (vs the
positional parser), the fast glob discovery (vs `glob.glob`, with deferred existence checks),
HG302's plain-names pre-pass, HG901's "no secrets policy" skip, the clean-shape test's cheap
inheritance-gap answer (`Target.has_warnings`) and HG105's string road for paths (vs a full
normalisation). Here one fleet ABOVE every threshold, with
faults planted among its last shops (so they land in every worker's chunk, the parent's own
included) and inputs no rule models yet (stray configs, nested ones,
`.wrangler/deploy/config.json` redirects, `.env` files), is checked with every shortcut on, in
parallel and serially, and with every shortcut off; the findings must be identical, and the
faults must be found.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from helm_guard import globs, jsonc, parallel, resolve
from helm_guard.checker import PARALLEL_MIN_FILES, CheckResult, run_check
from helm_guard.fleet import load_fleet
from helm_guard.rules import hg105_path_outside_repo as hg105
from helm_guard.rules import hg302_confusable_name as hg302
from helm_guard.rules import hg801_cross_shop_reference as hg801
from helm_guard.rules import hg901_secret_in_vars as hg901
from tests.bigfleet import edit, edit_fleet, generate, registry

N = PARALLEL_MIN_FILES + 100
WORKERS = 3  # forks even on a one-CPU machine; neighbours in file order go to different chunks


def _plant(root: Path, slugs: list[str], *, others: int) -> dict[str, str]:
    """Faults among the last shops; the rule (or "") each one must raise, by path."""
    shops = root / "shops"
    tail = slugs[-16:]
    reg = registry(root)
    cfg = {s: shops / s / "wrangler.jsonc" for s in tail}
    db = {s: str(reg[s]["database_id"]) for s in tail}
    expect: dict[str, str] = {}
    edit(cfg[tail[0]], f'"database_id": "{db[tail[0]]}"', f'"database_id": "{db[tail[1]]}"')
    expect[f"shops/{tail[0]}/wrangler.jsonc"] = "HG403"
    (shops / tail[2] / "wrangler.json").write_text("{}")  # beside a checked config
    expect[f"shops/{tail[2]}/wrangler.json"] = "HG606"
    (shops / "zz-ops").mkdir()  # a folder whose candidate config does not exist
    (shops / "zz-ops" / "wrangler.json").write_text("{}")
    expect["shops/zz-ops/wrangler.json"] = "HG606"
    # a second pattern whose candidates mostly do not exist, with strays below them
    (shops / slugs[0] / "sub").mkdir()
    (shops / slugs[0] / "sub" / "wrangler.jsonc").write_text(cfg[tail[3]].read_text())
    for s in tail[3:6]:
        (shops / s / "sub").mkdir()
        (shops / s / "sub" / "wrangler.toml").write_text('name = "x"\n')
        expect[f"shops/{s}/sub/wrangler.toml"] = "HG606"
    # redirects and .env files (no rule models them yet: both ways must agree regardless)
    for d in (shops / tail[6], root):
        (d / ".wrangler" / "deploy").mkdir(parents=True)
        (d / ".wrangler" / "deploy" / "config.json").write_text(
            json.dumps({"configPath": "../../shops/zz-ops/wrangler.json"}))
        (d / ".env").write_text(f"WRANGLER_CI_OVERRIDE_NAME=helm-{tail[7]}\n")
    edit(cfg[tail[8]], '"vars": {', f'"vars": {{"OTHER_DB": "{db[tail[9]]}",')  # the sieve
    expect[f"shops/{tail[8]}/wrangler.jsonc"] = "HG801"
    edit(cfg[tail[10]], '"vars": {', '"vars": {"STRIPE": "sk_live_51HxQ2eLkT9vZbR7dA3mNp",')
    expect[f"shops/{tail[10]}/wrangler.jsonc"] = "HG901"
    cfg[tail[11]].write_text(cfg[tail[11]].read_text() + "}")  # RapidJSON declines
    expect[f"shops/{tail[11]}/wrangler.jsonc"] = "HG101"
    edit(cfg[tail[12]], '"workers_dev": false,', '"workers_dev": false, "workers_dev": true,')
    expect[f"shops/{tail[12]}/wrangler.jsonc"] = "HG102"
    edit(cfg[tail[13]], f'"name": "helm-{tail[13]}"', f'"name": "helm-{tail[14]}"')
    expect[f"shops/{tail[13]}/wrangler.jsonc"] = "HG301"  # clean-shape covered
    edit(cfg[tail[15]], '"routes": [', f'"routes": [{{"pattern": "{tail[14]}.shops.example"}},')
    expect[f"shops/{tail[15]}/wrangler.jsonc"] = "HG601"
    # HG105's string road (the usual `../../src/index.js`) and its symlink road
    edit(shops / slugs[-17] / "wrangler.jsonc", '"main": "../../src/index.js"',
         '"main": "../../../src/index.js"')
    expect[f"shops/{slugs[-17]}/wrangler.jsonc"] = "HG105"
    (shops / slugs[-18] / "lib").mkdir()
    (shops / slugs[-18] / "lib" / "index.js").symlink_to(root.parent / "elsewhere.js")
    edit(shops / slugs[-18] / "wrangler.jsonc", '"main": "../../src/index.js"',
         '"main": "./lib/index.js"')
    expect[f"shops/{slugs[-18]}/wrangler.jsonc"] = "HG105"
    # HG302's plain-names pre-pass: a look-alike of the shop's own bucket name
    edit(cfg[tail[14]], f'"bucket_name": "helm-{tail[14]}-assets"',
         f'"bucket_name": "he1m-{tail[14]}-assets"')
    expect[f"shops/{tail[14]}/wrangler.jsonc"] = "HG302"
    change: dict[str, object] = {
        "configs": ["shops/*/wrangler.jsonc", "shops/*/sub/wrangler.jsonc"]}
    if others:  # HG901's no-policy shortcut off: a fleet-wide required secret, shadowed
        change["secrets"] = {"required": ["STRIPE_WEBHOOK_SECRET"]}
        edit(cfg[tail[5]], '"vars": {', '"vars": {"STRIPE_WEBHOOK_SECRET": "x",')
        expect[f"shops/{tail[5]}/wrangler.jsonc"] = "HG901"
    for s in slugs[:40]:  # registered hosts (they are not in the owner index the sieve reads)
        reg[s]["routes"] = [f"{s}.shops.example"]
    for s in slugs[:others]:  # more than _MAX_OTHER_KEYS owned names without the naming's
        reg[s]["preview_bucket_name"] = f"preview-{s}"  # `helm-`: the sieve gives up
    change["shops"] = reg
    edit_fleet(root, change)
    return expect


def _run(root: Path, *, parallel_: bool, skip_clean: bool = True) -> CheckResult:
    fleet = load_fleet(root / "helm-fleet.jsonc")
    assert fleet.doc is not None
    return run_check(fleet, fleet.doc, parallel=parallel_, skip_clean=skip_clean)


@pytest.fixture
def shortcuts_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every shortcut replaced by the slow road it stands for (the forked workers inherit it)."""
    with monkeypatch.context() as m:
        def decline(text: str) -> object:
            raise jsonc._Decline("positional parser")

        m.setattr(jsonc, "_fast_value", decline)
        m.setattr(hg801._Sieve, "may_name", lambda self, text, lowered=False: True)
        m.setattr(globs, "_fast_parts", lambda pattern: None)
        m.setattr(hg302, "_plain", lambda t, ctx: False)
        m.setattr(hg901, "_any_policy", lambda ctx: True)
        m.setattr(resolve.Target, "has_warnings", property(lambda self: bool(self.warnings)))
        m.setattr(hg105._Paths, "_shape", lambda self, value: None)  # normalise every path
        yield


def _key(r: CheckResult) -> tuple[object, ...]:
    return (r.findings, r.files, r.targets, r.shops)


@pytest.mark.parametrize("others", [0, hg801._MAX_OTHER_KEYS + 4],
                         ids=["sieve-on", "sieve-off"])
def test_every_shortcut_agrees_with_the_slow_road(tmp_path: Path, others: int,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 request: pytest.FixtureRequest) -> None:
    if not parallel.can_fork():
        pytest.skip("no os.fork on this platform: there is no parallel map to compare")
    slugs = generate(tmp_path, N)
    expect = _plant(tmp_path, slugs, others=others)
    monkeypatch.setattr(parallel, "worker_count", lambda: WORKERS)
    fast_parallel = _run(tmp_path, parallel_=True)
    assert fast_parallel.context.files == [], "the check did not fork"
    fast_serial = _run(tmp_path, parallel_=False)
    assert hg801._sieve(fast_serial.context).usable == (others == 0)
    request.getfixturevalue("shortcuts_off")
    slow = _run(tmp_path, parallel_=False, skip_clean=False)
    slow_parallel = _run(tmp_path, parallel_=True, skip_clean=False)
    assert _key(fast_serial) == _key(slow)
    assert _key(fast_parallel) == _key(slow)
    assert _key(slow_parallel) == _key(slow)
    found = {(f.path, f.rule) for f in slow.findings}
    missing = {(p, r) for p, r in expect.items() if (p, r) not in found}
    assert not missing, missing


def test_a_stray_config_in_a_folder_without_config_is_found_in_parallel(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11 class 4: above the parallel threshold `shops/zz-ops/wrangler.json` passed,
    because the map chunk run in the parent memoised HG606's leaf folders (counting the
    candidate `shops/zz-ops/wrangler.jsonc`, which does not exist) in the cache the
    fleet-wide phase then read."""
    if not parallel.can_fork():
        pytest.skip("no os.fork on this platform")
    generate(tmp_path, N)
    (tmp_path / "shops" / "zz-ops").mkdir()
    (tmp_path / "shops" / "zz-ops" / "wrangler.json").write_text("{}")
    for workers in (2, 3, os.cpu_count() or 1):
        monkeypatch.setattr(parallel, "worker_count", lambda w=workers: w)
        result = _run(tmp_path, parallel_=True)
        assert [(f.rule, f.path) for f in result.findings] == \
            [("HG606", "shops/zz-ops/wrangler.json")], workers


def test_hg901_literal_gate_is_the_regex() -> None:
    """HG901's `has_literal` (substring tests) answers exactly as the literal regex, on random
    texts built from the literals' own pieces, near misses and ordinary words."""
    import random

    rng = random.Random(901)
    pieces = [*hg901._LITERALS, *(lit[:-1] for lit in hg901._LITERALS),
              *(lit[1:] for lit in hg901._LITERALS), "_", "e", "A", "k", "x", "value 1 for",
              "https://acme.shops.example/", " ", "\n", "é", "PRIVATE", "KEY", "ASI", "KIA"]
    hits = 0
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        want = hg901._LITERAL.search(text) is not None
        assert hg901.has_literal(text) is want, text
        hits += want
    assert 0 < hits < 20000  # both answers were exercised


def test_hg601_light_collect_names_exactly_the_full_records(tmp_path: Path) -> None:
    """HG601's map phase sends (identity, config) pairs (`collect`); where each use is comes
    from `records` only for identities used twice. Both walk the targets: they must list the
    same identities, in the same order, for every config (queues, workflows, KV, routes, an
    env, a shared KV namespace and a Worker name used twice included)."""
    from helm_guard.context import Context, load_files
    from helm_guard.rules import hg601_shared_resource as hg601
    from tests.fleets import ACME, copy_example

    root = copy_example(tmp_path / "fleet")
    edit(root / ACME, '"vars": {', '"queues": {"producers": [{"binding": "Q", "queue": "Orders"}],'
         ' "consumers": [{"queue": "orders", "dead_letter_queue": "DLQ"}, "junk"]},'
         ' "workflows": [{"binding": "W", "name": "Checkout", "class_name": "C"}, 7],'
         ' "kv_namespaces": [{"binding": "K", "id": "0F2AC74B498B48028CB68387C421E279",'
         ' "preview_id": ""}], "vars": {')
    fleet = load_fleet(root / "helm-fleet.jsonc")
    assert fleet.doc is not None
    ctx = Context(fleet, load_files(fleet), fleet.doc)
    labels = set()
    for f in ctx.files:
        light = list(hg601.collect(f, ctx))
        full = [(f"{r[0]}\0{r[1]}", r[2]) for r in hg601.records(f, ctx)]
        assert light == full, f.rel
        labels.update(key.split("\0")[0] for key, _ in light)
    assert {"Worker name", "D1 database_id", "R2 bucket", "Queue", "Workflow", "KV namespace",
            "route"} <= labels, labels
