"""The Cloudflare API door: every direct API call helm-guard makes goes through `Client`.

Built on the official `cloudflare` Python SDK (httpx underneath): its client gives the
transport, bearer auth, timeouts and retries with backoff that honour `Retry-After` on 429 and
5xx. Responses are read as the API's own JSON (`{"success", "errors", "result", ...}`), not as
the SDK's typed models: helm-guard judges bindings exactly as Cloudflare reports them (any
binding type, any field), and cloudflare 5.9's typed version model fails to build under
pydantic 2.13 (`PydanticSchemaGenerationError` for `ResourcesBindings`).

Importing the SDK costs ~0.2-0.5 s, so only the commands that talk to Cloudflare import this
module (`check` never does). Area helpers live beside it (`workers` reads here; D1 and R2 in
their own modules) and take a `Client`.

Settings come from the operator's environment, never from the fleet repository:
`CLOUDFLARE_API_TOKEN`, `CLOUDFLARE_ACCOUNT_ID`, and `CLOUDFLARE_API_BASE_URL` (wrangler's own
variable, so one setting points wrangler and the SDK at the local emulator). A base URL must be
`https://` or plain `http://` on a loopback address: a token is never sent in clear text to
another host.
"""

from __future__ import annotations

import ipaddress
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
ACCOUNT_ID_RE = re.compile(r"[0-9a-f]{32}")
#: Cloudflare's documented global limit: 1,200 requests per 5 minutes per token.
DEFAULT_RATE = 1200 / 300.0
DEFAULT_BURST = 20


class CloudflareError(Exception):
    """An API call that did not give a usable answer. Never carries the token."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.hint = hint

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None or self.code is not None:
            parts.append(f"(HTTP {self.status}, API code {self.code})")
        return " ".join(parts)


class Settings(NamedTuple):
    token: str
    account_id: str
    base_url: str


def check_base_url(url: str) -> str:
    """`url` if a token may be sent there (https, or http on loopback); else CloudflareError."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url.rstrip("/")
    if parts.scheme == "http":
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return url.rstrip("/")
    raise CloudflareError(
        f"CLOUDFLARE_API_BASE_URL {url!r} is neither https nor a loopback address",
        hint="unset it for the real API, or point it at the local emulator on 127.0.0.1",
    )


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """The API settings from the operator's environment; CloudflareError names what is
    missing or malformed (never the token's value)."""
    env = os.environ if environ is None else environ
    token = env.get("CLOUDFLARE_API_TOKEN", "").strip()
    account = env.get("CLOUDFLARE_ACCOUNT_ID", "").strip()
    if not token:
        raise CloudflareError("CLOUDFLARE_API_TOKEN is not set",
                              hint="export a token that can read Workers (and D1/R2 if needed)")
    if not ACCOUNT_ID_RE.fullmatch(account):
        raise CloudflareError("CLOUDFLARE_ACCOUNT_ID is not set to a 32-hex account id",
                              hint="export the account id shown in the Cloudflare dashboard")
    base = check_base_url(env.get("CLOUDFLARE_API_BASE_URL", "").strip() or DEFAULT_BASE_URL)
    return Settings(token, account, base)


class RateLimiter:
    """A token bucket shared by every thread of one process: `rate` requests per second on
    average, at most `burst` at once. `acquire` sleeps until a token is free."""

    def __init__(self, rate: float = DEFAULT_RATE, burst: int = DEFAULT_BURST,
                 clock: Any = time.monotonic, sleep: Any = time.sleep) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate, self.burst = rate, float(burst)
        self._clock, self._sleep = clock, sleep
        self._tokens = float(burst)
        self._last = clock()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                paused = self._paused_until - now
                if paused > 0:
                    wait = paused
                elif self._tokens >= 1:
                    self._tokens -= 1
                    return waited
                else:
                    wait = (1 - self._tokens) / self.rate
            self._sleep(wait)
            waited += wait

    def pause(self, seconds: float) -> None:
        """Hand out no token for `seconds` (a 429's `Retry-After`): every thread waits, not
        only the one that was told to; the bucket is emptied so the restart is gentle."""
        with self._lock:
            until = self._clock() + max(0.0, seconds)
            self._paused_until = max(self._paused_until, until)
            self._tokens = 0.0


def retry_after(ms: str | None, seconds: str | None) -> float | None:
    """Seconds to wait from `Retry-After-Ms` / `Retry-After` (seconds or an HTTP date), as the
    SDK reads them; None when absent or unreadable."""
    import email.utils

    for raw, scale in ((ms, 1000.0), (seconds, 1.0)):
        if raw is None:
            continue
        try:
            return max(0.0, float(raw) / scale)
        except ValueError:
            parsed = email.utils.parsedate_tz(raw)
            if parsed is not None:
                return max(0.0, float(email.utils.mktime_tz(parsed) - time.time()))
    return None


