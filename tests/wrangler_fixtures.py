"""pytest fixtures for running the real, pinned wrangler against the local API emulator.

Load with `pytest_plugins = ["tests.wrangler_fixtures"]` (in a test module or tests/conftest.py).

- `emulator`: a started `CloudflareEmulator` (stopped after the test) holding the zone
  `shops.example` of the example fleet's registered hosts.
- `wrangler_env`: the environment for wrangler: the emulator's base URL, a dummy token, the
  emulator's account, metrics off, and HOME/XDG dirs in a temp dir so no user config or
  cached OAuth login is read.
- `wrangler`: a `helm_guard.wrangler.Wrangler` using tests/node/node_modules/.bin/wrangler
  with `wrangler_env`.
- `wrangler_bin`: the path of the pinned wrangler (fails the test if it is not installed).
- `write_worker_project(root, ...)` (also as the fixture `worker_project`): a minimal Worker
  project (wrangler.jsonc with a D1 and an R2 binding + src/index.js).

Test modules should take these as fixtures rather than import this module: importing it before
pytest registers it as a plugin disables pytest's assertion rewriting for it (a warning).

A missing wrangler FAILS the test (never skips): the guard's wrangler handling is exactly what
these tests exist to check.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from helm_guard.cloudflare.wrangler import Wrangler
from helm_guard.emulator import CloudflareEmulator

NODE_DIR = Path(__file__).resolve().parent / "node"
WRANGLER_BIN = NODE_DIR / "node_modules" / ".bin" / "wrangler"
WRANGLER_VERSION = "4.86.0"
TEST_TOKEN = "test-token"
D1_ID = "11111111-2222-4333-8444-555555555555"


def require_wrangler() -> Path:
    """The pinned test wrangler, or fail the test saying how to install it."""
    pkg = NODE_DIR / "node_modules" / "wrangler" / "package.json"
    if not WRANGLER_BIN.is_file() or not pkg.is_file():
        pytest.fail(
            f"wrangler is not installed at {WRANGLER_BIN}: run `npm ci --prefix tests/node`",
            pytrace=False,
        )
    version = json.loads(pkg.read_text(encoding="utf-8")).get("version")
    if version != WRANGLER_VERSION:
        pytest.fail(
            f"tests/node has wrangler {version}, expected {WRANGLER_VERSION}: "
            "run `npm ci --prefix tests/node`",
            pytrace=False,
        )
    return WRANGLER_BIN


@pytest.fixture
def emulator() -> Iterator[CloudflareEmulator]:
    """A running Cloudflare API emulator; `timeout` faults hold requests at most 20 s."""
    emu = CloudflareEmulator(hold_seconds=20.0)
    emu.add_zone("shops.example")  # the example fleet's hosts: deploy reads their routes back
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture(scope="session")
def _wrangler_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wrangler-home")


@pytest.fixture
def wrangler_env(emulator: CloudflareEmulator, _wrangler_home: Path) -> dict[str, str]:
    """Environment additions that point wrangler at `emulator` and isolate it."""
    assert emulator.base_url is not None
    return {
        "CLOUDFLARE_API_BASE_URL": emulator.base_url,
        "CLOUDFLARE_API_TOKEN": TEST_TOKEN,
        "CLOUDFLARE_ACCOUNT_ID": emulator.account_id,
        "WRANGLER_SEND_METRICS": "false",
        "HOME": str(_wrangler_home),
        "XDG_CONFIG_HOME": str(_wrangler_home / ".config"),
        "WRANGLER_LOG_PATH": str(_wrangler_home / "logs"),
    }


@pytest.fixture
def wrangler_bin() -> Path:
    """The pinned wrangler executable (the test fails if it is not installed)."""
    return require_wrangler()


@pytest.fixture
def wrangler(wrangler_bin: Path, wrangler_env: dict[str, str]) -> Wrangler:
    """The pinned wrangler, wired to the emulator (60 s timeout per call)."""
    return Wrangler(wrangler_bin, extra_env=wrangler_env, timeout=60)


@pytest.fixture
def worker_project() -> Callable[..., Path]:
    """`write_worker_project` as a fixture."""
    return write_worker_project


def write_worker_project(
    root: Path,
    *,
    name: str = "helm-acme",
    d1_id: str | None = D1_ID,
    bucket: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a minimal Worker project under `root`; return the wrangler.jsonc path.

    D1 binding `DB` (database `<name>-db`, id `d1_id`; no id when None) and R2 binding `ASSETS`
    (bucket `bucket`, default `<name>-assets`). `extra` is merged into the top level.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "index.js").write_text(
        'export default { async fetch() { return new Response("ok"); } };\n', encoding="utf-8"
    )
    d1: dict[str, str] = {"binding": "DB", "database_name": f"{name}-db"}
    if d1_id is not None:
        d1["database_id"] = d1_id
    config: dict[str, Any] = {
        "name": name,
        "main": "src/index.js",
        "compatibility_date": "2025-01-01",
        "d1_databases": [d1],
        "r2_buckets": [{"binding": "ASSETS", "bucket_name": bucket or f"{name}-assets"}],
    }
    config.update(extra or {})
    path = root / "wrangler.jsonc"
    path.write_text(
        "// written by tests/wrangler_fixtures.py\n" + json.dumps(config, indent=2) + "\n",
        encoding="utf-8",
    )
    return path
