"""## What it does
Reports slugs and resource names (Worker, D1 database, R2 bucket, service, route) that contain
non-ASCII characters, or that are *confusable* with another shop's resource name
(`helm-acrne-db` for `helm-acme-db`, `0` for `o`, `1` for `l`).

## Why is this bad?
A name that looks right in review but is not is how a swap survives human eyes: `helm-асme`
with a Cyrillic `а` is a different Worker from `helm-acme`.

## Example
```jsonc
{"name": "helm-асme"}
```

Use instead:
```jsonc
{"name": "helm-acme"}
```
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo
from helm_guard.jsonc import JsonPath

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg302_confusable_name as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG302"
NAME = "confusable-name"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "A slug or resource name is non-ASCII or confusable with another shop's."

_DIGRAPHS = (("rn", "m"), ("vv", "w"), ("cl", "d"))
_SINGLE = str.maketrans({"0": "o", "1": "l", "i": "l", "5": "s", "_": "-"})


def skeleton(name: str) -> str:
    """A form in which look-alike spellings coincide (`helm-acrne` ~ `helm-acme`)."""
    s = name.lower() if name.isascii() else unicodedata.normalize("NFKC", name).lower()
    for a, b in _DIGRAPHS:
        if a in s:
            s = s.replace(a, b)
    return s.translate(_SINGLE)


def _names(t: TargetInfo) -> list[tuple[str | None, int, str | None, str]]:
    """(key, index, field, name) of every name of the target; key None is the Worker name, field
    None a route (paths are worked out only for a problem)."""
    target = t.target
    out: list[tuple[str | None, int, str | None, str]] = []
    worker = target.worker
    if worker is not None:
        out.append((None, 0, None, worker))
    for key, field in _FIELDS:
        for i, b in target.indexed_bindings(key):
            value = b.get(field)
            if isinstance(value, str):
                out.append((key, i, field, value))
    routes = target.routes
    if routes:
        for i, r in enumerate(routes):
            pattern = r.get("pattern") if isinstance(r, dict) else r
            if isinstance(pattern, str):
                out.append(("routes", i, None, pattern))
    return out


_FIELDS = (("d1_databases", "database_name"), ("r2_buckets", "bucket_name"),
           ("r2_buckets", "preview_bucket_name"), ("services", "service"))


def _path(t: TargetInfo, key: str | None, i: int, field: str | None) -> JsonPath:
    target = t.target
    if key is None:
        return target.worker_origin
    if field is None:
        return target.routes_origin + (i,)
    return target.origin(key) + (i, field)


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    if t.file.entry.slug and not t.file.entry.slug.isascii():
        yield ctx.problem(t, (), f"the shop folder name {t.file.entry.slug!r} is not ASCII")
    if _plain(t, ctx):
        return
    owners = ctx.owners
    for key, i, field, name in _names(t):
        if not name.isascii():
            bad = sorted({f"U+{ord(c):04X} {unicodedata.name(c, '?')}" for c in name
                          if not c.isascii()})
            yield ctx.problem(t, _path(t, key, i, field), f"name {name!r} contains non-ASCII "
                              f"characters: {', '.join(bad)}")
            continue
        if name.lower() in owners:
            continue  # an exact, known name: ownership rules judge it
        bare = name[8:] if name.startswith("https://") else \
            name[7:] if name.startswith("http://") else name
        key_ = skeleton(bare)
        skeletons = _skeletons(ctx, "." in bare)
        if key_ in skeletons and skeletons[key_] != name.lower():
            yield ctx.problem(t, _path(t, key, i, field), f"name {name!r} is confusable with "
                              f"{skeletons[key_]!r}, a registered resource name")


def _plain(t: TargetInfo, ctx: Context) -> bool:
    """The common case, cheaply: every name of `t` (as `_names` lists them) is ASCII and an
    exact registered name, and its routes are ASCII with no registered host name to be
    confused with (`check` would find nothing)."""
    owners = ctx.owners
    target = t.target
    worker = target.worker
    if worker is not None and not (worker.isascii() and worker.lower() in owners):
        return False
    for key, field in _FIELDS:
        for _, b in target.indexed_bindings(key):
            value = b.get(field)
            if isinstance(value, str) and not (value.isascii() and value.lower() in owners):
                return False
    routes = target.routes
    if routes:
        for r in routes:
            pattern = r.get("pattern") if isinstance(r, dict) else r
            if not isinstance(pattern, str):
                continue
            if not pattern.isascii():
                return False
            if pattern.lower() in owners:
                continue
            if "." not in pattern or _skeletons(ctx, True):
                return False  # compared with the other names, or with registered hosts
    return True


def _skeletons(ctx: Context, hostnames: bool) -> dict[str, str]:
    """Skeleton -> registered name, for host names (routes) or for the other names; each index
    is built the first time a name of its kind is not an exact registered name."""
    key = f"{ID}:{'hosts' if hostnames else 'names'}"
    if key not in ctx.cache:
        ctx.cache[key] = {skeleton(name): name for name in ctx.owners
                          if ("." in name) == hostnames}
    skeletons: dict[str, str] = ctx.cache[key]
    return skeletons
