"""Each rule fires on the fault it exists for, at the right place, and the clean example fleet
has no findings at all."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from helm_guard import rules
from tests.fleets import ACME, ACME_ID, BRAVO, BRAVO_ID, REGIONAL, check, copy_example, edit

Mutation = Callable[[Path], None]


def test_example_fleet_is_clean(tmp_path: Path) -> None:
    result = check(copy_example(tmp_path))
    assert result.findings == []
    assert (result.files, result.targets, result.shops) == (3, 6, 4)


def _add_to_acme(d: Path, member: str) -> None:
    """Add `member` (a key and its value) to acme's top level, on line 6."""
    edit(d / ACME, '"compatibility_date": "2026-11-01",',
         f'"compatibility_date": "2026-11-01", {member},')


def _swap_names(d: Path) -> None:
    edit(d / ACME, '"helm-acme-db"', '"helm-bravo-db"')
    edit(d / BRAVO, '"helm-bravo-db"', '"helm-acme-db"')


CASES: list[tuple[str, Mutation, str, int, str]] = [
    # rule, mutation, file, line, message fragment
    ("HG101", lambda d: edit(d / ACME, '"name": "helm-acme"', "'name': 'helm-acme'"),
     ACME, 4, "InvalidSymbol"),
    ("HG101", lambda d: (d / ACME).write_text(""), ACME, 1, "ValueExpected"),
    ("HG102", lambda d: edit(d / ACME, f'"database_id": "{ACME_ID}",',
                             f'"database_id": "{ACME_ID}", "database_id": "{BRAVO_ID}",'),
     ACME, 17, "duplicate key $.d1_databases[0].database_id"),
    ("HG103", lambda d: (d / ACME).write_bytes(b"\xff\xfe{\x00}\x00"), ACME, 1, "UTF-16"),
    ("HG103", lambda d: (d / ACME).write_bytes(b'{"name": "helm-\xe9"}'), ACME, 1, "UTF-8"),
    ("HG201", lambda d: edit(d / ACME, '"database_id"', '"databse_id"'), ACME, 14, "databse_id"),
    ("HG203", lambda d: edit(d / ACME, '"bucket_name": "helm-acme-assets"',
                             '"bucket_name": "Helm_Acme"'), ACME, 21, "bucket_name"),
    ("HG206", lambda d: _add_to_acme(d, '"hyperdrive": [{"binding": "PG", "id": "x"}]'), ACME, 6,
     '"hyperdrive" is not modelled'),
    ("HG207", lambda d: _add_to_acme(d, '"build": {"command": "sh prebuild.sh"}'), ACME, 6,
     "custom builds are refused"),
    ("HG301", lambda d: edit(d / ACME, '"name": "helm-acme"', '"name": "helm-acme2"'),
     ACME, 4, "is not 'helm-acme'"),
    ("HG302", lambda d: edit(d / ACME, '"name": "helm-acme"', '"name": "helm-аcme"'),
     ACME, 4, "CYRILLIC"),
    ("HG302", lambda d: edit(d / ACME, '"helm-acme-assets"', '"helm-acrne-assets"'),
     ACME, 21, "confusable with 'helm-acme-assets'"),
    ("HG401", _swap_names, ACME, 16, "belongs to shop 'bravo'"),
    ("HG401", _swap_names, BRAVO, 10, "belongs to shop 'acme'"),
    ("HG401", lambda d: edit(d / REGIONAL, '"d1_databases": [\n        {"binding": "DB", '
                             '"database_name": "helm-delta-db"', '"d1_databasesX": [\n        '
                             '{"binding": "DB", "database_name": "helm-delta-db"'),
     REGIONAL, 16, "binds no D1 database"),
    ("HG402", lambda d: edit(d / ACME, f'"database_id": "{ACME_ID}",', ""), ACME, 14,
     "auto-provision"),
    ("HG402", lambda d: edit(d / ACME, ACME_ID, ACME_ID.upper()), ACME, 17, "not a lowercase UUID"),
    ("HG403", lambda d: edit(d / ACME, ACME_ID, BRAVO_ID), ACME, 17, "belongs to shop 'bravo'"),
    ("HG403", lambda d: edit(d / ACME, ACME_ID, "9a9e6c1e-0d6a-4c33-9b8e-6b2f3f6f0a09"), ACME,
     17, "does not match the registry"),
    ("HG404", lambda d: edit(d / ACME, f'"database_id": "{ACME_ID}",',
                             f'"database_id": "{ACME_ID}", "preview_database_id": "{BRAVO_ID}",'),
     ACME, 17, "belongs to shop 'bravo'"),
    ("HG501", lambda d: edit(d / ACME, '"helm-acme-assets"', '"helm-bravo-assets"'), ACME, 21,
     "belongs to shop 'bravo'"),
    ("HG501", lambda d: edit(d / ACME, ', "bucket_name": "helm-acme-assets"', ""), ACME, 21,
     "no \"bucket_name\""),
    ("HG502", lambda d: edit(d / ACME, '"bucket_name": "helm-acme-assets"',
                             '"bucket_name": "helm-acme-assets", '
                             '"preview_bucket_name": "helm-bravo-assets"'),
     ACME, 21, "belongs to shop 'bravo'"),
    ("HG503", lambda d: _add_to_acme(d, '"kv_namespaces": [{"binding": "K", '
                                     '"id": "0f2ac74b498b48028cb68387c421e279"}]'), ACME, 6,
     '"shops.acme.kv_namespaces"'),
    ("HG601", lambda d: edit(d / BRAVO, '"bravo.shops.example", "custom_domain"',
                             '"acme.shops.example", "custom_domain"'), BRAVO, 7,
     "also used by shops/acme/wrangler.jsonc:8:14"),
    ("HG602", lambda d: edit(d / "helm-fleet.jsonc", '"delta": {', '"echo": {"database_id": '
                             '"5e3c0a5c-4b0e-4a77-9fc2-0f6d7d0d4e05"},\n    "delta": {'),
     "helm-fleet.jsonc", 27, "echo is registered but no config deploys it"),
    ("HG603", lambda d: edit(d / BRAVO, '"staging": {', '"prod2": {'), BRAVO, 14,
     'env "prod2"'),
    ("HG603", lambda d: edit(d / REGIONAL, '"charlie": {', '"charly": {'), REGIONAL, 8,
     "not a registered shop"),
    ("HG604", lambda d: edit(d / ACME, '"account_id": "0123456789abcdef0123456789abcdef",', ""),
     ACME, 2, "no account_id"),
    ("HG605", lambda d: edit(d / REGIONAL, '"compatibility_date": "2026-11-01",',
                             '"compatibility_date": "2026-11-01", "kv_namespaces": '
                             '[{"binding": "K", "id": "0f2ac74b498b48028cb68387c421e279"}],'),
     REGIONAL, 5, "bare `wrangler deploy`"),
    ("HG104", lambda d: (d / "shops" / "acme" / ".env").write_text(
        "# local\nWRANGLER_CI_OVERRIDE_NAME=helm-bravo\n"), "shops/acme/.env", 2,
     "WRANGLER_CI_OVERRIDE_NAME"),
    ("HG606", lambda d: (d / "shops" / "acme" / "wrangler.json").write_text("{}"),
     "shops/acme/wrangler.json", 1, "not cover"),
    ("HG701", lambda d: edit(d / BRAVO, '      "r2_buckets": [{"binding": "ASSETS", '
                             '"bucket_name": "helm-bravo-staging-assets"}],\n', ""),
     BRAVO, 14, '"r2_buckets" exists at the top level'),
    ("HG702", lambda d: edit(d / BRAVO, '"routes": [],', ""), BRAVO, 14, "inherits the top-level"),
    ("HG802", lambda d: edit(d / ACME, '"service": "helm-auth"', '"service": "helm-bravo"'),
     ACME, 22, "belongs to shop 'bravo'"),
    ("HG802", lambda d: edit(d / ACME, '"service": "helm-auth"', '"service": "Helm-Auth"'),
     ACME, 22, "names compare exactly"),
    ("HG801", lambda d: edit(d / ACME, '"SHOP_SLUG": "acme",', f'"SHOP_SLUG": "acme", "OTHER": '
                             f'"{BRAVO_ID}",'), ACME, 10, "belongs to shop 'bravo'"),
    ("HG802", lambda d: edit(d / ACME, '"service": "helm-auth"', '"service": "auth-proxy"'),
     ACME, 22, "neither acme's own ('helm-acme') nor listed"),
    ("HG803", lambda d: _add_to_acme(d, '"durable_objects": {"bindings": [{"name": "CART", '
                                     '"class_name": "Cart", "script_name": "helm-bravo"}]}'),
     ACME, 6, "belongs to shop 'bravo'"),
    ("HG804", lambda d: edit(d / ACME, '"acme.shops.example", "custom_domain": true',
                             '"*.shops.example/*", "zone_name": "shops.example"'), ACME, 8,
     "wildcard host"),
    ("HG805", lambda d: _add_to_acme(d, '"queues": {"producers": [{"binding": "Q", '
                                     '"queue": "orders-bravo"}]}'), ACME, 6,
     '"shops.acme.queues"'),
    ("HG806", lambda d: _add_to_acme(d, '"migrations": [{"tag": "v1", "transferred_classes": '
                                     '[{"from": "Cart", "from_script": "helm-bravo", '
                                     '"to": "Cart"}]}]'), ACME, 6, "belongs to shop 'bravo'"),
    ("HG901", lambda d: edit(d / ACME, '"SHOP_SLUG": "acme",',
                             '"SHOP_SLUG": "acme", "STRIPE": "sk_live_51HxQ2eLkT9vZbR7dA3mNp",'),
     ACME, 10, "Stripe live secret key"),
]


