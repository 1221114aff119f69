"""helm_guard.wrangler against the real, pinned wrangler 4.86 and the local API emulator.

Every test that runs wrangler talks only to the emulator on 127.0.0.1. A wrangler call costs
about 0.9 s, so the tests share setups where they can.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from helm_guard.cloudflare import wrangler as wr
from helm_guard.cloudflare.wrangler import Wrangler, WranglerError, bindings_of
from helm_guard.emulator import ROLLBACK_WINDOW_CODE, CloudflareEmulator
from helm_guard.errors import Blocked

NAME = "helm-acme"
D1_ID = "11111111-2222-4333-8444-555555555555"  # = tests.wrangler_fixtures.D1_ID
D1 = {"type": "d1", "name": "DB", "id": D1_ID}
R2 = {"type": "r2_bucket", "name": "ASSETS", "bucket_name": "helm-acme-assets"}
GOOD_ID = "0b7a1c52-3f59-4c1e-9d8e-2a4b6c8d0e1f"


def live_id(emu: CloudflareEmulator) -> str | None:
    """Id of the live version of NAME (None if nothing is deployed)."""
    live = emu.live_version(NAME)
    return str(live["id"]) if live is not None else None


def _posts(emulator: CloudflareEmulator) -> list[dict]:
    return [
        r for r in emulator.requests if r["method"] == "POST" and r["path"].endswith("/deployments")
    ]


# ---------------------------------------------------------------------- happy paths
def test_upload_view_list_deploy_status_round_trip(
    emulator: CloudflareEmulator,
    wrangler: Wrangler,
    tmp_path: Path,
    worker_project: Callable[..., Path],
) -> None:
    config = worker_project(tmp_path / "shop")
    vid = wrangler.versions_upload(
        config, name=NAME, message="first", tag="v1"
    )
    stored = emulator.versions(NAME)
    assert [v["id"] for v in stored] == [vid]
    # the emulator stores the upload-format bindings exactly as wrangler sent them
    assert sorted(stored[0]["resources"]["bindings"], key=lambda b: b["name"]) == [R2, D1]
    assert stored[0]["annotations"]["workers/message"] == "first"
    assert emulator.live_version(NAME) is None  # upload deploys nothing

    view = wrangler.versions_view(vid, name=NAME)
    assert view["id"] == vid
    assert bindings_of(view) == [R2, D1]

    listed = wrangler.versions_list(name=NAME)
    assert [v["id"] for v in listed] == [vid]
    assert wrangler.deployments_list(name=NAME) == []

    wrangler.versions_deploy(vid, name=NAME, message="ship it")
    assert live_id(emulator) == vid
    status = wrangler.deployments_status(name=NAME)
    assert status["versions"] == [{"version_id": vid, "percentage": 100}]
    assert status["annotations"]["workers/message"] == "ship it"
    deployments = wrangler.deployments_list(name=NAME)
    assert [d["id"] for d in deployments] == [status["id"]]

    # every call named the Worker explicitly and disabled provisioning on upload
    paths = {r["path"] for r in emulator.requests}
    assert not any("/r2/" in p or "/d1/" in p for p in paths)


def test_upload_with_env_uses_that_envs_bindings(
    emulator: CloudflareEmulator,
    wrangler: Wrangler,
    tmp_path: Path,
    worker_project: Callable[..., Path],
) -> None:
    staging_d1 = "99999999-2222-4333-8444-555555555555"
    config = worker_project(
        tmp_path,
        extra={
            "env": {
                "staging": {
                    "d1_databases": [
                        {"binding": "DB", "database_name": "x-db", "database_id": staging_d1}
                    ],
                    "r2_buckets": [{"binding": "ASSETS", "bucket_name": "helm-acme-staging"}],
                }
            }
        },
    )
    vid = wrangler.versions_upload(config, name="helm-acme-staging", env="staging")
    (version,) = emulator.versions("helm-acme-staging")
    assert version["id"] == vid
    assert {b["name"]: b.get("id", b.get("bucket_name")) for b in bindings_of(version)} == {
        "DB": staging_d1,
        "ASSETS": "helm-acme-staging",
    }


def test_upload_never_provisions_resources(
    emulator: CloudflareEmulator,
    wrangler: Wrangler,
    tmp_path: Path,
    worker_project: Callable[..., Path],
) -> None:
    config = worker_project(tmp_path, d1_id=None)
    with pytest.raises(WranglerError) as info:
        wrangler.versions_upload(config, name=NAME)
    assert "database_id" in str(info.value)
    assert emulator.d1_databases() == [] and emulator.versions(NAME) == []
    assert not any("/d1/" in r["path"] for r in emulator.requests)


def test_gradual_deploy_splits_traffic(emulator: CloudflareEmulator, wrangler: Wrangler) -> None:
    v1 = emulator.seed_version(NAME, [D1], deploy=True)
    v2 = emulator.seed_version(NAME, [D1])
    wrangler.versions_deploy(
        v2, name=NAME, message="canary", percentage=10, remainder_version_id=v1
    )
    latest = emulator.deployments(NAME)[0]
    assert latest["versions"] == [
        {"version_id": v2, "percentage": 10},
        {"version_id": v1, "percentage": 90},
    ]


def test_rollback_to_explicit_version(emulator: CloudflareEmulator, wrangler: Wrangler) -> None:
    v1 = emulator.seed_version(NAME, [D1], deploy=True, message="v1")
    emulator.seed_version(NAME, [D1, R2], deploy=True, message="v2")
    wrangler.rollback(v1, name=NAME, message="back to v1")
    assert live_id(emulator) == v1
    (post,) = _posts(emulator)
    assert post["query"] == {}
    assert post["body"]["versions"] == [{"version_id": v1, "percentage": 100}]
    assert post["body"]["annotations"] == {"workers/message": "back to v1"}


def test_rollback_outside_window_is_refused(
    emulator: CloudflareEmulator, wrangler: Wrangler
) -> None:
    oldest = emulator.seed_version(NAME, [D1], deploy=True)
    for _ in range(10):
        emulator.seed_version(NAME, [D1], deploy=True)
    live = live_id(emulator)
    with pytest.raises(WranglerError) as info:
        wrangler.rollback(oldest, name=NAME, message="too far")
    assert info.value.code == ROLLBACK_WINDOW_CODE
    assert "10 most recent versions" in info.value.message
    assert live_id(emulator) == live


def test_changed_secrets_are_never_forced_silently(
    emulator: CloudflareEmulator, wrangler: Wrangler
) -> None:
    v1 = emulator.seed_version(NAME, [D1], deploy=True)
    emulator.set_secret(NAME, "SECRET_B")
    emulator.set_secret(NAME, "SECRET_A")
    live = live_id(emulator)

    with pytest.raises(WranglerError) as info:
        wrangler.rollback(v1, name=NAME, message="roll back")
    err = info.value
    assert err.code == 10220
    assert isinstance(err, Blocked)
    assert err.changed_secrets == ["SECRET_A", "SECRET_B"]
    assert "SECRET_A, SECRET_B" in err.message and "[code: 10220]" in err.message
    assert live_id(emulator) == live
    assert [p["query"] for p in _posts(emulator)] == [{}]  # never ?force=true

    emulator.clear_requests()
    wrangler.rollback(v1, name=NAME, message="roll back anyway", force_secrets=True)
    assert live_id(emulator) == v1
    assert [p["query"] for p in _posts(emulator)] == [{}, {"force": "true"}]


# ---------------------------------------------------------------------- failures
def test_api_500_is_a_clear_error(emulator: CloudflareEmulator, wrangler: Wrangler) -> None:
    emulator.seed_version(NAME, [D1], deploy=True)
    emulator.fail_next("GET", r"/deployments$", "500")
    with pytest.raises(WranglerError) as info:
        wrangler.deployments_status(name=NAME)
    assert info.value.code == 10013
    assert "wrangler deployments status failed" in info.value.message
    assert "/deployments) failed" in info.value.message


def test_timeout_kills_wrangler(
    emulator: CloudflareEmulator, wrangler_env: dict, wrangler_bin: Path
) -> None:
    w = Wrangler(wrangler_bin, extra_env=wrangler_env, timeout=3)
    emulator.seed_version(NAME, [D1], deploy=True)
    emulator.fail_next("GET", r"/deployments$", "timeout")
    start = time.monotonic()
    with pytest.raises(WranglerError) as info:
        w.deployments_list(name=NAME)
    assert time.monotonic() - start < 12
    assert "timed out after 3 s" in info.value.message
    assert info.value.code is None


def test_malformed_response_is_a_clear_error(
    emulator: CloudflareEmulator, wrangler: Wrangler
) -> None:
    emulator.seed_version(NAME, [D1], deploy=True)
    emulator.fail_next("GET", r"/deployments$", "malformed")
    with pytest.raises(WranglerError) as info:
        wrangler.deployments_list(name=NAME)
    assert "Received a malformed response from the API" in info.value.message


def test_unknown_worker_and_wrong_account(
    emulator: CloudflareEmulator, wrangler: Wrangler, wrangler_env: dict, wrangler_bin: Path
) -> None:
    with pytest.raises(WranglerError) as info:
        wrangler.versions_list(name="helm-nope")
    assert info.value.code == 10007

    other = Wrangler(wrangler_bin, extra_env={**wrangler_env, "CLOUDFLARE_ACCOUNT_ID": "f" * 32})
    emulator.clear_requests()
    with pytest.raises(WranglerError) as info:
        other.deployments_status(name=NAME)
    assert info.value.code == 10000
    # after an authentication error wrangler asks who the token belongs to
    assert "/user/tokens/verify" in [r["path"] for r in emulator.requests]


def test_error_output_never_contains_the_token(
    emulator: CloudflareEmulator, wrangler: Wrangler
) -> None:
    with pytest.raises(WranglerError) as info:
        wrangler.deployments_list(name="helm-nope")
    err = info.value
    assert "test-token" not in f"{err}{err.stdout}{err.stderr}"


# ---------------------------------------------------------------------- no process at all
@pytest.fixture
def no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("a process was started")

    monkeypatch.setattr(subprocess, "Popen", boom)


@pytest.mark.parametrize(
    "call",
    [
        lambda w: w.versions_view("not-a-uuid", name=NAME),
        lambda w: w.versions_view(GOOD_ID.upper(), name=NAME),
        lambda w: w.versions_view(GOOD_ID + "\n", name=NAME),
        lambda w: w.versions_view(GOOD_ID, name="Helm-Acme"),
        lambda w: w.versions_list(name="-rf"),
        lambda w: w.versions_list(name="helm acme"),
        lambda w: w.versions_list(name="a" * 64),
        lambda w: w.deployments_status(name=""),
        lambda w: w.deployments_list(name="helm_acme"),
        lambda w: w.rollback("--force", name=NAME, message="m"),
        lambda w: w.rollback(GOOD_ID, name=NAME, message="two\nlines"),
        lambda w: w.rollback(GOOD_ID, name=NAME, message="x" * 121),
        lambda w: w.rollback(GOOD_ID, name=NAME, message="m", force_secrets="yes"),
        lambda w: w.versions_deploy(GOOD_ID, name=NAME, message="m", percentage=0),
        lambda w: w.versions_deploy(GOOD_ID, name=NAME, message="m", percentage=101),
        lambda w: w.versions_deploy(GOOD_ID, name=NAME, message="m", percentage=float("nan")),
        lambda w: w.versions_deploy(GOOD_ID, name=NAME, message="m", percentage=True),
        lambda w: w.versions_deploy(GOOD_ID, name=NAME, message="m", percentage=50),
        lambda w: w.versions_deploy(
            GOOD_ID, name=NAME, message="m", percentage=50, remainder_version_id=GOOD_ID
        ),
        lambda w: w.versions_list(name=NAME, env="prod"),
        lambda w: w.versions_upload("wrangler.jsonc", name="Bad"),
        lambda w: w.versions_upload("/nonexistent/wrangler.jsonc", name=NAME),
    ],
)
def test_invalid_input_rejected_before_any_process(
    no_process: None, call: Callable[[Wrangler], object]
) -> None:
    w = Wrangler("/nonexistent/wrangler")  # never located: validation comes first
    with pytest.raises(WranglerError, match="refusing to run wrangler|config not found"):
        call(w)


def test_missing_wrangler_says_how_to_install(
    no_process: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HELM_GUARD_WRANGLER", raising=False)
    with pytest.raises(WranglerError) as info:
        Wrangler(fleet_root=tmp_path).versions_list(name=NAME)
    assert "wrangler not found" in info.value.message
    assert "npm ci --prefix tests/node" in str(info.value)


def test_locate_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wrangler_bin: Path) -> None:
    fake = tmp_path / "node_modules" / ".bin" / "wrangler"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.delenv("HELM_GUARD_WRANGLER", raising=False)
    assert wr.locate_wrangler(fleet_root=tmp_path) == fake.resolve()
    monkeypatch.setenv("HELM_GUARD_WRANGLER", str(wrangler_bin))
    assert wr.locate_wrangler(fleet_root=tmp_path) == wrangler_bin.resolve()
    assert wr.locate_wrangler(fake) == fake.resolve()


def test_environment_is_non_interactive_and_drops_cloudflare_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLOUDFLARE_ENV", "prod")
    monkeypatch.setenv("CI", "false")
    env = Wrangler("/x", extra_env={"CLOUDFLARE_API_TOKEN": "t"}).environment()
    assert "CLOUDFLARE_ENV" not in env
    assert env["CI"] == "true" and env["WRANGLER_SEND_METRICS"] == "false"
    assert env["CLOUDFLARE_API_TOKEN"] == "t"


def test_extract_error_and_json_parsing() -> None:
    stderr = (
        "\x1b[31m✘ \x1b[41;31m[\x1b[41;97mERROR\x1b[41;31m]\x1b[0m \x1b[1mA request to the "
        "Cloudflare API (/accounts/a/workers/scripts/x/deployments) failed.\x1b[0m\n\n"
        "  The following secrets have changed: A, B [code: 10220]\n  \n"
        "  If you think this is a bug, please open an issue at: https://example.invalid\n"
    )
    message, code = wr.extract_error("", stderr)
    assert code == 10220
    assert message == (
        "A request to the Cloudflare API (/accounts/a/workers/scripts/x/deployments) failed. "
        "The following secrets have changed: A, B [code: 10220]"
    )
    assert wr.parse_json_output('warning\n[\n  {"a": 1}\n]\n') == [{"a": 1}]
    with pytest.raises(ValueError):
        wr.parse_json_output("no json here")


def test_bindings_of_normalizes() -> None:
    assert bindings_of({"resources": {"bindings": [R2, D1]}}) == [R2, D1]
    assert bindings_of({"resources": {}}) == []
    assert bindings_of({"bindings": [{"name": "X"}]}) == [{"name": "X", "type": ""}]
    with pytest.raises(WranglerError):
        bindings_of({"resources": {"bindings": "DB"}})


# ---------------------------------------------------------------------- the sandbox (issue 11)
def _copy_package(src_bin: Path, dest: Path) -> Path:
    """A copy of the pinned package's own files (package.json, bin, wrangler-dist/cli.js)."""
    import shutil

    root = src_bin.resolve().parent.parent
    (dest / "bin").mkdir(parents=True)
    (dest / "wrangler-dist").mkdir()
    for rel in ("package.json", "bin/wrangler.js", "wrangler-dist/cli.js"):
        shutil.copy2(root / rel, dest / rel)
    return dest / "bin" / "wrangler.js"


