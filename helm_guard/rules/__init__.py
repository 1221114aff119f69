"""The rule registry: one module per rule, listed here explicitly (by module name, in
documentation order; append a new rule's module to `RULE_MODULES`).

Every rule module has one of the shapes typed in `helm_guard.rules.types` (file, target or
fleet rule, with their optional hooks), which mypy checks it against, and a module docstring
with the sections `## What it does`, `## Why is this bad?`, `## Example`, `Use instead:`
(enforced by a test; reused as the SARIF rule help). Rules yield `Problem`s; the engine
(`helm_guard.checker`) stamps ID, severity and position. See CONTRIBUTING.md.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

from helm_guard.rules.types import SCOPES, Rule

RULE_MODULES: tuple[str, ...] = (  # order = documentation order
    "hg101_syntax_error",
    "hg102_duplicate_key",
    "hg103_unreadable_config",
    "hg104_wrangler_side_input",
    "hg105_path_outside_repo",
    "hg201_shop_schema",
    "hg202_wrangler_schema",
    "hg203_wrangler_validation",
    "hg206_unmodelled_key",
    "hg207_custom_build",
    "hg301_worker_name",
    "hg302_confusable_name",
    "hg401_d1_database_name",
    "hg402_d1_database_id",
    "hg403_d1_registry_mismatch",
    "hg404_d1_foreign_preview",
    "hg501_r2_bucket",
    "hg502_r2_foreign_preview",
    "hg503_kv_registry",
    "hg601_shared_resource",
    "hg602_registry_without_config",
    "hg603_unregistered_target",
    "hg604_account_id",
    "hg605_shared_base_binds",
    "hg606_uncovered_config",
    "hg701_env_inheritance_gap",
    "hg702_inherited_routes",
    "hg801_cross_shop_reference",
    "hg802_unverifiable_binding",
    "hg803_foreign_worker_reference",
    "hg804_route_host",
    "hg805_queue_workflow_owner",
    "hg806_durable_object_migration",
    "hg901_secret_in_vars",
)


class RuleMeta(NamedTuple):
    id: str
    name: str
    severity: str
    summary: str
    doc: str


@cache
def _load() -> dict[str, Rule]:
    import importlib

    rules: dict[str, Rule] = {}
    for name in RULE_MODULES:
        module = importlib.import_module(f"helm_guard.rules.{name}")
        if getattr(module, "SCOPE", None) not in SCOPES or not callable(
                getattr(module, "check", None)):
            raise TypeError(f"helm_guard.rules.{name} is not a rule: it needs a SCOPE (one of "
                            f"{', '.join(SCOPES)}) and a check function")
        rule: Rule = module  # (mypy checks each module against its shape itself)
        if rule.ID in rules:
            raise TypeError(f"two rules have the ID {rule.ID}")
        rules[rule.ID] = rule
    return rules


def all_rules() -> list[Rule]:
    return list(_load().values())


def get(rule_id: str) -> Rule:
    rules = _load()
    if rule_id not in rules:
        raise KeyError(f"no rule {rule_id!r}; known rules: {', '.join(rules)}")
    return rules[rule_id]


def rule_meta() -> list[RuleMeta]:
    """Metadata of every rule, in registry order (for reporters and docs)."""
    return [
        RuleMeta(m.ID, m.NAME, m.SEVERITY, m.SUMMARY, (getattr(m, "__doc__", None) or "").strip())
        for m in _load().values()
    ]
