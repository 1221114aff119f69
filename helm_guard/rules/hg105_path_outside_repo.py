"""## What it does
Reports every file or folder path in a config that wrangler 4.86 reads (bundles, uploads or
applies) and that leads outside the fleet repository (the folder holding `helm-fleet.jsonc`):
after `..`, as an absolute path, or through a symlink. wrangler resolves these paths with
`path.resolve(<the config's folder>, value)` (`normalizeAndValidateMainField`, l.30062 of
`wrangler-dist/cli.js`; `normalizeAndValidateBaseDirField` l.29885, the same join for
`tsconfig` l.31037, `build.watch_dir` l.29862, `site` l.30083, the module paths of
`wasm_modules`/`text_blobs`/`data_blobs` l.30129, `containers[].image` l.31122), so this rule
resolves them the same way, against the real file system:

- `main`, `base_dir` (the folder `find_additional_modules` walks), `tsconfig`,
  `pages_build_output_dir`, `assets.directory`, `build.cwd`, `build.watch_dir`;
- `d1_databases[].migrations_dir` (the SQL `wrangler d1 migrations apply` runs);
- `site.bucket`, `site.entry-point`, the values of `wasm_modules`, `text_blobs`, `data_blobs`;
- `alias` values that are paths (`./x`, `../x`, `/x`; a bare package name is resolved from
  `node_modules` like any import of the Worker's code);
- `containers[].image` when it is a Dockerfile (a path, or a file that exists: wrangler's own
  test, `isDockerfile` l.31638), `containers[].image_build_context`.

Every target is looked at (env blocks too, with wrangler's inheritance: an env's own `main`
is its own block's, an inherited one is the top level's). `~` is not special (wrangler does
not expand it: `~/x` is a folder named `~` beside the config). A path that cannot be resolved
(a folder that cannot be searched, a symlink loop, a NUL character) is reported too. Keys
that helm-guard does not know as paths are HG206's (unmodelled keys). Paths through the
repository's own `node_modules` are inside the repository for this rule.

## Why is this bad?
The deployed code or data would be something no reviewer of the repository sees: a `main`
of `../../../elsewhere/worker.js` or `/home/op/worker.js`, or a symlink committed as
`shops/acme/lib -> /tmp/x`, ships whatever lies there on the machine that runs wrangler, and
its digest does not change when that file does.

## Example
```jsonc
"main": "../../../payloads/worker.js"
```

Use instead:
```jsonc
"main": "../../src/index.js"
```
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from helm_guard.context import ConfigFile, Context, Problem, TargetInfo
from helm_guard.jsonc import JsonPath, format_json_path

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg105_path_outside_repo as _this
    from helm_guard.rules.types import FileRule
    _: FileRule = _this

ID = "HG105"
NAME = "path-outside-repo"
SEVERITY = "error"
SCOPE = "file"
SUMMARY = "A file or folder path in the config leads outside the fleet repository."

_Found = Iterator[tuple[JsonPath, str]]  # (path below a key, a path-valued string)


def _one(value: Any) -> _Found:
    if isinstance(value, str):
        yield (), value


def _fields(*names: str) -> Callable[[Any], _Found]:
    def get(value: Any) -> _Found:
        if isinstance(value, Mapping):
            for name in names:
                v = value.get(name)
                if isinstance(v, str):
                    yield (name,), v
                elif isinstance(v, list):  # build.watch_dir may be a list
                    yield from (((name, i), x) for i, x in enumerate(v) if isinstance(x, str))
    return get


def _each(inner: Callable[[Any], _Found]) -> Callable[[Any], _Found]:
    def get(value: Any) -> _Found:
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield from (((i, *sub), v) for sub, v in inner(item))
    return get


def _values(value: Any) -> _Found:
    if isinstance(value, Mapping):
        yield from (((k,), v) for k, v in value.items() if isinstance(v, str))


def _alias(value: Any) -> _Found:
    yield from ((p, v) for p, v in _values(value) if v.startswith(("./", "../", "/"))
                or v in (".", ".."))


def _image(value: Any) -> _Found:  # an image is a path when it looks like one or exists
    for sub, v in _fields("image", "image_build_context")(value):
        if sub[0] == "image_build_context" or v.startswith(("./", "../", "/")):
            yield sub, v
        else:
            yield (*sub, _IF_EXISTS), v


_IF_EXISTS = "\0if-exists"  # marker: check only when the path exists (wrangler's own test)

# key -> the path-valued strings inside its value: (path below the key, value)
PATH_KEYS: dict[str, Callable[[Any], _Found]] = {
    "main": _one, "base_dir": _one, "tsconfig": _one, "pages_build_output_dir": _one,
    "assets": _fields("directory"), "build": _fields("cwd", "watch_dir"),
    "site": _fields("bucket", "entry-point"),
    "wasm_modules": _values, "text_blobs": _values, "data_blobs": _values, "alias": _alias,
    "d1_databases": _each(_fields("migrations_dir")), "containers": _each(_image),
}
_RARE = frozenset(PATH_KEYS) - {"main", "d1_databases"}  # the common two: checked first


class _Unresolvable(Exception):
    pass


class _Paths:
    """Per run: the fleet root, and memos of the real path of every path looked at (one
    `lstat` per distinct path component) and of the verdict per distinct path."""

    def __init__(self, ctx: Context) -> None:
        self.root = os.path.abspath(str(ctx.fleet.root))
        self.real: dict[str, str] = {}
        self.verdicts: dict[str, str | None] = {}
        self.shapes: dict[str, tuple[int, str] | None] = {}
        # depth of a config's folder -> values known to stay inside from every such folder
        self.clean: dict[int, set[str]] = {}
        try:
            self.real_root = self._real(self.root)
        except _Unresolvable:
            self.real_root = self.root

    def _real(self, path: str) -> str:
        """`path` (absolute, normalised) with every symlink on it resolved."""
        real = self.real.get(path)
        if real is None:
            parent, leaf = posixpath.split(path)
            if not leaf or parent == path:
                real = path
            else:
                full = posixpath.join(self._real(parent), leaf)
                try:
                    mode = os.lstat(full).st_mode
                except (FileNotFoundError, NotADirectoryError):
                    mode = 0  # does not exist: nothing below it can be a link either
                except (OSError, ValueError) as exc:
                    raise _Unresolvable(_reason(exc)) from None
                if stat.S_ISLNK(mode):
                    try:
                        os.stat(full)
                    except (FileNotFoundError, NotADirectoryError):
                        pass  # dangling: where it points is still where wrangler would look
                    except (OSError, ValueError) as exc:
                        raise _Unresolvable(_reason(exc)) from None
                    real = os.path.realpath(full)
                else:
                    real = full
            self.real[path] = real
        return real

    def _shape(self, value: str) -> tuple[int, str] | None:
        """(how many `..` lead the value, the rest) when the rest is plain names, so the
        path relative to the fleet root is string arithmetic on the config's folder; else
        None (the slow road: a full normalisation)."""
        ups, rest = 0, value
        while True:
            if rest.startswith("../"):
                ups, rest = ups + 1, rest[3:]
            elif rest.startswith("./"):
                rest = rest[2:]
            else:
                break
        shape: tuple[int, str] | None = (ups, rest)
        if rest in ("", ".", "..") or "\0" in rest or any(
                p in ("", ".", "..") for p in rest.split("/")):
            shape = None
        self.shapes[value] = shape
        return shape

    def verdict(self, rel_dir: str, value: Any) -> str | None:
        """None when `value`, resolved from the config folder `rel_dir` (relative to the fleet
        root), stays inside the fleet repository (or is no string: HG201's); else what is
        wrong."""
        try:
            shape = self.shapes[value]
        except (KeyError, TypeError):  # a new value, or an unhashable non-string
            if not isinstance(value, str):
                return None
            shape = self._shape(value)
        if shape is not None:
            ups, rest = shape
            depth = rel_dir.count("/") + 1 if rel_dir else 0
            if ups > depth:
                return self._outside(rel_dir, value)
            base = rel_dir.rsplit("/", ups)[0] if ups < depth else ""
            rel = f"{base}/{rest}" if base else rest
            if not base:  # the same path from every folder this deep: remember it
                verdict = self._verdict_of(rel)
                if verdict is None:
                    self.clean.setdefault(depth, set()).add(value)
                return verdict
        else:
            if "\0" in value:
                return "cannot be resolved (it holds a NUL character)"
            full = posixpath.normpath(posixpath.join(self.root, rel_dir, value))
            if not _under(full, self.root):
                return self._outside(rel_dir, value)
            rel = full[len(self.root):].lstrip("/")
        return self._verdict_of(rel)

    def _verdict_of(self, rel: str) -> str | None:
        try:
            return self.verdicts[rel]
        except KeyError:
            verdict = self.verdicts[rel] = self._real_verdict(rel)
            return verdict

    def _outside(self, rel_dir: str, value: str) -> str:
        full = posixpath.normpath(posixpath.join(self.root, rel_dir, value))
        where = full if posixpath.isabs(value) else \
            f"{posixpath.relpath(full, self.root)} (from the fleet root)"
        return (f"resolves to {where}, outside the fleet repository (wrangler resolves it "
                "from the config's folder: path.resolve)")

    def _real_verdict(self, rel: str) -> str | None:
        full = posixpath.join(self.root, rel) if rel else self.root
        try:
            real = self._real(full)
        except _Unresolvable as exc:
            return f"cannot be resolved ({exc})"
        if _under(real, self.real_root):
            return None
        return (f"resolves to {rel or '.'} inside the repository, but a symlink on the way "
                f"leads to {real}, outside it")


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root if root.endswith("/") else root + "/")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return str(exc) or type(exc).__name__


def _paths(ctx: Context) -> _Paths:
    paths: _Paths | None = ctx.cache.get(ID)
    if paths is None:
        paths = ctx.cache[ID] = _Paths(ctx)
    return paths


def check(f: ConfigFile, ctx: Context) -> Iterator[Problem]:
    # each target's own block only: what an env inherits is the top level's, checked there.
    # The hot path (10,000 shops with `main` and a D1 `migrations_dir`) is a few dict lookups
    # per target: the common keys are tested one by one, the rare ones with one set test.
    if not f.targets:
        return
    paths: _Paths = ctx.cache.get(ID) or _paths(ctx)
    rel_dir = f.rel.rpartition("/")[0]
    depth = rel_dir.count("/") + 1 if rel_dir else 0
    clean = paths.clean.setdefault(depth, set())
    for t in f.targets:
        raw = t.target.raw
        if "main" in raw:
            v = raw["main"]
            if v not in clean if v.__class__ is str else True:
                wrong = paths.verdict(rel_dir, v)
                if wrong is not None:
                    yield _problem(f, t, (*t.target.prefix, "main"), v, wrong)
        d1 = raw.get("d1_databases")
        if d1.__class__ is list:
            for i, b in enumerate(d1):
                if b.__class__ is dict and "migrations_dir" in b:
                    v = b["migrations_dir"]
                    if v.__class__ is str and v in clean:
                        continue
                    wrong = paths.verdict(rel_dir, v)
                    if wrong is not None:
                        yield _problem(f, t, (*t.target.prefix, "d1_databases", i,
                                              "migrations_dir"), b["migrations_dir"], wrong)
        if _RARE.isdisjoint(raw):
            continue
        for key in sorted(_RARE.intersection(raw)):
            for sub, v in PATH_KEYS[key](raw[key]):
                if sub and sub[-1] == _IF_EXISTS:
                    sub = sub[:-1]
                    if not os.path.lexists(posixpath.join(paths.root, rel_dir, v)):
                        continue  # an image registry reference, not a Dockerfile
                wrong = paths.verdict(rel_dir, v)
                if wrong is not None:
                    yield _problem(f, t, (*t.target.prefix, key, *sub), v, wrong)


def _problem(f: ConfigFile, t: TargetInfo, where: JsonPath, value: str, wrong: str) -> Problem:
    return Problem(f.doc, f.rel, where, (
        f"{format_json_path(where)} is {value!r}, which {wrong}: wrangler would bundle, "
        "upload or apply what lies there, which no reviewer of the repository sees; keep it "
        "inside the fleet repository, as a real folder or file, not a symlink"), t.shop)
