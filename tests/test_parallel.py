"""The parallel check (forked workers, each mapping part of the fleet, fleet rules reduced in
the parent) reports exactly what the serial check reports, on a fleet big enough to fork
and with faults whose halves land in different workers."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from helm_guard.checker import PARALLEL_MIN_FILES, CheckResult, run_check
from helm_guard.fleet import Fleet, load_fleet

ACCOUNT = "0123456789abcdef0123456789abcdef"


def _config(slug: str, db: str, staging_db: str | None) -> dict[str, object]:
    cfg: dict[str, object] = {
        "name": f"helm-{slug}",
        "main": "../../src/index.js",
        "compatibility_date": "2026-11-01",
        "account_id": ACCOUNT,
        "routes": [{"pattern": f"{slug}.shops.example", "custom_domain": True}],
        "vars": {"SHOP_SLUG": slug, "HOME_URL": f"https://{slug}.shops.example/"},
        "d1_databases": [{"binding": "DB", "database_name": f"helm-{slug}-db",
                          "database_id": db}],
        "r2_buckets": [{"binding": "ASSETS", "bucket_name": f"helm-{slug}-assets"}],
    }
    if staging_db:
        cfg["env"] = {"staging": {
            "routes": [],
            "vars": {"SHOP_SLUG": slug, "HOME_URL": f"https://{slug}.shops.example/"},
            "d1_databases": [{"binding": "DB", "database_name": f"helm-{slug}-staging-db",
                              "database_id": staging_db}],
            "r2_buckets": [{"binding": "ASSETS",
                            "bucket_name": f"helm-{slug}-staging-assets"}],
        }}
    return cfg


def _fleet(root: Path, n: int) -> list[str]:
    shops: dict[str, dict[str, object]] = {}
    slugs = [f"shop-{i:05d}" for i in range(n)]
    for i, slug in enumerate(slugs):
        db = str(uuid.UUID(int=i + 1))
        staging = str(uuid.UUID(int=10**6 + i)) if i % 3 == 0 else None
        shops[slug] = {"database_id": db, "routes": [f"{slug}.shops.example"]}
        if staging:
            shops[slug]["stages"] = {"staging": {"database_id": staging}}
        d = root / "shops" / slug
        d.mkdir(parents=True)
        (d / "wrangler.jsonc").write_text(json.dumps(_config(slug, db, staging)))
    fleet = {"version": 1, "configs": ["shops/*/wrangler.jsonc"], "account_id": ACCOUNT,
             "stages": ["staging"], "shops": shops}
    (root / "helm-fleet.jsonc").write_text(json.dumps(fleet))
    return slugs


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _both_ways(root: Path) -> tuple[Fleet, CheckResult, CheckResult]:
    """The fleet at `root` checked serially and in parallel (forked), which must agree."""
    fleet = load_fleet(root / "helm-fleet.jsonc")
    assert fleet.doc is not None
    serial = run_check(fleet, fleet.doc)
    parallel = run_check(fleet, fleet.doc, parallel=True)
    if (os.cpu_count() or 1) > 1:
        assert parallel.context.files == [], "the check did not fork"
    assert parallel.findings == serial.findings
    assert (parallel.files, parallel.targets, parallel.shops) == \
        (serial.files, serial.targets, serial.shops)
    return fleet, serial, parallel


@pytest.mark.parametrize("batch", [None, 1, 7, 10**6], ids=["default", "1", "7", "whole"])
def test_parallel_and_serial_checks_agree(tmp_path: Path, batch: int | None,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """...whatever the worker's batch size (`checker.BATCH_FILES`): an identity used in two
    batches of one worker, or two workers, is one collision (HG601)."""
    from helm_guard import checker

    if batch is not None:
        monkeypatch.setattr(checker, "BATCH_FILES", batch)
    n = PARALLEL_MIN_FILES + 100
    slugs = _fleet(tmp_path, n)
    shop = tmp_path / "shops"
    # neighbours in file order go to different workers (files are dealt round-robin)
    a, b, c = slugs[10], slugs[11], slugs[n - 2]
    db_a = str(uuid.UUID(int=11))
    _edit(shop / b / "wrangler.jsonc", str(uuid.UUID(int=12)), db_a)  # b binds a's database
    _edit(shop / c / "wrangler.jsonc", f'"{c}.shops.example"', f'"{a}.shops.example"')
    _edit(shop / slugs[20] / "wrangler.jsonc", '"vars": {', '"vars": {"TOKEN": "s3cr3t-value", ')
    (shop / slugs[30] / "wrangler.json").write_text("{}")  # a stray config
    (shop / slugs[40] / "wrangler.jsonc").write_text('{"name": ')  # a syntax error
    # a third shop, in another chunk, on a's database too; one file deploying one Worker name
    # twice (its env names the top level's Worker), an identity used twice in one file
    d = slugs[n - 3]
    _edit(shop / d / "wrangler.jsonc", str(uuid.UUID(int=n - 3 + 1)), db_a)
    _edit(shop / slugs[51] / "wrangler.jsonc", '"staging": {',
          f'"staging": {{"name": "helm-{slugs[51]}", ')
    fleet, serial, parallel = _both_ways(tmp_path)
    rules = {f.rule for f in serial.findings}
    assert {"HG101", "HG403", "HG601", "HG606", "HG901"} <= rules, rules
    shared = [f for f in serial.findings if f.rule == "HG601"]
    # a owns both identities (registry, naming): only the shops that took them are at fault
    assert {f.shop for f in shared if "Worker name" not in f.message} == {b, c, d}
    twice = [f for f in shared if "Worker name" in f.message]
    # the naming template gives the name to the top level: the env that took it is at fault
    assert [(f.path, f.json_path) for f in twice] == \
        [(f"shops/{slugs[51]}/wrangler.jsonc", "$.env.staging.name")], twice
    on_a = [f for f in shared if f.shop == d]
    assert on_a and f"shops/{a}/wrangler.jsonc" in on_a[0].message \
        and f"shops/{b}/wrangler.jsonc" in on_a[0].message


def test_a_failing_or_dying_worker_fails_the_check(tmp_path: Path, monkeypatch) -> None:
    import pytest

    from helm_guard import checker, parallel

    _fleet(tmp_path, PARALLEL_MIN_FILES + 10)
    fleet = load_fleet(tmp_path / "helm-fleet.jsonc")
    assert fleet.doc is not None
    monkeypatch.setattr(parallel, "worker_count", lambda: 3)
    parent = os.getpid()
    real = checker._map_chunk

    def failing(*args, **kw):  # type: ignore[no-untyped-def]
        if os.getpid() != parent:
            raise ValueError("boom in the worker")
        return real(*args, **kw)

    monkeypatch.setattr(checker, "_map_chunk", failing)
    with pytest.raises(parallel.WorkerFailed, match="ValueError: boom in the worker"):
        run_check(fleet, fleet.doc, parallel=True)

    def dying(*args, **kw):  # type: ignore[no-untyped-def]
        if os.getpid() != parent:
            os._exit(7)  # killed before it could answer
        return real(*args, **kw)

    monkeypatch.setattr(checker, "_map_chunk", dying)
    with pytest.raises(parallel.WorkerFailed, match="no result"):
        run_check(fleet, fleet.doc, parallel=True)
    # and a healthy run afterwards still works (no stale state, no stray children)
    monkeypatch.setattr(checker, "_map_chunk", real)
    assert run_check(fleet, fleet.doc, parallel=True).findings == []


def test_forked_map_runs_each_index_once_and_keeps_the_order() -> None:
    from helm_guard import parallel

    parent = os.getpid()
    out = parallel.forked_map(lambda i: (i, os.getpid() == parent), 4)
    assert [i for i, _ in out] == [0, 1, 2, 3]
    assert [here for _, here in out] == [True, False, False, False]
    assert parallel.forked_map(lambda i: i * 2, 1) == [0]
    assert parallel.deal("abcdefg", 3) == [["a", "d", "g"], ["b", "e"], ["c", "f"]]


def test_parallel_discovery_learns_which_candidates_exist(tmp_path: Path) -> None:
    """In parallel the workers, not the parent, find out whether `shops/<dir>/wrangler.jsonc`
    exists (they open it anyway). Missing files, symlinks (inside, outside, dangling) and a
    directory named like a config must come out exactly as the serial check's lookups say."""
    import pytest

    from helm_guard.errors import UsageError

    root = tmp_path / "fleet"
    slugs = _fleet(root, PARALLEL_MIN_FILES + 20)
    shops = root / "shops"
    outside = tmp_path / "outside"
    (outside / "shop").mkdir(parents=True)
    (outside / "x.jsonc").write_text("{}")
    (outside / "shop" / "wrangler.jsonc").write_text("{}")
    (shops / slugs[3] / "wrangler.jsonc").unlink()  # a registered shop without its config
    (shops / "notes").mkdir()  # a folder with no config at all
    (shops / slugs[4] / "wrangler.jsonc").unlink()
    (shops / slugs[4] / "wrangler.jsonc").symlink_to("gone.jsonc")  # dangling
    (shops / slugs[5] / "wrangler.jsonc").unlink()
    (shops / slugs[5] / "wrangler.jsonc").symlink_to(outside / "x.jsonc")  # leads outside
    (shops / "elsewhere").symlink_to(outside / "shop", target_is_directory=True)
    (shops / slugs[6] / "wrangler.jsonc").rename(shops / slugs[6] / "real.jsonc")
    (shops / slugs[6] / "wrangler.jsonc").symlink_to("real.jsonc")  # inside: fine
    (shops / "odd" / "wrangler.jsonc").mkdir(parents=True)  # a directory
    fleet, serial, parallel = _both_ways(root)
    assert parallel.files == len(slugs) - 1 + 2  # minus the missing one, plus odd/elsewhere
    assert parallel.context.covered == serial.context.covered
    # what the gate plans from: the same config entries as a checked discovery, in order
    assert [(e.rel, e.layout, e.slug) for e in parallel.context.entries.values()] == \
        [(e.rel, e.layout, e.slug) for e in fleet.config_entries()]
    assert f"shops/{slugs[3]}/wrangler.jsonc" not in parallel.context.covered
    messages = {(f.rule, f.path): f.message for f in serial.findings}
    assert "cannot read the file" in messages["HG103", f"shops/{slugs[4]}/wrangler.jsonc"]
    assert "outside the fleet" in messages["HG103", f"shops/{slugs[5]}/wrangler.jsonc"]
    assert "outside the fleet" in messages["HG103", "shops/elsewhere/wrangler.jsonc"]
    assert "is a directory" in messages["HG103", "shops/odd/wrangler.jsonc"]
    assert ("HG103", f"shops/{slugs[6]}/wrangler.jsonc") not in messages
    assert ("HG602", "helm-fleet.jsonc") in messages  # slugs[3] is registered, not deployed

    # a pattern whose every candidate is missing matches no file, in both modes
    (root / "extra" / "a").mkdir(parents=True)
    _edit(root / "helm-fleet.jsonc", '"configs": ["shops/*/wrangler.jsonc"]',
          '"configs": ["shops/*/wrangler.jsonc", "extra/*/wrangler.jsonc"]')
    fleet = load_fleet(root / "helm-fleet.jsonc")
    assert fleet.doc is not None
    for mode in (False, True):
        with pytest.raises(UsageError, match="'extra/\\*/wrangler.jsonc' matches no file"):
            run_check(fleet, fleet.doc, parallel=mode)


