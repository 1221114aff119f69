"""R2 objects through the Cloudflare API (`Client`): list with a prefix, get, put.

Every function takes the bucket's **name from the fleet's naming template** (the registry's
identity), never a binding resolved from a config. Bucket names and keys are validated before
use.

All three go through the official SDK's REST endpoints (`r2.buckets.objects.list/get/upload`,
`GET|PUT /accounts/{a}/r2/buckets/{b}/objects[/{key}]`), so no wrangler is needed:
- list: wrangler 4.86 has no `r2 object list` (only get/put/delete; workers-sdk issue #13008
  asks for it and names this REST endpoint as the workaround); the REST list is cursor-paged
  (`result_info.cursor`, `is_truncated`).
- get/put: the same endpoints wrangler 4.86's `r2 object get <bucket>/<key>` and `r2 object put`
  call (`getR2Object` l.292817 / `putRemoteObject` l.292846 of wrangler 4.86.0's
  wrangler-dist/cli.js); the SDK sends the bytes as
  `application/octet-stream` and answers the raw body. wrangler would add a process per object
  and a temporary file; nothing here needs it.
Object bodies are not JSON, so get/put use the SDK's typed calls (same rate limiter, request
count and error mapping as `Client.envelope`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeVar

from helm_guard.cloudflare import api
from helm_guard.cloudflare.api import Client, CloudflareError

BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
MAX_KEY_BYTES = 1024
T = TypeVar("T")


class ObjectInfo(NamedTuple):
    key: str
    size: int
    etag: str
    last_modified: str


def check_bucket(bucket: str) -> str:
    if not isinstance(bucket, str) or not BUCKET_RE.fullmatch(bucket):
        raise CloudflareError(f"not an R2 bucket name: {bucket!r}",
                              hint="use the bucket the fleet's naming template gives the shop")
    return bucket


def check_key(key: str) -> str:
    if (not isinstance(key, str) or not key or len(key.encode()) > MAX_KEY_BYTES
            or any(ord(c) < 32 or c == "\x7f" for c in key) or key.startswith("/")
            or ".." in key.split("/")):
        raise CloudflareError(f"not a safe R2 object key: {key!r}")
    return key


def list_objects(client: Client, bucket: str, prefix: str = "", *,
                 per_page: int = 1000, max_pages: int = 100_000) -> Iterator[ObjectInfo]:
    """Every object under `prefix`, in key order, one page at a time (a cursor that does not
    advance, or more than `max_pages` pages, is an error, never a silent cut)."""
    path = client.account_path("r2", "buckets", check_bucket(bucket), "objects")
    cursor = ""
    for _ in range(max_pages):
        params: dict[str, Any] = {"per_page": per_page}
        if prefix:
            params["prefix"] = prefix
        if cursor:
            params["cursor"] = cursor
        answer = client.envelope("GET", path, params=params)
        items = answer.get("result") or []
        if not isinstance(items, list):
            raise CloudflareError(f"R2 list of {bucket}: expected a list")
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                yield ObjectInfo(item["key"], int(item.get("size") or 0),
                                 str(item.get("etag") or ""), str(item.get("last_modified") or ""))
        info = answer.get("result_info") or {}
        nxt = info.get("cursor") if isinstance(info, dict) else None
        if not nxt or (isinstance(info, dict) and info.get("is_truncated") is False):
            return
        if nxt == cursor:
            raise CloudflareError(f"R2 list of {bucket}: the cursor did not advance")
        cursor = str(nxt)
    raise CloudflareError(f"R2 list of {bucket}: more than {max_pages} pages")


def get_object(client: Client, bucket: str, key: str) -> bytes | None:
    """The object's bytes, or None when the key does not exist."""
    check_bucket(bucket)
    check_key(key)
    objects = client._client.r2.buckets.objects
    try:
        answer = _call(client, f"GET r2://{bucket}/{key}", lambda: objects.get(
            key, account_id=client.account_id, bucket_name=bucket))
    except CloudflareError as exc:
        if exc.status == 404 and exc.code != 10006:
            return None
        raise
    return bytes(answer.read())


def put_object(client: Client, bucket: str, key: str, data: bytes) -> dict[str, Any]:
    """Store `data` at `key`; the API's answer (`key`, `size`, `etag`, ...)."""
    check_bucket(bucket)
    check_key(key)
    objects = client._client.r2.buckets.objects
    answer = _call(client, f"PUT r2://{bucket}/{key}", lambda: objects.upload(
        key, data, account_id=client.account_id, bucket_name=bucket))
    return {k: getattr(answer, k, None) for k in ("key", "size", "etag", "version")}


def _call(client: Client, what: str, call: Callable[[], T]) -> T:
    sdk = client._sdk
    client.limiter.acquire()
    client.requests += 1
    try:
        return call()
    except sdk.APIStatusError as exc:
        raise api._status_error(what.split()[0], what.split(maxsplit=1)[1], exc) from None
    except sdk.APITimeoutError:
        raise CloudflareError(f"{what}: no answer before the timeout") from None
    except sdk.APIConnectionError as exc:
        raise CloudflareError(f"{what}: cannot reach the API ({exc.__cause__ or exc})") from None
