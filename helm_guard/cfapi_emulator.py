"""A local, in-memory emulator of the Cloudflare API v4 endpoints that wrangler 4.86 uses.

Why: helm-guard drives the *real* wrangler (see `helm_guard.wrangler`), and neither the tests nor
`helm-guard drill` may touch the real Cloudflare API. wrangler honours `CLOUDFLARE_API_BASE_URL`
for every API call, so pointing it at this emulator exercises wrangler's real request/response
handling (error envelopes, the 10220 secrets-changed path, retries) against state we control.

Stdlib only: a `ThreadingHTTPServer` on 127.0.0.1 (free port) served from a daemon thread.

    with CloudflareEmulator() as emu:            # emu.base_url -> http://127.0.0.1:N/client/v4
        vid = emu.seed_version("helm-acme", [{"type": "d1", "name": "DB", "id": "..."}],
                               deploy=True)
        ... run wrangler with CLOUDFLARE_API_BASE_URL=emu.base_url ...
        emu.live_version("helm-acme")["id"]

What is emulated (S = /accounts/{account}/workers/scripts/{script}):

| method | path | notes |
|---|---|---|
| GET | /user/tokens/verify, /user, /memberships, /accounts | wrangler's whoami after a 10000 |
| GET | /accounts/{a}/workers/subdomain | `{"subdomain": ...}` |
| GET | /accounts/{a}/workers/services/{name} | 404 + 10007 for an unknown Worker |
| GET | /accounts/{a}/workers/scripts | list of scripts |
| GET/POST | S/versions | POST: multipart upload; `?deployable=true`: the window only |
| GET | S/versions/{id} | any version, also outside the rollback window |
| GET/POST | S/deployments | GET newest first (as the real API); POST checks window + secrets |
| GET/PATCH | S/settings, S/script-settings | stored dict, echoed back |
| GET/POST | S/subdomain | `{"enabled": true, "previews_enabled": false}` |
| GET/PUT/DELETE | S/secrets[/{name}] | values are never stored or recorded |
| GET/POST | /accounts/{a}/r2/buckets[/{name}] | what wrangler's provisioning reads/creates |
| GET/POST | /accounts/{a}/d1/database[/{id}] | idem |

Rules of `POST S/deployments` (documented divergences from the real API are marked *emu*):
- percentages must sum to 100, every version must exist (code 10219 *emu*);
- only the `rollback_window` (default 10; the real limit went from 10 to 100 in 2025-09)
  most recent versions are deployable: older -> 400, code `ROLLBACK_WINDOW_CODE` *emu*;
- without `?force=true`, a version created before a secret of the script last changed ->
  400, code 10220, message `The following secrets have changed: A, B` (the text wrangler 4.86
  parses in `versions/rollback/index.ts`; it then retries with `?force=true`).

Fault injection: `fail_next(method, path_regex, kind, count=1)` where kind is an HTTP status
("500", "503", ...), "timeout" (the request is held for `hold_seconds`, released at once by
`stop()`, then the connection is closed without a response) or "malformed" (200 with a body
that is not JSON). Every request is recorded in `requests` (method, path, query, parsed body,
fault); the Authorization header and secret values are never recorded.
"""

from __future__ import annotations

import copy
import email.parser
import email.policy
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEFAULT_ACCOUNT_ID = "0123456789abcdef0123456789abcdef"
API_PREFIX = "/client/v4"

#: Error code the emulator uses for "version outside the rollback window". The real API's
#: code for this case is not documented; this value is the emulator's own choice.
ROLLBACK_WINDOW_CODE = 10218
#: Real API code: the secrets changed since the target version; retry with ?force=true.
SECRETS_CHANGED_CODE = 10220
#: Real API code: "This Worker does not exist on your account."
WORKER_NOT_FOUND_CODE = 10007
#: Emulator's code for an unknown version id / invalid deployment body.
VERSION_NOT_FOUND_CODE = 10219
BAD_REQUEST_CODE = 10021

FAULT_KINDS_DOC = 'an HTTP status such as "500", "timeout" or "malformed"'
_MAX_BODY = 64 * 1024 * 1024


class EmulatorError(Exception):
    """Misuse of the emulator's Python helpers (unknown script/version, bad fault kind)."""


