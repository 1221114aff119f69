"""The real `pre-commit` executable refuses a commit that swaps a D1 binding and accepts a
clean one. The hook definition is taken from this repository's `.pre-commit-hooks.yaml`
(entry, files, pass_filenames, require_serial); only `language` becomes `system` so the test
uses the helm-guard installed here instead of building a fresh environment from PyPI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fleets import ACME, ACME_ID, BRAVO_ID, copy_example, edit

ROOT = Path(__file__).resolve().parents[1]
GIT_ENV = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
           "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.invalid"}


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["PRE_COMMIT_HOME"] = str(cwd.parent / "pre-commit-home")
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_hook_runs_on_every_commit() -> None:
    """No file filter: a commit that stages only a symlink, a source file or an `.envrc` still
    runs the whole-fleet check (what it reads is not only configs)."""
    hook = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())[0]
    assert hook["always_run"] is True
    assert "files" not in hook and "types" not in hook and "types_or" not in hook
    assert hook["pass_filenames"] is False and hook["require_serial"] is True


def test_precommit_refuses_swap_and_accepts_clean(tmp_path: Path) -> None:
    assert shutil.which("pre-commit") or (Path(sys.executable).parent / "pre-commit").exists(), \
        "pre-commit is not installed: pip install -e '.[test]'"
    repo = tmp_path / "fleet"
    copy_example(repo)
    hook = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())[0]
    hook["language"] = "system"
    hook["entry"] = f"{sys.executable} -m helm_guard " + hook["entry"].split(" ", 1)[1]
    config = {"repos": [{"repo": "local", "hooks": [hook]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    assert git(repo, "init", "-q", "-b", "main").returncode == 0
    proc = git(repo, "add", "-A")
    assert proc.returncode == 0, proc.stderr
    precommit = shutil.which("pre-commit") or str(Path(sys.executable).parent / "pre-commit")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    install = subprocess.run([precommit, "install"], cwd=repo, capture_output=True, text=True,
                             env=env, timeout=120, check=False)
    assert install.returncode == 0, install.stdout + install.stderr

    clean = git(repo, "commit", "-q", "-m", "clean fleet")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "Passed" in clean.stdout + clean.stderr

    edit(repo / ACME, ACME_ID, BRAVO_ID)
    git(repo, "add", ACME)
    swapped = git(repo, "commit", "-q", "-m", "swap acme's database")
    out = swapped.stdout + swapped.stderr
    assert swapped.returncode != 0, out
    assert f"{ACME}:17:22: HG403" in out
    assert git(repo, "log", "--oneline").stdout.count("\n") == 1  # the swap did not land

    # a commit that stages nothing but a symlinked folder is checked too (HG104)
    git(repo, "checkout", "--", ACME)
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "shops" / "acme" / "lib").symlink_to(outside)
    git(repo, "add", "shops/acme/lib")
    linked = git(repo, "commit", "-q", "-m", "a linked folder")
    out = linked.stdout + linked.stderr
    assert linked.returncode != 0 and "HG104" in out, out
    assert git(repo, "log", "--oneline").stdout.count("\n") == 1

    # a commit that stages nothing but a .env still runs the hook, and is refused (HG104)
    git(repo, "checkout", "-q", "HEAD", "--", ACME)
    (repo / "shops" / "acme" / ".env").write_text("WRANGLER_CI_OVERRIDE_NAME=helm-bravo\n")
    git(repo, "add", "shops/acme/.env")
    dotenv = git(repo, "commit", "-q", "-m", "local settings")
    out = dotenv.stdout + dotenv.stderr
    assert dotenv.returncode != 0, out
    assert "shops/acme/.env:1:1: HG104" in out and "HG403" not in out
    assert git(repo, "log", "--oneline").stdout.count("\n") == 1


def _readme_snippet() -> dict:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## pre-commit", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    return yaml.safe_load(block)


def _version() -> str:
    match = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert match
    return match.group(1)


@pytest.mark.slow
def test_readme_snippet_works_as_written(tmp_path: Path) -> None:
    """The README's snippet, with only `repo:` pointed at a real git clone of this repository
    tagged as a release is tagged (`v` + the pyproject version), run by the real pre-commit with
    the hook's own `language: python` environment: a clean fleet passes, a swap is refused."""
    assert (ROOT / ".git").exists(), "this test needs helm-guard's own git repository"
    snippet = _readme_snippet()
    (entry,) = snippet["repos"]
    assert entry["rev"] == f"v{_version()}", "README's rev must be the current release tag"
    assert [h["id"] for h in entry["hooks"]] == ["helm-guard"]
    clone = tmp_path / "helm-guard"
    proc = git(tmp_path, "clone", "-q", "--no-hardlinks", str(ROOT), str(clone))
    assert proc.returncode == 0, proc.stderr
    assert git(clone, "tag", "-f", entry["rev"]).returncode == 0
    entry["repo"] = str(clone)
    repo = tmp_path / "fleet"
    copy_example(repo)
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(snippet))
    assert git(repo, "init", "-q", "-b", "main").returncode == 0
    precommit = shutil.which("pre-commit") or str(Path(sys.executable).parent / "pre-commit")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    install = subprocess.run([precommit, "install"], cwd=repo, capture_output=True, text=True,
                             env=env, timeout=120, check=False)
    assert install.returncode == 0, install.stdout + install.stderr
    git(repo, "add", "-A")
    clean = subprocess.run(["git", "commit", "-q", "-m", "clean fleet"], cwd=repo, env={
        **env, **GIT_ENV}, capture_output=True, text=True, timeout=900, check=False)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "helm-guard (fleet binding check)" in clean.stdout + clean.stderr

    edit(repo / ACME, ACME_ID, BRAVO_ID)
    git(repo, "add", ACME)
    swapped = git(repo, "commit", "-q", "-m", "swap acme's database")
    out = swapped.stdout + swapped.stderr
    assert swapped.returncode != 0, out
    assert f"{ACME}:17:22: HG403" in out
