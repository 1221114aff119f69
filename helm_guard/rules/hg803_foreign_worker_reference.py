"""## What it does
Checks every other place a config names a Worker: Durable Object bindings
(`durable_objects.bindings[].script_name`), tail consumers (`tail_consumers[].service`,
`streaming_tail_consumers[].service`), Workflows (`workflows[].script_name`) and dispatch
namespaces' outbound Workers (`dispatch_namespaces[].outbound.service`). Each must be the
tenant's own Worker or listed in the fleet's `shared.services`, compared exactly (case
included). An `environment` on such a reference (legacy service environments) is refused.
Service bindings are HG802's; Durable Object migrations (`from_script`) are HG806's.

## Why is this bad?
A Durable Object binding with `script_name: "helm-bravo"` reads and writes bravo's Durable
Object storage; a tail consumer receives every log line (and request) of the Worker it tails;
a Workflow of another Worker runs with that Worker's bindings.

## Example
```jsonc
"durable_objects": {"bindings": [{"name": "CART", "class_name": "Cart",
                                  "script_name": "helm-bravo"}]}
```

Use instead:
```jsonc
"durable_objects": {"bindings": [{"name": "CART", "class_name": "Cart"}]}  // own class
```
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from helm_guard.context import Context, Problem, TargetInfo
from helm_guard.jsonc import JsonPath
from helm_guard.rules._common import worker_reference

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg803_foreign_worker_reference as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG803"
NAME = "foreign-worker-reference"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "A Durable Object, tail consumer, Workflow or outbound Worker names a foreign Worker."

# key -> (what, how to reach the list inside the key's value, the field naming the Worker,
# whether the field may be absent: the Worker's own)
_PLACES: tuple[tuple[str, str, tuple[str, ...], str, bool], ...] = (
    ("durable_objects", "Durable Object binding", ("bindings",), "script_name", True),
    ("tail_consumers", "tail consumer", (), "service", False),
    ("streaming_tail_consumers", "streaming tail consumer", (), "service", False),
    ("workflows", "Workflow binding", (), "script_name", True),
    ("dispatch_namespaces", "dispatch namespace outbound Worker", (), "outbound", True),
)


def references(t: TargetInfo) -> Iterator[tuple[str, JsonPath, Any, bool]]:
    """(what, JSON path, value, field present) of every Worker reference of `t`."""
    target = t.target
    raw = target.raw
    for key, what, inner, field, optional in _PLACES:
        if key not in raw:
            continue
        value: Any = raw[key]
        path: JsonPath = target.origin(key)
        for step in inner:
            value = value.get(step) if isinstance(value, Mapping) else None
            path += (step,)
        if not isinstance(value, list):
            continue
        for i, entry in enumerate(value):
            if not isinstance(entry, Mapping):
                continue
            if field == "outbound":
                out = entry.get("outbound")
                if isinstance(out, Mapping):
                    yield what, path + (i, "outbound", "service"), out.get("service"), True
                    if "environment" in out:
                        yield what, path + (i, "outbound", "environment"), None, True
                continue
            if field in entry or not optional:
                yield what, path + (i, field), entry.get(field), True
            if "environment" in entry:
                yield what, path + (i, "environment"), None, True


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    if t.tenant is None or t.target.error is not None:
        return
    for what, path, value, _ in references(t):
        if path[-1] == "environment":
            yield ctx.problem(t, path, f'{what} with an "environment": legacy service '
                              "environments are not modelled by helm-guard; remove it")
            continue
        why = worker_reference(ctx, t, value)
        if why is not None:
            yield ctx.problem(t, path, f"{what}: {why}")