def seg(value: str) -> str:
    """One path segment, percent-encoded (names and ids are validated by callers too)."""
    return quote(value, safe="")


class Client:
    """One account's API: `get`, `post`, `put`, `delete`, `pages`, each returning the
    envelope's `result`, rate-limited, counted (`requests`), errors as CloudflareError."""

    def __init__(self, settings: Settings, *, max_retries: int = 4, timeout: float = 30.0,
                 limiter: RateLimiter | None = None, retry_budget: int = 200,
                 max_retry_after: float = 300.0) -> None:
        """`max_retries`: per call (the SDK's, with its backoff; it sleeps a 429's
        `Retry-After` when that is at most 60 s). `retry_budget`: retried answers (429, 5xx)
        allowed for the client's whole life; once spent every call fails at once, so a storm
        cannot keep a run going forever. `max_retry_after`: the longest `Retry-After` honoured
        (longer ones are an error, never a silent hour-long sleep)."""
        import cloudflare  # the SDK: ~0.2-0.5 s, paid only by commands that call the API
        import httpx

        self.settings = settings
        self.account_id = settings.account_id
        self.limiter = limiter or RateLimiter()
        self.retry_budget = retry_budget
        self.max_retry_after = max_retry_after
        #: every HTTP request sent (retries included), every 429/5xx answer, time told to wait
        self.requests = 0
        self.retried = 0
        self.throttled_seconds = 0.0
        self._count_lock = threading.Lock()
        self._sdk = cloudflare
        # The hooks run for every attempt, the SDK's retries included: each one takes a token
        # from the bucket and is counted, and a 429 pauses the bucket for all threads.
        http = cloudflare.DefaultHttpxClient(
            event_hooks={"request": [self._before_send], "response": [self._after_answer]})
        self._client = cloudflare.Cloudflare(api_token=settings.token, base_url=settings.base_url,
                                             max_retries=max_retries, timeout=timeout,
                                             http_client=http)
        self._httpx = httpx

    def _before_send(self, request: Any) -> None:
        self.limiter.acquire()
        with self._count_lock:
            self.requests += 1

    def _after_answer(self, response: Any) -> None:
        status = response.status_code
        if status != 429 and status < 500:
            return
        with self._count_lock:
            self.retried += 1
        if status == 429:
            wait = retry_after(response.headers.get("retry-after-ms"),
                               response.headers.get("retry-after"))
            if wait is not None and wait > self.max_retry_after:
                raise CloudflareError(
                    f"rate limited: the API asks to wait {wait:.0f} s, more than "
                    f"{self.max_retry_after:.0f} s", status=429,
                    hint="another client is using this token's budget; use a dedicated token")
            pause = wait if wait is not None else 1.0
            with self._count_lock:
                self.throttled_seconds += pause
            self.limiter.pause(pause)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kw: Any) -> Client:
        return cls(settings_from_env(environ), **kw)

    def close(self) -> None:
        """Close the HTTP connections (a client is also a context manager)."""
        self._client.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def account_path(self, *segments: str) -> str:
        return "/accounts/" + seg(self.account_id) + "".join("/" + seg(s) for s in segments)

    # ------------------------------------------------------------------ requests
    def envelope(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                 body: Any = None) -> dict[str, Any]:
        """The whole JSON envelope of one call (for `result_info` and the like)."""
        sdk = self._sdk
        if self.retried > self.retry_budget:
            raise CloudflareError(
                f"{method} {path}: not sent: {self.retried} answers were 429/5xx in this run, "
                f"more than the retry budget of {self.retry_budget}",
                hint="the API is failing or throttling; try again later")
        options: dict[str, Any] = {"params": dict(params)} if params else {}
        try:
            call = getattr(self._client, method.lower())
            if method.upper() in ("GET", "DELETE"):
                answer = call(path, cast_to=object, options=options)
            else:
                answer = call(path, cast_to=object, body=body, options=options)
        except sdk.APIStatusError as exc:
            raise _status_error(method, path, exc) from None
        except sdk.APITimeoutError:
            raise CloudflareError(f"{method} {path}: no answer before the timeout",
                                  hint="retry; check CLOUDFLARE_API_BASE_URL") from None
        except sdk.APIConnectionError as exc:
            if isinstance(exc.__cause__, CloudflareError):
                raise exc.__cause__ from None
            raise CloudflareError(f"{method} {path}: cannot reach the API ({exc.__cause__ or exc})",
                                  hint="check the network and CLOUDFLARE_API_BASE_URL") from None
        except (ValueError, TypeError) as exc:  # a body that is not JSON
            raise CloudflareError(f"{method} {path}: the answer is not JSON ({exc})") from None
        if not isinstance(answer, dict) or answer.get("success") is not True:
            errors = answer.get("errors") if isinstance(answer, dict) else None
            raise CloudflareError(f"{method} {path}: the API did not report success "
                                  f"({_first_error(errors)})")
        return answer

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.envelope("GET", path, params=params).get("result")

    def post(self, path: str, body: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        return self.envelope("POST", path, params=params, body=body).get("result")

    def put(self, path: str, body: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        return self.envelope("PUT", path, params=params, body=body).get("result")

    def delete(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.envelope("DELETE", path, params=params).get("result")

    def pages(self, path: str, params: Mapping[str, Any] | None = None, *,
              per_page: int = 100, max_pages: int = 10_000) -> Iterator[Any]:
        """Every item of a page-numbered list (`result_info.total_pages`, or until a short
        page); a list longer than `max_pages` pages is an error, never silently cut."""
        for page in range(1, max_pages + 1):
            query = {**(params or {}), "page": page, "per_page": per_page}
            answer = self.envelope("GET", path, params=query)
            items = answer.get("result") or []
            if not isinstance(items, list):
                raise CloudflareError(f"GET {path}: expected a list, got {type(items).__name__}")
            yield from items
            info = answer.get("result_info") or {}
            total = info.get("total_pages") if isinstance(info, dict) else None
            if (isinstance(total, int) and page >= total) or len(items) < per_page:
                return
        raise CloudflareError(f"GET {path}: more than {max_pages} pages")

    # ------------------------------------------------------------------ Workers reads
    def scripts(self) -> list[dict[str, Any]]:
        """Every Worker script of the account (`id`, `modified_on`, ...): one request, the API
        does not page this list. An answer that is not a list is an error (never "no
        Workers")."""
        return _dicts(self.get(self.account_path("workers", "scripts")), "Worker scripts")

    def deployments(self, script: str) -> list[dict[str, Any]]:
        """The script's deployments, newest first (as the API lists them)."""
        result = self.get(self.account_path("workers", "scripts", script, "deployments"))
        deps = result.get("deployments") if isinstance(result, dict) else None
        if not isinstance(deps, list):
            raise CloudflareError(f"deployments of {script}: unexpected answer shape")
        return deps

    def version(self, script: str, version_id: str) -> dict[str, Any]:
        result = self.get(self.account_path("workers", "scripts", script, "versions", version_id))
        if not isinstance(result, dict):
            raise CloudflareError(f"version {version_id} of {script}: unexpected answer shape")
        return result

    def custom_domains(self) -> list[dict[str, Any]]:
        """Every Workers custom domain of the account (`hostname`, `service`, `environment`,
        `zone_id`, ...): one request, the API does not page this list."""
        return _dicts(self.get(self.account_path("workers", "domains")), "custom domains")

    def zones(self) -> list[dict[str, Any]]:
        """Every zone of the account (`id`, `name`), page by page (50 a page)."""
        items = self.pages("/zones", {"account.id": self.account_id}, per_page=50)
        return [z for z in items if isinstance(z, dict)]

    def zone_routes(self, zone_id: str) -> list[dict[str, Any]]:
        """The Worker routes of one zone (`id`, `pattern`, `script`): one request."""
        return _dicts(self.get("/zones/" + seg(zone_id) + "/workers/routes"),
                      f"routes of zone {zone_id}")

    def secret_names(self, script: str) -> list[str]:
        """Names of the script's secrets (the API never returns values)."""
        result = self.get(self.account_path("workers", "scripts", script, "secrets"))
        return sorted(str(s["name"]) for s in result or [] if isinstance(s, dict) and "name" in s)


def _dicts(result: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(result, list):
        raise CloudflareError(f"{what}: expected a list, got {type(result).__name__}")
    return [item for item in result if isinstance(item, dict)]


def _first_error(errors: Any) -> str:
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return f"code {errors[0].get('code')}: {errors[0].get('message')}"
    return "no error details"


def _status_error(method: str, path: str, exc: Any) -> CloudflareError:
    body = getattr(exc, "body", None)
    errors = body.get("errors") if isinstance(body, dict) else None
    code = errors[0].get("code") if isinstance(errors, list) and errors and \
        isinstance(errors[0], dict) else None
    status = getattr(exc, "status_code", None)
    hint = {401: "the token is invalid or expired", 403: "the token lacks a permission",
            404: "no such resource", 429: "rate limited: retry later"}.get(status or 0)
    return CloudflareError(f"{method} {path}: {_first_error(errors)}", status=status,
                           code=code if isinstance(code, int) else None, hint=hint)
