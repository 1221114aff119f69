"""What wrangler will deploy from one config file: one `Target` per deploy target.

A config has a top-level target and one target per key of `env`, in the file's order. The
rules are wrangler 4's (`workers-utils/src/config/`; see ../shared/notes/wrangler.md §3-§6):

- inheritable keys (`account_id`, `routes`/`route`, `main`, ...) are taken from the env when
  the env has them, else from the top level (whole-key, no deep merge);
- non-inheritable keys (`vars`, `d1_databases`, `r2_buckets`, `kv_namespaces`, `services`,
  ...) come from the env only: an env that lacks them deploys without them;
- the Worker name is `env.X.name` when set, else `<top-level name>-<X>` (unless
  `legacy_env: false`, where service environments keep the top-level name);
- `routes` is what `wrangler deploy` uses: `routes`, else `[route]`, else null.

Each target also remembers *where* each value came from (`origin`), so a finding about an
inherited value points at the line that defines it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from helm_guard.jsonc import JsonPath

# wrangler's EnvironmentNonInheritable (4.86 + HEAD additions): never inherited by envs.
NON_INHERITABLE: tuple[str, ...] = (
    "define", "vars", "secrets", "durable_objects", "workflows", "cloudchamber", "containers",
    "kv_namespaces", "send_email", "queues", "r2_buckets", "d1_databases", "vectorize",
    "ai_search_namespaces", "ai_search", "hyperdrive", "services", "analytics_engine_datasets",
    "browser", "ai", "images", "media", "stream", "version_metadata", "unsafe",
    "mtls_certificates", "tail_consumers", "streaming_tail_consumers", "dispatch_namespaces",
    "pipelines", "secrets_store_secrets", "artifacts", "unsafe_hello_world", "flagship",
    "ratelimits", "worker_loaders", "vpc_services", "vpc_networks", "connect", "agent_memory",
    "websearch",
)
_NON_INHERITABLE_ORDER = {key: i for i, key in enumerate(NON_INHERITABLE)}
# Keys whose presence means the target binds or routes something (used by the shared-base rule).
BINDING_KEYS: tuple[str, ...] = tuple(k for k in NON_INHERITABLE if k not in ("define", "vars"))

_BINDING_FIELDS: dict[str, tuple[str, ...]] = {
    "d1_databases": ("binding", "database_name", "database_id", "preview_database_id"),
    "r2_buckets": ("binding", "bucket_name", "preview_bucket_name", "jurisdiction"),
    "kv_namespaces": ("binding", "id", "preview_id"),
    "services": ("binding", "service", "environment", "entrypoint"),
}
_NAME_RE = re.compile(r"^\Z|^[a-z0-9_][a-z0-9\-_]*\Z")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]\Z")


class Target:
    """One deploy target of one file, resolved as wrangler resolves it."""

    __slots__ = ("env", "raw", "top", "error", "error_path", "_warnings", "_indexed", "_worker")

    def __init__(
        self, env: str | None, raw: Mapping[str, Any], top: Mapping[str, Any]
    ) -> None:
        self.env = env
        self.raw = raw  # the env block (or the top level for env None)
        self.top = top
        self.error: str | None = None
        self.error_path: JsonPath = ()  # where the first validation error is
        self._warnings: list[str] | None = None
        self._indexed: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
        self._worker: str | None | bool = False  # False: not worked out yet

    @property
    def has_warnings(self) -> bool:
        """`bool(self.warnings)`, cheaply (see `has_inheritance_gaps`)."""
        if self._warnings is not None:
            return bool(self._warnings)
        return self.env is not None and self.error is None and has_inheritance_gaps(self)

    @property
    def warnings(self) -> list[str]:
        """wrangler's env-gap warnings for this target (computed when first asked for)."""
        if self._warnings is None:
            self._warnings = (inheritance_gaps(self)
                              if self.env is not None and self.error is None else [])
        return self._warnings

    # --- where values come from -------------------------------------------------------
    @property
    def prefix(self) -> JsonPath:
        return () if self.env is None else ("env", self.env)

    def origin(self, key: str) -> JsonPath:
        """JSON path of the block that defines `key` for this target (env or top level)."""
        if self.env is None or key in self.raw or key in _NON_INHERITABLE_ORDER:
            return self.prefix + (key,)
        return (key,)

    def get(self, key: str, default: Any = None) -> Any:
        """The value wrangler uses for `key`, inheritance applied."""
        if key in self.raw:
            return self.raw[key]
        if self.env is None or key in _NON_INHERITABLE_ORDER:
            return default
        return self.top.get(key, default)

    # --- resolved fields ---------------------------------------------------------------
    @property
    def worker(self) -> str | None:
        """The Worker name wrangler deploys this target as (memoised: every rule asks)."""
        if self._worker is False:
            self._worker = self._resolve_worker()
        return self._worker  # type: ignore[return-value]

    def _resolve_worker(self) -> str | None:
        if self.env is None:
            name = self.top.get("name")
            return name if isinstance(name, str) else None
        own = self.raw.get("name")
        if isinstance(own, str):
            return own
        top = self.top.get("name")
        if not isinstance(top, str):
            return None
        if self.top.get("legacy_env") is False:
            return top
        return f"{top}-{self.env}"

    @property
    def worker_origin(self) -> JsonPath:
        if self.env is not None and "name" in self.raw:
            return ("env", self.env, "name")
        return ("name",)

    def bindings(self, key: str) -> list[Mapping[str, Any]]:
        value = self.get(key)
        if not isinstance(value, list):
            return []
        return [b for b in value if isinstance(b, Mapping)]

    def indexed_bindings(self, key: str) -> list[tuple[int, Mapping[str, Any]]]:
        """(index, entry) of each object in the binding list `key` (memoised: every rule
        asks)."""
        found = self._indexed.get(key)
        if found is None:
            value = self.get(key)
            found = [(i, b) for i, b in enumerate(value) if isinstance(b, dict)] \
                if isinstance(value, list) else []
            self._indexed[key] = found
        return found

    @property
    def routes(self) -> list[Any] | None:
        routes = self.get("routes")
        if routes is not None:
            return routes if isinstance(routes, list) else [routes]
        route = self.get("route")
        return None if route is None else [route]

    @property
    def routes_origin(self) -> JsonPath:
        return self.origin("routes") if self.get("routes") is not None else self.origin("route")

    def as_dict(self) -> dict[str, Any]:
        """The `inspect` shape (identical to the wrangler oracle's)."""
        if self.error is not None:
            out: dict[str, Any] = {"env": self.env, "error": self.error}
            for key in ("worker", "account_id", "d1_databases", "r2_buckets", "kv_namespaces",
                        "services", "route", "routes", "vars"):
                out[key] = None
            out["warnings"] = list(self.warnings)
            return out
        vars_ = self.get("vars")
        out = {"env": self.env, "error": None, "worker": self.worker,
               "account_id": self.get("account_id")}
        for key, fields in _BINDING_FIELDS.items():
            out[key] = [{f: b.get(f) for f in fields} for b in self.bindings(key)]
        out["route"] = self.get("route")
        out["routes"] = self.routes
        out["vars"] = dict(vars_) if isinstance(vars_, Mapping) else {}
        out["warnings"] = list(self.warnings)
        return out