def test_gate_plan_from_the_check_equals_a_second_parse_serial_and_forked(
        tmp_path: Path, monkeypatch) -> None:
    """The gate's plan, when every shop is affected, comes from the check's own parse (the
    map phase digests every target); it must equal the plan parsed again from the files, by
    the gate's own forked workers and serially."""
    import pytest

    from helm_guard import changes, parallel
    from helm_guard import gate as gate_cmd
    from helm_guard.checker import load_inputs
    from helm_guard.plan import make_plan
    from tests.bigfleet import generate
    from tests.gate_fixtures import make_repo

    if not parallel.can_fork():
        pytest.skip("no os.fork on this platform")
    src = tmp_path / "gen"
    slugs = generate(src, gate_cmd.PARALLEL_PLAN_FILES + 50)
    (src / "src").mkdir()
    (src / "src" / "index.js").write_text("// v1\n")
    (tmp_path / "r").mkdir()
    repo = make_repo(tmp_path / "r", src)
    first = repo.head()
    repo.write("src/index.js", "// v2\n")
    repo.commit("new code for every shop")
    monkeypatch.setattr(parallel, "worker_count", lambda: 3)

    def no_second_parse(*args: object) -> None:
        raise AssertionError("the gate parsed the fleet a second time")

    with monkeypatch.context() as m:
        m.setattr(gate_cmd, "_plan_entries", no_second_parse)
        outcome, _ = gate_cmd.gate(load_inputs(str(repo.fleet)), base=first, head="HEAD",
                                   allow=[], remote=None, report_only=False, environ={})
    assert outcome.all_reason and not outcome.blocked, outcome.reasons
    assert len(outcome.affected) == len(slugs)
    fleet = load_fleet(repo.fleet)
    view = changes.HeadView(fleet, fleet.config_entries())
    forked = gate_cmd._plan_entries(view, outcome.affected)
    monkeypatch.setattr(gate_cmd, "PARALLEL_PLAN_FILES", 10**9)
    serial = gate_cmd._plan_entries(changes.HeadView(fleet, fleet.config_entries()),
                                    outcome.affected)
    assert outcome.plan == make_plan(outcome.head or "", forked) == \
        make_plan(outcome.head or "", serial)
    assert len(outcome.plan["entries"]) > len(slugs)  # staging targets too

    # a one-shop change plans from a second parse of that shop's file only: same digests
    repo.edit(f"shops/{slugs[-1]}/wrangler.jsonc", '"VAR_0": ', '"VAR_X": "new", "VAR_0": ')
    repo.commit("one shop")
    one, _ = gate_cmd.gate(load_inputs(str(repo.fleet)), base=repo.head() + "~1", head="HEAD",
                           allow=[], remote=None, report_only=False, environ={})
    assert one.affected == (slugs[-1],) and not one.blocked, one.reasons
    fleet = load_fleet(repo.fleet)
    harvest = gate_cmd._plan_harvest(fleet)
    view = changes.HeadView(fleet, fleet.config_entries())
    everything = [e for f in view.files(view.entries) for e in harvest(f)]
    assert one.plan["entries"] == make_plan("", [e for e in everything
                                                if e["shop"] == slugs[-1]])["entries"]


