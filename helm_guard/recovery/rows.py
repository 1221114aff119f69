"""Reading `audit_events` through D1 in id order, one page at a time (bounded memory at
millions of rows: one page, never the table, is held). Read-only: SELECTs with `?` params."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from helm_guard.cloudflare import d1
from helm_guard.cloudflare.api import Client, CloudflareError
from helm_guard.recovery.settings import AuditSettings

Row = dict[str, Any]
DEFAULT_PAGE = 1000


def iter_rows(client: Client, database_id: str, s: AuditSettings, *, after_id: int | None = None,
              where: str = "", params: tuple[Any, ...] = (), page: int = DEFAULT_PAGE
              ) -> Iterator[Row]:
    """Every row (all columns) with id > `after_id`, in id order; `where` is an extra SQL
    condition built by helm-guard (never operator text), with its own `params`."""
    if not 1 <= page <= 10_000:
        raise ValueError("page must be 1..10000")
    table, ident = s.q(s.table), s.q(s.id)
    extra = f" AND ({where})" if where else ""
    last = after_id
    while True:
        cond = f"{ident} > ?" if last is not None else "1 = 1"
        args = ((last,) if last is not None else ()) + params
        sql = f"SELECT * FROM {table} WHERE {cond}{extra} ORDER BY {ident} LIMIT {int(page)}"
        try:
            rows = d1.query(client, database_id, sql, list(args)).rows
        except CloudflareError as exc:
            if "no such table" in exc.message or "no such column" in exc.message:
                raise CloudflareError(exc.message, status=exc.status, code=exc.code,
                                      hint="the fleet file's audit block names the table and "
                                      "columns (audit.table, audit.columns)") from None
            raise
        yield from rows
        if len(rows) < page:
            return
        last = rows[-1][s.id]


def predecessor(client: Client, database_id: str, s: AuditSettings, before_id: int) -> Row | None:
    """The row just before id `before_id` (its chain_hash is what `before_id` links to)."""
    sql = (f"SELECT * FROM {s.q(s.table)} WHERE {s.q(s.id)} < ? ORDER BY {s.q(s.id)} DESC "
           "LIMIT 1")
    rows = d1.query(client, database_id, sql, [before_id]).rows
    return rows[0] if rows else None


def month_of(value: Any) -> tuple[str, str] | None:
    """(yyyy, mm) of an `at` value: ISO 8601 text, or Unix seconds / milliseconds."""
    if isinstance(value, str) and len(value) >= 7 and value[:4].isdigit() and value[5:7].isdigit():
        return value[:4], value[5:7]
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value
        moment = datetime.fromtimestamp(seconds, UTC)
        return f"{moment.year:04d}", f"{moment.month:02d}"
    return None