def env_names(config: Mapping[str, Any]) -> list[str]:
    env = config.get("env")
    return list(env) if isinstance(env, Mapping) else []


def resolve(config: Any, display_path: str) -> list[Target]:
    """Every deploy target of a parsed config, in file order, validated as wrangler does."""
    if type(config) is not dict and not isinstance(config, Mapping):
        t = Target(None, {}, {})
        t.error = f"{display_path}: the configuration must be a JSON object"
        return [t]
    targets = [Target(None, config, config)]
    env = config.get("env")
    if type(env) is dict or isinstance(env, Mapping):
        for name, block in env.items():
            targets.append(Target(name, block if type(block) is dict or isinstance(block, Mapping)
                                  else {}, config))
    for t in targets:
        _validate(t, display_path)
    return targets


def _field(t: Target, key: str) -> str:
    return ".".join(str(p) for p in t.prefix + (key,))


def _validate(t: Target, display_path: str) -> None:
    """The subset of wrangler's validation that turns a target into an error, plus the
    inheritance-gap warnings wrangler prints."""
    errors: list[str] = []
    paths: list[JsonPath] = []

    def at(*parts: str | int) -> None:
        paths.append(parts)

    name = t.worker
    if name is not None and not _NAME_RE.match(name):
        at(*t.worker_origin)
        errors.append(
            f'Expected "name" to be of type string, alphanumeric and lowercase with dashes only '
            f'but got "{name}".'
        )
    if t.get("route") is not None and t.get("routes") is not None:
        at(*t.origin("route"))
        errors.append(
            'Expected exactly one of the following fields ["routes","route"].'
        )
    for i, b in t.indexed_bindings("kv_namespaces"):
        kv_id = b.get("id")
        at(*t.origin("kv_namespaces"), i)
        if not isinstance(b.get("binding"), str):
            errors.append(f'"{_field(t, "kv_namespaces")}[{i}]" bindings should have a string '
                          f'"binding" field')
        elif kv_id is not None and (not isinstance(kv_id, str) or kv_id == ""):
            errors.append(f'"{_field(t, "kv_namespaces")}[{i}]" bindings should have a string '
                          f'"id" field but got {_compact(b)}.')
    for i, b in t.indexed_bindings("d1_databases"):
        if not isinstance(b.get("binding"), str):
            at(*t.origin("d1_databases"), i)
            errors.append(f'"{_field(t, "d1_databases")}[{i}]" bindings should have a string '
                          f'"binding" field but got {_compact(b)}.')
    for i, b in t.indexed_bindings("r2_buckets"):
        if not isinstance(b.get("binding"), str):
            at(*t.origin("r2_buckets"), i)
            errors.append(f'"{_field(t, "r2_buckets")}[{i}]" bindings should have a string '
                          f'"binding" field but got {_compact(b)}.')
        bucket = b.get("bucket_name")
        if isinstance(bucket, str) and not _BUCKET_RE.match(bucket):
            at(*t.origin("r2_buckets"), i, "bucket_name")
            errors.append(
                f'{_field(t, "r2_buckets")}[{i}].bucket_name="{bucket}" is invalid. Bucket names '
                "must begin and end with an alphanumeric character, only contain lowercase "
                "letters, numbers, and hyphens, and be between 3 and 63 characters long."
            )
    for i, b in t.indexed_bindings("services"):
        if not isinstance(b.get("binding"), str) or not isinstance(b.get("service"), str):
            at(*t.origin("services"), i)
            errors.append(f'"{_field(t, "services")}[{i}]" bindings should have a string '
                          f'"binding" and "service" field but got {_compact(b)}.')
    if errors:
        t.error_path = paths[0] if paths else t.prefix
        where = "top-level" if t.env is None else f'"env.{t.env}" environment'
        t.error = (f"Processing {display_path} configuration:\n  - {where} configuration\n"
                   + "\n".join(f"    - {e}" for e in errors))
        return