def test_symlinked_folders_are_reported_serial_and_forked(tmp_path: Path) -> None:
    """A symlink to a folder is not walked (what is behind it is unseen), so HG104 reports
    it: inside a shop folder a worker walks, in folders only the parent's rest walk lists, at
    the root; both ways the same. A link to a file and links inside `node_modules` are not."""
    root = tmp_path / "fleet"
    slugs = _fleet(root, PARALLEL_MIN_FILES + 30)
    outside = tmp_path / "outside"
    (outside / "d").mkdir(parents=True)
    (outside / "d" / ".env").write_text("WRANGLER_CI_OVERRIDE_NAME=helm-shop-00001\n")
    (outside / "f.js").write_text("")
    late, first = slugs[-1], slugs[0]
    links = {
        f"shops/{late}/linked": outside / "d",  # in a leaf a worker walks
        f"shops/{first}/deep/er": outside / "d",  # in a leaf of the first chunk, deeper
        "shops/zz-ops": outside / "d",  # only the parent's rest walk lists `shops`
        "lib": Path("shops") / late,  # at the root, leading inside the repository
    }
    for rel, target in links.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).symlink_to(target, target_is_directory=True)
    (root / "shops" / late / "entry.js").symlink_to(outside / "f.js")  # a file: fine
    (root / "node_modules" / "x").mkdir(parents=True)
    (root / "node_modules" / "x" / "y").symlink_to(outside / "d", target_is_directory=True)
    _, serial, parallel = _both_ways(root)
    for result in (serial, parallel):
        got = {f.path: f.message for f in result.findings if f.rule == "HG104"}
        assert set(got) == set(links), got
        assert all("symlink to a folder" in m and "replace the link by a real folder" in m
                   for m in got.values())
        assert {f.rule for f in result.findings} == {"HG104"}
