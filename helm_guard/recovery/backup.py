"""SQL backups (`backups/db/*.sql` in the shop's bucket): listing, checking and applying.

The documented procedure for a SQL backup (used by `helm-guard restore --backup KEY`), which
REPLACES the data, unlike D1's import API (`wrangler d1 execute --file`), which only adds:

1. the backup is downloaded and loaded into a private in-memory SQLite database first: it must
   run cleanly, and its row count per table is what the restored database must have;
2. (the Time Travel bookmark of the database is already recorded as the undo point);
3. every table and view of the database is dropped in one batch (`PRAGMA
   defer_foreign_keys=TRUE` first; indexes and triggers go with their tables; SQLite's and
   D1's internal `sqlite_*`/`_cf_*` objects are never touched);
4. the backup's statements run through the D1 query API in batches (at most `BATCH_BYTES` of
   SQL or `BATCH_STATEMENTS` statements each, each batch atomic, `PRAGMA
   defer_foreign_keys=TRUE` first); `BEGIN`/`COMMIT`/`ROLLBACK` lines of a `sqlite3 .dump`
   are left out (D1 refuses them);
5. the row counts per table must equal step 1's, and the audit chain is verified.
A failure in 3-4 leaves a partial database: re-running the same command converges (it drops
and reloads again); `helm-guard restore --shop SLUG --bookmark <undo>` puts the data back.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from helm_guard.cloudflare import d1
from helm_guard.cloudflare.api import Client

BATCH_BYTES = 90_000  # D1 refuses a statement over 100 KB
BATCH_STATEMENTS = 500
_TX = re.compile(r"(BEGIN(\s+(DEFERRED|IMMEDIATE|EXCLUSIVE))?(\s+TRANSACTION)?|COMMIT|END"
                 r"(\s+TRANSACTION)?|ROLLBACK)\s*;?", re.IGNORECASE)
LIST_TABLES = ("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') "
               "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' "
               "ESCAPE '\\' ORDER BY name")


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def statements(sql: str) -> Iterator[str]:
    """The complete statements of `sql` (quotes and comments respected), without
    transaction control."""
    buf = ""
    for piece in sql.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            stmt = buf.strip()
            buf = ""
            body = "\n".join(line for line in stmt.splitlines()
                             if not line.strip().startswith("--")).strip()
            if body.strip(";").strip() and not _TX.fullmatch(body):
                yield stmt
    if buf.strip(" \t\r\n;"):
        raise ValueError("the SQL ends in an incomplete statement")


def batches(stmts: Sequence[str]) -> list[str]:
    out: list[str] = []
    cur: list[str] = []
    size = 0
    for st in stmts:
        if len(st.encode()) > BATCH_BYTES:
            raise ValueError(f"a statement is larger than {BATCH_BYTES} bytes (D1's limit)")
        if cur and (size + len(st) > BATCH_BYTES or len(cur) >= BATCH_STATEMENTS):
            out.append("\n".join(cur))
            cur, size = [], 0
        cur.append(st)
        size += len(st) + 1
    if cur:
        out.append("\n".join(cur))
    return ["PRAGMA defer_foreign_keys=TRUE;\n" + b for b in out]


def dry_load(sql: str) -> tuple[list[str], dict[str, int]]:
    """Load the backup into a private in-memory database: (its statements, rows per table).
    ValueError says why it cannot be restored."""
    stmts = list(statements(sql))
    if not stmts:
        raise ValueError("the backup holds no SQL statement")
    conn = sqlite3.connect(":memory:")
    try:
        for st in stmts:
            try:
                conn.execute(st)
            except sqlite3.Error as exc:
                raise ValueError(f"the backup does not load: {exc} in {st[:80]!r}") from None
        conn.commit()
        counts = {}
        for kind, name in conn.execute(LIST_TABLES).fetchall():
            if kind == "table":
                counts[name] = conn.execute(f"SELECT count(*) FROM {ident(name)}").fetchone()[0]
        return stmts, counts
    finally:
        conn.close()


def objects(client: Client, database_id: str) -> list[tuple[str, str]]:
    """(type, name) of the database's own tables and views."""
    rows = d1.query(client, database_id, LIST_TABLES).rows
    return [(str(r["type"]), str(r["name"])) for r in rows]


def row_counts(client: Client, database_id: str) -> dict[str, int]:
    """Rows per table (one statement)."""
    tables = [n for t, n in objects(client, database_id) if t == "table"]
    if not tables:
        return {}
    sql = " UNION ALL ".join(f"SELECT ? AS t, count(*) AS n FROM {ident(n)}" for n in tables)
    rows = d1.query(client, database_id, sql, tables).rows
    return {str(r["t"]): int(r["n"]) for r in rows}


def replace_with(client: Client, database_id: str, stmts: Sequence[str],
                 progress: Any = None) -> int:
    """Steps 3-4 of the procedure; returns the number of batches. Raises CloudflareError
    from the batch that failed (the message says which)."""
    from helm_guard.cloudflare.api import CloudflareError

    drops = [f"DROP {'VIEW' if t == 'view' else 'TABLE'} IF EXISTS {ident(n)};"
             for t, n in sorted(objects(client, database_id), key=lambda o: o[0] != "view")]
    if drops:
        d1.query_all(client, database_id, "PRAGMA defer_foreign_keys=TRUE;\n" + "\n".join(drops))
    parts = batches(stmts)
    for i, batch in enumerate(parts, 1):
        try:
            d1.query_all(client, database_id, batch)
        except CloudflareError as exc:
            raise CloudflareError(f"batch {i}/{len(parts)} of the backup failed: {exc}",
                                  status=exc.status, code=exc.code) from None
        if progress is not None:
            progress(i, len(parts))
    return len(parts)
