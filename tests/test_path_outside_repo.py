"""HG105 (`path-outside-repo`): where wrangler's `path.resolve(<config folder>, value)` leads,
judged by string arithmetic where it can and by the real file system where it must, equals
the plain answer (`os.path.realpath` of the normalised join) on random paths through a tree
with symlinks inside, outside, dangling and looping; in both the fast (string) and the slow
(normalising) road. And every path-valued key of every target is looked at."""

from __future__ import annotations

import errno
import json
import os
import posixpath
import random
from pathlib import Path
from typing import Any

import pytest

from helm_guard.context import Context, load_files
from helm_guard.fleet import load_fleet
from helm_guard.rules import hg105_path_outside_repo as hg105
from tests.fleets import ACME, copy_example, edit

PARTS = ["..", "..", "..", ".", "", "src", "index.js", "shops", "acme", "in-link", "out-link",
         "file-out", "dangling-out", "dangling-in", "loop", "~", "missing"]


def _tree(tmp_path: Path) -> Path:
    root = copy_example(tmp_path / "fleet")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "index.js").write_text("")
    shops = root / "shops"
    (shops / "acme" / "in-link").symlink_to("../../src", target_is_directory=True)
    (shops / "acme" / "out-link").symlink_to(tmp_path / "outside", target_is_directory=True)
    (shops / "acme" / "file-out").symlink_to("../../../outside/index.js")
    (shops / "acme" / "dangling-out").symlink_to("../../../nowhere")
    (shops / "acme" / "dangling-in").symlink_to("../../missing")
    (root / "src" / "loop").symlink_to("loop")
    return root


def _plain(root: str, rel_dir: str, value: str) -> bool:
    """Whether `value` stays inside, the slow and obvious way."""
    full = posixpath.normpath(posixpath.join(root, rel_dir, value))
    if not (full == root or full.startswith(root + "/")):
        return False
    try:
        os.stat(full)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return False  # cannot be resolved: a finding
    real, real_root = os.path.realpath(full), os.path.realpath(root)
    return real == real_root or real.startswith(real_root + "/")


def _context(root: Path) -> Context:
    fleet = load_fleet(root / "helm-fleet.jsonc")
    assert fleet.doc is not None
    return Context(fleet, load_files(fleet), fleet.doc)


@pytest.mark.parametrize("road", ["fast", "slow"])
def test_verdicts_equal_the_plain_resolution(tmp_path: Path, road: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path)
    if road == "slow":  # every value takes the normalising road
        monkeypatch.setattr(hg105._Paths, "_shape", lambda self, value: None)
    paths = hg105._Paths(_context(root))
    rng = random.Random(105)
    inside = outside = 0
    for _ in range(4000):
        rel_dir = rng.choice(["shops/acme", "regional", "", "shops/acme/in-link"])
        value = "/".join(rng.choice(PARTS) for _ in range(rng.randint(1, 5)))
        if rng.random() < 0.1:
            value = str(root) + "/" + value
        elif rng.random() < 0.05:
            value = "/" + value
        want = _plain(paths.root, rel_dir, value)
        got = paths.verdict(rel_dir, value)
        assert (got is None) == want, (rel_dir, value, got)
        inside += want
        outside += not want
    assert inside > 500 and outside > 500  # both answers were exercised
    assert "NUL" in (paths.verdict("shops/acme", "../x\0y") or "")


def test_every_path_key_of_every_target(tmp_path: Path) -> None:
    """Each known path-valued key, at the top level and in an env block, leading out: one
    finding each, at the key's value; the same keys leading inside: none."""
    root = copy_example(tmp_path / "fleet")
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    out = "../../../x"
    keys = {
        "main": out, "base_dir": out, "tsconfig": out, "pages_build_output_dir": out,
        "assets": {"directory": out}, "build": {"cwd": out, "watch_dir": ["src", out]},
        "site": {"bucket": out, "entry-point": out},
        "wasm_modules": {"W": out}, "text_blobs": {"T": out}, "data_blobs": {"D": out},
        "alias": {"a": out, "pkg": "some-package", "b": "/abs"},
        "d1_databases": [{"binding": "DB", "migrations_dir": out}],
        "containers": [{"image": "../../../Dockerfile", "image_build_context": out},
                       {"image": "registry.example/img:1"}],
    }
    config = {"name": "helm-acme", **keys, "env": {"staging": {"main": out,
                                                             "d1_databases": keys["d1_databases"]}}}
    (root / ACME).write_text(json.dumps(config, indent=1))
    ctx = _context(root)
    f = next(f for f in ctx.files if f.rel == ACME)
    got = sorted(".".join(map(str, p.json_path)) for p in hg105.check(f, ctx))
    assert got == sorted([
        "main", "base_dir", "tsconfig", "pages_build_output_dir", "assets.directory",
        "build.cwd", "build.watch_dir.1", "site.bucket", "site.entry-point", "wasm_modules.W",
        "text_blobs.T", "data_blobs.D", "alias.a", "alias.b", "d1_databases.0.migrations_dir",
        "containers.0.image", "containers.0.image_build_context", "env.staging.main",
        "env.staging.d1_databases.0.migrations_dir"])
    assert set(hg105.PATH_KEYS) <= {g.split(".")[0] for g in got} | {"env"}

    inside = json.dumps(config).replace('"../../../x"', '"../../src"').replace(
        '"/abs"', '"./x"').replace("../../../Dockerfile", "../../src/index.js")
    (root / ACME).write_text(inside)
    ctx = _context(root)
    f = next(f for f in ctx.files if f.rel == ACME)
    assert list(hg105.check(f, ctx)) == []


def test_an_unsearchable_folder_is_a_finding(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder on the way that cannot be searched (here: `lstat` refused, as for a folder
    without x permission when not running as root) fails closed."""
    root = copy_example(tmp_path / "fleet")
    (root / "locked" / "x").mkdir(parents=True)
    edit(root / ACME, '"main": "../../src/index.js"', '"main": "../../locked/x/index.js"')
    real = os.lstat

    def lstat(path: Any, *args: Any, **kw: Any) -> os.stat_result:
        if "/locked/" in str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *args, **kw)

    ctx = _context(root)
    f = next(f for f in ctx.files if f.rel == ACME)
    monkeypatch.setattr(os, "lstat", lstat)
    messages = [p.message for p in hg105.check(f, ctx)]
    assert len(messages) == 1 and "cannot be resolved (Permission denied)" in messages[0]
