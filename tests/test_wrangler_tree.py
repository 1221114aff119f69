"""wrangler's dependency closure (`helm_guard.cloudflare.tree`, issue 11): the real tree from
`npm ci` verifies; each way to get other code loaded next to the token is refused before any
process starts; the shipped manifest cannot drift from helm-guard's lock.

Attacks run on a clone of the closure in a temp dir: one real copy per session, then a
hard-linked copy per test. A test changes a file only by replacing it (unlink, then write),
never in place, so neither the session copy nor tests/node/node_modules is modified.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from helm_guard.cloudflare import tree
from helm_guard.cloudflare.sandbox import SandboxError, find_node, pinned_package
from helm_guard.cloudflare.tree_gen import dumps, generate, lock_closure
from helm_guard.cloudflare.wrangler import Wrangler

NODE_DIR = Path(__file__).resolve().parent / "node"
NODE_MODULES = NODE_DIR / "node_modules"
MANIFEST = tree.load_manifest()


def _link_tree(src: Path, dest: Path, *, link: bool,
               copied: dict[tuple[int, int], Path] | None = None) -> None:
    """Hard links (`link`) or copies of `src`'s files; copies keep files that are hard links
    of each other linked (npm's postinstall links bin/workerd to the platform binary)."""
    copied = {} if copied is None else copied
    for dirpath, _dirs, files in os.walk(src):
        out = dest / Path(dirpath).relative_to(src)
        out.mkdir(parents=True, exist_ok=True)
        for name in files:
            path = Path(dirpath) / name
            if link:
                os.link(path, out / name)
                continue
            st = path.stat()
            first = copied.get((st.st_dev, st.st_ino))
            if first is not None:
                os.link(first, out / name)
            else:
                shutil.copy2(path, out / name)
                copied[(st.st_dev, st.st_ino)] = out / name


def _clone(src_base: Path, dest_base: Path, *, link: bool) -> Path:
    copied: dict[tuple[int, int], Path] = {}
    for key in MANIFEST["packages"]:
        _link_tree(src_base / key, dest_base / key, link=link, copied=copied)
    return dest_base / "node_modules"


@pytest.fixture(scope="session")
def closure_copy(tmp_path_factory: pytest.TempPathFactory, wrangler_installed: Path) -> Path:
    """One real copy of the closure (never a link into tests/node/node_modules)."""
    base = tmp_path_factory.mktemp("closure")
    _clone(NODE_DIR, base, link=False)
    return base


@pytest.fixture(scope="session")
def wrangler_installed() -> Path:
    from tests.wrangler_fixtures import require_wrangler

    return require_wrangler()


@pytest.fixture
def nm(closure_copy: Path, tmp_path: Path) -> Iterator[Path]:
    """A hard-linked clone of the session copy: `<tmp>/proj/node_modules`."""
    yield _clone(closure_copy, tmp_path / "proj", link=True)


def _verify(nm: Path) -> tree.Verified:
    return tree.verify_tree((nm / "wrangler").resolve(), find_node())


def _replace(path: Path, data: bytes) -> None:
    path.unlink()
    path.write_bytes(data)


def _blocked(nm: Path, *fragments: str) -> SandboxError:
    with pytest.raises(SandboxError) as info:
        _verify(nm)
    text = str(info.value)
    for fragment in fragments:
        assert fragment in text, text
    assert info.value.exit_code == 1
    return info.value


# ---------------------------------------------------------------------- the clean tree
def test_the_installed_tree_verifies(wrangler_installed: Path) -> None:
    """.ci/run's `npm ci` tree (install scripts ran: bin/esbuild and bin/workerd are the
    platform binaries) is exactly the manifest's closure."""
    got = tree.verify_tree((NODE_MODULES / "wrangler").resolve(), find_node())
    assert got.packages == len(MANIFEST["packages"])
    assert got.files == sum(len(p["files"]) for p in MANIFEST["packages"].values())
    assert pinned_package(wrangler_installed, source="test").version == "4.86.0"


def test_a_clone_verifies(nm: Path) -> None:
    assert _verify(nm).packages == len(MANIFEST["packages"])


# ---------------------------------------------------------------------- attacks
def test_a_modified_byte_in_esbuild_is_refused(nm: Path) -> None:
    main = nm / "esbuild" / "lib" / "main.js"
    data = bytearray(main.read_bytes())
    data[100] ^= 1
    _replace(main, bytes(data))
    err = _blocked(nm, "esbuild 0.27.3 at node_modules/esbuild: lib/main.js is not the "
                       "published file", "npm ci --ignore-scripts")
    assert data[:200].decode(errors="replace") not in str(err)  # never the contents


def test_a_shadowing_package_is_refused(nm: Path) -> None:
    shadow = nm / "wrangler" / "node_modules" / "esbuild"
    _link_tree(nm / "esbuild", shadow, link=True)
    _replace(shadow / "lib" / "main.js", b"require('fs').writeFileSync('/tmp/pwned', '');\n")
    _blocked(nm, "node_modules/wrangler/node_modules/esbuild: lib/main.js is not the published")


def test_a_shadowing_file_is_refused(nm: Path) -> None:
    (nm / "wrangler" / "node_modules").mkdir()
    (nm / "wrangler" / "node_modules" / "esbuild.js").write_text("module.exports = 1\n")
    _blocked(nm, "esbuild.js stands on node's resolution path of `esbuild`")


def test_a_missing_dependency_is_refused(nm: Path) -> None:
    shutil.rmtree(nm / "path-to-regexp")
    _blocked(nm, "`path-to-regexp` (path-to-regexp 6.3.0), required by wrangler",
             "is not installed")


def test_a_changed_version_is_refused(nm: Path) -> None:
    meta = nm / "undici" / "package.json"
    _replace(meta, meta.read_bytes().replace(b'"version": "7.24.8"', b'"version": "7.24.9"'))
    _blocked(nm, "node resolves `undici` to node_modules/undici, which is 'undici' '7.24.9', "
                 "not undici 7.24.8")


def test_a_symlinked_package_is_refused(nm: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "pathe"
    shutil.move(nm / "pathe", elsewhere)  # identical content: the link itself is refused
    (nm / "pathe").symlink_to(elsewhere, target_is_directory=True)
    _blocked(nm, "is a symlink where the package `pathe` is expected")


def test_a_symlink_inside_a_package_is_refused(nm: Path) -> None:
    readme = nm / "kleur" / "readme.md"
    readme.unlink()
    readme.symlink_to("/etc/hostname")
    _blocked(nm, "kleur/readme.md is a symlink inside a package wrangler loads")


def test_an_unknown_platform_package_is_refused(nm: Path) -> None:
    other = nm / "@esbuild" / "darwin-arm64"
    other.mkdir()
    (other / "package.json").write_text('{"name": "@esbuild/darwin-arm64"}')
    _blocked(nm, "node_modules/@esbuild/darwin-arm64: `@esbuild/darwin-arm64` (optional "
                 "platform package (darwin arm64))", "regenerate it on this platform",
             "python -m helm_guard.cloudflare.tree --generate")


def test_a_missing_platform_package_says_to_regenerate(nm: Path) -> None:
    shutil.rmtree(nm / "@esbuild" / "linux-x64")
    _blocked(nm, "`@esbuild/linux-x64`", "is not installed", "regenerate it on this platform")


@pytest.mark.parametrize("name", ["bufferutil", "sqlite", "pnpapi"])
def test_a_planted_optional_require_is_refused(nm: Path, name: str) -> None:
    """Names closure code tries in a try/catch (ws, cli.js, esbuild) must resolve nowhere."""
    (nm / name).mkdir()
    (nm / name / "index.js").write_text("require('fs').writeFileSync('/tmp/pwned', '');\n")
    _blocked(nm, f"node_modules/{name}: `{name}`", "not in helm-guard's manifest")


def test_a_planted_file_inside_a_package_is_refused(nm: Path) -> None:
    target = nm / "esbuild" / "lib" / "downloaded-@esbuild-linux-x64-esbuild"
    target.write_bytes(b"\x7fELF")
    _blocked(nm, "lib/downloaded-@esbuild-linux-x64-esbuild is not a file of the published")


def test_an_unknown_nested_package_is_refused(nm: Path) -> None:
    nested = nm / "miniflare" / "node_modules" / "left-pad"
    nested.mkdir(parents=True)
    (nested / "package.json").write_text('{"name": "left-pad"}')
    _blocked(nm, "node_modules/miniflare/node_modules/left-pad is not one of wrangler 4.86.0's")


def test_a_package_above_the_tree_is_refused(nm: Path) -> None:
    """node keeps walking up past the project: a `bufferutil` two folders up is loaded too."""
    above = nm.parent.parent / "node_modules" / "utf-8-validate"
    above.mkdir(parents=True)
    _blocked(nm, "`utf-8-validate`", "on node's resolution path of")


def test_another_npm_layout_verifies(nm: Path) -> None:
    """Where npm places a package is not fixed (a fleet's lock may nest wrangler's `pathe` under
    `unenv` when another `pathe` is hoisted): what node resolves is what is verified."""
    (nm / "unenv" / "node_modules").mkdir()
    shutil.move(nm / "pathe", nm / "unenv" / "node_modules" / "pathe")
    assert _verify(nm).packages == len(MANIFEST["packages"])
    (nm / "pathe").mkdir()  # an unverified `pathe` at the top no longer reaches anything ...
    (nm / "pathe" / "package.json").write_text('{"name": "pathe", "version": "9.9.9"}')
    assert _verify(nm).packages == len(MANIFEST["packages"])
    shutil.rmtree(nm / "unenv" / "node_modules" / "pathe")  # ... until unenv resolves to it
    _blocked(nm, "node resolves `pathe` to node_modules/pathe, which is 'pathe' '9.9.9'")


def test_native_code_must_find_its_libraries_beside_it(nm: Path) -> None:
    """sharp's `.node` finds libvips through its RPATH, not node: the sibling must be it."""
    nested = nm / "@img" / "sharp-linux-x64" / "node_modules" / "@img"
    nested.mkdir(parents=True)
    _link_tree(nm / "@img" / "sharp-libvips-linux-x64", nested / "sharp-libvips-linux-x64",
               link=True)  # node would load the nested copy, the linker the one beside
    _blocked(nm, "@img/sharp-linux-x64 at node_modules/@img/sharp-linux-x64 has native code",
             "must be installed at node_modules/@img/sharp-libvips-linux-x64")


def test_the_postinstall_binary_is_accepted_and_nothing_else(nm: Path) -> None:
    shim = nm / "esbuild" / "bin" / "esbuild"
    _replace(shim, (nm / "@esbuild" / "linux-x64" / "bin" / "esbuild").read_bytes())
    assert _verify(nm).packages == len(MANIFEST["packages"])
    _replace(shim, (nm / "@cloudflare" / "workerd-linux-64" / "bin" / "workerd").read_bytes())
    _blocked(nm, "esbuild 0.27.3 at node_modules/esbuild: bin/esbuild is not the published")


def test_the_runner_refuses_a_tampered_tree_before_any_process(
    nm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "esbuild-ran"
    main = nm / "esbuild" / "lib" / "main.js"
    _replace(main, f"require('fs').writeFileSync({json.dumps(str(marker))}, 'token=' + "
                   f"process.env.CLOUDFLARE_API_TOKEN);\n".encode() + main.read_bytes())
    # the tampered code does run when node loads it (so the marker can tell)
    subprocess.run([str(find_node()), "-e", f"require({json.dumps(str(nm / 'esbuild'))})"],
                   check=True, capture_output=True, env={"PATH": os.environ["PATH"]})
    assert marker.read_text() == "token=undefined"
    marker.unlink()

    started: list[object] = []
    real_popen = subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen",
                        lambda *a, **k: started.append(a) or real_popen(*a, **k))
    runner = Wrangler(nm / "wrangler" / "bin" / "wrangler.js",
                      extra_env={"CLOUDFLARE_API_TOKEN": "secret-token"})
    with pytest.raises(SandboxError, match="lib/main.js is not the published file") as info:
        runner.versions_list(name="helm-acme")
    assert "secret-token" not in str(info.value)
    assert started == [] and not marker.exists()


# ---------------------------------------------------------------------- no drift
def test_the_manifest_is_helm_guards_lock() -> None:
    """Same closure, same versions as tests/node/package-lock.json: what the lock lists and the
    manifest leaves out is optional (another platform's binary) and recorded as absent."""
    lock = json.loads((NODE_DIR / "package-lock.json").read_text(encoding="utf-8"))
    closure = lock_closure(lock)
    packages = MANIFEST["packages"]
    assert set(packages) <= set(closure)
    for key, rec in packages.items():
        assert (rec["name"], rec["version"]) == (key.rsplit("node_modules/", 1)[1],
                                                 closure[key]["version"]), key
        for target in rec["requires"].values():
            assert target is None or target in packages
    for key in set(closure) - set(packages):
        assert closure[key].get("optional"), key
        assert key.rsplit("node_modules/", 1)[1] in MANIFEST["absent"], key
    assert lock["packages"]["node_modules/wrangler"]["version"] == MANIFEST["wrangler"]


@pytest.mark.slow
def test_the_manifest_is_regenerated_identically(tmp_path: Path, wrangler_installed: Path) -> None:
    """A clean `npm ci --ignore-scripts` of helm-guard's lock (offline: .ci/run's `npm ci` filled
    the npm cache) generates exactly the shipped manifest."""
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(NODE_DIR / name, tmp_path / name)
    npm = shutil.which("npm")
    assert npm is not None, "npm is not on PATH"
    proc = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--offline", "--no-audit", "--no-fund",
         "--loglevel=error"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    got = dumps(generate(tmp_path / "node_modules", tmp_path / "package-lock.json"))
    assert got == tree.MANIFEST.read_text(encoding="utf-8"), (
        "wrangler_tree.json is stale: regenerate it (see helm_guard/cloudflare/tree.py)")


def test_check_does_not_load_the_manifest() -> None:
    """Deploy path only: `helm-guard check` never imports the tree verifier."""
    import sys

    code = ("import sys; from helm_guard.cli import main; main(['check', '--fleet', "
            "'examples/fleet/helm-fleet.jsonc']); "
            "print(sorted(m for m in sys.modules if m.startswith('helm_guard.cloudflare.tree')))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=NODE_DIR.parent.parent,
                          capture_output=True, text=True, check=False)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout + proc.stderr


def test_the_generator_refuses_a_tree_install_scripts_ran_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], wrangler_installed: Path
) -> None:
    from helm_guard.cloudflare.tree_gen import main

    out = tmp_path / "manifest.json"
    lock = str(NODE_DIR / "package-lock.json")
    assert main(["--generate", str(NODE_MODULES), "--lock", lock, "--output", str(out)]) == 1
    assert "install scripts ran on this tree" in capsys.readouterr().out
    assert main(["--generate", str(tmp_path / "none"), "--lock", lock, "--output", str(out)]) == 1
    assert "cannot read the tree or the lock" in capsys.readouterr().out
    assert not out.exists()


