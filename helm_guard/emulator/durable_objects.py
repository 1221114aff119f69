"""The Durable Objects area of the emulator: the account's namespaces, and the migrations an
upload applies to them.

- `GET /accounts/{a}/workers/durable_objects/namespaces`: paged (`page`, `per_page` up to
  1000, `result_info`); `[{"id", "name", "script", "class", "use_sqlite"}]`.

An upload (`POST S/versions`, the multipart `metadata`) with `migrations` is applied as
Cloudflare documents it (developers.cloudflare.com/durable-objects/reference/
durable-objects-migrations): `{old_tag?, new_tag, steps: [...]}` (what wrangler 4.86 sends,
`getMigrationsToUpload` cli.js l.302828) or one step at the top level. Per step:
- `new_classes` / `new_sqlite_classes`: a namespace `<script>_<class>` for the script;
- `renamed_classes` `[{from, to}]`: the namespace keeps its id and name, its class changes;
- `deleted_classes`: the namespace is removed;
- `transferred_classes` `[{from, from_script, to}]`: the namespace of `from_script`'s class
  `from` now belongs to this script as class `to` (id and name kept: the objects move).
`old_tag` must equal the script's current `migration_tag` (else 400, code 10079 *emu*); the
new tag is listed as `migration_tag` in `GET /accounts/{a}/workers/scripts`.

*emu*: migrations apply when the version is uploaded (the real API applies them with the
upload too, and `wrangler deploy` with migrations uses the non-versioned upload, which the
emulator does not serve); renaming or deleting a class that has no namespace, a transfer of a
class onto itself, and a Durable Object binding to a class without a namespace are not refused
(the real API refuses them); a transfer from another script needs that script's namespace.

Python helpers: `add_do_namespace(script, class_name)`, `do_namespaces()`.
"""

from __future__ import annotations

import copy
import math
import uuid
from typing import Any

from helm_guard.emulator.core import BAD_REQUEST_CODE, ApiError, EmulatorCore, Route, Router

MIGRATION_TAG_CODE = 10079  # *emu*: the real code for a tag precondition failure is undocumented


