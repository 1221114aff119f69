"""The deploy digest: one hash for "what this deploy target will be", checked and deployed.

`deploy_digest(fleet, target_info)` is `sha256:` + the hex SHA-256 of the canonical JSON of

    {"digest_version": 2,
     "target":   the resolved deploy target exactly as `helm-guard inspect` prints it
                 (`Target.as_dict()`: env, error, worker, account_id, the D1/R2/KV/service
                 bindings, route, routes, vars) without `warnings`,
     "registry": the shop's whole registry entry in the fleet file (stages included),
     "naming":   the fleet's naming templates (defaults filled in),
     "inputs":   {"config": [its path, sha256 of its whole text],
                  "files":  [[path, sha256 | "dir" | "missing" | "unreadable"], ...]}}

`inputs` covers everything else wrangler 4.86 may read for that target (`target_inputs`;
`helm_guard/side_inputs.py` says where in wrangler each comes from): the whole config file
(so a changed `build` command, `migrations`, comment or any key helm-guard does not model
changes the digest), and — by presence and bytes — every `.env*`, `.dev.vars*`, wrangler
config and `.wrangler` redirect in the config's folder and each folder above it up to the
fleet root (where a hand-run wrangler may be started), and every wrangler config and redirect
in the folders above the fleet root up to `/` (wrangler's discovery reaches them). Paths are
relative to the fleet root (`../` above it).

Canonical JSON is `json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
encoded as UTF-8. The gate puts the digest of every target into the deploy plan; `verify`
recomputes it from the checkout the deploy job is about to deploy and refuses on a
difference. Code outside the config (`main`, `src/**`) is not part of the digest: the deploy
job deploys the commit the gate checked, which the plan also records.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helm_guard import side_inputs
from helm_guard.fleet import DEFAULT_NAMING

if TYPE_CHECKING:
    from helm_guard.context import ConfigFile, TargetInfo
    from helm_guard.fleet import Fleet

DIGEST_VERSION = 2
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}\Z")


def canonical_json(value: Any) -> str:
    """The one serialisation every digest is computed over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def deploy_digest(fleet: Fleet, t: TargetInfo, inputs: InputReader | None = None) -> str:
    """The digest of deploy target `t` of `fleet` (the one every command uses: gate, verify,
    deploy, the drills). `inputs` shares folder listings across many targets (the gate)."""
    reader = inputs if inputs is not None else InputReader(fleet.root)
    return target_digest(t.target.as_dict(), fleet.shops.get(t.shop or ""), fleet.naming,
                         inputs=reader.of(t.file))


def target_digest(
    target_dict: Mapping[str, Any],
    registry_entry: Mapping[str, Any] | None,
    naming: Mapping[str, str] | None,
    *,
    inputs: Mapping[str, Any],
) -> str:
    """`sha256:<hex>` of a resolved target (`Target.as_dict()`), its shop's registry entry,
    the fleet's naming templates (`Fleet.naming`; None means the defaults) and the files
    wrangler reads for it (`InputReader.of`)."""
    target = {k: v for k, v in target_dict.items() if k != "warnings"}
    payload = {
        "digest_version": DIGEST_VERSION,
        "target": target,
        "registry": dict(registry_entry or {}),
        "naming": {**DEFAULT_NAMING, **(naming or {})},
        "inputs": dict(inputs),
    }
    return "sha256:" + hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def valid_digest(value: str) -> bool:
    """Whether `value` has the form `sha256:` + 64 lowercase hex digits."""
    return bool(DIGEST_RE.match(value))


class InputReader:
    """What wrangler may read besides the resolved target, per config file (see the module
    docstring). Folder listings are shared by the targets of one reader; make a new reader
    for each look at the checkout (nothing is cached across calls of a command)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._base = str(root)
        self._folders: dict[str, list[str]] = {}
        self._contents: dict[str, str] = {}
        self._above: list[list[str]] | None = None

    def of(self, f: ConfigFile) -> dict[str, Any]:
        text = f.doc.text if f.doc is not None else None
        config = [f.rel, "unreadable" if text is None else _sha(text.encode("utf-8"))]
        files: list[list[str]] = []
        d = posixpath.dirname(f.rel)
        while True:
            files.extend([rel, self._content_of(rel)] for rel in self._folder(d) if rel != f.rel)
            if not d:
                break
            d = posixpath.dirname(d)
        files.extend(self._folders_above())
        return {"config": config, "files": files}

    def _folder(self, rel_dir: str) -> list[str]:
        found = self._folders.get(rel_dir)
        if found is None:
            folder = os.path.join(self._base, rel_dir) if rel_dir else self._base
            found = self._folders[rel_dir] = [
                f"{rel_dir}/{name}" if rel_dir else name
                for name in side_inputs.dir_inputs(folder, env_files=True)]
        return found

    def _content_of(self, rel: str) -> str:
        """Read only when another target needs it (a config's own file never is)."""
        found = self._contents.get(rel)
        if found is None:
            found = self._contents[rel] = _content(os.path.join(self._base, rel))
        return found

    def _folders_above(self) -> list[list[str]]:
        if self._above is None:
            self._above = []
            for parent, x in side_inputs.ancestors_above(self.root):
                rel = os.path.relpath(parent / x.rel, self.root).replace(os.sep, "/")
                self._above.append([rel, _content(parent / x.rel)])
            self._above.sort()
        return self._above


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _content(path: str | Path) -> str:
    """sha256 of a file's bytes (through symlinks, as wrangler reads it), or what it is."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            return "dir"
        if not stat.S_ISREG(st.st_mode):  # a FIFO or a device: never opened (it could block)
            return "special"
        with open(path, "rb") as fh:
            return _sha(fh.read())
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "unreadable"