class _ApiError(Exception):
    """Raised inside a route handler; becomes a v4 error envelope."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class _Version:
    seq: int
    data: dict[str, Any]


@dataclass
class _Script:
    name: str
    tag: str
    created_on: str
    versions: list[_Version] = field(default_factory=list)  # oldest first
    deployments: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    secrets: dict[str, int] = field(default_factory=dict)  # name -> seq of last change
    settings: dict[str, Any] = field(default_factory=dict)
    subdomain: dict[str, Any] = field(
        default_factory=lambda: {"enabled": True, "previews_enabled": False}
    )


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    kind: str
    remaining: int


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    emulator: CloudflareEmulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the default stderr access log."""

    def _handle(self) -> None:
        self.server.emulator._handle_http(self)

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_PATCH = _handle
    do_DELETE = _handle


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _envelope(result: Any) -> dict[str, Any]:
    return {"success": True, "errors": [], "messages": [], "result": result}


def _error_envelope(code: int, message: str) -> dict[str, Any]:
    return {
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
        "result": None,
    }


class CloudflareEmulator:
    """In-memory Cloudflare API v4 for wrangler's versions/deployments/rollback commands.

    Thread-safe: HTTP handler threads and the Python helpers share one lock. All returned
    dicts are deep copies, so callers cannot corrupt the emulator's state.
    """

    def __init__(
        self,
        account_id: str = DEFAULT_ACCOUNT_ID,
        *,
        rollback_window: int = 10,
        hold_seconds: float = 30.0,
        auto_create: bool = True,
        token: str | None = None,
        author_email: str = "helm-guard-emulator@example.com",
    ) -> None:
        """`auto_create`: `versions upload` to an unknown Worker creates it (the real API
        answers 10007; the emulator is lenient so tests need no seeding). `token`: if set,
        requests must carry `Authorization: Bearer <token>`; otherwise any bearer passes."""
        if not re.fullmatch(r"[0-9a-f]{32}", account_id):
            raise EmulatorError(f"account id must be 32 lowercase hex digits: {account_id!r}")
        self.account_id = account_id
        self.rollback_window = rollback_window
        self.hold_seconds = hold_seconds
        self.auto_create = auto_create
        self.token = token
        self.author_email = author_email
        self.author_id = hashlib.sha256(author_email.encode()).hexdigest()[:32]
        self._lock = threading.RLock()
        self._stop_event = threading.Event()
        self._scripts: dict[str, _Script] = {}
        self._r2: dict[str, dict[str, Any]] = {}
        self._d1: dict[str, dict[str, Any]] = {}
        self._requests: list[dict[str, Any]] = []
        self._faults: list[_Fault] = []
        self._seq = 0
        self._last_time: datetime | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> str:
        """Bind 127.0.0.1 on a free port, serve in a daemon thread, return the base URL."""
        if self._server is not None:
            raise EmulatorError("emulator already started")
        self._stop_event.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.emulator = self
        self._server = server
        port = server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}{API_PREFIX}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"cfapi-emulator-{port}",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Release held requests, stop serving, close the socket. Never blocks for long."""
        self._stop_event.set()
        server, thread = self._server, self._thread
        self._server = None
        self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> CloudflareEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ recording / faults
    @property
    def requests(self) -> list[dict[str, Any]]:
        """Snapshot of recorded requests, oldest first:
        `{"method", "path", "query", "body", "fault", "user_agent"}`. `path` excludes the
        `/client/v4` prefix; `query` maps names to the last value given."""
        with self._lock:
            return copy.deepcopy(self._requests)

    def clear_requests(self) -> None:
        """Forget the recorded requests (state is kept)."""
        with self._lock:
            self._requests.clear()

    def fail_next(self, method: str, path_regex: str, kind: str, count: int = 1) -> None:
        """Make the next `count` requests matching `method` ("*" = any) and `path_regex`
        (`re.search` on the path without `/client/v4` and query) fail with `kind`:
        an HTTP status ("500"), "timeout" or "malformed"."""
        if not (kind in ("timeout", "malformed") or re.fullmatch(r"[45]\d\d", kind)):
            raise EmulatorError(f"unknown fault kind {kind!r}: use {FAULT_KINDS_DOC}")
        if count < 1:
            raise EmulatorError("count must be >= 1")
        with self._lock:
            self._faults.append(_Fault(method.upper(), re.compile(path_regex), kind, count))

    def _take_fault(self, method: str, path: str) -> str | None:
        with self._lock:
            for fault in self._faults:
                if fault.method in ("*", method) and fault.pattern.search(path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault.kind
        return None

    # ------------------------------------------------------------------ clock / ids
    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _now(self) -> str:
        """Strictly increasing ISO timestamps, so wrangler's string sorts are stable."""
        now = datetime.now(UTC)
        if self._last_time is not None and now <= self._last_time:
            now = self._last_time + timedelta(milliseconds=1)
        self._last_time = now
        return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    # ------------------------------------------------------------------ state helpers
    def _script(self, name: str, *, create: bool = False) -> _Script:
        script = self._scripts.get(name)
        if script is None:
            if not create:
                raise _ApiError(
                    404, WORKER_NOT_FOUND_CODE, "This Worker does not exist on your account."
                )
            script = _Script(name=name, tag=uuid.uuid4().hex, created_on=self._now())
            self._scripts[name] = script
        return script

    def _helper_script(self, name: str) -> _Script:
        script = self._scripts.get(name)
        if script is None:
            raise EmulatorError(f"no such script {name!r}")
        return script

    @staticmethod
    def _find_version(script: _Script, version_id: str) -> _Version | None:
        for version in script.versions:
            if version.data["id"] == version_id:
                return version
        return None

    def _add_version(
        self,
        script: _Script,
        bindings: list[dict[str, Any]],
        *,
        triggered_by: str,
        message: str | None = None,
        tag: str | None = None,
        compatibility_date: str = "2025-01-01",
        compatibility_flags: Iterable[str] = (),
        etag: str | None = None,
        source: str = "wrangler",
        limits: dict[str, Any] | None = None,
    ) -> _Version:
        now = self._now()
        annotations: dict[str, str] = {"workers/triggered_by": triggered_by}
        if message is not None:
            annotations["workers/message"] = message
        if tag is not None:
            annotations["workers/tag"] = tag
        version_id = str(uuid.uuid4())
        data: dict[str, Any] = {
            "id": version_id,
            "number": len(script.versions) + 1,
            "metadata": {
                "created_on": now,
                "modified_on": now,
                "source": source,
                "author_id": self.author_id,
                "author_email": self.author_email,
                "has_preview": False,
            },
            "annotations": annotations,
            "resources": {
                "bindings": copy.deepcopy(bindings),
                "script": {
                    "etag": etag or hashlib.sha256(version_id.encode()).hexdigest(),
                    "handlers": ["fetch"],
                    "last_deployed_from": source,
                },
                "script_runtime": {
                    "compatibility_date": compatibility_date,
                    "compatibility_flags": list(compatibility_flags),
                    "usage_model": "standard",
                    "limits": limits or {"cpu_ms": 30000},
                },
            },
            "startup_time_ms": 1,
        }
        version = _Version(seq=self._next_seq(), data=data)
        script.versions.append(version)
        return version

    def _window(self, script: _Script) -> list[_Version]:
        return script.versions[-self.rollback_window :] if self.rollback_window > 0 else []

    def _add_deployment(
        self,
        script: _Script,
        traffic: list[tuple[str, float]],
        *,
        message: str | None,
        source: str,
        triggered_by: str,
    ) -> dict[str, Any]:
        annotations: dict[str, str] = {"workers/triggered_by": triggered_by}
        if message is not None:
            annotations["workers/message"] = message
        deployment = {
            "id": str(uuid.uuid4()),
            "source": source,
            "strategy": "percentage",
            "author_email": self.author_email,
            "annotations": annotations,
            "created_on": self._now(),
            "versions": [{"version_id": vid, "percentage": pct} for vid, pct in traffic],
        }
        script.deployments.append(deployment)
        return deployment

    # ------------------------------------------------------------------ public helpers
    def seed_version(
        self,
        script: str,
        bindings: list[dict[str, Any]],
        *,
        deploy: bool = False,
        message: str | None = None,
        tag: str | None = None,
        compatibility_date: str = "2025-01-01",
    ) -> str:
        """Add a version (as if uploaded by wrangler) to `script`, creating the script;
        optionally deploy it at 100%. Returns the new version id."""
        with self._lock:
            s = self._script(script, create=True)
            version = self._add_version(
                s,
                bindings,
                triggered_by="upload",
                message=message,
                tag=tag,
                compatibility_date=compatibility_date,
            )
            if deploy:
                self._add_deployment(
                    s,
                    [(version.data["id"], 100)],
                    message=message,
                    source="wrangler",
                    triggered_by="deployment",
                )
            return str(version.data["id"])

    def deploy(self, script: str, version_id: str, *, message: str | None = None) -> str:
        """Deploy an existing version at 100% without the API's checks (window, secrets):
        a setup tool for tests and drills. Returns the deployment id."""
        with self._lock:
            s = self._helper_script(script)
            if self._find_version(s, version_id) is None:
                raise EmulatorError(f"script {script!r} has no version {version_id!r}")
            deployment = self._add_deployment(
                s, [(version_id, 100)], message=message, source="api", triggered_by="deployment"
            )
            return str(deployment["id"])

    def set_secret(self, script: str, name: str, *, new_version: bool = True) -> str | None:
        """Record that secret `name` of `script` changed now (no value is kept).

        Like the real platform, a secret change with `new_version` creates a version that
        copies the live version's bindings plus a `secret_text` binding, and deploys it at
        100% (triggered_by "secret"); returns its id, or None when nothing was deployed.
        """
        with self._lock:
            s = self._helper_script(script)
            s.secrets[name] = self._next_seq()
            live = self._live(s)
            if not new_version or live is None:
                return None
            bindings = [b for b in live.data["resources"]["bindings"] if b.get("name") != name]
            bindings.append({"type": "secret_text", "name": name})
            runtime = live.data["resources"]["script_runtime"]
            version = self._add_version(
                s,
                bindings,
                triggered_by="secret",
                compatibility_date=runtime["compatibility_date"],
                compatibility_flags=runtime["compatibility_flags"],
                etag=live.data["resources"]["script"]["etag"],
            )
            self._add_deployment(
                s,
                [(version.data["id"], 100)],
                message=None,
                source="wrangler",
                triggered_by="secret",
            )
            return str(version.data["id"])

    def _live(self, script: _Script) -> _Version | None:
        if not script.deployments:
            return None
        traffic = script.deployments[-1]["versions"]
        if not traffic:
            return None
        best = max(traffic, key=lambda t: t["percentage"])
        return self._find_version(script, best["version_id"])

    def live_version(self, script: str) -> dict[str, Any] | None:
        """The version serving the most traffic in the latest deployment (None if none)."""
        with self._lock:
            s = self._scripts.get(script)
            live = self._live(s) if s is not None else None
            return copy.deepcopy(live.data) if live is not None else None

    def versions(self, script: str) -> list[dict[str, Any]]:
        """All versions of `script`, oldest first ([] for an unknown script)."""
        with self._lock:
            s = self._scripts.get(script)
            return [copy.deepcopy(v.data) for v in s.versions] if s is not None else []

    def deployments(self, script: str) -> list[dict[str, Any]]:
        """All deployments of `script`, newest first (as `GET .../deployments`)."""
        with self._lock:
            s = self._scripts.get(script)
            return copy.deepcopy(list(reversed(s.deployments))) if s is not None else []

    def secrets(self, script: str) -> list[str]:
        """Names of the secrets of `script`, sorted."""
        with self._lock:
            s = self._scripts.get(script)
            return sorted(s.secrets) if s is not None else []

    def add_r2_bucket(self, name: str) -> None:
        """Create R2 bucket `name` (idempotent)."""
        with self._lock:
            self._r2.setdefault(name, {"name": name, "creation_date": self._now()})

    def add_d1_database(self, name: str) -> str:
        """Create D1 database `name`; returns its uuid."""
        with self._lock:
            db = {"uuid": str(uuid.uuid4()), "name": name, "created_at": self._now()}
            self._d1[db["uuid"]] = db
            return str(db["uuid"])

    def r2_buckets(self) -> list[str]:
        """Names of the R2 buckets, sorted (includes any wrangler auto-provisioned)."""
        with self._lock:
            return sorted(self._r2)

    def d1_databases(self) -> list[dict[str, Any]]:
        """D1 databases `{uuid, name, created_at}` (includes any wrangler auto-provisioned)."""
        with self._lock:
            return copy.deepcopy(list(self._d1.values()))

    def scripts(self) -> list[str]:
        """Names of all scripts, sorted."""
        with self._lock:
            return sorted(self._scripts)

    # ------------------------------------------------------------------ HTTP plumbing
    def _handle_http(self, h: _Handler) -> None:
        split = urlsplit(h.path)
        path = split.path
        rel = path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else path
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        method = h.command.upper()
        record: dict[str, Any] = {
            "method": method,
            "path": rel,
            "query": query,
            "body": None,
            "fault": None,
            "user_agent": h.headers.get("User-Agent", ""),
        }
        try:
            raw = self._read_body(h)
        except ValueError as exc:
            with self._lock:
                self._requests.append(record)
            self._send(h, 400, _error_envelope(BAD_REQUEST_CODE, f"bad request body: {exc}"))
            return
        content_type = h.headers.get("Content-Type", "")
        parsed, parse_error = self._parse_body(raw, content_type)
        record["body"] = _redact(parsed)
        fault = self._take_fault(method, rel)
        record["fault"] = fault
        with self._lock:
            self._requests.append(record)
        if fault == "timeout":
            self._stop_event.wait(self.hold_seconds)
            h.close_connection = True
            return
        if fault == "malformed":
            self._send_raw(h, 200, b'{"success": true, "result": {"id": <not json', "json")
            return
        if fault is not None:
            status = int(fault)
            self._send(
                h,
                status,
                _error_envelope(
                    10013,
                    "An unknown error has occurred. If this error persists, please file a "
                    "report in workers-sdk (https://github.com/cloudflare/workers-sdk/issues) "
                    "or reach out to your account team.",
                ),
            )
            return
        try:
            if not path.startswith(API_PREFIX + "/"):
                raise _ApiError(404, 7000, f"No route for that URI: {path}")
            self._check_auth(h)
            if parse_error is not None:
                raise _ApiError(400, BAD_REQUEST_CODE, parse_error)
            status, result, extra = self._route(method, rel, query, parsed, record["user_agent"])
        except _ApiError as err:
            self._send(h, err.status, _error_envelope(err.code, err.message))
            return
        except Exception as exc:  # a bug in the emulator: answer, do not kill the thread
            self._send(h, 500, _error_envelope(10013, f"emulator internal error: {exc!r}"))
            return
        body = _envelope(result)
        body.update(extra)
        self._send(h, status, body)

    def _read_body(self, h: _Handler) -> bytes:
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                line = h.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while h.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > _MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(h.rfile.read(size))
                h.rfile.readline(1024)
            return b"".join(chunks)
        length = int(h.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            raise ValueError("body too large")
        return h.rfile.read(length) if length > 0 else b""

    @staticmethod
    def _parse_body(raw: bytes, content_type: str) -> tuple[Any, str | None]:
        if not raw:
            return None, None
        if content_type.startswith("multipart/form-data"):
            return _parse_multipart(raw, content_type)
        try:
            return json.loads(raw), None
        except ValueError:
            return {"_raw": raw[:200].decode("utf-8", "replace")}, "request body is not JSON"

    def _check_auth(self, h: _Handler) -> None:
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            raise _ApiError(400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")
        if self.token is not None and auth[7:].strip() != self.token:
            raise _ApiError(403, 10000, "Authentication error")

    @staticmethod
    def _send(h: _Handler, status: int, body: dict[str, Any]) -> None:
        CloudflareEmulator._send_raw(h, status, _json_bytes(body), "json")

    @staticmethod
    def _send_raw(h: _Handler, status: int, payload: bytes, kind: str) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json" if kind == "json" else "text/plain")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            h.wfile.flush()
        except OSError:  # client went away (e.g. killed wrangler)
            h.close_connection = True

    # ------------------------------------------------------------------ routing
    def _route(
        self, method: str, rel: str, query: dict[str, str], body: Any, user_agent: str
    ) -> tuple[int, Any, dict[str, Any]]:
        with self._lock:
            return self._route_locked(method, rel, query, body, user_agent)

    def _route_locked(
        self, method: str, rel: str, query: dict[str, str], body: Any, user_agent: str
    ) -> tuple[int, Any, dict[str, Any]]:
        acct = self.account_id
        if method == "GET" and rel == "/user/tokens/verify":
            return 200, {"id": "0" * 32, "status": "active"}, {}
        if method == "GET" and rel == "/user":
            return 200, {"id": self.author_id, "email": self.author_email}, {}
        if method == "GET" and rel in ("/accounts", "/memberships"):
            account = {"id": acct, "name": "helm-guard emulator account"}
            item = account if rel == "/accounts" else {"id": "m0", "account": account}
            info = {"page": 1, "per_page": 20, "count": 1, "total_count": 1, "total_pages": 1}
            return 200, [item], {"result_info": info}

        m = re.fullmatch(r"/accounts/([^/]+)(/.*)", rel)
        if m is None:
            raise _ApiError(
                404, 7003, f"Could not route to {rel}, perhaps your object identifier is invalid?"
            )
        if m.group(1) != acct:
            raise _ApiError(403, 10000, "Authentication error")
        sub = m.group(2)

        if method == "GET" and sub == "/workers/subdomain":
            return 200, {"subdomain": "helm-guard-emulator"}, {}
        if sub.startswith(("/r2/", "/d1/")):
            return self._route_storage(method, sub, body)
        if method == "GET" and sub == "/workers/scripts":
            return 200, [self._script_summary(s) for s in self._scripts.values()], {}
        m = re.fullmatch(r"/workers/services/([^/]+)", sub)
        if m and method == "GET":
            return 200, self._service(self._script(m.group(1))), {}
        m = re.fullmatch(r"/workers/scripts/([^/]+)(/.*)?", sub)
        if m is None:
            raise _ApiError(404, 7003, f"Could not route to {rel}")
        name, rest = m.group(1), m.group(2) or ""
        return self._route_script(method, name, rest, query, body, user_agent)

    def _route_script(
        self,
        method: str,
        name: str,
        rest: str,
        query: dict[str, str],
        body: Any,
        user_agent: str,
    ) -> tuple[int, Any, dict[str, Any]]:
        source = "wrangler" if user_agent.startswith("wrangler") else "api"
        if rest == "/versions" and method == "POST":
            script = self._script(name, create=self.auto_create)
            return 200, self._upload(script, body, query, source), {}
        script = self._script(name)
        if rest == "/versions" and method == "GET":
            items = self._window(script) if query.get("deployable") == "true" else script.versions
            return 200, {"items": [copy.deepcopy(v.data) for v in reversed(items)]}, {}
        m = re.fullmatch(r"/versions/([^/]+)", rest)
        if m and method == "GET":
            version = self._find_version(script, m.group(1))
            if version is None:
                raise _ApiError(404, VERSION_NOT_FOUND_CODE, f"Version {m.group(1)} not found")
            return 200, copy.deepcopy(version.data), {}
        if rest == "/deployments" and method == "GET":
            return 200, {"deployments": copy.deepcopy(list(reversed(script.deployments)))}, {}
        if rest == "/deployments" and method == "POST":
            force = query.get("force") == "true"
            return 200, self._post_deployment(script, body, force, source), {}
        if rest in ("/settings", "/script-settings"):
            if method == "PATCH":
                if not isinstance(body, dict):
                    raise _ApiError(400, BAD_REQUEST_CODE, "settings must be a JSON object")
                script.settings.update(body.get("settings", body) if rest == "/settings" else body)
            if method in ("GET", "PATCH"):
                return 200, copy.deepcopy(script.settings), {}
        if rest == "/subdomain":
            if method == "POST" and isinstance(body, dict):
                script.subdomain.update(body)
            if method in ("GET", "POST"):
                return 200, dict(script.subdomain), {}
        if rest == "/secrets" and method == "GET":
            return 200, [{"name": n, "type": "secret_text"} for n in sorted(script.secrets)], {}
        if rest == "/secrets" and method == "PUT":
            if not isinstance(body, dict) or not isinstance(body.get("name"), str):
                raise _ApiError(400, BAD_REQUEST_CODE, "secret must have a name")
            self.set_secret(name, body["name"])
            return 200, {"name": body["name"], "type": "secret_text"}, {}
        m = re.fullmatch(r"/secrets/([^/]+)", rest)
        if m and method == "DELETE":
            script.secrets.pop(m.group(1), None)
            return 200, None, {}
        raise _ApiError(404, 7003, f"No route for {method} .../scripts/{name}{rest}")

    def _route_storage(self, method: str, sub: str, body: Any) -> tuple[int, Any, dict[str, Any]]:
        if sub == "/r2/buckets" and method == "GET":
            return 200, {"buckets": copy.deepcopy(list(self._r2.values()))}, {}
        if sub == "/r2/buckets" and method == "POST":
            name = body.get("name") if isinstance(body, dict) else None
            if not isinstance(name, str) or not name:
                raise _ApiError(400, 10005, "bucket name is required")
            if name in self._r2:
                raise _ApiError(
                    409, 10004, "The bucket you tried to create already exists, and you own it."
                )
            self.add_r2_bucket(name)
            return 200, copy.deepcopy(self._r2[name]), {}
        m = re.fullmatch(r"/r2/buckets/([^/]+)", sub)
        if m and method == "GET":
            if m.group(1) not in self._r2:
                raise _ApiError(404, 10006, "The specified bucket does not exist.")
            return 200, copy.deepcopy(self._r2[m.group(1)]), {}
        if sub == "/d1/database" and method == "GET":
            dbs = copy.deepcopy(list(self._d1.values()))
            info = {
                "page": 1,
                "per_page": max(len(dbs), 1),
                "count": len(dbs),
                "total_count": len(dbs),
            }
            return 200, dbs, {"result_info": info}
        if sub == "/d1/database" and method == "POST":
            name = body.get("name") if isinstance(body, dict) else None
            if not isinstance(name, str) or not name:
                raise _ApiError(400, 7400, "database name is required")
            if any(db["name"] == name for db in self._d1.values()):
                raise _ApiError(400, 7502, "A database with that name already exists")
            db_id = self.add_d1_database(name)
            return 200, copy.deepcopy(self._d1[db_id]), {}
        m = re.fullmatch(r"/d1/database/([^/]+)", sub)
        if m and method == "GET":
            if m.group(1) not in self._d1:
                raise _ApiError(404, 7404, f"The database {m.group(1)} could not be found")
            return 200, copy.deepcopy(self._d1[m.group(1)]), {}
        raise _ApiError(404, 7003, f"No route for {method} /accounts/.../{sub.lstrip('/')}")

    @staticmethod
    def _script_summary(script: _Script) -> dict[str, Any]:
        return {"id": script.name, "tag": script.tag, "created_on": script.created_on}

    def _service(self, script: _Script) -> dict[str, Any]:
        last = script.versions[-1].data if script.versions else None
        modified = last["metadata"]["modified_on"] if last else script.created_on
        return {
            "id": script.name,
            "created_on": script.created_on,
            "modified_on": modified,
            "default_environment": {
                "environment": "production",
                "created_on": script.created_on,
                "modified_on": modified,
                "script": {
                    "id": script.name,
                    "tag": script.tag,
                    "tags": [],
                    "etag": last["resources"]["script"]["etag"] if last else None,
                    "handlers": ["fetch"],
                    "created_on": script.created_on,
                    "modified_on": modified,
                    "usage_model": "standard",
                    "last_deployed_from": "wrangler",
                },
            },
        }

    def _upload(
        self, script: _Script, body: Any, query: dict[str, str], source: str
    ) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
            raise _ApiError(400, BAD_REQUEST_CODE, "multipart body must have a metadata part")
        meta = body["metadata"]
        raw_bindings = meta.get("bindings", [])
        if not isinstance(raw_bindings, list) or not all(
            isinstance(b, dict) and isinstance(b.get("name"), str) for b in raw_bindings
        ):
            raise _ApiError(400, BAD_REQUEST_CODE, "metadata.bindings must be a list of objects")
        previous = script.versions[-1].data["resources"]["bindings"] if script.versions else []
        prev_by_name = {b["name"]: b for b in previous}
        bindings: list[dict[str, Any]] = []
        seen: set[str] = set()
        for b in raw_bindings:
            if b["name"] in seen:
                raise _ApiError(
                    400, 10053, f"the binding name '{b['name']}' cannot be used more than once"
                )
            seen.add(b["name"])
            if b.get("type") == "inherit":
                if b["name"] not in prev_by_name:
                    raise _ApiError(
                        400,
                        10056,
                        f"The following required secrets have not been set: {b['name']}",
                    )
                bindings.append(copy.deepcopy(prev_by_name[b["name"]]))
            else:
                bindings.append(
                    {k: v for k, v in b.items() if k not in ("text", "value")}
                    if b.get("type") == "secret_text"
                    else copy.deepcopy(b)
                )
        for kept_type in meta.get("keep_bindings") or []:
            for b in previous:
                if b.get("type") == kept_type and b["name"] not in seen:
                    bindings.append(copy.deepcopy(b))
                    seen.add(b["name"])
        annotations = meta.get("annotations") or {}
        files = body.get("files", {})
        etag = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
        version = self._add_version(
            script,
            bindings,
            triggered_by="upload",
            message=annotations.get("workers/message"),
            tag=annotations.get("workers/tag"),
            compatibility_date=meta.get("compatibility_date") or "2025-01-01",
            compatibility_flags=meta.get("compatibility_flags") or [],
            etag=etag,
            source=source,
            limits=meta.get("limits"),
        )
        return copy.deepcopy(version.data)

    def _post_deployment(
        self, script: _Script, body: Any, force: bool, source: str
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _ApiError(400, BAD_REQUEST_CODE, "deployment body must be a JSON object")
        if body.get("strategy") != "percentage":
            raise _ApiError(400, BAD_REQUEST_CODE, 'strategy must be "percentage"')
        entries = body.get("versions")
        if not isinstance(entries, list) or not entries:
            raise _ApiError(400, BAD_REQUEST_CODE, "versions must be a non-empty list")
        traffic: list[tuple[str, float]] = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise _ApiError(400, BAD_REQUEST_CODE, "each version must be an object")
            vid, pct = entry.get("version_id"), entry.get("percentage")
            if not isinstance(vid, str) or not isinstance(pct, int | float) or pct < 0:
                raise _ApiError(400, BAD_REQUEST_CODE, "version_id/percentage invalid")
            traffic.append((vid, pct))
        if abs(sum(p for _, p in traffic) - 100) > 1e-6:
            raise _ApiError(400, BAD_REQUEST_CODE, "percentages must sum to 100")
        window_ids = {v.data["id"] for v in self._window(script)}
        targets: list[_Version] = []
        for vid, _ in traffic:
            version = self._find_version(script, vid)
            if version is None:
                raise _ApiError(404, VERSION_NOT_FOUND_CODE, f"Version {vid} not found")
            if vid not in window_ids:
                raise _ApiError(
                    400,
                    ROLLBACK_WINDOW_CODE,
                    f"Version {vid} cannot be deployed: only the {self.rollback_window} most "
                    "recent versions of a Worker can be deployed or rolled back to.",
                )
            targets.append(version)
        if not force:
            oldest = min(v.seq for v in targets)
            changed = sorted(n for n, seq in script.secrets.items() if seq > oldest)
            if changed:
                raise _ApiError(
                    400,
                    SECRETS_CHANGED_CODE,
                    "The following secrets have changed: " + ", ".join(changed),
                )
        annotations = body.get("annotations") or {}
        message = annotations.get("workers/message") if isinstance(annotations, dict) else None
        live = self._live(script)
        rollback = len(targets) == 1 and live is not None and targets[0].seq < live.seq
        return copy.deepcopy(
            self._add_deployment(
                script,
                traffic,
                message=message,
                source=source,
                triggered_by="rollback" if rollback else "deployment",
            )
        )


def _parse_multipart(raw: bytes, content_type: str) -> tuple[Any, str | None]:
    """Parse a multipart/form-data body into `{"metadata": <json>, "files": {name: info}}`."""
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + raw)
    if not msg.is_multipart():
        return None, "malformed multipart body"
    result: dict[str, Any] = {"metadata": None, "files": {}}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        raw_payload = part.get_payload(decode=True)
        payload = raw_payload if isinstance(raw_payload, bytes) else b""
        if not isinstance(name, str):
            continue
        if name == "metadata":
            try:
                result["metadata"] = json.loads(payload)
            except ValueError:
                return result, "metadata part is not JSON"
        else:
            result["files"][name] = {
                "content_type": part.get_content_type(),
                "size": len(payload),
                "sha256": hashlib.sha256(payload).hexdigest(),
            }
    return result, None


_SECRET_KEYS = {"text", "value", "secret"}


def _redact(obj: Any) -> Any:
    """Copy `obj` with secret values replaced, so `requests` never holds a secret."""
    if isinstance(obj, dict):
        secretish = obj.get("type") in ("secret_text", "secret_key")
        return {
            k: ("<redacted>" if (k in _SECRET_KEYS and (secretish or k == "text")) else _redact(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_redact(v) for v in obj]
    return obj