def test_only_the_pinned_package_is_run(tmp_path: Path, wrangler_bin: Path) -> None:
    from helm_guard.cloudflare.sandbox import SandboxError, pinned_package

    assert pinned_package(wrangler_bin, source="test").version == "4.86.0"
    script = tmp_path / "wrangler"
    script.write_text("#!/bin/sh\necho pwned\n")
    script.chmod(0o755)
    with pytest.raises(SandboxError, match="not the `bin/wrangler.js`"):
        pinned_package(script, source="test")
    # the published entry files alone are not enough: the whole dependency closure is verified
    # (helm_guard.cloudflare.tree; the attacks on it: tests/test_wrangler_tree.py)
    alone = _copy_package(wrangler_bin, tmp_path / "ok" / "wrangler")
    with pytest.raises(SandboxError, match="wrangler 4.86.0 at .*: README.md is missing"):
        pinned_package(alone, source="test")
    newer = _copy_package(wrangler_bin, tmp_path / "newer" / "wrangler")
    meta = newer.parent.parent / "package.json"
    meta.write_text(meta.read_text().replace('"version": "4.86.0"', '"version": "4.87.0"'))
    with pytest.raises(SandboxError, match="not wrangler 4.86.0"):
        pinned_package(newer, source="test")
    tampered = _copy_package(wrangler_bin, tmp_path / "bad" / "wrangler")
    with tampered.open("a") as fh:
        fh.write("\nrequire('fs').writeFileSync('/tmp/x', process.env.CLOUDFLARE_API_TOKEN);\n")
    with pytest.raises(SandboxError, match="bin/wrangler.js is not the published file"):
        pinned_package(tampered, source="test")
    with pytest.raises(SandboxError):  # and the runner refuses it before any process
        Wrangler(tampered, extra_env={"CLOUDFLARE_API_TOKEN": "t"}).versions_list(name=NAME)


