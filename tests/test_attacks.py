"""The attack corpus: one directory per attempt to get a cross-tenant config past helm-guard
(`tests/attacks/<case>/`), run through the real command line in a real git repository.

A case is `case.json` plus a tree of files:

    {"description": "...", "class": "worker-reference", "fleet_root": "fleet",
     "expect": [{"rule": "HG803", "path": "shops/acme/wrangler.jsonc", "line": 7, "col": 5}],
     "clean": false}

The fleet root (`fleet_root`, default "fleet") holds `helm-fleet.jsonc`; files anywhere else in
the case tree (a parent `wrangler.json`, a `.env` beside the fleet, ...) are copied as they
are. The harness copies the case to a temporary directory, makes the fleet root a git
repository with a bare `origin` (a seed commit on `main`, then one commit with the case's
files, so the gate sees every shop as new), and runs `helm-guard check` and `helm-guard gate`
as subprocesses (`sys.executable -m helm_guard`). An attack must exit 1 with exactly the
expected findings (rule, path relative to the repository, line, column) and nothing else,
from both commands; a near miss (`"clean": true`, `expect` empty) must exit 0 from both.
Optional keys: `"check_args"` / `"gate_args"` (extra arguments), `"gate": false` to skip the
gate when the case is about something only `check` sees.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.gitrepos import PINNED, git

ATTACKS = Path(__file__).resolve().parent / "attacks"
REPO_ROOT = Path(__file__).resolve().parent.parent
CASES = sorted(p.parent.name for p in ATTACKS.glob("*/case.json"))
KEYS = {"description", "class", "fleet_root", "expect", "clean", "check_args", "gate_args",
        "gate", "oracle"}


def _load(name: str) -> dict[str, Any]:
    case = json.loads((ATTACKS / name / "case.json").read_text(encoding="utf-8"))
    assert isinstance(case, dict) and set(case) <= KEYS, f"{name}: unknown keys in case.json"
    assert case.get("description") and case.get("class"), f"{name}: describe the case"
    assert isinstance(case.get("clean"), bool), f"{name}: say whether the case is clean"
    assert bool(case.get("expect")) != case["clean"], \
        f"{name}: an attack expects findings, a near miss none"
    return case


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "GITHUB_", "HELM_GUARD_", "CLOUDFLARE_"))}
    config = tmp / "gitconfig"
    config.write_text("[init]\n\tdefaultBranch = main\n[commit]\n\tgpgSign = false\n"
                      "[gc]\n\tauto = 0\n", encoding="utf-8")
    env.update(PINNED, GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1",
               PYTHONPATH=str(REPO_ROOT))
    return env


def _repository(case_dir: Path, tmp: Path, fleet_root: str, env: dict[str, str]) -> Path:
    """Copy the case to `tmp/case`; its fleet root becomes a clone of a bare origin whose main
    holds a seed commit; the case's files are one more commit on top (not pushed)."""
    tree = tmp / "case"
    shutil.copytree(case_dir, tree, symlinks=True, ignore=shutil.ignore_patterns("case.json"))
    root = tree / fleet_root
    assert (root / "helm-fleet.jsonc").is_file(), "the fleet root holds no helm-fleet.jsonc"
    origin = tmp / "origin.git"
    git(tmp, "init", "-q", "--bare", "-b", "main", str(origin), env=env)
    git(root, "init", "-q", "-b", "main", env=env)
    git(root, "remote", "add", "origin", origin.as_uri(), env=env)
    git(root, "commit", "-q", "--allow-empty", "-m", "seed", env=env)
    git(root, "push", "-q", "origin", "HEAD:main", env=env)
    git(root, "fetch", "-q", "origin", env=env)
    git(root, "remote", "set-head", "origin", "main", env=env)
    git(root, "add", "-A", env=env)
    git(root, "commit", "-q", "-m", "the case", env=env)
    return root


def _run(root: Path, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(  # noqa: S603 - fixed interpreter, argument list
        [sys.executable, "-m", "helm_guard", *args, "--format", "json"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False)
    try:
        doc = json.loads(proc.stdout) if proc.stdout.strip() else {}
    except json.JSONDecodeError:
        doc = {}
    return proc.returncode, doc, proc.stdout + proc.stderr


def _positions(doc: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    # check's JSON says "column", the gate's "col"
    return sorted((f["rule"], f["path"], f["line"], f.get("column", f.get("col")))
                  for f in doc.get("findings", ()))


def test_the_corpus_is_not_empty() -> None:
    assert len(CASES) >= 10, CASES
    classes = {_load(c)["class"] for c in CASES}
    assert any(_load(c)["clean"] for c in CASES), "no near misses"
    assert len(classes) >= 5, classes


@pytest.mark.parametrize("name", CASES)
def test_attack(name: str, tmp_path: Path) -> None:
    case = _load(name)
    env = _env(tmp_path)
    root = _repository(ATTACKS / name, tmp_path, case.get("fleet_root", "fleet"), env)
    expected = sorted((e["rule"], e["path"], e["line"], e["col"]) for e in case["expect"])
    runs = [("check", ["check", *case.get("check_args", [])])]
    if case.get("gate", True):
        runs.append(("gate", ["gate", *case.get("gate_args", [])]))
    for command, args in runs:
        rc, doc, output = _run(root, env, *args)
        if case["clean"]:
            assert rc == 0, f"{name}: {command} should pass this near miss:\n{output}"
            assert _positions(doc) == [], output
        else:
            assert rc == 1, f"{name}: {command} should block (exit 1), got {rc}:\n{output}"
            assert _positions(doc) == expected, \
                f"{name}: {command} findings differ from the expected ones:\n{output}"
