"""Expand a fleet file's `configs` glob exactly as `glob.glob(pattern, root_dir=root)` does, and
say for each match whether its path passes through a symbolic link.

The common patterns (`shops/*/wrangler.jsonc`: literal and single-segment wildcard parts) are
expanded here with one `scandir` per wildcard directory and one `lstat` per literal part. That
is about twice as fast as `glob.glob` on 10,000 shops, and it learns for free which paths cross
a symlink, so the readers need not `lstat` every component again (a symlink can lead a config
outside the fleet repository). Anything else (`**`, `.`/`..` parts, absolute patterns,
non-POSIX systems) goes to `glob.glob`, with the link question left open (`None`).

With `check_last=False` a literal last part (`wrangler.jsonc`) is not looked up at all: the
candidates come back unchecked, and whoever opens them learns whether they exist (a missing
file is then simply no match). On 10,000 shops that moves 10,000 `lstat` calls out of the
serial start of a check into the parallel readers, which open every file anyway.

Matching follows `glob`: `fnmatch` per part, a wildcard part that does not start with `.` does
not match hidden names, intermediate wildcard parts match only directories (links followed),
and a literal part matches anything that exists (`lexists`: a dangling link too).
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import stat
from collections.abc import Callable, Sequence

__all__ = ["defers_last", "expand"]

_MAGIC = re.compile(r"[*?[]")


def _fast_parts(pattern: str) -> list[str] | None:
    """The pattern's parts when this module expands it itself; None: `glob.glob` does."""
    parts = pattern.split("/")
    if os.sep != "/" or any(p in ("", ".", "..") or "**" in p for p in parts):
        return None
    return parts


def defers_last(pattern: str) -> bool:
    """Whether `expand(..., check_last=False)` leaves the matches of `pattern` unchecked."""
    parts = _fast_parts(pattern)
    return parts is not None and _MAGIC.search(parts[-1]) is None


def expand(root: str, pattern: str, *,
           check_last: bool = True) -> Sequence[tuple[str, bool | None]]:
    """`(relative path, passes through a symlink)` for every match of `pattern` under `root`,
    in no particular order. The flag is None where this module cannot tell. With
    `check_last=False` and `defers_last(pattern)`, the last part is not looked up: the paths
    are candidates that may not exist, and the flag says whether their *directory* passes
    through a symlink."""
    parts = _fast_parts(pattern)
    if parts is None:
        return [(rel, None) for rel in glob.glob(pattern, root_dir=root, recursive=True)]
    level: list[tuple[str, bool]] = [("", False)]
    last = len(parts) - 1
    for i, part in enumerate(parts):
        found: list[tuple[str, bool]] = []
        if i == last and not check_last and _MAGIC.search(part) is None:
            found = [(f"{rel_dir}/{part}" if rel_dir else part, linked)
                     for rel_dir, linked in level]
        elif _MAGIC.search(part) is None:
            for rel_dir, linked in level:
                rel = f"{rel_dir}/{part}" if rel_dir else part
                try:
                    mode = os.lstat(os.path.join(root, rel)).st_mode
                except (OSError, ValueError):
                    continue
                found.append((rel, linked or stat.S_ISLNK(mode)))
        else:
            match = re.compile(fnmatch.translate(part)).match
            hidden_ok = part.startswith(".")
            dirs_only = i < last
            for rel_dir, linked in level:
                found.extend(_scan(root, rel_dir, linked, match, hidden_ok, dirs_only))
        level = found
    return level


def _scan(root: str, rel_dir: str, linked: bool, match: Callable[[str], object], hidden_ok: bool,
          dirs_only: bool) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    try:
        it = os.scandir(os.path.join(root, rel_dir) if rel_dir else root)
    except (OSError, ValueError):
        return out
    with it:
        for entry in it:
            name = entry.name
            if (name[0] == "." and not hidden_ok) or not match(name):
                continue
            try:
                if dirs_only and not entry.is_dir():
                    continue
                is_link = entry.is_symlink()
            except OSError:
                continue
            out.append((f"{rel_dir}/{name}" if rel_dir else name, linked or is_link))
    return out
