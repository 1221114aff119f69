"""## What it does
Reports a config file that wrangler cannot parse: a syntax error (with the line, column and
what was expected), JSON5-only syntax (single quotes, unquoted keys, hex, `NaN`/`Infinity`,
leading `+`, `.5`) or an empty file.

## Why is this bad?
wrangler reads `wrangler.jsonc` with Microsoft's jsonc-parser and refuses the deploy on the
first error; a file helm-guard cannot read is a file it cannot prove safe, so it blocks.

## Example
```jsonc
{ 'name': 'helm-acme' }
```

Use instead:
```jsonc
{ "name": "helm-acme" }
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import ConfigFile, Context, Problem
from helm_guard.jsonc import Span

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg101_syntax_error as _this
    from helm_guard.rules.types import FileRule
    _: FileRule = _this

ID = "HG101"
NAME = "syntax-error"
SEVERITY = "error"
SCOPE = "file"
SUMMARY = "The config file is not JSONC that wrangler accepts."


def check(f: ConfigFile, ctx: Context) -> Iterator[Problem]:
    doc = f.doc
    if doc is None or doc.error is None or doc.error.code == "InvalidEncoding":
        return
    e = doc.error
    yield Problem(doc, f.rel, (), f"syntax error: {e.message}",
                  span=Span(e.line, e.col, e.end_line, e.end_col))
