"""Files wrangler reads besides the checked config (HG104) and stray configs (HG606): the
shared walk in serial and parallel runs, with the bad files where the parallel engine used to
skip them; the walk itself; the real wrangler 4.86 showing what it does with the files of the
attack cases `tests/attacks/side-input-*` (which `tests/test_attacks.py` runs through `check`
and `gate`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from helm_guard import side_inputs
from helm_guard.checker import PARALLEL_MIN_FILES
from tests.gate_fixtures import git
from tests.test_parallel import _both_ways, _fleet

ATTACKS = Path(__file__).resolve().parent / "attacks"


# ------------------------------------------------------------------ attack cases


def _materialise(case: str, tmp: Path) -> tuple[dict[str, Any], Path]:
    """The case copied to `tmp` (symlinks kept), its fleet root a git repository whose
    `main` is pushed to a bare origin."""
    src = ATTACKS / case
    spec = json.loads((src / "case.json").read_text(encoding="utf-8"))
    dest = tmp / "case"
    shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns("case.json"))
    root = dest / spec["fleet_root"]
    origin = tmp / "origin.git"
    git(tmp, "init", "-q", "--bare", "-b", "main", str(origin))
    git(root, "init", "-q", "-b", "main")
    git(root, "remote", "add", "origin", origin.as_uri())
    git(root, "add", "-A", "-f")
    git(root, "commit", "-q", "-m", f"attack case {case}")
    git(root, "push", "-q", "origin", "HEAD:main")
    git(root, "fetch", "-q", "origin")
    return spec, root


# ------------------------------------------------------------------ serial and parallel


def _plant(root: Path, slugs: list[str]) -> dict[tuple[str, str], str]:
    """Bad files in folders that land in the last worker's chunk, in a shop folder with no
    config (a candidate the parallel engine finds absent), and above the shops."""
    late = slugs[-1]
    files = {
        f"shops/{late}/.env": "WRANGLER_CI_OVERRIDE_NAME=helm-shop-00000\n",
        f"shops/{late}/sub/.dev.vars": "K=v\n",
        f"shops/{late}/.wrangler/deploy/config.json": '{"configPath": "../../x.json"}\n',
        "shops/zz-ops/.env.local": "CLOUDFLARE_ENV=staging\n",
        "shops/zz-ops/wrangler.json": "{}\n",
        "shops/zz-ops/deeper/Wrangler.toml": "name = 'x'\n",
        "shops/.ENV": "CLOUDFLARE_API_BASE_URL=http://127.0.0.1:9/\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return {
        ("HG104", f"shops/{late}/.env"): late,
        ("HG104", f"shops/{late}/sub/.dev.vars"): late,
        ("HG104", f"shops/{late}/.wrangler/deploy/config.json"): late,
        ("HG104", "shops/zz-ops/.env.local"): "",
        ("HG606", "shops/zz-ops/wrangler.json"): "",
        ("HG606", "shops/zz-ops/deeper/Wrangler.toml"): "",
        ("HG104", "shops/.ENV"): "",
    }


def test_side_inputs_found_by_serial_and_parallel_runs(tmp_path: Path) -> None:
    slugs = _fleet(tmp_path, PARALLEL_MIN_FILES + 7)
    want = _plant(tmp_path, slugs)
    _, serial, parallel = _both_ways(tmp_path)  # asserts both runs report the same
    for result in (serial, parallel):
        got = {(f.rule, f.path): f.shop or "" for f in result.findings
               if f.rule in ("HG104", "HG606")}
        assert got == want


def test_side_inputs_in_the_first_chunk_and_at_the_root(tmp_path: Path) -> None:
    slugs = _fleet(tmp_path, PARALLEL_MIN_FILES + 1)
    for rel in (f"shops/{slugs[0]}/.env", ".env", "src/.env.production.local"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("X=1\n")
    _, serial, _ = _both_ways(tmp_path)
    assert {f.path for f in serial.findings if f.rule == "HG104"} == \
        {f"shops/{slugs[0]}/.env", ".env", "src/.env.production.local"}


# ------------------------------------------------------------------ the walk itself


def test_names_wrangler_reads_in_any_case() -> None:
    for name in (".env", ".env.local", ".env.staging", ".env.staging.local", ".ENV",
                 ".Env.Local", ".env.ts", ".env.", ".env ", ".ENV. "):
        assert side_inputs.kind_of(name) == side_inputs.DOTENV, name
    for name in (".dev.vars", ".dev.vars.staging", ".DEV.VARS"):
        assert side_inputs.kind_of(name) == side_inputs.DEV_VARS, name
    for name in ("wrangler.json", "wrangler.jsonc", "wrangler.toml", "Wrangler.JSON",
                 "WRANGLER.TOML", "wrangler.json.", "wrangler.jsonc "):
        assert side_inputs.kind_of(name) == side_inputs.CONFIG, name
    for name in ("env", "env.example", ".envrc", ".environment", "dotenv", ".dev.varsity",
                 "wrangler.json5", "wrangler.yaml", ".wrangler-notes", "index.js", "src"):
        assert side_inputs.kind_of(name) is None, name


def test_walk_reports_shapes_and_skips_node_modules(tmp_path: Path) -> None:
    (tmp_path / "a" / ".env").mkdir(parents=True)  # a folder named .env
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / ".env").symlink_to(tmp_path / "nowhere")  # a dangling symlink
    (tmp_path / "c" / ".wrangler").mkdir(parents=True)
    (tmp_path / "c" / ".wrangler" / "tmp").mkdir()  # build output: not a finding
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / ".wrangler").write_text("")  # a file
    (tmp_path / "e" / ".Wrangler" / "Deploy").mkdir(parents=True)
    (tmp_path / "e" / ".Wrangler" / "Deploy" / "CONFIG.json").write_text("{}")
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "node_modules" / "x" / ".env").write_text("")
    (tmp_path / "linked").symlink_to(tmp_path / "a", target_is_directory=True)
    (tmp_path / "c" / "up").symlink_to("..", target_is_directory=True)  # a loop: not walked
    (tmp_path / "c" / "file-link").symlink_to(tmp_path / "d" / ".wrangler")  # a file: fine
    (tmp_path / "c" / "dangling").symlink_to(tmp_path / "nowhere")  # nothing behind it
    (tmp_path / "node_modules" / "linked").symlink_to(tmp_path / "a")  # not walked at all
    found = sorted(side_inputs.walk(tmp_path))
    assert found == [
        side_inputs.Found("a/.env", side_inputs.DOTENV),
        side_inputs.Found("b/.env", side_inputs.DOTENV),
        side_inputs.Found("c/up", side_inputs.SYMLINK_DIR),
        side_inputs.Found("d/.wrangler", side_inputs.WRANGLER_NOT_DIR),
        side_inputs.Found("e/.Wrangler/Deploy/CONFIG.json", side_inputs.REDIRECT_KIND),
        side_inputs.Found("linked", side_inputs.SYMLINK_DIR),
    ]
    # a linked folder is reported even when someone else walks it (`prune`)
    assert side_inputs.Found("linked", side_inputs.SYMLINK_DIR) in \
        set(side_inputs.walk(tmp_path, prune=["linked"]))


def test_unlistable_folder_is_a_finding(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    (tmp_path / "locked").mkdir()
    real = os.scandir

    def scandir(path: Any = ".") -> Any:
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(side_inputs.os, "scandir", scandir)
    assert list(side_inputs.walk(tmp_path)) == [
        side_inputs.Found("locked", side_inputs.UNREADABLE)]


def test_configs_and_redirects_above_the_fleet_root(tmp_path: Path) -> None:
    fleet = tmp_path / "a" / "b" / "fleet"
    fleet.mkdir(parents=True)
    (tmp_path / "a" / "wrangler.jsonc").write_text("{}")
    (tmp_path / "a" / "b" / ".wrangler" / "deploy").mkdir(parents=True)
    (tmp_path / "a" / "b" / ".wrangler" / "deploy" / "config.json").write_text("{}")
    (tmp_path / "a" / "b" / ".env").write_text("X=1")  # not read: never the cwd of a run
    got = {(str(p.relative_to(tmp_path)), x.rel, x.kind)
           for p, x in side_inputs.ancestors_above(fleet) if tmp_path in (p, *p.parents)}
    assert got == {("a", "wrangler.jsonc", side_inputs.CONFIG),
                   ("a/b", ".wrangler/deploy/config.json", side_inputs.REDIRECT_KIND)}


# ------------------------------------------------------------------ wrangler's own evidence


def _wrangler_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CLOUDFLARE_", "WRANGLER_", "CF_"))}
    env.update(HOME=str(tmp / "home"), XDG_CONFIG_HOME=str(tmp / "xdg"),
               WRANGLER_SEND_METRICS="false", CI="1", NO_COLOR="1")
    return env


def _dry_run(wrangler: Path, cwd: Path, tmp: Path, *args: str) -> str:
    proc = subprocess.run([str(wrangler), "deploy", "--dry-run", *args], cwd=cwd,  # noqa: S603
                          env=_wrangler_env(tmp), capture_output=True, text=True,
                          check=False, timeout=120)
    return proc.stdout + proc.stderr


def test_wrangler_takes_the_worker_name_from_a_dotenv(tmp_path: Path, wrangler_bin: Path) -> None:
    _, root = _materialise("side-input-dotenv-ci-override-name", tmp_path)
    out = _dry_run(wrangler_bin, root / "shops" / "acme", tmp_path, "--name", "helm-acme")
    assert 'using the Worker name "helm-acme", but the CI system expected "helm-bravo"' in out
    assert "Overriding using the CI provided Worker name" in out
    (root / "shops" / "acme" / ".env").unlink()
    clean = _dry_run(wrangler_bin, root / "shops" / "acme", tmp_path, "--name", "helm-acme")
    assert "helm-bravo" not in clean, clean


def test_wrangler_picks_the_env_from_a_dotenv(tmp_path: Path, wrangler_bin: Path) -> None:
    _, root = _materialise("side-input-dotenv-local-cloudflare-env", tmp_path)
    out = _dry_run(wrangler_bin, root / "shops" / "bravo", tmp_path)
    assert "helm-bravo-staging-db" in out, out  # the bare deploy became the staging env


def test_wrangler_follows_a_redirect(tmp_path: Path, wrangler_bin: Path) -> None:
    _, root = _materialise("side-input-redirect-config-json", tmp_path)
    out = _dry_run(wrangler_bin, root / "shops" / "acme", tmp_path)
    assert "helm-bravo-db" in out, out  # evil/wrangler.json's binding, not acme's


def test_wrangler_prefers_a_parent_wrangler_json(tmp_path: Path, wrangler_bin: Path) -> None:
    _, root = _materialise("side-input-parent-wrangler-json", tmp_path)
    out = _dry_run(wrangler_bin, root / "shops" / "acme", tmp_path)
    assert "helm-bravo-db" in out, out


def test_wrangler_sends_the_token_where_a_dotenv_says(tmp_path: Path, wrangler_bin: Path) -> None:
    """The root .env's CLOUDFLARE_API_BASE_URL, pointed at a local listener, receives the
    operator's token on a `wrangler deploy -c shops/acme/wrangler.jsonc` from the root."""
    import http.server
    import threading

    seen: list[str] = []

    class Trap(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            body = b'{"success":false,"errors":[{"code":10000,"message":"trap"}],"result":null}'
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trap)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _, root = _materialise("side-input-dotenv-api-base-url", tmp_path)
        (root / ".env").write_text(
            f"CLOUDFLARE_API_BASE_URL=http://127.0.0.1:{server.server_address[1]}/client/v4\n")
        env = _wrangler_env(tmp_path)
        token = f"tok-{uuid.uuid4().hex}"
        env.update(CLOUDFLARE_API_TOKEN=token,
                   CLOUDFLARE_ACCOUNT_ID="0123456789abcdef0123456789abcdef")
        subprocess.run([str(wrangler_bin), "deploy", "-c", "shops/acme/wrangler.jsonc"],  # noqa: S603
                       cwd=root, env=env, capture_output=True, text=True, check=False,
                       timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    assert f"Bearer {token}" in seen, seen


def test_dotenv_above_the_fleet_root_inside_the_repository(tmp_path: Path) -> None:
    """A fleet in a subfolder of its git repository: a .env at the repository's top is read
    by `wrangler deploy -c fleet/shops/acme/wrangler.jsonc` run there; one above the
    repository is not (nobody starts wrangler outside the repository)."""
    repo = tmp_path / "repo"
    fleet = repo / "infra" / "fleet"
    fleet.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / ".env").write_text("WRANGLER_CI_OVERRIDE_NAME=x\n")
    (repo / "infra" / ".dev.vars").write_text("K=v\n")
    (tmp_path / ".env").write_text("X=1\n")
    got = {(str(p.relative_to(tmp_path)), x.rel, x.kind)
           for p, x in side_inputs.ancestors_above(fleet) if tmp_path in (p, *p.parents)}
    assert got == {("repo", ".env", side_inputs.DOTENV),
                   ("repo/infra", ".dev.vars", side_inputs.DEV_VARS)}


