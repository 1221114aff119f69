"""The D1 area of the emulator: databases (list, create, get) and their data, each database an
in-memory `sqlite3` connection.

| method | path | notes |
|---|---|---|
| GET/POST | /accounts/{a}/d1/database | list (with `result_info`), create by name |
| GET | /accounts/{a}/d1/database/{uuid} | 404 + 7404 for an unknown id |
| POST | /accounts/{a}/d1/database/{uuid}/query | `{"sql", "params"}`; one result per statement |
| POST | /accounts/{a}/d1/database/{uuid}/export | `{"output_format": "polling", ...}` |
| GET | /accounts/{a}/d1/database/{uuid}/time_travel/bookmark | `?timestamp=` optional |
| POST | /accounts/{a}/d1/database/{uuid}/time_travel/restore | `?bookmark=` or `?timestamp=` |

Query answers the real API's shape: one `{"results": [row objects], "success": true,
"meta": {...}}` per statement; several statements joined by `;` run as one batch (all or
nothing, as D1 does). An SQL error answers HTTP 400 with code 7500 and SQLite's message.

*emu* divergences (query): `params` may be any JSON scalar (the OpenAPI spec types them as
strings; D1 binds numbers too) and bind to a single statement only; `meta` carries
`changed_db`, `changes`, `duration`, `last_row_id`, `rows_read` (rows returned, not pages
scanned), `rows_written`, `size_after`, `served_by_primary`; BLOBs come back as lists of byte
values (as D1 does); no `/raw` endpoint; no per-database size limits.

Time Travel: the database is snapshotted (`sqlite3` `serialize`) after every committed write,
so a bookmark or a timestamp restores exactly the data of that moment. A bookmark looks like
the real one (`00000085-0000024c-00004c6d-<32 hex>`: here sequence, 0, epoch seconds, digest
of the image); `GET .../bookmark?timestamp=T` answers the newest bookmark at or before T (400 +
7500 if T is before the database existed); restore answers `{"bookmark", "previous_bookmark",
"message"}` and is itself a write (it gets a new bookmark, so a restore can be undone with
`previous_bookmark`). *emu*: at most `D1_HISTORY` snapshots per database are kept (the real
retention is 30 days); timestamps may be ISO 8601 or Unix seconds.

Export: the real API is a polling task (`status` absent while running, then `complete` with
`result.signed_url`, an R2 presigned URL valid for an hour). *emu*: the first call already
answers `complete`; polling with `current_bookmark` answers the same; `signed_url` is an
emulator URL served without credentials (`EmulatorCore.presign`); `dump_options` `no_data`,
`no_schema` and `tables` are honoured. The SQL is D1's export format: `PRAGMA
defer_foreign_keys=TRUE;`, then each table's `CREATE TABLE` and `INSERT INTO` rows, then
indexes, triggers and views (no `BEGIN`/`COMMIT`). No import endpoint (helm-guard restores a
SQL backup through `query`, see `helm_guard.recovery.restore`).
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import re
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from typing import Any, NamedTuple

from helm_guard.emulator.core import ApiError, EmulatorCore, EmulatorError, Route, Router

#: Real API code for a D1 SQL error (`D1_ERROR`); the HTTP status is 400.
D1_SQL_ERROR_CODE = 7500
D1_NOT_FOUND_CODE = 7404
#: Snapshots kept per database (the real Time Travel keeps 30 days).
D1_HISTORY = 2000


class _Snapshot(NamedTuple):
    at: datetime
    bookmark: str
    image: bytes


class D1Area(EmulatorCore):
    """D1 databases by uuid, each with an in-memory sqlite3 database."""

    def _init_area(self) -> None:
        super()._init_area()
        self._d1: dict[str, dict[str, Any]] = {}
        self._d1_conn: dict[str, sqlite3.Connection] = {}
        self._d1_history: dict[str, list[_Snapshot]] = {}
        self._d1_bookmarks = 0

    def _account_routers(self) -> list[Router]:
        return [*super()._account_routers(), self._route_d1]

    # ------------------------------------------------------------------ python helpers
    def add_d1_database(self, name: str, database_id: str | None = None) -> str:
        """Create D1 database `name` (empty), with `database_id` or a new uuid; returns it."""
        with self._lock:
            db_id = database_id or str(uuid.uuid4())
            if db_id in self._d1:
                raise EmulatorError(f"D1 database {db_id} already exists")
            db = {"uuid": db_id, "name": name, "created_at": self._now()}
            self._d1[db["uuid"]] = db
            self._d1_conn[db["uuid"]] = _connect()
            self._d1_history[db["uuid"]] = []
            self._d1_written(db["uuid"])
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
            before = conn.total_changes
            if params or not _several(sql):
                cur = conn.execute(sql, params)
                rows = _rows(cur)
            else:
                conn.executescript(sql)
                rows = []
            conn.commit()
            if conn.total_changes != before or not _reads(sql):
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

    def d1_dump(self, database_id: str) -> str:
        """The database as D1 export SQL (what `export` serves), e.g. to seed a backup."""
        with self._lock:
            return dump(self._d1_connection(database_id))

    def d1_bookmark(self, database_id: str) -> str:
        """The database's current Time Travel bookmark."""
        with self._lock:
            return self._d1_history[database_id][-1].bookmark

    def _d1_written(self, database_id: str) -> None:
        """After every committed write: a Time Travel snapshot with a new bookmark."""
        try:
            image = self._d1_conn[database_id].serialize()
        except sqlite3.OperationalError:  # a database with no page yet (never written)
            image = b""
        at = datetime.strptime(self._now(), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        self._d1_bookmarks += 1
        digest = hashlib.sha256(image).hexdigest()[:32]
        bookmark = f"{self._d1_bookmarks:08x}-00000000-{int(at.timestamp()):08x}-{digest}"
        history = self._d1_history[database_id]
        history.append(_Snapshot(at, bookmark, image))
        if len(history) > D1_HISTORY:
            del history[0]

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
        """Export and Time Travel."""
        history = self._d1_history[db_id]
        if rest == "/time_travel/bookmark" and method == "GET":
            snap = self._d1_point(db_id, None, query.get("timestamp"))
            return 200, {"bookmark": snap.bookmark}, {}
        if rest == "/time_travel/restore" and method == "POST":
            snap = self._d1_point(db_id, query.get("bookmark"), query.get("timestamp"),
                                  need=True)
            previous = history[-1].bookmark
            conn = _connect()
            if snap.image:
                conn.deserialize(snap.image)
                conn.execute("PRAGMA foreign_keys = ON")
            self._d1_conn[db_id].close()
            self._d1_conn[db_id] = conn
            self._d1_written(db_id)
            return 200, {
                "bookmark": history[-1].bookmark,
                "previous_bookmark": previous,
                "message": f"Database restored to bookmark {snap.bookmark}",
            }, {}
        if rest == "/export" and method == "POST":
            return 200, self._d1_export(db_id, body), {}
        return None

    def _d1_point(self, db_id: str, bookmark: str | None, timestamp: str | None,
                  need: bool = False) -> _Snapshot:
        history = self._d1_history[db_id]
        if bookmark:
            for snap in history:
                if snap.bookmark == bookmark:
                    return snap
            raise ApiError(400, D1_SQL_ERROR_CODE, f"Invalid bookmark: {bookmark}")
        if timestamp:
            at = _parse_time(timestamp)
            i = bisect.bisect_right([s.at for s in history], at)
            if i == 0:
                raise ApiError(400, D1_SQL_ERROR_CODE,
                               f"No bookmark at or before {timestamp}: out of the retention")
            return history[i - 1]
        if need:
            raise ApiError(400, 7400, "A bookmark or a timestamp is required")
        return history[-1]

    def _d1_export(self, db_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("output_format") != "polling":
            raise ApiError(400, 7400, "output_format must be 'polling'")
        opts = body.get("dump_options") or {}
        if not isinstance(opts, dict):
            raise ApiError(400, 7400, "dump_options must be an object")
        tables = opts.get("tables") or []
        if not isinstance(tables, list) or not all(isinstance(t, str) for t in tables):
            raise ApiError(400, 7400, "dump_options.tables must be a list of names")
        at = body.get("current_bookmark") or self._d1_history[db_id][-1].bookmark
        sql = dump(self._d1_conn[db_id], tables=tables, data=not opts.get("no_data"),
                   schema=not opts.get("no_schema"))
        name = f"{self._d1[db_id]['name']}-{at}.sql"
        return {
            "success": True,
            "type": "export",
            "at_bookmark": at,
            "status": "complete",
            "messages": [f"Exported {len(sql)} bytes"],
            "result": {"filename": name,
                       "signed_url": self.presign(sql.encode(), "application/sql")},
        }

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


def _reads(sql: str) -> bool:
    """Whether a statement only reads (its kind, by its first word)."""
    return sql.lstrip().upper().startswith(("SELECT", "WITH", "PRAGMA", "EXPLAIN", "VALUES"))


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
    is_write = changes > 0 or not _reads(stmt)
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


def _parse_time(text: str) -> datetime:
    try:
        if re.fullmatch(r"\d{9,11}(\.\d+)?", text):
            return datetime.fromtimestamp(float(text), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, 7400, f"Invalid timestamp: {text}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def dump(conn: sqlite3.Connection, *, tables: list[str] | None = None, data: bool = True,
         schema: bool = True) -> str:
    """The database as D1 export SQL (see the module docstring)."""
    objects = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL "
        "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY rowid").fetchall()
    wanted = set(tables or [])
    lines = ["PRAGMA defer_foreign_keys=TRUE;"]
    for kind, name, _tbl, sql in objects:
        if kind != "table" or (wanted and name not in wanted):
            continue
        if schema:
            lines.append(f"{sql};")
        if data:
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({_ident(name)})")]
            values = "||','||".join(f"quote({_ident(c)})" for c in cols) or "''"
            for (row,) in conn.execute(f"SELECT {values} FROM {_ident(name)} ORDER BY rowid"):
                lines.append(f"INSERT INTO {_ident(name)} VALUES({row});")
    if schema:
        lines += [f"{sql};" for kind, _n, tbl, sql in objects
                  if kind != "table" and (not wanted or tbl in wanted)]
    return "\n".join(lines) + "\n"