class DurableObjectsArea(EmulatorCore):
    """Durable Object namespaces and the migrations that move them."""

    def _init_area(self) -> None:
        super()._init_area()
        self._namespaces: dict[str, dict[str, Any]] = {}  # id -> namespace (insertion order)

    def _account_routers(self) -> list[Router]:
        return [*super()._account_routers(), self._route_namespaces]

    # ------------------------------------------------------------------ helpers
    def add_do_namespace(self, script: str, class_name: str, *, sqlite: bool = False) -> str:
        """A namespace for `script`'s class `class_name` (as a `new_classes` migration would
        create it); returns its id."""
        with self._lock:
            return self._create(script, class_name, sqlite)

    def do_namespaces(self) -> list[dict[str, Any]]:
        """Every namespace (copies), oldest first."""
        with self._lock:
            return copy.deepcopy(list(self._namespaces.values()))

    def _create(self, script: str, class_name: str, sqlite: bool) -> str:
        if self._find(script, class_name) is not None:
            raise ApiError(400, BAD_REQUEST_CODE,
                           f"Cannot apply new-class migration to class '{class_name}' that is "
                           "already depended on by existing Durable Objects")
        nid = uuid.uuid4().hex
        self._namespaces[nid] = {"id": nid, "name": f"{script}_{class_name}", "script": script,
                                 "class": class_name, "use_sqlite": sqlite}
        return nid

    def _find(self, script: str, class_name: object) -> dict[str, Any] | None:
        for ns in self._namespaces.values():
            if ns["script"] == script and ns["class"] == class_name:
                return ns
        return None

    def _need(self, script: str, class_name: Any, what: str) -> dict[str, Any]:
        ns = self._find(script, class_name) if isinstance(class_name, str) else None
        if ns is None:
            raise ApiError(400, BAD_REQUEST_CODE,
                           f"Cannot apply {what} migration to non-existent class "
                           f"'{class_name}' of script '{script}'")
        return ns

    # ------------------------------------------------------------------ migrations
    def _apply_migrations(self, script: str, current_tag: str | None,
                          metadata: dict[str, Any]) -> str | None:
        raw = metadata.get("migrations")
        if raw is None:
            return super()._apply_migrations(script, current_tag, metadata)
        if not isinstance(raw, dict):
            raise ApiError(400, BAD_REQUEST_CODE, "metadata.migrations must be an object")
        if raw.get("old_tag") != current_tag:
            raise ApiError(400, MIGRATION_TAG_CODE,
                           f"Migration tag precondition failed: the script's current tag is "
                           f"{current_tag!r}, the upload expects {raw.get('old_tag')!r}")
        steps = raw.get("steps", [raw])
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
            raise ApiError(400, BAD_REQUEST_CODE, "migrations.steps must be a list of objects")
        saved = copy.deepcopy(self._namespaces)
        try:
            for step in steps:
                self._apply_step(script, step)
        except ApiError:
            self._namespaces = saved  # all or nothing, as one upload
            raise
        tag = raw.get("new_tag")
        return tag if isinstance(tag, str) else current_tag

    def _apply_step(self, script: str, step: dict[str, Any]) -> None:
        for key, sqlite in (("new_classes", False), ("new_sqlite_classes", True)):
            for name in _names(step, key):
                self._create(script, name, sqlite)
        for move in _moves(step, "renamed_classes"):
            if not isinstance(move.get("to"), str):
                raise ApiError(400, BAD_REQUEST_CODE, "renamed_classes needs to")
            found = self._find(script, move.get("from"))
            if found is not None:  # *emu*: renaming an unknown class is not refused
                found["class"] = move["to"]
        for name in _names(step, "deleted_classes"):
            found = self._find(script, name)
            if found is not None:  # *emu*: deleting an unknown class is not refused
                del self._namespaces[found["id"]]
        for move in _moves(step, "transferred_classes"):
            source = move.get("from_script")
            if not isinstance(source, str):
                raise ApiError(400, BAD_REQUEST_CODE, "transferred_classes needs from_script")
            if source == script and move.get("from") == move.get("to"):
                continue  # *emu*: a transfer onto itself is a no-op, not refused
            ns = self._need(source, move.get("from"), "transfer")
            if not isinstance(move.get("to"), str) or self._find(script, move["to"]):
                raise ApiError(400, BAD_REQUEST_CODE,
                               f"class '{move.get('to')}' of '{script}' already exists")
            ns["script"], ns["class"] = script, move.get("to")

    # ------------------------------------------------------------------ routing
    def _route_namespaces(self, method: str, sub: str, query: dict[str, str], body: Any,
                          user_agent: str) -> Route | None:
        if method != "GET" or sub != "/workers/durable_objects/namespaces":
            return None
        items = list(self._namespaces.values())
        try:
            per_page = max(1, min(int(query.get("per_page") or 20), 1000))
            page = max(1, int(query.get("page") or 1))
        except ValueError:
            raise ApiError(400, BAD_REQUEST_CODE, "page and per_page must be numbers") from None
        shown = items[(page - 1) * per_page: page * per_page]
        info = {"page": page, "per_page": per_page, "count": len(shown),
                "total_count": len(items), "total_pages": max(1, math.ceil(len(items) / per_page))}
        return 200, copy.deepcopy(shown), {"result_info": info}


def _names(step: dict[str, Any], key: str) -> list[str]:
    raw = step.get(key) or []
    if not isinstance(raw, list) or not all(isinstance(n, str) for n in raw):
        raise ApiError(400, BAD_REQUEST_CODE, f"migrations: {key} must be a list of names")
    return raw


def _moves(step: dict[str, Any], key: str) -> list[dict[str, Any]]:
    raw = step.get(key) or []
    if not isinstance(raw, list) or not all(isinstance(m, dict) for m in raw):
        raise ApiError(400, BAD_REQUEST_CODE, f"migrations: {key} must be a list of objects")
    return raw