def test_a_symlinked_node_modules_or_scope_or_a_fifo_is_refused(nm: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    link = nm / "wrangler" / "node_modules"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    _blocked(nm, "node_modules/wrangler/node_modules is a symlink")
    link.unlink()
    shutil.move(nm / "@poppinss", tmp_path / "elsewhere" / "@poppinss")
    (nm / "@poppinss").symlink_to(tmp_path / "elsewhere" / "@poppinss")
    _blocked(nm, "@poppinss is a symlink where a scope folder is expected")
    (nm / "@poppinss").unlink()
    shutil.move(tmp_path / "elsewhere" / "@poppinss", nm / "@poppinss")
    os.mkfifo(nm / "cookie" / "fifo")
    _blocked(nm, "cookie/fifo is not a regular file")


def test_a_bad_manifest_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "wrangler_tree.json"
    bad.write_text("{")
    with pytest.raises(SandboxError, match="manifest .* is unreadable"):
        tree.load_manifest(bad)
    bad.write_text('{"wrangler": "4.87.0"}')
    with pytest.raises(SandboxError, match="is not for wrangler 4.86.0"):
        tree.load_manifest(bad)


def test_a_tree_changed_between_two_runs_of_one_runner_is_refused(
    nm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Wrangler` verifies the pinned package again before every run, not only the first: the
    second run of the same runner, after esbuild changed on disk, starts no process."""
    started: list[object] = []

    class _Done(Exception):
        pass

    def fake_popen(*a: object, **k: object) -> object:
        started.append(a)
        raise _Done  # stop before any real process: only "would it start" matters here

    monkeypatch.setattr(subprocess, "Popen", fake_popen)
    runner = Wrangler(nm / "wrangler" / "bin" / "wrangler.js",
                      extra_env={"CLOUDFLARE_API_TOKEN": "secret-token"})
    with pytest.raises(_Done):
        runner.versions_list(name="helm-acme")  # verified: the process would start
    assert len(started) == 1
    main = nm / "esbuild" / "lib" / "main.js"
    _replace(main, b"/* changed after the first run */\n" + main.read_bytes())
    with pytest.raises(SandboxError, match="lib/main.js is not the published file"):
        runner.versions_list(name="helm-acme")
    assert len(started) == 1
