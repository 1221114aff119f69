"""D1 through the Cloudflare API (`Client`): parameterised queries, export, Time Travel.

Every function takes the database's **registry id** (`database_id` from the fleet registry),
never a binding name resolved from a config (that is what a swap corrupts). Ids are validated
before use; SQL values always travel as `params`, never formatted into the SQL text.

Endpoints (the API's own, as the official SDK's `d1.database.*` calls them):
`POST .../d1/database/{id}/query` (`{"sql", "params"}` -> one result per statement),
`POST .../export` (polling task, then a presigned download), `GET .../time_travel/bookmark
[?timestamp=]`, `POST .../time_travel/restore?bookmark=|timestamp=` (answers
`previous_bookmark`, the undo point).

Not used: the import API (`POST .../import`: init, upload to a presigned URL, ingest, poll),
which is what wrangler 4.86's `d1 execute --remote --file` calls (`executeRemotely`,
l.184681 of wrangler 4.86.0's wrangler-dist/cli.js, posts `import` with `action: "init"` at
l.184728; there is no `d1 import` command). Import *adds* SQL to the database; a
restore from a SQL backup must *replace* the data, so `helm_guard.recovery.restore` drops the
shop's tables and runs the backup's statements through `query` in batches (with the Time
Travel bookmark taken first as the undo point).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from helm_guard.cloudflare.api import Client, CloudflareError
from helm_guard.fleet import UUID_RE

#: A value bound to a `?` placeholder. The OpenAPI spec types params as strings; D1 also binds
#: numbers and null, which helm-guard uses for ids and limits.
Param = str | int | float | None
#: A Time Travel bookmark: hex groups joined by dashes (`00000085-0000024c-00004c6d-8e61...`).
BOOKMARK_RE = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{8}){2}-[0-9a-f]{32}")


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


# ---------------------------------------------------------------------- Time Travel
def bookmark(client: Client, database_id: str, timestamp: str | None = None) -> str:
    """The current bookmark, or the newest at or before `timestamp` (ISO 8601)."""
    path = client.account_path("d1", "database", check_database_id(database_id),
                               "time_travel", "bookmark")
    result = client.get(path, {"timestamp": timestamp} if timestamp else None)
    mark = result.get("bookmark") if isinstance(result, dict) else None
    if not isinstance(mark, str) or not BOOKMARK_RE.fullmatch(mark):
        raise CloudflareError(f"D1 {database_id}: the API gave no usable bookmark")
    return mark


class Restored(NamedTuple):
    bookmark: str  # the state after the restore
    previous_bookmark: str  # the state before: restore to it to undo
    message: str


def restore(client: Client, database_id: str, *, bookmark: str | None = None,
            timestamp: str | None = None) -> Restored:
    """Time Travel restore to a bookmark or a timestamp (exactly one). This REPLACES the data."""
    if (bookmark is None) == (timestamp is None):
        raise CloudflareError("restore needs exactly one of bookmark and timestamp")
    if bookmark is not None and not BOOKMARK_RE.fullmatch(bookmark):
        raise CloudflareError(f"not a D1 bookmark: {bookmark!r}")
    path = client.account_path("d1", "database", check_database_id(database_id),
                               "time_travel", "restore")
    params = {"bookmark": bookmark} if bookmark is not None else {"timestamp": timestamp}
    result = client.post(path, None, params)
    if not isinstance(result, dict) or not isinstance(result.get("previous_bookmark"), str):
        raise CloudflareError(f"D1 {database_id}: restore answered without previous_bookmark",
                              hint="check the database's current bookmark before retrying")
    return Restored(str(result.get("bookmark") or ""), result["previous_bookmark"],
                    str(result.get("message") or ""))


# ---------------------------------------------------------------------- export
def export(client: Client, database_id: str, *, tables: Sequence[str] = (),
           poll_seconds: float = 1.0, max_polls: int = 600) -> tuple[str, bytes]:
    """The database as SQL: (the bookmark it was taken at, the SQL bytes). Polls the export
    task (an un-polled export is cancelled by D1), then downloads the signed URL (a presigned
    R2 URL: fetched without our token)."""
    import time

    import httpx

    path = client.account_path("d1", "database", check_database_id(database_id), "export")
    body: dict[str, Any] = {"output_format": "polling"}
    if tables:
        body["dump_options"] = {"tables": list(tables)}
    for _ in range(max_polls):
        result = client.post(path, body)
        if not isinstance(result, dict):
            raise CloudflareError(f"D1 export of {database_id}: unexpected answer shape")
        if result.get("status") == "error":
            raise CloudflareError(f"D1 export of {database_id}: {result.get('error')}")
        at = result.get("at_bookmark")
        if isinstance(at, str):
            body["current_bookmark"] = at
        done = result.get("result") if result.get("status") == "complete" else None
        if isinstance(done, dict) and isinstance(done.get("signed_url"), str):
            url = done["signed_url"]
            if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
                raise CloudflareError(f"D1 export of {database_id}: refusing URL {url!r}")
            try:
                resp = httpx.get(url, timeout=120.0)  # no Authorization header
            except httpx.HTTPError as exc:
                raise CloudflareError(f"D1 export of {database_id}: download failed ({exc})") \
                    from None
            if resp.status_code != 200:
                raise CloudflareError(f"D1 export of {database_id}: download answered "
                                      f"HTTP {resp.status_code}")
            return str(at or ""), resp.content
        time.sleep(poll_seconds)
    raise CloudflareError(f"D1 export of {database_id}: not complete after {max_polls} polls")