def test_environment_is_built_from_scratch(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    for key, value in {"NODE_OPTIONS": "--require /x.js", "WRANGLER_CI_OVERRIDE_NAME": "helm-b",
                       "HTTPS_PROXY": "http://evil:1", "CLOUDFLARE_ENV": "prod",
                       "NODE_PATH": "/x", "WRANGLER_LOG": "debug", "NPM_CONFIG_USERCONFIG": "/x",
                       "CLOUDFLARE_API_TOKEN": "from-caller"}.items():
        monkeypatch.setenv(key, value)
    env = Wrangler("/x", extra_env={"CLOUDFLARE_ACCOUNT_ID": "a" * 32}).environment(tmp_path)
    assert env["CLOUDFLARE_API_TOKEN"] == "from-caller"
    assert env["CLOUDFLARE_ACCOUNT_ID"] == "a" * 32
    assert env["HOME"].startswith(str(tmp_path))
    assert set(env) <= {"PATH", "HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
                        "XDG_STATE_HOME", "TMPDIR", "WRANGLER_LOG_PATH", "CLOUDFLARE_API_TOKEN",
                        "CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_BASE_URL", *wr.FORCED_ENV}
    assert env["PATH"].split(":")[-2:] == ["/usr/bin", "/bin"]


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"NODE_OPTIONS": "--require x"}, "extra_env may only set"),
        ({"CLOUDFLARE_API_BASE_URL": "http://evil.example/client/v4"}, "neither https"),
        ({"CLOUDFLARE_ACCOUNT_ID": "nope"}, "32 lowercase hex"),
        ({"CLOUDFLARE_API_TOKEN": "a\nb"}, "control characters"),
    ],
)
def test_bad_settings_are_refused(no_process: None, extra: dict[str, str], error: str) -> None:
    with pytest.raises(Blocked, match=error):
        Wrangler("/x", extra_env=extra).credentials()


def test_hostile_caller_environment_is_neutralised(
    emulator: CloudflareEmulator, wrangler: Wrangler, worker_project: Callable[..., Path],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Real wrangler: NODE_OPTIONS (code), WRANGLER_CI_OVERRIDE_NAME and a `.env` beside the
    config change nothing; the upload lands on the named Worker."""
    marker = tmp_path / "ran"
    (tmp_path / "evil.js").write_text(f"require('fs').writeFileSync({str(marker)!r}, 'x');\n")
    monkeypatch.setenv("NODE_OPTIONS", f"--require {tmp_path / 'evil.js'}")
    monkeypatch.setenv("WRANGLER_CI_OVERRIDE_NAME", "helm-bravo")
    config = worker_project(tmp_path / "shop")
    (config.parent / ".env").write_text("WRANGLER_CI_OVERRIDE_NAME=helm-bravo\n")
    vid = wrangler.versions_upload(config, name=NAME)
    assert emulator.scripts() == [NAME] and emulator.versions(NAME)[0]["id"] == vid
    assert not marker.exists()


def test_relative_config_is_refused(no_process: None) -> None:
    with pytest.raises(WranglerError, match="not absolute"):
        Wrangler("/x").run_with_config(["versions", "list"], config="wrangler.jsonc")
