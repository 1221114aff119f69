"""Deploy-time attacks (issue 11): repository content that would make wrangler touch another
Worker or send the token elsewhere. Real wrangler 4.86, the local emulator, real git.

For each attack, two proofs:
- `helm-guard deploy` refuses before anything is uploaded: the emulator saw no write, the other
  shop's Worker is untouched, and a second listener on 127.0.0.1 (where a `.env` would send the
  token) recorded nothing;
- the wrangler door alone neutralises it (explicit absolute `--config`, neutral cwd, empty
  `--env-file`, environment built from scratch): uploading through `Wrangler` with the attack
  files in place still lands on helm-acme only, and the listener records nothing.
A control test shows the attack is real: plain wrangler, run from the shop's folder as an
operator would, obeys the `.env` and uploads to helm-bravo.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple

import pytest

from helm_guard.cloudflare.wrangler import Wrangler, WranglerError
from helm_guard.commands import deploy
from helm_guard.emulator import CloudflareEmulator
from helm_guard.errors import Blocked

ACME = "helm-acme"
BRAVO = "helm-bravo"


class Listener:
    """A second HTTP server on 127.0.0.1 that records every request (and answers 500)."""

    def __init__(self) -> None:
        seen: list[tuple[str, str, bool]] = []

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                seen.append((self.command, self.path, "authorization" in
                             {k.lower() for k in self.headers}))
                self.send_response(500)
                self.end_headers()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def log_message(self, *args: object) -> None:
                pass

        self.requests = seen
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/client/v4"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener() as lst:
        yield lst


def writes(emulator: CloudflareEmulator) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in emulator.requests if r["method"] != "GET"]


# ---------------------------------------------------------------------- the attacks
def build_command(repo: Path, listener: Listener) -> None:
    cfg = repo / "shops" / "acme" / "wrangler.jsonc"
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace('"main":', '"build": {"command": "sh prebuild.sh"},\n  "main":', 1),
                   encoding="utf-8")
    (repo / "shops" / "acme" / "prebuild.sh").write_text(
        f'touch "{repo}/BUILD_RAN"; env > "{repo}/BUILD_ENV"\n', encoding="utf-8")


def env_override_name(repo: Path, listener: Listener) -> None:
    (repo / "shops" / "acme" / ".env").write_text(f"WRANGLER_CI_OVERRIDE_NAME={BRAVO}\n")


def env_base_url(repo: Path, listener: Listener) -> None:
    (repo / "shops" / "acme" / ".env.local").write_text(f"CLOUDFLARE_API_BASE_URL={listener.url}\n")
    (repo / ".env").write_text(f"CLOUDFLARE_API_BASE_URL={listener.url}\n")


def env_per_env(repo: Path, listener: Listener) -> None:
    # read by wrangler only with `--env staging`: the attack is on bravo's stage deploy
    (repo / "shops" / "bravo" / ".env.staging").write_text(
        f"CLOUDFLARE_ENV=\nWRANGLER_CI_OVERRIDE_NAME={ACME}\n")


def redirect(repo: Path, listener: Listener) -> None:
    folder = repo / "shops" / "acme" / ".wrangler" / "deploy"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"configPath": "../../../bravo/wrangler.jsonc"}))


def parent_config(repo: Path, listener: Listener) -> None:
    (repo.parent / "wrangler.json").write_text(json.dumps(
        {"name": BRAVO, "main": str(repo / "src" / "index.js"),
         "compatibility_date": "2026-11-01"}))


class Attack(NamedTuple):
    plant: Callable[[Path, Listener], None]
    says: str  # in deploy's refusal
    shop: str = "acme"  # the target deployed
    env: str | None = None
    worker: str = ACME
    victim: str = BRAVO  # the other shop's Worker, which must stay untouched


ATTACKS: dict[str, Attack] = {
    "build-command": Attack(build_command, "custom build"),
    "env-override-name": Attack(env_override_name, "shops/acme/.env:"),
    "env-base-url": Attack(env_base_url, "HG104 at .env:1:1"),  # the check sees it first
    "env-per-env": Attack(env_per_env, "shops/bravo/.env.staging:", "bravo", "staging",
                          "helm-bravo-staging", ACME),
    "redirect": Attack(redirect, ".wrangler/deploy/config.json"),
    "parent-config": Attack(parent_config, "above the fleet root"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_deploy_refuses_and_touches_nothing(
    attack: str, emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path,
    listener: Listener,
) -> None:
    a = ATTACKS[attack]
    victim_before = emulator.seed_version(a.victim, [], deploy=True)
    a.plant(fleet_repo, listener)
    out = io.StringIO()
    with pytest.raises(Blocked) as exc:
        deploy.deploy_shop(str(fleet_repo), a.shop, env=a.env, wrangler=wrangler, out=out)
    assert a.says in str(exc.value), str(exc.value)
    assert "stopped at step 1/6" in str(exc.value)
    assert writes(emulator) == [], "nothing may be uploaded or activated"
    assert emulator.live_version(a.victim)["id"] == victim_before  # the other shop: untouched
    assert [v["id"] for v in emulator.versions(a.victim)] == [victim_before]
    assert listener.requests == []
    assert not (fleet_repo / "BUILD_RAN").exists()


@pytest.mark.parametrize("attack", sorted(set(ATTACKS) - {"build-command"}))
def test_the_wrangler_door_neutralises_the_files(
    attack: str, emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path,
    listener: Listener,
) -> None:
    """Without helm-guard's refusals, the door alone: the upload lands on helm-acme only."""
    a = ATTACKS[attack]
    a.plant(fleet_repo, listener)
    cfg = fleet_repo / "shops" / a.shop / "wrangler.jsonc"
    vid = wrangler.versions_upload(cfg, name=a.worker, env=a.env)
    assert emulator.scripts() == [a.worker]
    assert [v["id"] for v in emulator.versions(a.worker)] == [vid]
    assert listener.requests == []


def test_the_wrangler_door_refuses_a_build_command(
    emulator: CloudflareEmulator, wrangler: Wrangler, fleet_repo: Path, listener: Listener
) -> None:
    build_command(fleet_repo, listener)
    cfg = fleet_repo / "shops" / "acme" / "wrangler.jsonc"
    with pytest.raises(WranglerError, match="custom build"):
        wrangler.versions_upload(cfg, name=ACME)
    assert emulator.requests == [] and not (fleet_repo / "BUILD_RAN").exists()


def test_control_plain_wrangler_obeys_the_env_file(
    emulator: CloudflareEmulator, wrangler_bin: Path, wrangler_env: dict[str, str],
    fleet_repo: Path, listener: Listener,
) -> None:
    """The attack is real: wrangler run by hand in the shop's folder uploads to helm-bravo."""
    env_override_name(fleet_repo, listener)
    folder = fleet_repo / "shops" / "acme"
    env = {**os.environ, **wrangler_env}
    proc = subprocess.run(  # noqa: S603 - argument list
        [str(wrangler_bin), "versions", "upload", "--name", ACME, "--x-provision=false"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert emulator.scripts() == [BRAVO]
