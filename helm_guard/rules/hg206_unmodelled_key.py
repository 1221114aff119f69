"""## What it does
Reports every key of a shop config (top level or env) that wrangler 4.86 knows but helm-guard
does not model: `hyperdrive`, `vectorize`, `dispatch_namespaces`, `mtls_certificates`,
`containers`, `pipelines`, `secrets_store_secrets`, `logfwdr`, `previews`, `alias`, `define`,
`site`, `wasm_modules`, `assets`, `legacy_env`, ... The allow-list of modelled keys, with why
each is safe or which rule judges it, is `helm_guard/rules/_modelled.py`.

## Why is this bad?
helm-guard promises that no shop's Worker goes live bound to another shop's data. A key it
does not model can reach anything: a Hyperdrive config can point at another shop's database,
a `previews` block carries its own bindings, `alias` can swap the Worker's code at bundle
time. Deny by default: what is not modelled is a finding, never a pass.

## Example
```jsonc
"hyperdrive": [{"binding": "PG", "id": "<a Hyperdrive config>"}]
```

Use instead:
Remove the key. If the shop needs it, extend helm-guard first: a rule that attributes what
the key reaches to exactly one tenant, then list the key in `rules/_modelled.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo
from helm_guard.rules._modelled import ADVICE, UNMODELLED_KEYS

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg206_unmodelled_key as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG206"
NAME = "unmodelled-key"
SEVERITY = "error"
SCOPE = "target"  # each target's own block: the top level, or one env
SUMMARY = "A config key that helm-guard does not model (deny by default)."


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    raw = t.target.raw
    if UNMODELLED_KEYS.isdisjoint(raw):
        return
    prefix = t.target.prefix
    for key in raw:
        if key in UNMODELLED_KEYS:
            why = ADVICE.get(key, "helm-guard cannot tell whose resources it reaches")
            yield ctx.problem(t, prefix + (key,),
                              f'"{key}" is not modelled by helm-guard ({why}): remove it, or '
                              "model it first (a rule that attributes it to one shop, listed "
                              "in helm_guard/rules/_modelled.py)", at_key=True)
