"""The clean example fleet has no findings at all; every rule is documented and listed in the
README. Each rule's own good and bad examples are the corpora under `tests/rules/`."""

from __future__ import annotations

import re
from pathlib import Path

from helm_guard import rules
from tests.fleets import ACME, BRAVO, REGIONAL, check, copy_example, edit


def test_example_fleet_is_clean(tmp_path: Path) -> None:
    result = check(copy_example(tmp_path))
    assert result.findings == []
    assert (result.files, result.targets, result.shops) == (3, 6, 4)


def test_secret_is_never_echoed(tmp_path: Path) -> None:
    secret = "sk_live_51HxQ2eLkT9vZbR7dA3mNpWq"
    copy_example(tmp_path)
    edit(tmp_path / ACME, '"SHOP_SLUG": "acme",', f'"SHOP_SLUG": "acme", "K": "{secret}",')
    findings = check(tmp_path).findings
    assert any(f.rule == "HG901" for f in findings)
    assert all(secret not in f.message and "51HxQ2" not in f.message for f in findings)


def test_every_rule_has_documentation() -> None:
    """(Each rule's examples live in `tests/rules/`, run by `tests/test_rule_examples.py`.)"""
    metas = rules.rule_meta()
    ids = [m.id for m in metas]
    assert len(ids) == len(set(ids))
    for m in metas:
        assert re.fullmatch(r"HG\d{3}", m.id)
        assert re.fullmatch(r"[a-z0-9-]+", m.name)
        for heading in ("## What it does", "## Why is this bad?", "## Example", "Use instead:"):
            assert heading in m.doc, f"{m.id} doc lacks {heading!r}"


def test_readme_rules_table_matches_the_registry() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (HG\d{3}) \| `([a-z0-9-]+)` \| (.+) \|$", readme, re.M)
    assert [(r[0], r[1], r[2]) for r in rows] == [(m.id, m.name, m.summary)
                                                  for m in rules.rule_meta()]


def test_a_syntax_error_is_one_finding_not_also_a_missing_shop(tmp_path: Path) -> None:
    """One cause, one finding: a config that does not parse is HG101 only; its shop is not
    reported as "registered but no config deploys it" (HG602) on the fleet file as well."""
    copy_example(tmp_path)
    edit(tmp_path / BRAVO, '"name": "helm-bravo"', '"name": "helm-bravo",,')
    edit(tmp_path / REGIONAL, '"charlie": {', '"charlie": {{')
    findings = check(tmp_path).findings
    assert sorted(f.rule for f in findings) == ["HG101", "HG101"], findings


def test_shared_identity_reports_only_the_shop_that_took_it(tmp_path: Path) -> None:
    """HG601: bravo's database name (naming template) in acme's config is acme's fault only."""
    copy_example(tmp_path)
    edit(tmp_path / ACME, '"helm-acme-db"', '"helm-bravo-db"')
    shared = [f for f in check(tmp_path).findings if f.rule == "HG601"]
    assert [(f.path, f.shop) for f in shared] == [(ACME, "acme")], shared
    assert "shops/bravo/wrangler.jsonc" in shared[0].message


def test_registry_owner_unknown_reports_every_user(tmp_path: Path) -> None:
    """HG601: an identity the registry gives to nobody is reported on every shop using it."""
    copy_example(tmp_path)
    kv = '"kv_namespaces": [{"binding": "K", "id": "0f2ac74b498b48028cb68387c421e279"}],'
    for shop in (ACME, BRAVO):
        edit(tmp_path / shop, '"vars": {', kv + ' "vars": {')
    shared = [f for f in check(tmp_path).findings if f.rule == "HG601"]
    assert sorted(f.shop or "" for f in shared) == ["acme", "bravo"], shared
