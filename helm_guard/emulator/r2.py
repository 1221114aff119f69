"""The R2 area of the emulator: buckets (list, create, get) — what wrangler's provisioning
reads and creates — and their objects, in memory.

| method | path | notes |
|---|---|---|
| GET/POST | /accounts/{a}/r2/buckets | list, create by name (409 + 10004 if it exists) |
| GET | /accounts/{a}/r2/buckets/{name} | 404 + 10006 for an unknown bucket |
| GET | /accounts/{a}/r2/buckets/{name}/objects | `?prefix=&cursor=&per_page=&start_after=` |
| GET/PUT/DELETE | /accounts/{a}/r2/buckets/{name}/objects/{key} | the object's bytes |

Objects follow the REST API the official SDK calls (`r2.buckets.objects.list/get/upload/
delete`) and wrangler 4.86's `r2 object get/put` use (`GET|PUT /accounts/{a}/r2/buckets/{b}/
objects/{key}`): the list answers `result` = `[{"key", "size", "etag", "last_modified",
"http_metadata"}]` in key order and `result_info` = `{"cursor", "per_page", "is_truncated"}`;
a get answers the raw bytes (not an envelope); a put takes `application/octet-stream` and
answers `{"key", "size" (a string, as the spec types it), "etag", "uploaded",
"storage_class", "version"}`; an unknown key is 404 + 10007.
Keys may arrive percent-encoded (the SDK encodes `/` in a key) and are decoded.

*emu* divergences: `delimiter` is not supported (400); `per_page` defaults to 20 (so paging is
exercised) and is capped at 1000; the cursor is the last key returned (opaque to callers);
`etag` is the MD5 of the bytes (as for a single-part upload); jurisdictions, storage classes,
custom metadata and multipart uploads are not modelled.
"""

from __future__ import annotations

import copy
import hashlib
import re
from typing import Any
from urllib.parse import unquote

from helm_guard.emulator.core import ApiError, EmulatorCore, RawBody, RawResult, Route, Router

R2_NO_SUCH_KEY_CODE = 10007
R2_NO_SUCH_BUCKET_CODE = 10006
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 1000


class R2Area(EmulatorCore):
    """R2 buckets by name, objects by key."""

    def _init_area(self) -> None:
        super()._init_area()
        self._r2: dict[str, dict[str, Any]] = {}
        self._r2_objects: dict[str, dict[str, dict[str, Any]]] = {}

    def _account_routers(self) -> list[Router]:
        return [*super()._account_routers(), self._route_r2]

    # ------------------------------------------------------------------ python helpers
    def add_r2_bucket(self, name: str) -> None:
        """Create R2 bucket `name` (idempotent)."""
        with self._lock:
            self._r2.setdefault(name, {"name": name, "creation_date": self._now()})
            self._r2_objects.setdefault(name, {})

    def r2_buckets(self) -> list[str]:
        """Names of the R2 buckets, sorted (includes any wrangler auto-provisioned)."""
        with self._lock:
            return sorted(self._r2)

    def r2_put_object(self, bucket: str, key: str, data: bytes,
                      content_type: str = "application/octet-stream") -> dict[str, Any]:
        """Store an object (creating the bucket if needed); returns its metadata."""
        with self._lock:
            self.add_r2_bucket(bucket)
            obj = {"key": key, "data": bytes(data), "size": len(data),
                   "etag": hashlib.md5(data, usedforsecurity=False).hexdigest(),
                   "last_modified": self._now(), "content_type": content_type}
            self._r2_objects[bucket][key] = obj
            return _meta(obj)

    def r2_get_object(self, bucket: str, key: str) -> bytes | None:
        """The object's bytes, or None."""
        with self._lock:
            obj = self._r2_objects.get(bucket, {}).get(key)
            return None if obj is None else bytes(obj["data"])

    def r2_keys(self, bucket: str) -> list[str]:
        """Every key in `bucket`, sorted."""
        with self._lock:
            return sorted(self._r2_objects.get(bucket, {}))

    # ------------------------------------------------------------------ routes
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
        m = re.fullmatch(r"/r2/buckets/([^/]+)(/objects(?:/(.+))?)?", sub)
        if m is None:
            return None
        bucket, objects, key = m.group(1), m.group(2), m.group(3)
        if bucket not in self._r2:
            raise ApiError(404, R2_NO_SUCH_BUCKET_CODE, "The specified bucket does not exist.")
        if objects is None:
            return (200, copy.deepcopy(self._r2[bucket]), {}) if method == "GET" else None
        store = self._r2_objects[bucket]
        if key is None:
            return self._r2_list(store, query) if method == "GET" else None
        key = unquote(key)
        if method == "GET":
            obj = store.get(key)
            if obj is None:
                raise ApiError(404, R2_NO_SUCH_KEY_CODE, "The specified key does not exist.")
            return 200, RawResult(obj["data"], obj["content_type"]), {}
        if method == "PUT":
            if not isinstance(body, RawBody):
                raise ApiError(400, 10005, "an object body must be application/octet-stream")
            meta = self.r2_put_object(bucket, key, bytes(body))
            return 200, {"key": key, "etag": meta["etag"], "size": str(meta["size"]),
                         "uploaded": meta["last_modified"], "storage_class": "Standard",
                         "version": hashlib.md5(f"{key}{meta['last_modified']}".encode(),
                                                usedforsecurity=False).hexdigest()}, {}
        if method == "DELETE":
            store.pop(key, None)
            return 200, {"key": key}, {}
        return None

    def _r2_list(self, store: dict[str, dict[str, Any]], query: dict[str, str]) -> Route:
        if query.get("delimiter"):
            raise ApiError(400, 10005, "emulator: delimiter is not supported")
        try:
            per_page = int(query.get("per_page") or DEFAULT_PER_PAGE)
        except ValueError:
            raise ApiError(400, 10005, "per_page must be a number") from None
        per_page = max(1, min(per_page, MAX_PER_PAGE))
        prefix = query.get("prefix", "")
        after = max(query.get("cursor", ""), query.get("start_after", ""))
        keys = sorted(k for k in store if k.startswith(prefix) and k > after)
        page = keys[:per_page]
        truncated = len(keys) > per_page
        info = {"cursor": page[-1] if truncated else "", "per_page": per_page,
                "is_truncated": truncated}
        return 200, [_meta(store[k]) for k in page], {"result_info": info}


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return {"key": obj["key"], "size": obj["size"], "etag": obj["etag"],
            "last_modified": obj["last_modified"],
            "http_metadata": {"contentType": obj["content_type"]}}
