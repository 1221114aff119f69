"""The D1 area of the emulator: databases (list, create, get) and their data, each database an
in-memory `sqlite3` connection.

| method | path | notes |
|---|---|---|
| GET/POST | /accounts/{a}/d1/database | list (with `result_info`), create by name |
| GET | /accounts/{a}/d1/database/{uuid} | 404 + 7404 for an unknown id |
| POST | /accounts/{a}/d1/database/{uuid}/query | `{"sql", "params"}`; one result per statement |

Query answers the real API's shape: one `{"results": [row objects], "success": true,
"meta": {...}}` per statement; several statements joined by `;` run as one batch (all or
nothing, as D1 does). An SQL error answers HTTP 400 with code 7500 and SQLite's message.

*emu* divergences (query): `params` may be any JSON scalar (the OpenAPI spec types them as
strings; D1 binds numbers too) and bind to a single statement only; `meta` carries
`changed_db`, `changes`, `duration`, `last_row_id`, `rows_read` (rows returned, not pages
scanned), `rows_written`, `size_after`, `served_by_primary`; BLOBs come back as lists of byte
values (as D1 does); no `/raw` endpoint; no per-database size limits.
"""

from __future__ import annotations

import copy
import re
import sqlite3
import time
import uuid
from typing import Any

from helm_guard.emulator.core import ApiError, EmulatorCore, Route, Router

#: Real API code for a D1 SQL error (`D1_ERROR`); the HTTP status is 400.
D1_SQL_ERROR_CODE = 7500
D1_NOT_FOUND_CODE = 7404


