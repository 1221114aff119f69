"""Test helpers: copy the example fleet to a temp dir, edit it, and check it."""

from __future__ import annotations

import shutil
from pathlib import Path

from helm_guard.checker import CheckResult
from helm_guard.commands.check import run_fleet_check

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fleet"


def copy_example(dest: Path) -> Path:
    shutil.copytree(EXAMPLE, dest, dirs_exist_ok=True)
    return dest


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def check(fleet_dir: Path) -> CheckResult:
    return run_fleet_check(str(fleet_dir / "helm-fleet.jsonc"))


ACME = "shops/acme/wrangler.jsonc"
BRAVO = "shops/bravo/wrangler.jsonc"
REGIONAL = "regional/wrangler.jsonc"
ACME_ID = "1a9e6c1e-0d6a-4c33-9b8e-6b2f3f6f0a01"
BRAVO_ID = "2b0f7d2f-1e7b-4d44-8c9f-7c3a4a7a1b02"
