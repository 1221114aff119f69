"""A local, in-memory emulator of the Cloudflare API v4 endpoints that wrangler 4.86 and
helm-guard use, one module per API area.

Why: helm-guard drives the *real* wrangler (see `helm_guard.cloudflare.wrangler`), and neither
the tests nor `helm-guard drill` may touch the real Cloudflare API. wrangler honours
`CLOUDFLARE_API_BASE_URL` for every API call, so pointing it at this emulator exercises
wrangler's real request/response handling (error envelopes, the 10220 secrets-changed path,
retries) against state we control.

Stdlib only: a `ThreadingHTTPServer` on 127.0.0.1 (free port) served from a daemon thread.

    with CloudflareEmulator() as emu:            # emu.base_url -> http://127.0.0.1:N/client/v4
        vid = emu.seed_version("helm-acme", [{"type": "d1", "name": "DB", "id": "..."}],
                               deploy=True)
        ... run wrangler with CLOUDFLARE_API_BASE_URL=emu.base_url ...
        emu.live_version("helm-acme")["id"]

| module | area |
|---|---|
| `core.py` | HTTP plumbing, envelopes, recording, faults, clock, routing; `/user`, `/accounts` |
| `workers.py` | scripts, versions, deployments, settings, subdomains, secret names |
| `d1.py` | D1 databases; query (sqlite3), export, Time Travel bookmarks and restore |
| `r2.py` | R2 buckets; objects (list with prefix + cursor, get, put, delete) |
| `routes.py` | zones, zone Worker routes, custom domains, what `wrangler deploy` publishes |
| `durable_objects.py` | Durable Object namespaces; the migrations an upload applies |
| `previews.py` | a Worker's preview settings (`/workers/workers/{name}`) |

Adding an endpoint: put it in its area's router (or a new area mixin derived from
`EmulatorCore`, added to `CloudflareEmulator`'s bases below), record what diverges from the
real API as *emu* in the area's docstring, and test it in `tests/test_emulator.py`.

Fault injection: `fail_next(method, path_regex, kind, count=1)` where kind is an HTTP status
("500", "503", ...), "timeout" (the request is held for `hold_seconds`, released at once by
`stop()`, then the connection is closed without a response) or "malformed" (200 with a body
that is not JSON). Every request is recorded in `requests` (method, path, query, parsed body,
fault); `throttle_next(method, path_regex, count, retry_after=S)` answers 429 with
`Retry-After: S`. `after_next(method, path_regex, action)` runs `action()` right after the
next matching request was handled (tests act "at the moment of" an activation with it). The
Authorization header and secret values are never recorded.
"""

from __future__ import annotations

from helm_guard.emulator.core import (
    API_PREFIX,
    BAD_REQUEST_CODE,
    DEFAULT_ACCOUNT_ID,
    FAULT_KINDS_DOC,
    ROLLBACK_WINDOW_CODE,
    SECRETS_CHANGED_CODE,
    VERSION_NOT_FOUND_CODE,
    WORKER_NOT_FOUND_CODE,
    EmulatorError,
)
from helm_guard.emulator.d1 import D1Area
from helm_guard.emulator.durable_objects import DurableObjectsArea
from helm_guard.emulator.previews import PreviewsArea
from helm_guard.emulator.r2 import R2Area
from helm_guard.emulator.routes import RoutesArea
from helm_guard.emulator.workers import WorkersArea

__all__ = [
    "API_PREFIX",
    "BAD_REQUEST_CODE",
    "DEFAULT_ACCOUNT_ID",
    "FAULT_KINDS_DOC",
    "ROLLBACK_WINDOW_CODE",
    "SECRETS_CHANGED_CODE",
    "VERSION_NOT_FOUND_CODE",
    "WORKER_NOT_FOUND_CODE",
    "CloudflareEmulator",
    "EmulatorError",
]


class CloudflareEmulator(WorkersArea, D1Area, R2Area, RoutesArea, DurableObjectsArea,
                         PreviewsArea):
    """The whole emulator: every API area on one server and one lock."""

    def __enter__(self) -> CloudflareEmulator:
        self.start()
        return self