@pytest.mark.parametrize(("rule_id", "mutate", "path", "line", "fragment"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_fires(tmp_path: Path, rule_id: str, mutate: Mutation, path: str, line: int,
                    fragment: str) -> None:
    copy_example(tmp_path)
    mutate(tmp_path)
    findings = check(tmp_path).findings
    hits = [f for f in findings if f.rule == rule_id and f.path == path]
    assert hits, f"{rule_id} did not fire; findings: {findings}"
    assert any(f.line == line and fragment in f.message for f in hits), hits


def test_secret_is_never_echoed(tmp_path: Path) -> None:
    secret = "sk_live_51HxQ2eLkT9vZbR7dA3mNpWq"
    copy_example(tmp_path)
    edit(tmp_path / ACME, '"SHOP_SLUG": "acme",', f'"SHOP_SLUG": "acme", "K": "{secret}",')
    findings = check(tmp_path).findings
    assert any(f.rule == "HG901" for f in findings)
    assert all(secret not in f.message and "51HxQ2" not in f.message for f in findings)


def test_every_rule_has_a_case_and_documentation() -> None:
    metas = rules.rule_meta()
    ids = [m.id for m in metas]
    assert len(ids) == len(set(ids))
    tested = {c[0] for c in CASES}
    untested = set(ids) - tested - {"HG202"}  # HG202 is covered in test_wrangler_schema
    assert not untested, f"rules without a test case: {sorted(untested)}"
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
