"""Make `wrangler_tree.json`, the closure `tree.verify_tree` checks (maintenance only).

    npm ci --ignore-scripts --prefix <dir>     # <dir> holds helm-guard's tests/node lock
    python -m helm_guard.cloudflare.tree --generate <dir>/node_modules \
        --lock <dir>/package-lock.json [--output helm_guard/cloudflare/wrangler_tree.json]

The closure is read from the lock (from `node_modules/wrangler` over `dependencies`,
`optionalDependencies` and `peerDependencies`, resolved the way npm places them); every
closure package must be installed in the tree unless the lock marks it optional (another
platform's binary). For each installed package: its files (size and SHA-256), and every bare
name its code may load (declared dependencies, the peers its code requires, literal
`require`/`require.resolve`/`import()` names found in its `.js`/`.mjs`/`.cjs` files) with
where node resolves it in the tree, or null when it resolves nowhere (then it must resolve
nowhere when verified). A tree on which install scripts ran is refused: the manifest records
the published files, and accepts the postinstall copies of the platform binaries beside them.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from helm_guard.cloudflare.sandbox import PINNED_VERSION, SandboxError, find_node
from helm_guard.cloudflare.sandbox import file_sha256 as digest
from helm_guard.cloudflare.tree import MANIFEST, ROOT_KEY, resolve_name, walk_files

#: postinstall outputs: (package, file) -> name prefix of the platform packages it copies from
#: (esbuild's and workerd's `install.js`, `maybeOptimizePackage`).
INSTALL_SCRIPT_OUTPUTS: Mapping[tuple[str, str], str] = {
    ("esbuild", "bin/esbuild"): "@esbuild/",
    ("workerd", "bin/workerd"): "@cloudflare/workerd-",
}
#: Files never loaded at run time, not scanned for names (their tests and build helpers
#: require chai, typescript, webpack, node-gyp, ...: a fleet may legitimately have those).
SCAN_SKIP: Mapping[str, tuple[str, ...]] = {
    "blake3-wasm": ("dist/build/", "esm/build/", ".test.js"),
    "sharp": ("install/",),
}
_NAME = r"(?:@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*"
_REQUIRE_RE = re.compile(
    r"""\b(?:__require|require)(?:\.resolve)?\(\s*(["'])(""" + _NAME
    + r""")(?:/[^"'\s]*)?\1\s*[,)]|\bimport\(\s*(["'])(""" + _NAME
    + r""")(?:/[^"'\s]*)?\3\s*[,)]""")


def _lock_resolve(packages: Mapping[str, Any], key: str, name: str) -> str | None:
    for anc in (PurePosixPath(key), *PurePosixPath(key).parents):
        if anc.name == "node_modules":
            continue
        cand = f"{anc}/node_modules/{name}" if str(anc) != "." else f"node_modules/{name}"
        if cand in packages:
            return cand
    return None


def lock_closure(lock: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """wrangler's closure in a package-lock.json (v2/v3): key -> lock entry."""
    packages: Mapping[str, Any] = lock.get("packages", {})
    if packages.get(ROOT_KEY, {}).get("version") != PINNED_VERSION:
        raise SandboxError(f"the lock does not pin wrangler {PINNED_VERSION} at {ROOT_KEY}")
    out: dict[str, dict[str, Any]] = {}
    todo = [ROOT_KEY]
    while todo:
        key = todo.pop()
        if key in out:
            continue
        entry = out[key] = packages[key]
        meta = entry.get("peerDependenciesMeta", {})
        for field in ("dependencies", "optionalDependencies", "peerDependencies"):
            for name in entry.get(field, {}):
                target = _lock_resolve(packages, key, name)
                if target is not None:
                    todo.append(target)
                elif field == "dependencies" and not meta.get(name, {}).get("optional"):
                    raise SandboxError(f"the lock has no `{name}` for {key}")
    return out


def _scan(pkg_dir: Path, name: str) -> set[str]:
    skip = SCAN_SKIP.get(name, ())
    found: set[str] = set()
    for rel, path, _st in walk_files(pkg_dir):
        if not rel.endswith((".js", ".mjs", ".cjs")) or any(s in rel for s in skip):
            continue
        for m in _REQUIRE_RE.finditer(path.read_text(encoding="utf-8", errors="replace")):
            found.add(m.group(2) or m.group(4))
    return found


def _node(expr: str) -> Any:
    out = subprocess.run([str(find_node()), "-p", expr], capture_output=True, text=True,  # noqa: S603
                         check=True)
    return json.loads(out.stdout)


def generate(node_modules: Path, lock_path: Path) -> dict[str, Any]:
    """The manifest for the tree `node_modules` installed from `lock_path`."""
    try:
        node_modules = node_modules.resolve(strict=True)
        lock = json.loads(lock_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SandboxError(f"cannot read the tree or the lock: {exc}") from None
    base = node_modules.parent
    closure = lock_closure(lock)
    builtins = set(_node("JSON.stringify(require('module').builtinModules)"))
    installed = {k: e for k, e in closure.items() if (base / k).is_dir()}
    absent: dict[str, str] = {}
    for key, entry in closure.items():
        if key not in installed:
            if not entry.get("optional"):
                raise SandboxError(f"{key} is not installed in {node_modules}: run `npm ci "
                                   "--ignore-scripts` from the lock first")
            name = key.rsplit("node_modules/", 1)[1]
            absent[name] = ("optional platform package (" + " ".join(
                "/".join(entry.get(f, [])) for f in ("os", "cpu", "libc") if entry.get(f)) + ")"
                if entry.get("os") or entry.get("cpu") else "optional dependency, not installed")
    packages: dict[str, Any] = {}
    for key, entry in sorted(installed.items()):
        pkg_dir = base / key
        meta = json.loads((pkg_dir / "package.json").read_text(encoding="utf-8"))
        name = meta["name"]
        if meta.get("version") != entry.get("version"):
            raise SandboxError(f"{key} is {meta.get('version')}, the lock says "
                               f"{entry.get('version')}: install the tree from the lock")
        files = {rel: f"{st.st_size}:{digest(path, st)}" for rel, path, st in walk_files(pkg_dir)}
        scanned = _scan(pkg_dir, name)
        names = set(meta.get("dependencies", {})) | set(meta.get("optionalDependencies", {}))
        names |= {p for p in meta.get("peerDependencies", {}) if p in scanned
                  or _lock_resolve(lock["packages"], key, p) in installed}
        names |= {s for s in scanned if s not in builtins and s != name}
        requires: dict[str, str | None] = {}
        for dep in sorted(names):
            found = resolve_name(pkg_dir, dep, None)
            target = found.relative_to(base).as_posix() if found is not None else None
            if target is not None and target not in installed:
                raise SandboxError(f"`{dep}` from {key} resolves to {target}, which is not in "
                                   "wrangler's closure: generate from a clean tree")
            if target is None and dep not in absent:
                absent[dep] = f"required by {name} (in a try/catch or on a path not taken), " \
                              "not installed"
            requires[dep] = target
        rec: dict[str, Any] = {"name": name, "version": meta["version"], "files": files,
                               "requires": requires}
        if any(rel.endswith(".node") for rel in files):
            rec["native"] = True
        if entry.get("os") or entry.get("cpu"):
            rec["platform"] = " ".join("/".join(entry.get(f, [])) for f in ("os", "cpu", "libc")
                                       if entry.get(f))
        packages[key] = rec
    for (owner, rel), prefix in INSTALL_SCRIPT_OUTPUTS.items():
        owner_rec = packages.get(f"node_modules/{owner}")
        if owner_rec is None or rel not in owner_rec["files"]:
            continue
        copies = sorted({p["files"][rel] for p in packages.values()
                         if p["name"].startswith(prefix) and rel in p["files"]})
        if owner_rec["files"][rel] in copies:
            raise SandboxError(f"{owner}/{rel} is a platform binary: install scripts ran on this "
                               "tree; generate from `npm ci --ignore-scripts`")
        owner_rec["also"] = {rel: copies}
    platform = _node("JSON.stringify(process.platform + '-' + process.arch)")
    return {"wrangler": PINNED_VERSION, "platform": platform, "root": ROOT_KEY,
            "lock": "tests/node/package-lock.json", "absent": dict(sorted(absent.items())),
            "packages": packages}


def dumps(manifest: Mapping[str, Any]) -> str:
    return json.dumps(manifest, indent=1, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m helm_guard.cloudflare.tree",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generate", type=Path, required=True, metavar="NODE_MODULES")
    parser.add_argument("--lock", type=Path, required=True)
    parser.add_argument("--output", type=Path, default=MANIFEST)
    args = parser.parse_args(argv)
    try:
        text = dumps(generate(args.generate, args.lock))
    except SandboxError as exc:
        print(f"error: {exc}")
        return 1
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0
