"""HG202: configs are also validated against wrangler's own config-schema.json (the one
shipped with the pinned wrangler in tests/node), given with --wrangler-schema or found in the
fleet's node_modules/wrangler/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.fleets import ACME, copy_example, edit

SCHEMA = (Path(__file__).resolve().parent / "node" / "node_modules" / "wrangler"
          / "config-schema.json")


def _schema() -> Path:
    assert SCHEMA.is_file(), "wrangler is not installed: run `npm ci --prefix tests/node`"
    return SCHEMA


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "helm_guard", "check", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False)


def test_example_fleet_is_valid_for_wranglers_schema(tmp_path: Path) -> None:
    copy_example(tmp_path)
    proc = run(tmp_path, "--wrangler-schema", str(_schema()))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_top_level_only_key_inside_env_is_reported(tmp_path: Path) -> None:
    copy_example(tmp_path)
    edit(tmp_path / "shops/bravo/wrangler.jsonc", '"routes": [],',
         '"routes": [], "keep_vars": true,')
    proc = run(tmp_path, "--wrangler-schema", str(_schema()))
    assert proc.returncode == 1
    assert any(line.startswith("shops/bravo/wrangler.jsonc:") and " HG202 " in line
               for line in proc.stdout.splitlines()), proc.stdout


def test_schema_found_in_the_fleets_node_modules(tmp_path: Path) -> None:
    copy_example(tmp_path)
    target = tmp_path / "node_modules" / "wrangler"
    target.mkdir(parents=True)
    shutil.copy(_schema(), target / "config-schema.json")
    edit(tmp_path / ACME, '"database_id"', '"databse_id"')
    proc = run(tmp_path)
    assert proc.returncode == 1
    assert f"{ACME}:" in proc.stdout and " HG202 " in proc.stdout, proc.stdout


def test_missing_schema_file_is_a_usage_error(tmp_path: Path) -> None:
    copy_example(tmp_path)
    proc = run(tmp_path, "--wrangler-schema", str(tmp_path / "nope.json"))
    assert proc.returncode == 2
    assert "no such file" in proc.stderr
