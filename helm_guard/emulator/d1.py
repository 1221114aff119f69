"""The D1 area of the emulator: databases (list, create, get) — what wrangler's provisioning
reads and creates.

| method | path | notes |
|---|---|---|
| GET/POST | /accounts/{a}/d1/database | list (with `result_info`), create by name |
| GET | /accounts/{a}/d1/database/{uuid} | 404 + 7404 for an unknown id |
"""

from __future__ import annotations

import copy
import re
import uuid
from typing import Any

from helm_guard.emulator.core import ApiError, EmulatorCore, Route, Router


class D1Area(EmulatorCore):
    """D1 databases by uuid."""

    def _init_area(self) -> None:
        super()._init_area()
        self._d1: dict[str, dict[str, Any]] = {}

    def _account_routers(self) -> list[Router]:
        return [*super()._account_routers(), self._route_d1]

    def add_d1_database(self, name: str) -> str:
        """Create D1 database `name`; returns its uuid."""
        with self._lock:
            db = {"uuid": str(uuid.uuid4()), "name": name, "created_at": self._now()}
            self._d1[db["uuid"]] = db
            return str(db["uuid"])

    def d1_databases(self) -> list[dict[str, Any]]:
        """D1 databases `{uuid, name, created_at}` (includes any wrangler auto-provisioned)."""
        with self._lock:
            return copy.deepcopy(list(self._d1.values()))

    def _route_d1(
        self, method: str, sub: str, query: dict[str, str], body: Any, user_agent: str
    ) -> Route | None:
        if not sub.startswith("/d1/"):
            return None
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
                raise ApiError(400, 7400, "database name is required")
            if any(db["name"] == name for db in self._d1.values()):
                raise ApiError(400, 7502, "A database with that name already exists")
            db_id = self.add_d1_database(name)
            return 200, copy.deepcopy(self._d1[db_id]), {}
        m = re.fullmatch(r"/d1/database/([^/]+)", sub)
        if m and method == "GET":
            if m.group(1) not in self._d1:
                raise ApiError(404, 7404, f"The database {m.group(1)} could not be found")
            return 200, copy.deepcopy(self._d1[m.group(1)]), {}
        raise ApiError(404, 7003, f"No route for {method} /accounts/.../{sub.lstrip('/')}")

        return None
