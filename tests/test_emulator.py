"""The Cloudflare API emulator: HTTP behaviour (via urllib) and, for the request sequences
wrangler 4.86 really makes, via the real pinned wrangler."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from helm_guard.cloudflare.wrangler import Wrangler
from helm_guard.emulator import (
    ROLLBACK_WINDOW_CODE,
    CloudflareEmulator,
    EmulatorError,
)

NAME = "helm-acme"
D1 = {"type": "d1", "name": "DB", "id": "11111111-2222-4333-8444-555555555555"}
R2 = {"type": "r2_bucket", "name": "ASSETS", "bucket_name": "helm-acme-assets"}


def live_id(emu: CloudflareEmulator) -> str | None:
    """Id of the live version of NAME (None if nothing is deployed)."""
    live = emu.live_version(NAME)
    return str(live["id"]) if live is not None else None


def api(
    emu: CloudflareEmulator,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    content_type: str = "application/json",
    auth: bool = True,
    timeout: float = 10,
) -> tuple[int, Any]:
    """One request to the emulator; returns (status, parsed JSON or raw text)."""
    assert emu.base_url is not None
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(emu.base_url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", content_type)
    if auth:
        req.add_header("Authorization", "Bearer test-token")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def script_path(emu: CloudflareEmulator, rest: str = "") -> str:
    return f"/accounts/{emu.account_id}/workers/scripts/{NAME}{rest}"


def multipart(metadata: dict[str, Any]) -> tuple[bytes, str]:
    boundary = "----helmguard" + uuid.uuid4().hex
    parts = [
        ("metadata", "application/json", json.dumps(metadata).encode(), None),
        ("index.js", "application/javascript+module", b"export default {};", "index.js"),
    ]
    out = b""
    for name, ctype, payload, filename in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += (
            f"--{boundary}\r\nContent-Disposition: {disp}\r\nContent-Type: {ctype}\r\n\r\n"
        ).encode()
        out += payload + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


# ---------------------------------------------------------------------- lifecycle
def test_start_stop_and_context_manager() -> None:
    emu = CloudflareEmulator()
    base = emu.start()
    assert base.startswith("http://127.0.0.1:") and base.endswith("/client/v4")
    port = int(base.split(":")[2].split("/")[0])
    with pytest.raises(EmulatorError):
        emu.start()
    emu.stop()
    emu.stop()  # idempotent
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    with CloudflareEmulator() as emu2:
        assert api(emu2, "GET", "/user/tokens/verify")[0] == 200
    with pytest.raises(EmulatorError):
        CloudflareEmulator(account_id="not-hex")


# ---------------------------------------------------------------------- envelope and auth
def test_envelopes_unknown_routes_and_auth(emulator: CloudflareEmulator) -> None:
    status, body = api(emulator, "GET", "/user/tokens/verify")
    assert status == 200
    assert body == {"success": True, "errors": [], "messages": [], "result": body["result"]}
    assert body["result"]["status"] == "active"
    status, body = api(emulator, "GET", "/accounts?page=1")
    assert body["result"][0]["id"] == emulator.account_id and "result_info" in body

    status, body = api(emulator, "GET", f"/accounts/{emulator.account_id}/nothing/here")
    assert status == 404
    assert body["success"] is False and body["result"] is None and body["errors"][0]["message"]

    status, body = api(emulator, "GET", script_path(emulator, "/deployments"))
    assert (status, body["errors"][0]["code"]) == (404, 10007)

    status, body = api(emulator, "GET", f"/accounts/{'f' * 32}/workers/scripts/x/deployments")
    assert (status, body["errors"][0]["code"]) == (403, 10000)

    status, body = api(emulator, "GET", "/user", auth=False)
    assert status == 400 and body["success"] is False


def test_required_token() -> None:
    with CloudflareEmulator(token="right") as emu:
        assert api(emu, "GET", "/user")[0] == 403  # api() sends "test-token"


# ---------------------------------------------------------------------- versions upload
def test_multipart_upload_stores_bindings_as_given(emulator: CloudflareEmulator) -> None:
    emulator.seed_version(NAME, [D1], deploy=True)
    emulator.set_secret(NAME, "API_KEY")
    body, ctype = multipart(
        {
            "main_module": "index.js",
            "bindings": [R2, D1],
            "compatibility_date": "2025-02-02",
            "compatibility_flags": ["nodejs_compat"],
            "keep_bindings": ["secret_text", "secret_key"],
            "annotations": {"workers/message": "hello", "workers/tag": "t"},
        }
    )
    status, resp = api(
        emulator,
        "POST",
        script_path(emulator, "/versions?bindings_inherit=strict"),
        raw=body,
        content_type=ctype,
    )
    assert status == 200, resp
    version = resp["result"]
    assert uuid.UUID(version["id"])
    assert version["resources"]["bindings"] == [
        R2,
        D1,
        {"type": "secret_text", "name": "API_KEY"},  # kept, as keep_bindings asks
    ]
    assert version["resources"]["script_runtime"]["compatibility_date"] == "2025-02-02"
    assert version["annotations"] == {
        "workers/triggered_by": "upload",
        "workers/message": "hello",
        "workers/tag": "t",
    }
    assert set(version["metadata"]) >= {
        "created_on",
        "modified_on",
        "source",
        "author_id",
        "author_email",
    }
    assert set(version["resources"]["script"]) == {"etag", "handlers", "last_deployed_from"}
    assert emulator.versions(NAME)[-1] == version
    (req,) = [r for r in emulator.requests if r["method"] == "POST"]
    assert req["query"] == {"bindings_inherit": "strict"}
    assert req["body"]["metadata"]["bindings"] == [R2, D1]
    assert req["body"]["files"]["index.js"]["size"] == len(b"export default {};")


def test_upload_rejects_bad_bodies(emulator: CloudflareEmulator) -> None:
    path = script_path(emulator, "/versions")
    status, body = api(emulator, "POST", path, {"not": "multipart"})
    assert status == 400 and body["success"] is False
    raw, ctype = multipart({"bindings": [D1, {**R2, "name": "DB"}]})
    status, body = api(emulator, "POST", path, raw=raw, content_type=ctype)
    assert (status, body["errors"][0]["code"]) == (400, 10053)
    raw, ctype = multipart({"bindings": [{"type": "inherit", "name": "GONE"}]})
    status, body = api(emulator, "POST", path, raw=raw, content_type=ctype)
    assert status == 400 and "GONE" in body["errors"][0]["message"]
    with CloudflareEmulator(auto_create=False) as strict:
        raw, ctype = multipart({"bindings": []})
        status, body = api(strict, "POST", script_path(strict, "/versions"), raw=raw,
                           content_type=ctype)  # fmt: skip
        assert (status, body["errors"][0]["code"]) == (404, 10007)


# ---------------------------------------------------------------------- deployments
def test_deployments_newest_first_and_post_rules(emulator: CloudflareEmulator) -> None:
    ids = [emulator.seed_version(NAME, [D1], deploy=True, message=f"v{i}") for i in range(12)]
    status, body = api(emulator, "GET", script_path(emulator, "/deployments"))
    listed = [d["versions"][0]["version_id"] for d in body["result"]["deployments"]]
    assert listed == list(reversed(ids))
    created = [d["created_on"] for d in body["result"]["deployments"]]
    assert created == sorted(created, reverse=True)

    status, body = api(emulator, "GET", script_path(emulator, "/versions?deployable=true"))
    assert [v["id"] for v in body["result"]["items"]] == list(reversed(ids[-10:]))
    status, body = api(emulator, "GET", script_path(emulator, "/versions"))
    assert len(body["result"]["items"]) == 12
    assert api(emulator, "GET", script_path(emulator, f"/versions/{ids[0]}"))[0] == 200

    def post(versions: list[dict[str, Any]], query: str = "") -> tuple[int, Any]:
        payload = {"strategy": "percentage", "versions": versions, "annotations": {}}
        return api(emulator, "POST", script_path(emulator, "/deployments" + query), payload)

    status, body = post([{"version_id": ids[-2], "percentage": 60}])
    assert status == 400 and "100" in body["errors"][0]["message"]
    status, body = post([{"version_id": str(uuid.uuid4()), "percentage": 100}])
    assert status == 404
    status, body = post([{"version_id": ids[1], "percentage": 100}])  # 11th newest
    assert (status, body["errors"][0]["code"]) == (400, ROLLBACK_WINDOW_CODE)
    status, body = post([{"version_id": ids[2], "percentage": 100}])  # 10th newest: ok
    assert status == 200 and body["result"]["annotations"]["workers/triggered_by"] == "rollback"
    assert live_id(emulator) == ids[2]

    emulator.set_secret(NAME, "SECRET_B", new_version=False)
    emulator.set_secret(NAME, "SECRET_A", new_version=False)
    status, body = post([{"version_id": ids[-1], "percentage": 100}])
    assert (status, body["errors"][0]["code"]) == (400, 10220)
    assert body["errors"][0]["message"] == "The following secrets have changed: SECRET_A, SECRET_B"
    status, body = post([{"version_id": ids[-1], "percentage": 100}], "?force=true")
    assert status == 200
    assert live_id(emulator) == ids[-1]


def test_secret_change_creates_a_live_version(emulator: CloudflareEmulator) -> None:
    v1 = emulator.seed_version(NAME, [D1, R2], deploy=True)
    v2 = emulator.set_secret(NAME, "TOKEN")
    assert v2 is not None and v2 != v1
    live = emulator.live_version(NAME)
    assert live is not None
    assert live["id"] == v2 and live["annotations"]["workers/triggered_by"] == "secret"
    assert live["resources"]["bindings"] == [D1, R2, {"type": "secret_text", "name": "TOKEN"}]
    assert emulator.secrets(NAME) == ["TOKEN"]
    # the version created with the secret is deployable without force; v1 is not
    emulator.deploy(NAME, v1)  # the helper bypasses the API's checks
    payload: dict[str, Any] = {
        "strategy": "percentage",
        "versions": [{"version_id": v2, "percentage": 100}],
    }
    assert api(emulator, "POST", script_path(emulator, "/deployments"), payload)[0] == 200
    payload["versions"][0]["version_id"] = v1
    status, body = api(emulator, "POST", script_path(emulator, "/deployments"), payload)
    assert body["errors"][0]["code"] == 10220


def test_secrets_endpoint_never_records_values(emulator: CloudflareEmulator) -> None:
    emulator.seed_version(NAME, [D1], deploy=True)
    payload = {"name": "API_KEY", "text": "hunter2", "type": "secret_text"}
    assert api(emulator, "PUT", script_path(emulator, "/secrets"), payload)[0] == 200
    assert "hunter2" not in json.dumps(emulator.requests)
    assert "hunter2" not in json.dumps(emulator.versions(NAME))
    status, body = api(emulator, "GET", script_path(emulator, "/secrets"))
    assert body["result"] == [{"name": "API_KEY", "type": "secret_text"}]


def test_helpers(emulator: CloudflareEmulator) -> None:
    assert emulator.live_version(NAME) is None and emulator.versions(NAME) == []
    v1 = emulator.seed_version(NAME, [D1], message="m", tag="t")
    assert emulator.live_version(NAME) is None
    emulator.deploy(NAME, v1, message="go")
    assert live_id(emulator) == v1
    v2 = emulator.seed_version(NAME, [R2])
    assert [v["id"] for v in emulator.versions(NAME)] == [v1, v2]
    assert [v["number"] for v in emulator.versions(NAME)] == [1, 2]
    assert emulator.deployments(NAME)[0]["annotations"]["workers/message"] == "go"
    emulator.versions(NAME)[0]["resources"]["bindings"].clear()  # copies only
    assert emulator.versions(NAME)[0]["resources"]["bindings"] == [D1]
    assert emulator.scripts() == [NAME]
    with pytest.raises(EmulatorError):
        emulator.deploy(NAME, str(uuid.uuid4()))
    with pytest.raises(EmulatorError):
        emulator.set_secret("helm-nope", "X")
    emulator.add_r2_bucket("b")
    assert emulator.r2_buckets() == ["b"]
    db = emulator.add_d1_database("helm-acme-db")
    assert emulator.d1_databases()[0]["uuid"] == db


# ---------------------------------------------------------------------- faults
def test_fault_injection_500_and_malformed(emulator: CloudflareEmulator) -> None:
    emulator.seed_version(NAME, [D1], deploy=True)
    path = script_path(emulator, "/deployments")
    emulator.fail_next("GET", r"/deployments$", "500", count=2)
    emulator.fail_next("POST", r"/deployments$", "malformed")
    assert api(emulator, "GET", path)[0] == 500
    status, body = api(emulator, "GET", path)
    assert status == 500 and body["errors"][0]["code"] == 10013
    assert api(emulator, "GET", path)[0] == 200  # count used up
    status, body = api(emulator, "POST", path, {"strategy": "percentage", "versions": []})
    assert status == 200 and isinstance(body, str)  # not JSON
    with pytest.raises(ValueError):
        json.loads(body)
    assert [r["fault"] for r in emulator.requests] == ["500", "500", None, "malformed"]
    with pytest.raises(EmulatorError):
        emulator.fail_next("GET", ".", "explode")


def test_timeout_fault_is_released_by_stop() -> None:
    emu = CloudflareEmulator(hold_seconds=30)
    emu.start()
    emu.fail_next("*", r"/user$", "timeout")
    outcome: dict[str, Any] = {}

    def call() -> None:
        start = time.monotonic()
        try:
            api(emu, "GET", "/user", timeout=25)
            outcome["result"] = "answered"
        except Exception as exc:  # the held request ends without a response
            outcome["result"] = type(exc).__name__
        outcome["seconds"] = time.monotonic() - start

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not emu.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    assert thread.is_alive()  # held
    start = time.monotonic()
    emu.stop()
    assert time.monotonic() - start < 3
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert outcome["result"] != "answered" and outcome["seconds"] < 5


# ---------------------------------------------------------------------- real wrangler
def test_wrangler_default_rollback_request_sequence(
    emulator: CloudflareEmulator, wrangler: Wrangler
) -> None:
    """`wrangler rollback` without an id: the order in shared notes §11, and the target is
    the newest earlier deployment at 100%."""
    v1 = emulator.seed_version(NAME, [D1], deploy=True)
    v2 = emulator.seed_version(NAME, [D1], deploy=True)
    result = wrangler.run_with_config(["rollback", f"--name={NAME}", "--message=auto"])
    assert f"Current Version ID: {v1}" in result.stdout
    assert live_id(emulator) == v1
    seq = [(r["method"], r["path"].split(NAME)[-1]) for r in emulator.requests]
    assert seq == [
        ("GET", "/deployments"),
        ("GET", f"/versions/{v2}"),
        ("GET", "/deployments"),
        ("GET", f"/versions/{v1}"),
        ("POST", "/deployments"),
    ]
    assert all(r["user_agent"].startswith("wrangler/4.86.0") for r in emulator.requests)


def test_wrangler_versions_deploy_request_sequence(
    emulator: CloudflareEmulator, wrangler: Wrangler
) -> None:
    v1 = emulator.seed_version(NAME, [D1], deploy=True)
    v2 = emulator.seed_version(NAME, [D1, R2])
    wrangler.versions_deploy(v2, name=NAME, message="ship")
    seq = [(r["method"], r["path"].split("/workers/")[-1]) for r in emulator.requests]
    assert seq[0] == ("GET", f"scripts/{NAME}/deployments")
    assert set(seq[1:3]) == {
        ("GET", f"scripts/{NAME}/versions/{v1}"),
        ("GET", f"scripts/{NAME}/versions/{v2}"),
    }
    assert seq[3:] == [("POST", f"scripts/{NAME}/deployments"), ("GET", f"services/{NAME}")]
    assert emulator.deployments(NAME)[0]["source"] == "wrangler"


# ---------------------------------------------------------------------- routes, DOs, previews
def test_wrangler_deploy_publishes_routes_and_custom_domains(
    emulator: CloudflareEmulator, wrangler_bin, wrangler_env, tmp_path
) -> None:
    """The real `wrangler deploy` (an existing Worker, no migrations: the versions API) with a
    zone route and a custom domain: the emulator serves `PUT S/routes` and
    `PUT S/domains/records`, and the read endpoints show what it published."""
    import os
    import subprocess

    emulator.seed_version(NAME, [], deploy=True)
    config = tmp_path / "wrangler.json"
    (tmp_path / "index.js").write_text("export default { fetch() {} };\n", encoding="utf-8")
    config.write_text(json.dumps({
        "name": NAME, "main": "index.js", "compatibility_date": "2025-01-01",
        "routes": [{"pattern": "acme.shops.example/api/*", "zone_name": "shops.example"},
                   {"pattern": "acme.shops.example", "custom_domain": True}]}),
        encoding="utf-8")
    run = subprocess.run(  # noqa: S603 - argument list
        [str(wrangler_bin), "deploy", "--config", str(config)], cwd=config.parent,
        env={**wrangler_env, "PATH": os.environ["PATH"], "CI": "true"},
        capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    (zone,) = api(emulator, "GET", "/zones?name=shops.example")[1]["result"]
    routes = api(emulator, "GET", f"/zones/{zone['id']}/workers/routes")[1]["result"]
    assert [(r["pattern"], r["script"]) for r in routes] == [("acme.shops.example/api/*", NAME)]
    domains = api(emulator, "GET", f"/accounts/{emulator.account_id}/workers/domains")[1]
    assert [(d["hostname"], d["service"], d["zone_name"]) for d in domains["result"]] == [
        ("acme.shops.example", NAME, "shops.example")]


def test_zone_routes_are_looked_up_by_name_created_changed_and_unique(
    emulator: CloudflareEmulator,
) -> None:
    assert api(emulator, "GET", "/zones?name=acme.shops.example")[1]["result"] == []
    (zone,) = api(emulator, "GET", "/zones?name=shops.example")[1]["result"]
    base = f"/zones/{zone['id']}/workers/routes"
    status, body = api(emulator, "POST", base, {"pattern": "b.shops.example/*", "script": "x"})
    assert status == 200
    rid = body["result"]["id"]
    assert api(emulator, "POST", base, {"pattern": "b.shops.example/*", "script": "y"})[0] == 409
    assert api(emulator, "POST", base, {"pattern": "other.example/*", "script": "y"})[0] == 400
    assert api(emulator, "PUT", f"{base}/{rid}", {"pattern": "b.shops.example/*",
                                                  "script": "z"})[0] == 200
    assert [r["script"] for r in api(emulator, "GET", base)[1]["result"]] == ["z"]
    assert api(emulator, "DELETE", f"{base}/{rid}")[0] == 200
    assert api(emulator, "GET", base)[1]["result"] == []


def _upload(emu: CloudflareEmulator, script: str, migrations: dict[str, Any]) -> tuple[int, Any]:
    meta = {"main_module": "index.js", "bindings": [], "migrations": migrations}
    raw = (b'--b\r\nContent-Disposition: form-data; name="metadata"\r\n'
           b"Content-Type: application/json\r\n\r\n" + json.dumps(meta).encode() + b"\r\n--b--\r\n")
    return api(emu, "POST", f"/accounts/{emu.account_id}/workers/scripts/{script}/versions",
               raw=raw, content_type="multipart/form-data; boundary=b")


def test_migrations_create_rename_transfer_and_delete_namespaces(
    emulator: CloudflareEmulator,
) -> None:
    path = f"/accounts/{emulator.account_id}/workers/durable_objects/namespaces"
    assert _upload(emulator, "w-a", {"new_tag": "v1", "steps": [
        {"new_classes": ["A"]}, {"new_sqlite_classes": ["B"]}]})[0] == 200
    assert _upload(emulator, "w-b", {"new_tag": "v1", "new_classes": ["C"]})[0] == 200
    listed = api(emulator, "GET", path)[1]["result"]
    assert [(n["name"], n["script"], n["class"]) for n in listed] == [
        ("w-a_A", "w-a", "A"), ("w-a_B", "w-a", "B"), ("w-b_C", "w-b", "C")]
    scripts = api(emulator, "GET", f"/accounts/{emulator.account_id}/workers/scripts")[1]
    assert {s["id"]: s.get("migration_tag") for s in scripts["result"]} == {"w-a": "v1",
                                                                             "w-b": "v1"}
    # a stale old_tag is refused and changes nothing
    status, body = _upload(emulator, "w-a", {"old_tag": "v0", "new_tag": "v2",
                                             "deleted_classes": ["A"]})
    assert status == 400 and body["errors"][0]["code"] == 10079
    # rename + transfer in, all or nothing: a bad second step undoes the first
    bad = {"old_tag": "v1", "new_tag": "v2", "steps": [
        {"renamed_classes": [{"from": "A", "to": "A2"}]},
        {"transferred_classes": [{"from": "nope", "from_script": "w-b", "to": "N"}]}]}
    assert _upload(emulator, "w-a", bad)[0] == 400
    good = {"old_tag": "v1", "new_tag": "v2", "steps": [
        {"renamed_classes": [{"from": "A", "to": "A2"}]},
        {"transferred_classes": [{"from": "C", "from_script": "w-b", "to": "C"}]},
        {"deleted_classes": ["B"]}]}
    assert _upload(emulator, "w-a", good)[0] == 200
    assert [(n["name"], n["script"], n["class"]) for n in emulator.do_namespaces()] == [
        ("w-a_A", "w-a", "A2"), ("w-b_C", "w-a", "C")]
    status, body = api(emulator, "GET", path + "?per_page=1&page=2")
    assert [n["name"] for n in body["result"]] == ["w-b_C"]
    assert body["result_info"]["total_pages"] == 2


def test_preview_settings_and_after_next(emulator: CloudflareEmulator) -> None:
    path = f"/accounts/{emulator.account_id}/workers/workers/{NAME}"
    assert api(emulator, "GET", path)[0] == 404
    emulator.seed_version(NAME, [D1, R2])
    assert api(emulator, "GET", path)[1]["result"]["preview_defaults"] == {}
    seen: list[int] = []
    emulator.after_next("PATCH", r"/workers/workers/", lambda: seen.append(len(seen)))
    env = {"DB": {"type": "d1", "database_id": "x"}}
    assert api(emulator, "PATCH", path, {"preview_defaults": {"env": env}})[0] == 200
    assert api(emulator, "PATCH", path, {"preview_defaults": {"env": env}})[0] == 200
    assert seen == [0]  # once, after the first matching request only
    assert api(emulator, "GET", path)[1]["result"]["preview_defaults"] == {"env": env}
