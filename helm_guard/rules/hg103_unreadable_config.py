"""## What it does
Reports a config file named by the fleet that cannot be read as wrangler reads it: missing or
unreadable, a symlink leading outside the repository, not UTF-8, or starting with a UTF-16/32
byte order mark.

## Why is this bad?
A file helm-guard cannot read is a file it cannot prove safe. wrangler refuses UTF-16/32
files; a symlink outside the repository means the reviewed commit is not what gets deployed.

## Example
A `wrangler.jsonc` saved as UTF-16 by an editor, or `shops/acme/wrangler.jsonc ->
/home/me/wrangler.jsonc`.

Use instead:
A regular UTF-8 file (a UTF-8 byte order mark is accepted) inside the repository.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import ConfigFile, Context, Problem
from helm_guard.jsonc import Span

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg103_unreadable_config as _this
    from helm_guard.rules.types import FileRule
    _: FileRule = _this

ID = "HG103"
NAME = "unreadable-config"
SEVERITY = "error"
SCOPE = "file"
SUMMARY = "A config file cannot be read (missing, outside the repository, or not UTF-8)."


def check(f: ConfigFile, ctx: Context) -> Iterator[Problem]:
    if f.read_error is not None:
        yield Problem(None, f.rel, (), f.read_error)
    elif f.doc is not None and f.doc.error is not None and f.doc.error.code == "InvalidEncoding":
        e = f.doc.error
        yield Problem(f.doc, f.rel, (), e.message, span=Span(e.line, e.col, e.end_line, e.end_col))