class D1Area(EmulatorCore):
    """D1 databases by uuid, each with an in-memory sqlite3 database."""

    def _init_area(self) -> None:
        super()._init_area()
        self._d1: dict[str, dict[str, Any]] = {}
        self._d1_conn: dict[str, sqlite3.Connection] = {}

    def _account_routers(self) -> list[Router]:
        return [*super()._account_routers(), self._route_d1]

    # ------------------------------------------------------------------ python helpers
    def add_d1_database(self, name: str) -> str:
        """Create D1 database `name` (empty); returns its uuid."""
        with self._lock:
            db = {"uuid": str(uuid.uuid4()), "name": name, "created_at": self._now()}
            self._d1[db["uuid"]] = db
            self._d1_conn[db["uuid"]] = _connect()
            return str(db["uuid"])

    def d1_databases(self) -> list[dict[str, Any]]:
        """D1 databases `{uuid, name, created_at}` (includes any wrangler auto-provisioned)."""
        with self._lock:
            return copy.deepcopy(list(self._d1.values()))

    def d1_execute(self, database_id: str, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        """Run one statement (or, without params, a script) directly on a database, as a
        seeding shortcut that is not recorded as a request; returns the rows as dicts."""
        with self._lock:
            conn = self._d1_connection(database_id)
            if params or not _several(sql):
                cur = conn.execute(sql, params)
                rows = _rows(cur)
            else:
                conn.executescript(sql)
                rows = []
            conn.commit()
            self._d1_written(database_id)
            return rows

    def d1_executemany(self, database_id: str, sql: str, rows: Any) -> None:
        """Seed many rows with one statement (`executemany`), one write."""
        with self._lock:
            conn = self._d1_connection(database_id)
            conn.executemany(sql, rows)
            conn.commit()
            self._d1_written(database_id)

    def _d1_connection(self, database_id: str) -> sqlite3.Connection:
        conn = self._d1_conn.get(database_id)
        if conn is None:
            raise ApiError(404, D1_NOT_FOUND_CODE, f"The database {database_id} could not be found")
        return conn

    def _d1_written(self, database_id: str) -> None:
        """Hook after every committed write (Time Travel snapshots extend it)."""

    # ------------------------------------------------------------------ routes
    def _route_d1(
        self, method: str, sub: str, query: dict[str, str], body: Any, user_agent: str
    ) -> Route | None:
        if not sub.startswith("/d1/"):
            return None
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
                raise ApiError(400, 7400, "database name is required")
            if any(db["name"] == name for db in self._d1.values()):
                raise ApiError(400, 7502, "A database with that name already exists")
            db_id = self.add_d1_database(name)
            return 200, copy.deepcopy(self._d1[db_id]), {}
        m = re.fullmatch(r"/d1/database/([^/]+)(/.*)?", sub)
        if m is None:
            return None
        db_id, rest = m.group(1), m.group(2) or ""
        if db_id not in self._d1:
            raise ApiError(404, D1_NOT_FOUND_CODE, f"The database {db_id} could not be found")
        if rest == "" and method == "GET":
            return 200, copy.deepcopy(self._d1[db_id]), {}
        if rest == "/query" and method == "POST":
            return 200, self._d1_query(db_id, body), {}
        return self._route_d1_more(method, db_id, rest, query, body)

    def _route_d1_more(
        self, method: str, db_id: str, rest: str, query: dict[str, str], body: Any
    ) -> Route | None:
        """Further per-database endpoints (export, Time Travel) hook in here."""
        return None

    def _d1_query(self, db_id: str, body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("sql"), str):
            raise ApiError(400, 7400, "A request body with a string `sql` is required")
        sql: str = body["sql"]
        params = body.get("params", [])
        if params is None:
            params = []
        if not isinstance(params, list) or not all(
            p is None or isinstance(p, str | int | float) for p in params
        ):
            raise ApiError(400, 7400, "`params` must be a list of scalars")
        statements = [sql] if params else _split(sql)
        if not statements:
            raise ApiError(400, D1_SQL_ERROR_CODE, "No SQL statements detected.")
        conn = self._d1_connection(db_id)
        before = conn.total_changes
        answers: list[dict[str, Any]] = []
        try:
            conn.execute("BEGIN")
            for stmt in statements:
                answers.append(_run(conn, stmt, params))
            conn.commit()
        except (sqlite3.Error, ValueError) as exc:
            conn.rollback()
            raise ApiError(400, D1_SQL_ERROR_CODE, f"{exc}: SQLITE_ERROR") from None
        if conn.total_changes != before or any(a["meta"]["changed_db"] for a in answers):
            self._d1_written(db_id)
        return answers


def _connect() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _several(sql: str) -> bool:
    return len(_split(sql)) > 1


def _split(sql: str) -> list[str]:
    """Split a script into complete statements (string literals and comments respected)."""
    out: list[str] = []
    buf = ""
    for piece in sql.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \t\r\n;"):
                out.append(buf.strip())
            buf = ""
    if buf.strip(" \t\r\n;"):
        out.append(buf.strip().rstrip(";"))
    return out


def _value(v: Any) -> Any:
    return list(v) if isinstance(v, bytes | memoryview) else v


def _rows(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    if cur.description is None:
        return []
    names = [d[0] for d in cur.description]
    return [{n: _value(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]


def _run(conn: sqlite3.Connection, stmt: str, params: list[Any]) -> dict[str, Any]:
    start = time.perf_counter()
    before = conn.total_changes
    cur = conn.execute(stmt, params)
    rows = _rows(cur)
    changes = conn.total_changes - before
    duration = (time.perf_counter() - start) * 1000
    page_count = conn.execute("PRAGMA page_count").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    is_write = changes > 0 or not stmt.lstrip().upper().startswith(("SELECT", "WITH", "PRAGMA",
                                                                        "EXPLAIN", "VALUES"))
    return {
        "results": rows,
        "success": True,
        "meta": {
            "served_by_primary": True,
            "duration": duration,
            "changes": changes,
            "last_row_id": cur.lastrowid or 0,
            "changed_db": is_write,
            "size_after": page_count * page_size,
            "rows_read": len(rows),
            "rows_written": changes,
            "timings": {"sql_duration_ms": duration},
        },
    }