def inheritance_gaps(t: Target) -> list[str]:
    """wrangler's env-gap warnings: non-inheritable keys/bindings/vars present at the top
    level and missing in this env (the env's Worker silently lacks them)."""
    gaps: list[str] = []
    env = f"env.{t.env}"
    # the top level's non-inheritable keys, in wrangler's order (a top level has a few)
    for key in sorted((k for k in t.top if k in _NON_INHERITABLE_ORDER),
                      key=_NON_INHERITABLE_ORDER.__getitem__):
        if key not in t.raw:
            gaps.append(f'"{key}" exists at the top level, but not on "{env}". It is not '
                        f'inherited by environments: add "{key}" to "{env}".')
            continue
        top_val, env_val = t.top[key], t.raw[key]
        if key == "vars" and isinstance(top_val, Mapping) and isinstance(env_val, Mapping):
            for var in top_val:
                if var not in env_val:
                    gaps.append(f'"vars.{var}" exists at the top level, but not on '
                                f'"{env}.vars".')
        elif isinstance(top_val, list) and isinstance(env_val, list):
            have = {b.get("binding") for b in env_val if isinstance(b, Mapping)}
            for b in top_val:
                if isinstance(b, Mapping) and b.get("binding") not in have:
                    gaps.append(f'There is a {key} binding with name "{b.get("binding")}" at the '
                                f'top level, but not on "{env}".')
    return gaps


def _is_map(value: object) -> bool:
    """`isinstance(value, Mapping)`, fast for a parsed JSON object (a dict)."""
    return type(value) is dict or isinstance(value, Mapping)


def has_inheritance_gaps(t: Target) -> bool:
    """`bool(inheritance_gaps(t))`, without writing the messages (the clean-shape test asks it
    of every env target; `tests/test_clean_shape.py` checks the two agree)."""
    top, raw = t.top, t.raw
    for key in top:
        if key not in _NON_INHERITABLE_ORDER:
            continue
        if key not in raw:
            return True
        top_val, env_val = top[key], raw[key]
        if key == "vars" and _is_map(top_val) and _is_map(env_val):
            if not top_val.keys() <= env_val.keys():
                return True
        elif isinstance(top_val, list) and isinstance(env_val, list):
            have = {b.get("binding") for b in env_val if _is_map(b)}
            if any(_is_map(b) and b.get("binding") not in have for b in top_val):
                return True
    return False


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
