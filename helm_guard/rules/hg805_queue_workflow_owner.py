"""## What it does
Checks every Queue and Workflow name a deploy target binds — `queues.producers[].queue`,
`queues.consumers[].queue`, `queues.consumers[].dead_letter_queue`, `workflows[].name` —
against the registry: each must be listed in the tenant's own `queues` / `workflows`
(`shops.<slug>.queues`, or `shops.<slug>.stages.<stage>.queues`), exactly (case included).
A name the registry gives to another shop names that shop; a name it gives to no one is a
finding that says what to add.

## Why is this bad?
A queue is shared by whoever names it: acme producing to `orders-bravo` writes into bravo's
order pipeline, and acme consuming it reads (and acknowledges away) bravo's messages. A
Workflow name is an account-wide identity just the same. Queue and Workflow names need not
start with `helm-`, so only the registry can say whose they are.

## Example
```jsonc
"queues": {"producers": [{"binding": "ORDERS", "queue": "orders-bravo"}]}
```

Use instead:
```jsonc
"queues": {"producers": [{"binding": "ORDERS", "queue": "orders-acme"}]}
// and in helm-fleet.jsonc: "shops": {"acme": {..., "queues": ["orders-acme"]}}
```
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo
from helm_guard.jsonc import JsonPath
from helm_guard.rules._common import belongs

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg805_queue_workflow_owner as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG805"
NAME = "queue-workflow-owner"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "A Queue or Workflow name is not registered to the shop."


def names(t: TargetInfo) -> Iterator[tuple[str, JsonPath, object]]:
    """(kind "queue" | "workflow", JSON path, value) of every Queue and Workflow name."""
    target = t.target
    raw = target.raw
    queues = raw.get("queues")
    if isinstance(queues, Mapping):
        origin = target.origin("queues")
        for side, fields in (("producers", ("queue",)),
                             ("consumers", ("queue", "dead_letter_queue"))):
            entries = queues.get(side)
            if not isinstance(entries, list):
                continue
            for i, entry in enumerate(entries):
                if isinstance(entry, Mapping):
                    for field in fields:
                        if field in entry or field == "queue":
                            yield "queue", origin + (side, i, field), entry.get(field)
    for i, entry in target.indexed_bindings("workflows"):
        yield "workflow", target.origin("workflows") + (i, "name"), entry.get("name")


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    target = t.target
    tenant = t.tenant
    if tenant is None or target.error is not None:
        return
    raw = target.raw
    if "queues" not in raw and "workflows" not in raw:
        return
    owned = ctx.fleet.owned(tenant)
    fleet = ctx.fleet
    for kind, path, value in names(t):
        mine = owned.queues if kind == "queue" else owned.workflows
        if isinstance(value, str) and value in mine:
            continue
        label = "Queue" if kind == "queue" else "Workflow"
        key = "queues" if kind == "queue" else "workflows"
        owner = fleet.owner_of(kind, value)
        if owner is not None and owner != tenant:
            yield ctx.problem(t, path, f"{label} {value!r} is another shop's{belongs(owner)}")
            continue
        near = [m for m in mine if isinstance(value, str) and m.lower() == value.lower()]
        entry = tenant.shop if tenant.stage is None else \
            f"{tenant.shop}.stages.{tenant.stage}"
        if near:
            yield ctx.problem(t, path, f"{label} {value!r} is not the registered {near[0]!r}: "
                              "names compare exactly, case included")
        else:
            yield ctx.problem(t, path, f"{label} {value!r} is not registered to "
                              f"{tenant.label()}: if it is this shop's alone, add it to "
                              f'"shops.{entry}.{key}" in the fleet file')
