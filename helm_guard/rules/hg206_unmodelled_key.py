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

from collections.abc import Iterator, Mapping
from typing import Any

from helm_guard.context import ConfigFile, Context, Problem
from helm_guard.rules._modelled import ADVICE, UNMODELLED_KEYS

ID = "HG206"
NAME = "unmodelled-key"
SEVERITY = "error"
SCOPE = "file"
SUMMARY = "A config key that helm-guard does not model (deny by default)."


def blocks(f: ConfigFile) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any], str | None]]:
    """(JSON path prefix, block, env name) of the top level and of each env of `f`."""
    if f.doc is None or f.doc.error is not None or not isinstance(f.doc.value, Mapping):
        return
    top = f.doc.value
    yield (), top, None
    env = top.get("env")
    if isinstance(env, Mapping):
        for name, block in env.items():
            if isinstance(block, Mapping):
                yield ("env", name), block, name


def shop_of(f: ConfigFile, env: str | None) -> str | None:
    """The shop of `f`'s target `env` (looked up only for a finding)."""
    return next((t.shop for t in f.targets if t.target.env == env), None)


def check(f: ConfigFile, ctx: Context) -> Iterator[Problem]:
    for prefix, block, env in blocks(f):
        if UNMODELLED_KEYS.isdisjoint(block):
            continue
        for key in block:
            if key in UNMODELLED_KEYS:
                why = ADVICE.get(key, "helm-guard cannot tell whose resources it reaches")
                yield Problem(f.doc, f.rel, prefix + (key,),
                              f'"{key}" is not modelled by helm-guard ({why}): remove it, or '
                              "model it first (a rule that attributes it to one shop, listed "
                              "in helm_guard/rules/_modelled.py)", shop_of(f, env), at_key=True)
