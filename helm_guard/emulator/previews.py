"""The Workers (beta "Worker" resource) area of the emulator: a Worker's preview settings.

- `GET /accounts/{a}/workers/workers/{name}`: `{"id", "name", "created_on",
  "preview_defaults"}`; 404 + 10007 for an unknown Worker;
- `PATCH /accounts/{a}/workers/workers/{name}` `{"preview_defaults": {...}}`: replaces them
  (wrangler 4.86 sends the merged settings: `editWorkerPreviewDefaults`, cli.js l.284274).

`preview_defaults` is stored as given: `env` maps a binding name to `{type, ...}` (wrangler's
`extractConfigBindings`, cli.js l.284396: d1 `database_id`, r2 `bucket_name`, kv
`namespace_id`, service `service`, ...), plus `tail_consumers` `[{name}]`, `observability`,
`logpush`, `limits`, `placement`.

*emu*: the Worker is addressed by its script name only (the real resource also takes its id);
other fields of the real resource are not served.

Python helper: `set_preview_defaults(worker, defaults)`.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from helm_guard.emulator.core import (
    BAD_REQUEST_CODE,
    WORKER_NOT_FOUND_CODE,
    ApiError,
    EmulatorCore,
    Route,
    Router,
)


class PreviewsArea(EmulatorCore):
    """Per-Worker preview settings."""

    def _init_area(self) -> None:
        super()._init_area()
        self._preview_defaults: dict[str, dict[str, Any]] = {}

    def _account_routers(self) -> list[Router]:
        return [*super()._account_routers(), self._route_worker_resource]

    def set_preview_defaults(self, worker: str, defaults: dict[str, Any]) -> None:
        """Set `worker`'s preview settings (as `wrangler preview settings update` would)."""
        with self._lock:
            self._preview_defaults[worker] = copy.deepcopy(defaults)

    def _route_worker_resource(self, method: str, sub: str, query: dict[str, str], body: Any,
                               user_agent: str) -> Route | None:
        m = re.fullmatch(r"/workers/workers/([^/]+)", sub)
        if m is None or method not in ("GET", "PATCH"):
            return None
        name = m.group(1)
        scripts = getattr(self, "_scripts", {})
        if name not in scripts:
            raise ApiError(404, WORKER_NOT_FOUND_CODE, "This Worker does not exist on your "
                           "account.")
        if method == "PATCH":
            new = body.get("preview_defaults") if isinstance(body, dict) else None
            if not isinstance(new, dict):
                raise ApiError(400, BAD_REQUEST_CODE, "preview_defaults must be an object")
            self._preview_defaults[name] = copy.deepcopy(new)
        return 200, {"id": name, "name": name,
                     "created_on": getattr(scripts[name], "created_on", None),
                     "preview_defaults": copy.deepcopy(self._preview_defaults.get(name, {}))}, {}
