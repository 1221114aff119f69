"""The three shapes of a rule, as Protocols that mypy checks every rule module against.

A rule is a module (`helm_guard/rules/hgNNN_<name>.py`). Besides its documentation constants
(`RuleInfo`) it has one of three shapes, named by its `SCOPE`:

- `FileRule` (`SCOPE = "file"`): `check(file, ctx)` runs once per config file;
- `TargetRule` (`SCOPE = "target"`): `check(target, ctx)` runs once per resolved deploy target;
- `FleetRule` (`SCOPE = "fleet"`): `check(ctx, collected)` runs once per fleet, after the map
  phase; optionally `collect(file, ctx)` runs per config file in the map phase (in the worker
  processes of a parallel check: `CollectingFleetRule`) and `summarize(items)` boils one
  worker's items down before they cross back to the parent (`SummarizingFleetRule`).

Any rule may also define `prepare(ctx)` (`Prepares`), run once before the map phase (before
the workers fork: build what every worker needs once).

Each rule module states its shape for mypy, right after its imports:

    if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
        from helm_guard.rules import hg301_worker_name as _this
        from helm_guard.rules.types import TargetRule
        _: TargetRule = _this

and `tests/test_architecture.py` checks at run time that every registered module has the
members of the shape its `SCOPE` names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, Protocol, TypeGuard

from helm_guard.context import ConfigFile, Context, Problem, TargetInfo

SCOPES = ("file", "target", "fleet")


class RuleInfo(Protocol):
    """What every rule states about itself (its docstring is its documentation)."""

    ID: str  # stable, e.g. "HG403"
    NAME: str  # kebab-case
    SEVERITY: str  # "error" or "warning"
    SUMMARY: str  # one line
    SCOPE: str  # "file", "target" or "fleet"


class FileRule(RuleInfo, Protocol):
    def check(self, f: ConfigFile, ctx: Context, /) -> Iterable[Problem]: ...


class TargetRule(RuleInfo, Protocol):
    def check(self, t: TargetInfo, ctx: Context, /) -> Iterable[Problem]: ...


class FleetRule(RuleInfo, Protocol):
    def check(self, ctx: Context, collected: list[Any], /) -> Iterable[Problem]: ...


class CollectingFleetRule(FleetRule, Protocol):
    def collect(self, f: ConfigFile, ctx: Context, /) -> Iterable[Any]: ...


class SummarizingFleetRule(CollectingFleetRule, Protocol):
    def summarize(self, items: list[Any], /) -> Any: ...


class Prepares(Protocol):
    def prepare(self, ctx: Context, /) -> None: ...


Rule = FileRule | TargetRule | FleetRule


class Shapes(NamedTuple):
    """Rules sorted by shape (each keeps the order it was given in)."""

    file: tuple[FileRule, ...]
    target: tuple[TargetRule, ...]
    fleet: tuple[FleetRule, ...]


def by_shape(rules: Sequence[Rule]) -> Shapes:
    """The rules by shape; a rule of an unknown `SCOPE` is a bug: refused, never skipped."""
    file: list[FileRule] = []
    target: list[TargetRule] = []
    fleet: list[FleetRule] = []
    for rule in rules:
        if is_file_rule(rule):
            file.append(rule)
        elif is_target_rule(rule):
            target.append(rule)
        elif is_fleet_rule(rule):
            fleet.append(rule)
        else:
            raise ValueError(f"rule {getattr(rule, 'ID', rule)!r} has an unknown SCOPE "
                             f"{getattr(rule, 'SCOPE', None)!r} (one of {', '.join(SCOPES)})")
    return Shapes(tuple(file), tuple(target), tuple(fleet))


def is_file_rule(rule: Rule) -> TypeGuard[FileRule]:
    return rule.SCOPE == "file" and callable(getattr(rule, "check", None))


def is_target_rule(rule: Rule) -> TypeGuard[TargetRule]:
    return rule.SCOPE == "target" and callable(getattr(rule, "check", None))


def is_fleet_rule(rule: Rule) -> TypeGuard[FleetRule]:
    return rule.SCOPE == "fleet" and callable(getattr(rule, "check", None))


def collects(rule: FleetRule) -> TypeGuard[CollectingFleetRule]:
    return callable(getattr(rule, "collect", None))


def summarizes(rule: CollectingFleetRule) -> TypeGuard[SummarizingFleetRule]:
    return callable(getattr(rule, "summarize", None))


def prepares(rule: Rule) -> TypeGuard[Prepares]:
    return callable(getattr(rule, "prepare", None))
