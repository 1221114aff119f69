"""The one walk of the fleet repository that HG104 (files wrangler reads beside a config) and
HG606 (stray configs) share (not a rule).

Map phase (`collect`, in the worker processes of a parallel run): each config folder with no
other config folder below it (a *leaf*, e.g. `shops/acme`) is walked by the process that maps
a config in it, once for both rules (memoised in `Context.cache`), and the process reports the
folder as walked. Reduce (`found`): the parent walks the rest of the tree, skipping only the
folders a worker *reported* as walked. So a folder is never skipped because some list says a
config should be there (a candidate config that turned out not to exist, a file that failed
to load): what no worker walked, the parent walks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from helm_guard.context import ConfigFile, Context
from helm_guard.side_inputs import Found, walk

_LEAVES = "_tree.leaves"
_WALKS = "_tree.walks"
_REST = "_tree.rest"

Summary = tuple[frozenset[str], tuple[Found, ...]]


def leaf_dirs(ctx: Context) -> frozenset[str]:
    """Config folders with no other config folder below them (the fleet root excluded)."""
    leaves: frozenset[str] | None = ctx.cache.get(_LEAVES)
    if leaves is None:
        dirs = {rel.rpartition("/")[0] for rel in ctx.covered}
        ancestors: set[str] = set()
        for d in dirs:
            while d:
                d = d.rpartition("/")[0]
                if d in ancestors:
                    break  # and so are all of its own ancestors
                ancestors.add(d)
        leaves = ctx.cache[_LEAVES] = frozenset(d for d in dirs if d and d not in ancestors)
    return leaves


def collect(f: ConfigFile, ctx: Context, kinds: frozenset[str]) -> Iterator[str | Found]:
    """For a config in a leaf folder: the folder (walked) and what the walk found of `kinds`."""
    d = f.rel.rpartition("/")[0]
    if d not in leaf_dirs(ctx):
        return
    walks: dict[str, tuple[Found, ...]] = ctx.cache.setdefault(_WALKS, {})
    found = walks.get(d)
    if found is None:
        found = walks[d] = tuple(walk(ctx.fleet.root, d))
    yield d
    for x in found:
        if x.kind in kinds:
            yield x


_last_walked: list[frozenset[str]] = []  # this process's last walked set (see summarize)


def summarize(items: Sequence[str | Found]) -> Summary:
    """(the folders walked, what was found). Both rules walk the same folders: handing back
    the same set object lets the worker's result pickle it once."""
    walked = frozenset(x for x in items if isinstance(x, str))
    if _last_walked and _last_walked[0] == walked:
        walked = _last_walked[0]
    else:
        _last_walked[:] = [walked]
    return walked, tuple(x for x in items if not isinstance(x, str))


def found(ctx: Context, collected: Sequence[Any], kinds: frozenset[str]) -> set[Found]:
    """Everything of `kinds` in the fleet repository: what the workers found in the folders
    they walked, and the parent's walk of every other folder."""
    walked: set[str] = set()
    out: set[Found] = set()
    for part in collected:
        part_walked, part_found = part
        walked.update(part_walked)
        out.update(part_found)
    key = frozenset(walked)
    rest = ctx.cache.get(_REST)
    if rest is None or rest[0] != key:
        rest = ctx.cache[_REST] = (key, tuple(walk(ctx.fleet.root, "", key)))
    out.update(x for x in rest[1] if x.kind in kinds)
    return out
