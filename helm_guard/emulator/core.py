"""The emulator's core: HTTP plumbing, the v4 envelope, recording, fault injection, the clock,
and routing to the API areas (`workers.py`, `d1.py`, `r2.py`, `accounts.py`).

An API area is a mixin class derived from `EmulatorCore`. It keeps its own state (created in
`_init_area`, cooperatively) and adds a router to `_account_routers()`: a method that answers
a request under `/accounts/{account}` with `(status, result, extra)` or returns None when the
path is not its own. `CloudflareEmulator` (in `__init__.py`) combines the areas.

Why over 400 lines: HTTP plumbing, recording, fault injection and routing share one lock
and one request record.
"""

from __future__ import annotations

import copy
import email.parser
import email.policy
import hashlib
import json
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
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


class ApiError(Exception):
    """Raised inside a route handler; becomes a v4 error envelope."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class RawBody(bytes):
    """A request body sent as `application/octet-stream` (R2 object uploads): routers get the
    bytes; `requests` records only its size and sha256."""


class RawResult(NamedTuple):
    """A route's answer that is sent as is, not in the v4 envelope (R2 object bodies,
    presigned downloads)."""

    data: bytes
    content_type: str = "application/octet-stream"


PRESIGNED_PREFIX = "/_presigned/"


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    kind: str
    remaining: int
    retry_after: float | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    emulator: EmulatorCore


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


Route = tuple[int, Any, dict[str, Any]]
#: A router: (method, path under /accounts/{a}, query, body, user agent) -> answer or None.
Router = Callable[[str, str, dict[str, str], Any, str], Route | None]


class EmulatorCore:
    """Lifecycle, recording, faults, clock and HTTP plumbing shared by every API area.

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

        self._requests: list[dict[str, Any]] = []
        self._faults: list[_Fault] = []
        self._seq = 0
        self._last_time: datetime | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url: str | None = None
        self._presigned: dict[str, RawResult] = {}
        self._after: list[tuple[str, re.Pattern[str], Callable[[], None]]] = []

    # ------------------------------------------------------------------ lifecycle
        self._init_area()

    def _init_area(self) -> None:
        """Create the area's state; each area extends this cooperatively (call super)."""

    def _account_routers(self) -> list[Router]:
        """The routers for paths under /accounts/{account}; each area appends its own."""
        return []

    def _global_routers(self) -> list[Router]:
        """The routers for other paths (`/zones/...`); each area appends its own."""
        return []

    def start(self, port: int = 0) -> str:
        """Bind 127.0.0.1 on `port` (0: a free one), serve in a daemon thread, return the base
        URL. OSError when the port cannot be bound."""
        if self._server is not None:
            raise EmulatorError("emulator already started")
        self._stop_event.clear()
        server = _Server(("127.0.0.1", port), _Handler)
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

    def __enter__(self) -> EmulatorCore:
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

    def throttle_next(self, method: str, path_regex: str, count: int = 1, *,
                      retry_after: float | None = 1.0) -> None:
        """Make the next `count` matching requests answer 429 (Cloudflare's code 971, "Please
        wait and consider throttling your request speed") with `Retry-After: <retry_after>`
        (seconds; None: no header), as the real API does when a token exceeds its limit."""
        if count < 1:
            raise EmulatorError("count must be >= 1")
        with self._lock:
            self._faults.append(_Fault(method.upper(), re.compile(path_regex), "429", count,
                                       retry_after))

    def after_next(self, method: str, path_regex: str, action: Callable[[], None]) -> None:
        """Run `action()` once, right after the next successful request matching `method` and
        `path_regex` was handled and before its answer is sent (the emulator's lock is not
        held: `action` may call the API over HTTP). Tests use it to act "at the moment of"
        an activation, as another holder of the account's token could."""
        with self._lock:
            self._after.append((method.upper(), re.compile(path_regex), action))

    def _take_after(self, method: str, path: str) -> Callable[[], None] | None:
        with self._lock:
            for item in self._after:
                if item[0] in ("*", method) and item[1].search(path):
                    self._after.remove(item)
                    return item[2]
        return None

    def _apply_migrations(self, script: str, current_tag: str | None,
                          metadata: dict[str, Any]) -> str | None:
        """Called by an upload with its metadata before the version is stored (the Durable
        Objects area applies `migrations`): returns the script's migration tag afterwards;
        raises ApiError to refuse the upload."""
        return current_tag

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method in ("*", method) and fault.pattern.search(path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
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

    def presign(self, data: bytes, content_type: str = "application/octet-stream") -> str:
        """A URL that serves `data` without credentials (like an R2 presigned URL: the token
        in the path is the credential). *emu*: it never expires."""
        token = secrets.token_hex(16)
        with self._lock:
            self._presigned[token] = RawResult(bytes(data), content_type)
        return f"{self.base_url or API_PREFIX}{PRESIGNED_PREFIX}{token}"

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
        taken = self._take_fault(method, rel)
        fault = taken.kind if taken is not None else None
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
        if taken is not None and taken.retry_after is not None:
            self._send(h, 429, _error_envelope(
                971, "Please wait and consider throttling your request speed"),
                headers={"Retry-After": f"{taken.retry_after:g}"})
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
                raise ApiError(404, 7000, f"No route for that URI: {path}")
            if method == "GET" and rel.startswith(PRESIGNED_PREFIX):
                with self._lock:
                    found = self._presigned.get(rel[len(PRESIGNED_PREFIX):])
                if found is None:
                    raise ApiError(404, 10007, "no such presigned object")
                self._send_raw(h, 200, found.data, found.content_type)
                return
            self._check_auth(h)
            if parse_error is not None:
                raise ApiError(400, BAD_REQUEST_CODE, parse_error)
            status, result, extra = self._route(method, rel, query, parsed, record["user_agent"])
        except ApiError as err:
            self._send(h, err.status, _error_envelope(err.code, err.message))
            return
        except Exception as exc:  # a bug in the emulator: answer, do not kill the thread
            self._send(h, 500, _error_envelope(10013, f"emulator internal error: {exc!r}"))
            return
        action = self._take_after(method, rel) if status < 400 else None
        if action is not None:
            action()
        if isinstance(result, RawResult):
            self._send_raw(h, status, result.data, result.content_type)
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
        if content_type.startswith("application/octet-stream"):
            return RawBody(raw), None
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
            raise ApiError(400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")
        if self.token is not None and auth[7:].strip() != self.token:
            raise ApiError(403, 10000, "Authentication error")

    @staticmethod
    def _send(h: _Handler, status: int, body: dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
        EmulatorCore._send_raw(h, status, _json_bytes(body), "json", headers)

    @staticmethod
    def _send_raw(h: _Handler, status: int, payload: bytes, kind: str,
                  headers: dict[str, str] | None = None) -> None:
        try:
            h.send_response(status)
            for name, value in (headers or {}).items():
                h.send_header(name, value)
            h.send_header("Content-Type", {"json": "application/json", "text": "text/plain"}.get(
                kind, kind))
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            h.wfile.flush()
        except OSError:  # client went away (e.g. killed wrangler)
            h.close_connection = True

    # ------------------------------------------------------------------ routing
    def _route(
        self, method: str, rel: str, query: dict[str, str], body: Any, user_agent: str
    ) -> Route:
        with self._lock:
            return self._route_locked(method, rel, query, body, user_agent)

    def _route_locked(
        self, method: str, rel: str, query: dict[str, str], body: Any, user_agent: str
    ) -> Route:
        m = re.fullmatch(r"/accounts/([^/]+)(/.*)", rel)
        if m is None:
            answer = self._route_user(method, rel)
            for router in self._global_routers():
                if answer is None:
                    answer = router(method, rel, query, body, user_agent)
            if answer is not None:
                return answer
            raise ApiError(
                404, 7003, f"Could not route to {rel}, perhaps your object identifier is invalid?"
            )
        if m.group(1) != self.account_id:
            raise ApiError(403, 10000, "Authentication error")
        sub = m.group(2)
        for router in self._account_routers():
            answer = router(method, sub, query, body, user_agent)
            if answer is not None:
                return answer
        raise ApiError(404, 7003, f"No route for {method} /accounts/.../{sub.lstrip('/')}")

    def _route_user(self, method: str, rel: str) -> Route | None:
        """Paths outside /accounts/{account}: wrangler's whoami after an error."""
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
        return None


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
    if isinstance(obj, RawBody):
        return {"raw_bytes": len(obj), "sha256": hashlib.sha256(obj).hexdigest()}
    if isinstance(obj, dict):
        secretish = obj.get("type") in ("secret_text", "secret_key")
        return {
            k: ("<redacted>" if (k in _SECRET_KEYS and (secretish or k == "text")) else _redact(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_redact(v) for v in obj]
    return obj
