"""wrangler's whole dependency closure, verified before a process that holds the token starts.

`sandbox.pinned_package` proves that `bin/wrangler.js` and `wrangler-dist/cli.js` are the
published files; everything they load at run time (esbuild and its native `@esbuild/<platform>`
binary, miniflare, workerd and `@cloudflare/workerd-<platform>`, unenv, undici, sharp, ...)
comes from the same `node_modules` tree. `verify_tree` proves that what **node will load** is
exactly the closure helm-guard ships in `wrangler_tree.json` (made from helm-guard's own lock,
`tests/node/package-lock.json`, which pins wrangler 4.86.0):

- **Resolution, the way node does it.** Starting at wrangler, every name a closure package can
  `require`/`import` by bare name is resolved as `Module._nodeModulePaths` does: from the
  package's folder up to `/`, `<dir>/node_modules/<name>` for every ancestor whose own name is
  not `node_modules`, then the global folder `<node prefix>/lib/node` (`$HOME` is the run's
  private folder, `NODE_PATH` is never passed: `sandbox.wrangler_environment`). The first
  `<name>`, `<name>.js`, `.json` or `.node` that exists wins (conservatively: node would skip a
  folder it cannot load; helm-guard blocks instead). A symlink on the way (the `node_modules`
  folder, an `@scope` folder, the package) is refused: node follows it to a place helm-guard
  did not choose. Names come from the package's `dependencies`, `optionalDependencies`, the
  `peerDependencies` its code requires, and every literal `require("x")`/`require.resolve`/
  `import("x")` of a bare name found in its code when the manifest was made (e.g. `ws` and the
  bundled copy in `cli.js` try `bufferutil`/`utf-8-validate`; esbuild and workerd try `pnpapi`;
  `cli.js` ~l.21944 loads `sqlite` by that bare name). A name the manifest records as absent
  (another platform's binary package, an optional peer that is not installed) must resolve
  **nowhere**: a planted `node_modules/bufferutil`, or an `@esbuild/darwin-arm64` the manifest
  was not made with, blocks.
- **Content.** The folder each name lands on must hold exactly the files recorded for that
  package (every regular file, its size and SHA-256; no file missing, none extra, no symlink, no
  device or fifo) and its `package.json` name and version. A package's own `node_modules`
  folder may hold only packages that closure resolution lands on. Where npm places a package is
  not fixed (a fleet's lock may hoist differently): what is verified is that node's resolution
  from each verified package reaches verified content, which is what node runs. Except for
  native code: sharp's `lib/sharp-linux-x64.node` finds `libvips-cpp.so` through its RPATH
  (`$ORIGIN/../../sharp-libvips-linux-x64/lib`, then paths such as
  `$ORIGIN/../../../sharp-libvips-linux-x64/1.2.4/lib` that any package could fill), so a
  package with a `.node` file (`"native"` in the manifest) must find what it requires beside
  it in the same `node_modules` folder, where the first RPATH entry (verified) points.
- **Install scripts.** The manifest is made from `npm ci --ignore-scripts`. esbuild's and
  workerd's `postinstall` (`install.js`, `maybeOptimizePackage`) replace `bin/esbuild` /
  `bin/workerd` with a hard link to the platform binary; that file is accepted either way
  (the published shim or a byte-identical copy of a recorded platform binary), nothing else.
  The binary itself is found by esbuild's `generateBinPath` (`esbuild/lib/main.js` l.1680:
  `require.resolve(`${pkg}/${subpath}`)`, the same walk) and workerd's (`lib/main.js` l.83).

Not covered (docs/threat-model.md, Open): a `require` whose name is computed at run time and
is neither declared nor written as a literal (in `cli.js`: unenv alias resolution, l.136067,
only `require.resolve` for bundling; the framework auto-configuration `getPackagePath`,
l.219145, from the project folder; yargs' config `extends`, l.40407).

Cost on the `npm ci` tree of tests/node: 35 packages, 1,591 files, 334 MB (199 MB of distinct
inodes: the postinstall binaries are hard links), ~0.3 s the first time in a helm-guard process
and ~0.08 s after that (a memo keyed by device, inode, size, mtime and ctime, in memory only,
never on disk): `benchmarks/bench_wrangler_tree.py`.

The manifest is regenerated with
`python -m helm_guard.cloudflare.tree --generate <dir>/node_modules --lock <dir>/package-lock.json`
from a clean `npm ci --ignore-scripts` of helm-guard's lock on the platform to cover
(`tests/test_wrangler_tree.py` proves the shipped file equals a fresh generation here).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from helm_guard.cloudflare.sandbox import PINNED_VERSION, SandboxError, file_sha256

MANIFEST = Path(__file__).with_name("wrangler_tree.json")
ROOT_KEY = "node_modules/wrangler"
HINT = ("reinstall wrangler from the lock file without install scripts, in a step that holds no "
        f"Cloudflare token (`rm -rf node_modules && npm ci --ignore-scripts`); the lock must pin "
        f"wrangler {PINNED_VERSION} with the dependency versions of helm-guard's "
        "tests/node/package-lock.json")
REGEN_HINT = ("this platform's binary packages are not in helm-guard's manifest: regenerate it on "
              "this platform from a clean `npm ci --ignore-scripts` of helm-guard's "
              "tests/node/package-lock.json with `python -m helm_guard.cloudflare.tree "
              "--generate <dir>/node_modules --lock <dir>/package-lock.json` (see "
              "helm_guard/cloudflare/tree.py)")
class Verified(NamedTuple):
    """What `verify_tree` checked: packages (folders), files and bytes hashed or memoized."""

    packages: int
    files: int
    bytes: int


@cache
def load_manifest(path: Path = MANIFEST) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SandboxError(f"helm-guard's wrangler manifest {path} is unreadable ({exc})",
                           hint="reinstall helm-guard") from None
    if not isinstance(data, dict) or data.get("wrangler") != PINNED_VERSION:
        raise SandboxError(f"helm-guard's wrangler manifest {path} is not for wrangler "
                           f"{PINNED_VERSION}", hint="reinstall helm-guard")
    return data


def _rel(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def search_dirs(pkg_dir: Path, node: Path | None) -> list[Path]:
    """The folders node searches for a bare name required from `pkg_dir`, in order."""
    dirs = [d / "node_modules" for d in (pkg_dir, *pkg_dir.parents) if d.name != "node_modules"]
    if node is not None:
        dirs.append(node.parent.parent / "lib" / "node")
    return dirs


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return path.lstat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SandboxError(f"{path} is unreadable ({exc.strerror or exc})", hint=HINT) from None


def resolve_name(pkg_dir: Path, name: str, node: Path | None) -> Path | None:
    """Where node finds package `name` from `pkg_dir` (a folder), or None; SandboxError for a
    symlink or a file standing where node would look."""
    for nm in search_dirs(pkg_dir, node):
        st = _lstat(nm)
        if st is None:
            continue
        if stat.S_ISLNK(st.st_mode):
            raise SandboxError(f"{nm} is a symlink on node's resolution path of `{name}`: node "
                               "would load whatever it points at", hint=HINT)
        if "/" in name:
            scope = nm / name.split("/")[0]
            sst = _lstat(scope)
            if sst is not None and stat.S_ISLNK(sst.st_mode):
                raise SandboxError(f"{scope} is a symlink where a scope folder is expected",
                                   hint=HINT)
        base = nm / name
        for cand in (base, *(base.with_name(base.name + ext) for ext in (".js", ".json", ".node"))):
            cst = _lstat(cand)
            if cst is None:
                continue
            if stat.S_ISLNK(cst.st_mode):
                raise SandboxError(f"{cand} is a symlink where the package `{name}` is expected: "
                                   "node would load whatever it points at", hint=HINT)
            if cand != base or not stat.S_ISDIR(cst.st_mode):
                raise SandboxError(f"{cand} stands on node's resolution path of `{name}` and is "
                                   "not a package folder: node would load it", hint=HINT)
            return base
    return None


def walk_files(pkg_dir: Path) -> Iterator[tuple[str, Path, os.stat_result]]:
    """Every file of a package (its own `node_modules` excluded), sorted; SandboxError for a
    symlink or anything that is not a regular file or folder."""
    stack = [pkg_dir]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            raise SandboxError(f"{folder} is unreadable ({exc.strerror or exc})",
                               hint=HINT) from None
        for entry in entries:
            path = Path(entry.path)
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                raise SandboxError(f"{path} is a symlink inside a package wrangler loads: "
                                   "refused (a link can point anywhere)", hint=HINT)
            if stat.S_ISDIR(st.st_mode):
                if not (folder == pkg_dir and entry.name == "node_modules"):
                    stack.append(path)
            elif stat.S_ISREG(st.st_mode):
                yield path.relative_to(pkg_dir).as_posix(), path, st
            else:
                raise SandboxError(f"{path} is not a regular file (a device, fifo or socket)",
                                   hint=HINT)


def nested_packages(pkg_dir: Path) -> list[Path]:
    """The package folders in `pkg_dir/node_modules` (dot entries skipped: never a bare name)."""
    nm = pkg_dir / "node_modules"
    st = _lstat(nm)
    if st is None:
        return []
    if not stat.S_ISDIR(st.st_mode):
        raise SandboxError(f"{nm} is not a folder (a symlink?): refused", hint=HINT)
    out: list[Path] = []
    for entry in sorted(os.listdir(nm)):
        if entry.startswith("."):
            continue
        if entry.startswith("@") and (nm / entry).is_dir() and not (nm / entry).is_symlink():
            out.extend(nm / entry / sub for sub in sorted(os.listdir(nm / entry)))
        else:
            out.append(nm / entry)
    return out


def _check_package(pkg_dir: Path, key: str, rec: Mapping[str, Any], base: Path
                   ) -> tuple[int, int]:
    name, version = rec["name"], rec["version"]
    where = _rel(pkg_dir, base)
    try:
        meta = json.loads((pkg_dir / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SandboxError(f"{name} at {where}: package.json is unreadable ({exc})",
                           hint=HINT) from None
    got = (meta.get("name"), meta.get("version")) if isinstance(meta, dict) else (None, None)
    if got != (name, version):
        raise SandboxError(f"node resolves `{name}` to {where}, which is {got[0]!r} "
                           f"{got[1]!r}, not {name} {version} as in helm-guard's lock "
                           f"({key}): refusing to run wrangler with the token", hint=HINT)
    want: Mapping[str, str] = rec["files"]  # relpath -> "size:sha256"
    also: Mapping[str, list[str]] = rec.get("also", {})
    seen: set[str] = set()
    count = size = 0
    for rel, path, st in walk_files(pkg_dir):
        if rel not in want:
            raise SandboxError(f"{name} {version} at {where}: {rel} is not a file of the "
                               "published package (added after install)", hint=HINT)
        seen.add(rel)
        ok = False
        for allowed in (want[rel], *also.get(rel, ())):
            a_size, a_sha = allowed.split(":")
            if st.st_size == int(a_size):
                try:
                    ok = file_sha256(path, st) == a_sha
                except OSError as exc:
                    raise SandboxError(f"{name} at {where}: {rel} is unreadable "
                                       f"({exc.strerror or exc})", hint=HINT) from None
                if ok:
                    break
        if not ok:
            raise SandboxError(f"{name} {version} at {where}: {rel} is not the published file "
                               "(size or SHA-256 differs): it was modified; refusing to run "
                               "wrangler with the token", hint=HINT)
        count += 1
        size += st.st_size
    missing = sorted(set(want) - seen)
    if missing:
        raise SandboxError(f"{name} {version} at {where}: {missing[0]} is missing"
                           + (f" (and {len(missing) - 1} more files)" if len(missing) > 1 else ""),
                           hint=HINT)
    return count, size


def verify_tree(pkg_root: Path, node: Path | None = None, *,
                manifest: Mapping[str, Any] | None = None) -> Verified:
    """Verify wrangler's closure from its package folder `pkg_root` (a real path); SandboxError
    (exit 1) names the package, the path and what to do. Never prints file contents."""
    m = load_manifest() if manifest is None else manifest
    packages: Mapping[str, Mapping[str, Any]] = m["packages"]
    absent: Mapping[str, str] = m.get("absent", {})
    base = pkg_root.parent.parent
    landed: dict[Path, str] = {}
    queue: list[tuple[str, Path]] = [(m["root"], pkg_root)]
    files = size = 0
    while queue:
        key, pkg_dir = queue.pop()
        if pkg_dir in landed:
            if landed[pkg_dir] != key:
                raise SandboxError(f"{_rel(pkg_dir, base)} is resolved as two different "
                                   f"packages ({landed[pkg_dir]}, {key})", hint=HINT)
            continue
        landed[pkg_dir] = key
        rec = packages[key]
        n, b = _check_package(pkg_dir, key, rec, base)
        files, size = files + n, size + b
        requires: Mapping[str, str | None] = rec.get("requires", {})
        # names that must resolve nowhere first: an unknown platform package is the clearer cause
        for dep, target in sorted(requires.items(), key=lambda kv: kv[1] is not None):
            found = resolve_name(pkg_dir, dep, node)
            if target is None:
                if found is not None:
                    what = absent.get(dep, "not part of wrangler's closure")
                    platform = what.startswith("optional platform package")
                    raise SandboxError(
                        f"{_rel(found, base)}: `{dep}` ({what}) is on node's resolution path of "
                        f"{rec['name']} but not in helm-guard's manifest of wrangler "
                        f"{PINNED_VERSION}'s dependencies: node would load it with the token",
                        hint=REGEN_HINT if platform else
                        "remove it from the tree node resolves wrangler's dependencies in, or "
                        + HINT)
                continue
            want = packages[target]
            if found is None:
                raise SandboxError(
                    f"`{dep}` ({want['name']} {want['version']}), required by {rec['name']} at "
                    f"{_rel(pkg_dir, base)}, is not installed where node looks for it",
                    hint=REGEN_HINT if want.get("platform") else HINT)
            if rec.get("native"):
                beside = (pkg_dir.parent.parent if rec["name"].startswith("@")
                          else pkg_dir.parent) / dep
                if found != beside:
                    raise SandboxError(
                        f"{rec['name']} at {_rel(pkg_dir, base)} has native code whose libraries "
                        f"the dynamic linker finds beside it (RPATH `$ORIGIN/../../`), not by "
                        f"node's resolution: `{dep}` must be installed at {_rel(beside, base)}, "
                        f"not {_rel(found, base)}", hint=HINT)
            queue.append((target, found))
    for pkg_dir in list(landed):
        for nested in nested_packages(pkg_dir):
            if nested not in landed:
                raise SandboxError(f"{_rel(nested, base)} is not one of wrangler "
                                   f"{PINNED_VERSION}'s dependencies, inside a package it loads",
                                   hint=HINT)
    return Verified(len(landed), files, size)


def _cli() -> int:  # pragma: no cover - maintenance entry point (tree_gen.main is tested)
    from helm_guard.cloudflare.tree_gen import main

    return main(sys.argv[1:])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_cli())

