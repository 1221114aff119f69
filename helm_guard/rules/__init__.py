"""The rule registry: one module per rule, listed here explicitly.

Every rule module defines:
- `ID` (stable, e.g. "HG403"), `NAME` (kebab-case), `SEVERITY` ("error" or "warning"),
  `SUMMARY` (one line), and a module docstring with the sections `## What it does`,
  `## Why is this bad?`, `## Example`, `Use instead:` (enforced by a test; reused as the SARIF
  rule help);
- `SCOPE`: "file" (runs once per config file), "target" (once per resolved deploy target) or
  "fleet" (once per fleet);
- `check(...)`: a generator of `Problem`s (the engine stamps ID, severity and position).
"""

from __future__ import annotations

from types import ModuleType
from typing import NamedTuple

RULE_MODULES: tuple[str, ...] = ()  # filled as rule modules land; order = documentation order


class RuleMeta(NamedTuple):
    id: str
    name: str
    severity: str
    summary: str
    doc: str


def _load() -> dict[str, ModuleType]:
    import importlib

    rules: dict[str, ModuleType] = {}
    for name in RULE_MODULES:
        module = importlib.import_module(f"helm_guard.rules.{name}")
        rules[module.ID] = module
    return rules


def rule_meta() -> list[RuleMeta]:
    """Metadata of every rule, in registry order (for reporters and docs)."""
    return [
        RuleMeta(m.ID, m.NAME, m.SEVERITY, m.SUMMARY, (m.__doc__ or "").strip())
        for m in _load().values()
    ]
