"""## What it does
Reports a key that appears twice in the same object, at any depth.

## Why is this bad?
wrangler silently keeps the **last** value. A correct-looking first `d1_databases` entry can
hide a swapped one further down, and a second `env.acme` block replaces the first wholesale.
`helm-guard inspect` shows the value wrangler will actually use.

## Example
```jsonc
"d1_databases": [{"binding": "DB", "database_id": "<acme's id>",
                  "database_id": "<other shop's id>"}]
```

Use instead:
```jsonc
"d1_databases": [{"binding": "DB", "database_id": "<acme's id>"}]
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import ConfigFile, Context, Problem
from helm_guard.jsonc import format_json_path

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg102_duplicate_key as _this
    from helm_guard.rules.types import FileRule
    _: FileRule = _this

ID = "HG102"
NAME = "duplicate-key"
SEVERITY = "error"
SCOPE = "file"
SUMMARY = "A key is repeated; wrangler silently uses the last one."


def check(f: ConfigFile, ctx: Context) -> Iterator[Problem]:
    if f.doc is None:
        return
    for d in f.doc.duplicates:
        yield Problem(
            f.doc, f.rel, d.path,
            f"duplicate key {format_json_path(d.path)} (first at line {d.first.line}, column "
            f"{d.first.col}); wrangler silently uses this last one",
            span=d.span,
        )
