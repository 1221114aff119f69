"""HG801's fast pre-scan (one regex over the target's strings, minus the fields the D1/R2
rules judge) never hides a reference: on random nested configs it reports exactly what a
plain scan of every string, with its path, reports."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from helm_guard.context import Context, Problem, TargetInfo, load_files
from helm_guard.fleet import load_fleet
from helm_guard.rules import hg801_cross_shop_reference as hg801
from tests.fleets import ACME, ACME_ID, BRAVO_ID, copy_example, edit

WORDS = ["helm-bravo-db", "helm-bravo", "helm-acme-db", "bravo.shops.example", BRAVO_ID,
         ACME_ID, "helm-charlie-assets", "x.helm-bravo", "helm-bravo-orders", "plain",
         "https://bravo.shops.example/a", "helm-delta\nhelm-bravo", "a\\b helm-bravo", ""]
FIELDS = ["database_name", "database_id", "preview_database_id", "bucket_name",
          "preview_bucket_name", "binding", "service", "pattern", "note",
          # keys naming shops (a var named `helm-bravo-db`, a nested key), own and foreign
          "HELM-BRAVO-DB", "helm-acme-db", BRAVO_ID.replace("-", ""), "bravo.shops.example",
          "helm-bravoish"]


def _value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.4:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 2)))
    if roll < 0.7:
        return {rng.choice(FIELDS): _value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    if roll < 0.8:
        return rng.choice([1, 2.5, True, None])
    return [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def _reference(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    """Every string and key, with its path, scanned on its own: the rule without its
    shortcuts."""
    target = t.target
    if target.error is not None or (t.tenant is None and not t.is_base):
        return
    keys = [k for k in target.raw if k in hg801._NON_INHERITABLE]
    pattern = hg801._candidate_re(ctx)
    for key in keys:
        origin = target.origin(key)
        for parts, text, at_key in hg801._strings(target.get(key), origin):
            if not at_key and len(parts) >= len(origin) + 2 and (key, parts[-1]) in hg801._SKIP:
                continue
            for m in pattern.finditer(text):
                owner = hg801._owner_of_candidate(ctx, m.group(), t.tenant)
                if owner is not None and owner != t.tenant:
                    yield ctx.problem(t, parts, f'{"a key in " if at_key else ""}"{key}" '
                                      f"names another shop's resource "
                                      f"{m.group()!r}{hg801.belongs(owner)}", at_key=at_key)
                    break


def test_prescan_matches_a_plain_scan(tmp_path: Path) -> None:
    copy_example(tmp_path)
    fleet = load_fleet(tmp_path / "helm-fleet.jsonc")
    assert fleet.doc is not None
    rng = random.Random(801)
    reported = keys = 0
    for _ in range(400):
        ctx = Context(fleet, load_files(fleet), fleet.doc)
        acme = next(t for t in ctx.targets if t.file.rel == ACME and t.target.env is None)
        raw = acme.target.raw
        assert isinstance(raw, dict)
        for key in ("vars", "d1_databases", "r2_buckets", "services", "routes", "queues"):
            if rng.random() < 0.5:  # mostly lists of bindings, sometimes a bare value
                raw[key] = _value(rng) if key == "vars" or rng.random() < 0.2 else [
                    _value(rng) for _ in range(rng.randint(1, 3))]
        fast = list(hg801.check(acme, ctx))
        slow = list(_reference(acme, ctx))
        assert sorted(p[2:4] + p[6:] for p in fast) == sorted(p[2:4] + p[6:] for p in slow)
        reported += len(slow)
        keys += sum(p.at_key for p in slow)
    assert reported > 100  # the random configs did name other shops
    assert keys > 20  # in keys too


def _sieve_for(fleet_dir: Path) -> tuple[hg801._Sieve, Context]:
    fleet = load_fleet(fleet_dir / "helm-fleet.jsonc")
    assert fleet.doc is not None
    ctx = Context(fleet, load_files(fleet), fleet.doc)
    return hg801._Sieve(ctx), ctx


def test_sieve_sees_every_owned_identity(tmp_path: Path) -> None:
    """The sieve may only say "names nothing" of a text holding no key of the owner index: on
    every key, in any case, inside any surrounding text, it says "may name"."""
    copy_example(tmp_path)
    edit(tmp_path / "helm-fleet.jsonc", '"charlie": {"database_id"',
         '"charlie": {"kv_namespaces": ["0123456789abcdef0123456789abcdef"], '
         '"preview_bucket_name": "charlie-preview", "database_id"')
    sieve, ctx = _sieve_for(tmp_path)
    assert sieve.usable and sieve.chunks == ("helm-",) and sieve.uuid and sieve.hex32
    # route hosts are not keys of the owner index (exact lookups); the sieve vouches for them
    # by their zone (`shops.example`): another shop's host in a var is HG801's too
    assert set(sieve.others) == {"charlie-preview", "shops.example"}
    for host in ("acme.shops.example", "BRAVO.Shops.Example", "https://bravo.shops.example/x"):
        assert sieve.may_name(host), host
    rng = random.Random(802)
    keys = list(ctx.owners)
    assert len(keys) > 15
    for _ in range(3000):
        key = rng.choice(keys)
        cased = "".join(c.upper() if rng.random() < 0.5 else c for c in key)
        text = rng.choice(["", "x", "https://", "a\n", "0", "_", "-"]) + cased + rng.choice(
            ["", "/", "-orders", ".example", "f", "\n"])
        assert sieve.may_name(text), text
    # and it does rule texts out: that is what it is for
    for text in ["value 0 for acme", "https://acme.example/", "1a9e6c1e-0d6a", "DB", "",
                 "acme.shops.exampl", "0123456789abcdef0123456789abcde"]:
        assert not sieve.may_name(text), text


def test_sieve_steps_aside_when_it_cannot_vouch(tmp_path: Path) -> None:
    copy_example(tmp_path)
    fleet_file = tmp_path / "helm-fleet.jsonc"
    edit(fleet_file, '"worker": "helm-{slug}"', '"worker": "{slug}"')  # no literal part
    sieve, _ = _sieve_for(tmp_path)
    assert not sieve.usable and sieve.may_name("anything at all")
    copy_example(tmp_path / "many")
    shops = "".join(f'"s{i}": {{"database_id": "00000000-0000-4000-8000-{i:012d}", '
                    f'"preview_bucket_name": "preview-{i}"}}, '
                    for i in range(hg801._MAX_OTHER_KEYS + 1))
    edit(tmp_path / "many" / "helm-fleet.jsonc", '"shops": {', '"shops": {' + shops)
    sieve, _ = _sieve_for(tmp_path / "many")
    assert not sieve.usable and sieve.may_name("plain")