def test_dotenv_messages_never_read_through_links_or_echo_escapes(tmp_path: Path) -> None:
    from tests.fleets import check, copy_example

    copy_example(tmp_path)
    secret = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    secret.write_text("SECRET_NAME_OUTSIDE=1\n")
    (tmp_path / "shops" / "acme" / ".env").symlink_to(secret)
    (tmp_path / "src" / ".env.\x1b[2J").write_text("X=1\n")
    findings = [f for f in check(tmp_path).findings if f.rule == "HG104"]
    assert {f.path for f in findings} == {"shops/acme/.env", "src/.env.\x1b[2J"}
    assert all("SECRET_NAME_OUTSIDE" not in f.message for f in findings)
    assert all("\x1b" not in f.message for f in findings)


def test_every_redirect_is_reported_whatever_its_target(tmp_path: Path) -> None:
    """The redirect's target cannot matter: `.wrangler/deploy/config.json` is reported for its
    name alone (never read), whether its `configPath` leads outside, to a covered config, or
    nowhere, and whether it is a file, a folder, a symlink or garbage."""
    targets = {"out": '{"configPath": "../../../../../elsewhere/wrangler.json"}',
               "abs": '{"configPath": "/etc/wrangler.json"}',
               "own": '{"configPath": "../../wrangler.jsonc"}', "junk": "not json"}
    for name, text in targets.items():
        (tmp_path / name / ".wrangler" / "deploy").mkdir(parents=True)
        (tmp_path / name / ".wrangler" / "deploy" / "config.json").write_text(text)
    (tmp_path / "dir" / ".wrangler" / "deploy" / "config.json").mkdir(parents=True)
    (tmp_path / "link" / ".wrangler" / "deploy").mkdir(parents=True)
    (tmp_path / "link" / ".wrangler" / "deploy" / "config.json").symlink_to("/nowhere")
    found = sorted(side_inputs.walk(tmp_path))
    assert found == [side_inputs.Found(f"{d}/.wrangler/deploy/config.json",
                                       side_inputs.REDIRECT_KIND)
                     for d in sorted([*targets, "dir", "link"])]
