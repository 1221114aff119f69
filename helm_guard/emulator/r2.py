"""The R2 area of the emulator: buckets (list, create, get) — what wrangler's provisioning
reads and creates.

| method | path | notes |
|---|---|---|
| GET/POST | /accounts/{a}/r2/buckets | list, create by name (409 + 10004 if it exists) |
| GET | /accounts/{a}/r2/buckets/{name} | 404 + 10006 for an unknown bucket |
"""

from __future__ import annotations

import copy
import re
from typing import Any

from helm_guard.emulator.core import ApiError, EmulatorCore, Route, Router


class R2Area(EmulatorCore):
    """R2 buckets by name."""

    def _init_area(self) -> None:
        super()._init_area()
        self._r2: dict[str, dict[str, Any]] = {}

    def _account_routers(self) -> list[Router]:
        return [*super()._account_routers(), self._route_r2]

    def add_r2_bucket(self, name: str) -> None:
        """Create R2 bucket `name` (idempotent)."""
        with self._lock:
            self._r2.setdefault(name, {"name": name, "creation_date": self._now()})

    def r2_buckets(self) -> list[str]:
        """Names of the R2 buckets, sorted (includes any wrangler auto-provisioned)."""
        with self._lock:
            return sorted(self._r2)

    def _route_r2(
        self, method: str, sub: str, query: dict[str, str], body: Any, user_agent: str
    ) -> Route | None:
        if not sub.startswith("/r2/"):
            return None
        if sub == "/r2/buckets" and method == "GET":
            return 200, {"buckets": copy.deepcopy(list(self._r2.values()))}, {}
        if sub == "/r2/buckets" and method == "POST":
            name = body.get("name") if isinstance(body, dict) else None
            if not isinstance(name, str) or not name:
                raise ApiError(400, 10005, "bucket name is required")
            if name in self._r2:
                raise ApiError(
                    409, 10004, "The bucket you tried to create already exists, and you own it."
                )
            self.add_r2_bucket(name)
            return 200, copy.deepcopy(self._r2[name]), {}
        m = re.fullmatch(r"/r2/buckets/([^/]+)", sub)
        if m and method == "GET":
            if m.group(1) not in self._r2:
                raise ApiError(404, 10006, "The specified bucket does not exist.")
            return 200, copy.deepcopy(self._r2[m.group(1)]), {}
        return None
