"""D1 through the Cloudflare API (`Client`): parameterised queries, export, Time Travel.

Every function takes the database's **registry id** (`database_id` from the fleet registry),
never a binding name resolved from a config (that is what a swap corrupts). Ids are validated
before use; SQL values always travel as `params`, never formatted into the SQL text.

Endpoints (the API's own, as the official SDK's `d1.database.*` calls them):
`POST .../d1/database/{id}/query` (`{"sql", "params"}` -> one result per statement).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from helm_guard.cloudflare.api import Client, CloudflareError
from helm_guard.fleet import UUID_RE

#: A value bound to a `?` placeholder. The OpenAPI spec types params as strings; D1 also binds
#: numbers and null, which helm-guard uses for ids and limits.
Param = str | int | float | None


class QueryResult(NamedTuple):
    """One statement's answer: its rows (column -> value) and D1's `meta` block."""

    rows: list[dict[str, Any]]
    meta: dict[str, Any]


def check_database_id(database_id: str) -> str:
    """`database_id` if it is a D1 uuid; else CloudflareError (never sent anywhere)."""
    if not isinstance(database_id, str) or not UUID_RE.match(database_id):
        raise CloudflareError(f"not a D1 database id: {database_id!r}",
                              hint="use the database_id from the fleet registry")
    return database_id


def database(client: Client, database_id: str) -> dict[str, Any]:
    """The database's details (`uuid`, `name`, ...) by id."""
    result = client.get(client.account_path("d1", "database", check_database_id(database_id)))
    if not isinstance(result, dict):
        raise CloudflareError(f"D1 database {database_id}: unexpected answer shape")
    return result


def query_all(client: Client, database_id: str, sql: str,
              params: Sequence[Param] = ()) -> list[QueryResult]:
    """Run `sql` (one statement with `params`, or several joined by `;` without params, as
    one batch); one QueryResult per statement."""
    body: dict[str, Any] = {"sql": sql}
    if params:
        body["params"] = list(params)
    path = client.account_path("d1", "database", check_database_id(database_id), "query")
    result = client.post(path, body)
    if not isinstance(result, list):
        raise CloudflareError(f"D1 query on {database_id}: expected a list of results")
    out: list[QueryResult] = []
    for item in result:
        if not isinstance(item, dict) or item.get("success") is not True:
            raise CloudflareError(f"D1 query on {database_id}: a statement did not succeed")
        rows = item.get("results") or []
        meta = item.get("meta") or {}
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise CloudflareError(f"D1 query on {database_id}: results are not row objects")
        out.append(QueryResult(rows, meta if isinstance(meta, dict) else {}))
    return out


def query(client: Client, database_id: str, sql: str,
          params: Sequence[Param] = ()) -> QueryResult:
    """Run one statement with its `params` bound to `?` placeholders; its rows and meta."""
    results = query_all(client, database_id, sql, params)
    if len(results) != 1:
        raise CloudflareError(f"D1 query on {database_id}: expected one statement's result, "
                              f"got {len(results)}", hint="use query_all for a batch")
    return results[0]
