"""The fleet: the fleet file, its registry (the source of truth), and which shop owns what.

A fleet file (`helm-fleet.jsonc`, schema `schemas/helm-fleet.schema.json`) names the config
files (`configs`), the naming templates, the optional pinned `account_id`, the deploy stages
besides production (`stages`), shared resources, and the registry `shops`.

Layouts (per `configs` entry):
- `shop-per-file` (default): `shops/<slug>/wrangler.jsonc`; the slug is the folder name and the
  file's top level is the shop's production target. An env `X` of that file is the shop's stage
  `X` (it must be listed in `stages`).
- `env-per-shop`: one file whose envs are the shops (`env.<slug>`); env `<slug>-<stage>` is that
  shop's stage. The top level is the shared base: it must bind and route nothing.

A *tenant* is (shop, stage) with stage None for production. Every deployable target must
resolve to exactly one registered tenant; every resource identity belongs to one tenant.

Why over 400 lines: the fleet file and the registry's one definition of a tenant's own
resources (`Fleet.owned`, `owner_index`); splitting the definition would make two truths.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from helm_guard import globs, jsonc, schemas
from helm_guard.errors import UsageError
from helm_guard.slugs import SLUG_RE

FLEET_FILE = "helm-fleet.jsonc"
DEFAULT_NAMING = {
    "worker": "helm-{slug}",
    "d1": "helm-{slug}-db",
    "r2": "helm-{slug}-assets",
    "stage_worker": "helm-{slug}-{stage}",
    "stage_d1": "helm-{slug}-{stage}-db",
    "stage_r2": "helm-{slug}-{stage}-assets",
}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


class Tenant(NamedTuple):
    shop: str
    stage: str | None = None

    def label(self) -> str:
        return self.shop if self.stage is None else f"{self.shop} ({self.stage})"


class Expected(NamedTuple):
    """What one tenant's target must bind, from naming templates + registry."""

    worker: str
    database_name: str
    database_id: str | None
    preview_database_id: str | None
    bucket_name: str
    preview_bucket_name: str | None


# The single registry values of a tenant entry that name a resource (its D1 database, preview
# database and preview bucket): like the lists below, each belongs to exactly one tenant.
_REGISTRY_IDS = ("database_id", "preview_database_id", "preview_bucket_name")

# The registry lists of one tenant entry (`shops.<slug>` or `shops.<slug>.stages.<stage>`):
# kind -> the entry's key. Every resource identity of these kinds belongs to the tenant whose
# entry lists it, and to no one else (a name listed by two tenants is a configuration error).
REGISTRY_LISTS: dict[str, str] = {
    "kv": "kv_namespaces",  # KV namespace ids (32 lowercase hex)
    "queue": "queues",  # Queue names (producers, consumers, dead-letter queues)
    "workflow": "workflows",  # Workflow names
    "route": "routes",  # route hosts (custom domains and route patterns' hosts)
}


def route_host(pattern: str) -> str:
    """The host of a route pattern or registry route entry, lowercased (DNS names are
    case-insensitive): `acme.shops.example/*` -> `acme.shops.example`. A leading `http://` or
    `https://` is dropped; anything else stays (a port, a `*`: never a registered host)."""
    if "/" not in pattern and ":" not in pattern and " " not in pattern:
        return pattern.lower()  # a bare host (most registry entries)
    low = pattern.strip().lower()
    for scheme in ("https://", "http://"):
        if low.startswith(scheme):
            low = low[len(scheme):]
            break
    return low.split("/", 1)[0]


class Owned(NamedTuple):
    """Everything one tenant owns or may bind: the ONE definition of "the tenant's own",
    used by `check` (the rules), `bindings.judge_bindings` (deploy, rollback, audit) and
    `gate`. Built from the naming templates and the registry only, never from a config.

    Names compare exactly (Cloudflare's Worker, queue, workflow and bucket names are
    case-sensitive strings; a look-alike such as `Helm-Auth` is not `helm-auth`); route hosts
    are lowercased (DNS)."""

    tenant: Tenant
    worker: str
    database_id: str | None
    database_name: str
    preview_database_id: str | None
    bucket_name: str
    preview_bucket_name: str | None
    kv_ids: frozenset[str]  # the tenant's registered KV namespaces
    queues: frozenset[str]
    workflows: frozenset[str]
    route_hosts: frozenset[str]
    shared_services: frozenset[str]
    shared_kv: frozenset[str]

    @property
    def services(self) -> frozenset[str]:
        """Worker names the tenant may reference: its own Worker and the fleet's shared ones."""
        return self.shared_services | {self.worker}

    def allows_worker(self, name: object) -> bool:
        return isinstance(name, str) and (name == self.worker or name in self.shared_services)

    def allows_kv(self, namespace_id: object) -> bool:
        return isinstance(namespace_id, str) and (namespace_id in self.kv_ids
                                                  or namespace_id in self.shared_kv)

    def allows_route_host(self, host: str) -> bool:
        return host in self.route_hosts


class ConfigEntry(NamedTuple):
    path: str  # absolute
    rel: str  # relative to the fleet root, POSIX
    layout: str  # "shop-per-file" | "env-per-shop"
    slug: str | None  # shop-per-file: the folder name
    linked: bool | None = None  # whether the path passes through a symlink; None: not known
    # True: found by `Fleet.config_candidates` without looking the file up; whoever opens it
    # learns whether it exists (then no match) and whether it is a symlink (`linked` is then
    # only about its directory)
    unchecked: bool = False

    def inside(self, root: Path) -> bool:
        """False when a symlink leads outside the fleet root (checked where the file is read,
        so in the parallel map phase)."""
        return self.linked is False or _inside(root, self.rel)


class Fleet:
    """The parsed fleet file plus the list of config files it names."""

    def __init__(self, path: Path, data: Mapping[str, Any],
                 doc: jsonc.Document | None = None) -> None:
        self.path = path
        self.doc = doc  # the parsed fleet file (positions for registry findings)
        self.root = path.parent
        self.data = data
        self.naming = {**DEFAULT_NAMING, **data.get("naming", {})}
        self.account_id: str | None = data.get("account_id")
        self.stages: tuple[str, ...] = tuple(data.get("stages", ()))
        self.shops: dict[str, Mapping[str, Any]] = dict(data.get("shops", {}))
        shared = data.get("shared", {})
        self.shared_services: frozenset[str] = frozenset(shared.get("services", ()))
        self.shared_kv: frozenset[str] = frozenset(shared.get("kv_namespaces", ()))
        self.shared_paths: tuple[str, ...] = tuple(data.get("shared_paths", ()))
        self._expected: dict[Tenant, Expected] = {}
        self._owned: dict[Tenant, Owned] = {}
        self._kinds: dict[str, dict[str, Tenant]] | None = None
        self._conflicts: list[tuple[str, str, Tenant, Tenant]] = []
        self.derived: dict[str, Any] = {}  # indexes other modules build once per fleet
        self._owner_index: dict[str, Tenant] | None = None
        # (field, value, first tenant, second tenant) per registry id two tenants list
        self.id_conflicts: list[tuple[str, str, Tenant, Tenant]] = []

    @property
    def display_prefix(self) -> str:
        """The fleet root relative to its git work tree, with a trailing slash ("" when the
        fleet is at the top or not in git). Reports prefix finding paths with it, because
        GitHub annotations and SARIF want paths relative to the repository."""
        here = self.root.resolve()
        for d in (here, *here.parents):
            if (d / ".git").exists():
                rel = here.relative_to(d).as_posix()
                return "" if rel == "." else rel + "/"
        return ""

    def expected(self, tenant: Tenant) -> Expected:
        cached = self._expected.get(tenant)
        if cached is None:
            cached = self._expected[tenant] = self._compute_expected(tenant)
        return cached

    def _compute_expected(self, tenant: Tenant) -> Expected:
        entry = self.shops.get(tenant.shop, {})
        shop, stage = tenant
        if stage is not None:
            stage_entry = entry.get("stages", {}).get(stage, {})
            return Expected(
                _render(self.naming["stage_worker"], shop, stage),
                _render(self.naming["stage_d1"], shop, stage),
                stage_entry.get("database_id"),
                stage_entry.get("preview_database_id"),
                _render(self.naming["stage_r2"], shop, stage),
                stage_entry.get("preview_bucket_name"),
            )
        return Expected(
            _render(self.naming["worker"], shop),
            _render(self.naming["d1"], shop),
            entry.get("database_id"),
            entry.get("preview_database_id"),
            _render(self.naming["r2"], shop),
            entry.get("preview_bucket_name"),
        )

    def registry_entry(self, tenant: Tenant) -> Mapping[str, Any]:
        """The registry entry of `tenant` (`shops.<slug>` or its stage), {} when absent."""
        entry: Mapping[str, Any] = self.shops.get(tenant.shop, {})
        if tenant.stage is not None:
            stages = entry.get("stages", {})
            entry = stages.get(tenant.stage, {}) if isinstance(stages, Mapping) else {}
        return entry

    def registered(self, tenant: Tenant, kind: str) -> tuple[str, ...]:
        """The registry list of `kind` (see `REGISTRY_LISTS`) of `tenant`, normalised (route
        entries to their host)."""
        values = self.registry_entry(tenant).get(REGISTRY_LISTS[kind], ())
        if kind == "route":
            return tuple(route_host(v) for v in values if isinstance(v, str))
        return tuple(v for v in values if isinstance(v, str))

    def owned(self, tenant: Tenant) -> Owned:
        """What `tenant` owns (memoised). See `Owned`."""
        found = self._owned.get(tenant)
        if found is None:
            exp = self.expected(tenant)
            found = self._owned[tenant] = Owned(
                tenant, exp.worker, exp.database_id, exp.database_name,
                exp.preview_database_id, exp.bucket_name, exp.preview_bucket_name,
                frozenset(self.registered(tenant, "kv")),
                frozenset(self.registered(tenant, "queue")),
                frozenset(self.registered(tenant, "workflow")),
                frozenset(self.registered(tenant, "route")),
                self.shared_services, self.shared_kv)
        return found

    def owner_of(self, kind: str, value: object) -> Tenant | None:
        """The tenant whose registry entry lists `value` of `kind` (exact match; route hosts
        are lowercased first), or None. Agrees with `owned`: `value in owned(t).<kind>` for
        exactly the tenant returned (the registry lists no identity twice: `load_fleet`)."""
        if not isinstance(value, str):
            return None
        if self._kinds is None:
            self._kinds = self._kind_index()
        return self._kinds[kind].get(route_host(value) if kind == "route" else value)

    def registry_names(self, kind: str) -> Collection[str]:
        """Every identity of `kind` (see `REGISTRY_LISTS`) the registry lists (route hosts
        normalised), for all tenants: a read-only view."""
        if self._kinds is None:
            self._kinds = self._kind_index()
        return self._kinds[kind].keys()

    def _kind_index(self) -> dict[str, dict[str, Tenant]]:
        """kind -> identity -> tenant, from the registry lists (one pass over the registry,
        built once; the conflicts it meets are kept for `registry_conflicts`)."""
        index: dict[str, dict[str, Tenant]] = {kind: {} for kind in REGISTRY_LISTS}
        conflicts: list[tuple[str, str, Tenant, Tenant]] = []
        lists = tuple((kind, key, index[kind]) for kind, key in REGISTRY_LISTS.items())

        def add(tenant: Tenant, entry: Mapping[str, Any]) -> None:
            for kind, key, table in lists:
                values = entry.get(key)
                if not values:
                    continue
                for value in values:
                    if not isinstance(value, str):
                        continue
                    if kind == "route":
                        value = route_host(value)
                    first = table.setdefault(value, tenant)
                    if first != tenant:
                        conflicts.append((kind, value, first, tenant))

        for slug, entry in self.shops.items():
            add(Tenant(slug), entry)
            stages = entry.get("stages")
            if stages:
                for stage, stage_entry in stages.items():
                    add(Tenant(slug, stage), stage_entry)
        self._conflicts = conflicts
        return index

    def name_collisions(self) -> tuple[str, Tenant, Tenant] | None:
        """A Worker, D1 or R2 name that the naming templates give two tenants (shop
        `acme-staging` and shop `acme`'s stage `staging` are both `helm-acme-staging`), or
        None. Every declared stage of every shop counts: a shop's file may add the env.
        When a stage template is its shop template with `{slug}-{stage}` for `{slug}` (the
        default), names collide exactly when these composite slugs do: no rendering."""
        templates = (("worker", "stage_worker"), ("d1", "stage_d1"), ("r2", "stage_r2"))
        derived = [self.naming[staged] == self.naming[plain].replace("{slug}", "{slug}-{stage}")
                   for plain, staged in templates]
        kinds = [(plain, staged) for (plain, staged), d
                 in zip(templates, derived, strict=True) if not d]
        if any(derived):
            kinds.insert(0, ("", ""))
        stages = self.stages
        shops = self.shops
        for plain, staged in kinds:
            if not plain:  # composite slugs: shop slugs are unique (dict keys)
                composite: dict[str, tuple[str, str]] = {}
                for stage in stages:
                    suffix = "-" + stage
                    for slug in shops:
                        name = slug + suffix
                        if name in shops:
                            return self._collision(Tenant(name), Tenant(slug, stage))
                        if name in composite:
                            return self._collision(Tenant(*composite[name]),
                                                   Tenant(slug, stage))
                        composite[name] = (slug, stage)
                continue
            seen: dict[str, Tenant] = {}
            for slug in shops:
                name = _render(self.naming[plain], slug)
                first = seen.setdefault(name, Tenant(slug))
                if first.shop != slug:
                    return name, first, Tenant(slug)
            for slug in shops:
                for stage in stages:
                    name = _render(self.naming[staged], slug, stage)
                    first = seen.setdefault(name, Tenant(slug, stage))
                    if first.shop != slug or first.stage != stage:
                        return name, first, Tenant(slug, stage)
        return None

    def _collision(self, first: Tenant, second: Tenant) -> tuple[str, Tenant, Tenant]:
        return self.expected(second).worker, first, second

    def registry_conflicts(self) -> list[tuple[str, str, Tenant, Tenant]]:
        """(kind, value, first tenant, second tenant) for each identity two tenants list."""
        if self._kinds is None:
            self._kinds = self._kind_index()
        return self._conflicts

    def owner_index(self) -> dict[str, Tenant]:
        """Resource identity (lowercased) -> the tenant that owns it, from the naming templates
        and the registry (the truth), not from the configs; the first tenant wins (built once;
        `load_fleet` refuses a registry id that two tenants list: `id_conflicts`). Route
        hosts, Queues and Workflows are looked up with `owner_of` (their rules read exact
        fields); this index serves the free-text scan of HG801 and the findings' "it belongs
        to shop ..." notes."""
        if self._owner_index is not None:
            return self._owner_index
        owners: dict[str, Tenant] = {}
        conflicts: list[tuple[str, str, Tenant, Tenant]] = []
        by_id: dict[str, str] = {}  # a value some tenant claims with a registry id -> field
        add = owners.setdefault
        expected = self.expected
        fields = Expected._fields
        for slug, entry in self.shops.items():
            stages = entry.get("stages")
            for tenant, block in ((Tenant(slug), entry),
                                  *((Tenant(slug, st), (stages or {}).get(st) or {})
                                    for st in (stages or ()))):
                for field, v in zip(fields, expected(tenant), strict=True):
                    if not v:
                        continue
                    low = v.lower()
                    first = add(low, tenant)
                    if field in _REGISTRY_IDS:
                        if first != tenant:  # this registry id is another tenant's
                            conflicts.append((field, v, first, tenant))
                        else:
                            by_id.setdefault(low, field)
                    elif first != tenant and low in by_id:  # an earlier registry id took it
                        conflicts.append((by_id[low], v, tenant, first))
                kv = block.get("kv_namespaces")
                if kv:
                    for v in kv:
                        if v:
                            add(v.lower(), tenant)
        self.id_conflicts = conflicts
        self._owner_index = owners
        return owners

    def tenants(self) -> Iterator[Tenant]:
        for slug, entry in self.shops.items():
            yield Tenant(slug)
            for stage in entry.get("stages", {}):
                yield Tenant(slug, stage)

    def config_entries(self) -> list[ConfigEntry]:
        """Every config file named by `configs`, sorted, each once. A pattern that matches
        nothing or a path outside the fleet root is a configuration error."""
        return self.config_candidates(check=True)[0]

    def root_file_error(self, index: int, pattern: str, rel: str) -> UsageError:
        """A shop-per-file entry matched a file at the fleet root: its shop would be the folder
        name, and there is none. Refused (never a shop named ''), with the exact fix."""
        where = ""
        if self.doc is not None:
            span = self.doc.span(("configs", index))
            where = f":{span.line}:{span.col}"
        return UsageError(
            f"{self.path}{where}: configs entry {pattern!r} matches {rel}, a file at the fleet "
            "root; in the shop-per-file layout (the default) a file's shop is its folder "
            "(shops/<slug>/wrangler.jsonc), and a root file has no folder",
            hint=f'if its envs are the shops (env.<slug>), declare that layout: {{"glob": '
                 f'"{pattern}", "layout": "env-per-shop"}}; if it is one shop\'s file, move it '
                 f"to <slug>/{rel}",
        )

    def layout_conflict(self, index: int, pattern: str, rel: str, first: str) -> UsageError:
        """Two `configs` patterns match one file with different layouts: whose Worker each
        of its targets is would depend on the patterns' order. Refused."""
        where = ""
        if self.doc is not None:
            span = self.doc.span(("configs", index))
            where = f":{span.line}:{span.col}"
        return UsageError(
            f"{self.path}{where}: configs entry {pattern!r} matches {rel}, which an earlier "
            f"entry already matches with layout {first!r}: one file, two readings of whose "
            "targets it holds",
            hint="make the patterns disjoint, or give both the same layout")

    def no_match(self, pattern: str) -> UsageError:
        return UsageError(f"{self.path}: configs pattern {pattern!r} matches no file",
                          hint="fix the pattern, or add the missing config file")

    def config_candidates(self, *, check: bool = False
                          ) -> tuple[list[ConfigEntry], dict[str, list[str]]]:
        """Like `config_entries`, but (unless `check`) without looking up the last part of a
        pattern like `shops/*/wrangler.jsonc`: those entries are `unchecked` candidates, and
        the second value maps each such pattern to all its candidates, so that the caller,
        once it knows which are missing, can tell whether the pattern matched any file (see
        `checker.run_check`)."""
        out: dict[str, ConfigEntry] = {}
        pending: dict[str, list[str]] = {}
        root = str(self.root)
        prefix = os.path.join(root, "")  # ends with the separator: one concatenation per path
        for index, spec in enumerate(self.data.get("configs", ())):
            if isinstance(spec, str):
                spec = {"glob": spec}
            pattern = spec["glob"]
            layout = spec.get("layout", "shop-per-file")
            defer = not check and globs.defers_last(pattern)
            matches = globs.expand(root, pattern, check_last=not defer)
            if not matches:
                raise self.no_match(pattern)
            per_file = layout == "shop-per-file"
            for rel, linked in matches:
                rel_posix = rel.replace(os.sep, "/")
                if rel_posix not in out:
                    if per_file and "/" not in rel_posix:
                        raise self.root_file_error(index, pattern, rel_posix)
                    slug = rel_posix.rpartition("/")[0].rpartition("/")[2] if per_file else None
                    out[rel_posix] = ConfigEntry(prefix + rel, rel_posix, layout, slug, linked,
                                                 defer)
                elif out[rel_posix].layout != layout:
                    raise self.layout_conflict(index, pattern, rel_posix, out[rel_posix].layout)
            if defer:
                pending[pattern] = [rel for rel, _ in matches]
        return [out[k] for k in sorted(out)], pending


def _render(template: str, slug: str, stage: str | None = None) -> str:
    """`template.format(slug=..., stage=...)`, by plain replacement when the template has no
    other braces (three times faster; this runs for every tenant)."""
    out = template.replace("{slug}", slug)
    if stage is not None:
        out = out.replace("{stage}", stage)
    if "{" in out or "}" in out:  # escaped braces or other fields: str.format decides
        return template.format(slug=slug) if stage is None else \
            template.format(slug=slug, stage=stage)
    return out


def _inside(base: Path, rel: str) -> bool:
    """Whether `base/rel` stays inside the fleet root: only symlinked components can lead
    out, so resolve only when one of them is a link (a realpath per file is costly)."""
    parts = rel.split("/")
    here = str(base)
    for part in parts:
        here = os.path.join(here, part)
        if part == ".." or os.path.islink(here):
            real_root = base.resolve()
            return Path(os.path.join(str(base), *parts)).resolve().is_relative_to(real_root)
    return True


def find_fleet_file(explicit: str | None, start: Path | None = None) -> Path:
    """`--fleet PATH`, else `helm-fleet.jsonc` in the current directory or the nearest parent."""
    if explicit:
        path = Path(explicit)
        if path.is_dir():
            path = path / FLEET_FILE
        if not path.is_file():
            raise UsageError(f"fleet file not found: {explicit}",
                             hint=f"pass --fleet with the path of your {FLEET_FILE}")
        return path
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        candidate = d / FLEET_FILE
        if candidate.is_file():
            return candidate
    raise UsageError(
        f"no {FLEET_FILE} found in {here} or any parent directory",
        hint=f"run from inside a fleet repository, or pass --fleet PATH/{FLEET_FILE}",
    )


def load_fleet(path: Path) -> Fleet:
    """Parse and validate the fleet file; any problem is a configuration error (exit 2)."""
    try:
        doc = jsonc.parse_file(path)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the fleet file: {exc.strerror}") from exc
    if doc.error is not None:
        e = doc.error
        raise UsageError(f"{path}:{e.line}:{e.col}: {e.message}",
                         hint="fix the syntax of the fleet file")
    if doc.duplicates:
        d = doc.duplicates[0]
        raise UsageError(
            f"{path}:{d.span.line}:{d.span.col}: duplicate key "
            f"{jsonc.format_json_path(d.path)} (first at line {d.first.line})",
            hint="a fleet file must not repeat a key: remove one of them",
        )
    problems = schemas.validate("helm-fleet", doc.value)
    if problems:
        parts, message = problems[0]
        span = doc.span(parts)
        raise UsageError(
            f"{path}:{span.line}:{span.col}: {jsonc.format_json_path(parts)}: {message}"
            + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""),
            hint="see schemas/helm-fleet.schema.json and the README's fleet-file reference",
        )
    data = doc.value
    assert isinstance(data, dict)
    for slug in data.get("shops", {}):
        if not SLUG_RE.match(slug):
            span = doc.key_span(("shops", slug))
            raise UsageError(
                f"{path}:{span.line}:{span.col}: shop slug {slug!r} is not a valid slug "
                "(lowercase ASCII letters, digits and inner dashes, at most 51 characters)",
                hint="rename the shop in the registry",
            )
    fleet = Fleet(path, data, doc)
    conflicts = fleet.registry_conflicts()
    if conflicts:
        kind, value, first, second = conflicts[0]
        where: tuple[str | int, ...] = ("shops", second.shop)
        if second.stage is not None:
            where += ("stages", second.stage)
        span = doc.span(where + (REGISTRY_LISTS[kind],))
        raise UsageError(
            f"{path}:{span.line}:{span.col}: {REGISTRY_LISTS[kind]} entry {value!r} of "
            f"{second.label()} is already registered to {first.label()}: every resource "
            "identity belongs to exactly one tenant",
            hint="remove it from one of the two registry entries")
    collision = fleet.name_collisions()
    if collision is not None:
        name, first, second = collision
        span = doc.key_span(("shops", second.shop))
        raise UsageError(
            f"{path}:{span.line}:{span.col}: {second.label()} and {first.label()} would both "
            f"be named {name!r} by the naming templates: one Worker, database or bucket "
            "cannot belong to two tenants",
            hint="rename one of the shops (or the stage), or give stages a naming template "
                 'that cannot collide with a shop slug (e.g. "helm-{slug}--{stage}")')
    owners = fleet.owner_index()
    if fleet.id_conflicts:
        # (field, value, owner, taker): `taker`'s registry entry lists, as `field`, a resource
        # identity `owner` already has (its own registry id, or a name its templates give it)
        field, value, owner, taker = fleet.id_conflicts[0]
        where = ("shops", taker.shop) + (() if taker.stage is None
                                         else ("stages", taker.stage)) + (field,)
        span = doc.span(where)
        raise UsageError(
            f"{path}:{span.line}:{span.col}: {field} {value!r} of {taker.label()} is "
            f"{owner.label()}'s: every resource identity belongs to exactly one tenant",
            hint="give each shop (and stage) its own database and preview resources")
    for kind, names in (("services", fleet.shared_services), ("kv_namespaces", fleet.shared_kv)):
        for name in sorted(names):
            holder = owners.get(name.lower()) if isinstance(name, str) else None
            if holder is not None:
                span = doc.span(("shared", kind))
                raise UsageError(
                    f"{path}:{span.line}:{span.col}: shared {kind} entry {name!r} is "
                    f"{holder.label()}'s own resource: listing it as shared would let every "
                    "shop bind it",
                    hint="remove it from \"shared\" (a shared resource belongs to no shop)")
    return fleet


def classify_env(fleet: Fleet, entry: ConfigEntry, env: str | None) -> Tenant | str:
    """The tenant a deploy target belongs to, or a string saying why it has none.

    Returns the sentinel "base" for the shared top level of an env-per-shop file.
    """
    if entry.layout == "shop-per-file":
        slug = entry.slug or ""
        if env is None:
            return Tenant(slug)
        if env in fleet.stages:
            return Tenant(slug, env)
        return (f'env "{env}" of shop {slug!r} is not a declared stage; declare it in the fleet '
                f'file\'s "stages" or remove it')
    if env is None:
        return "base"
    if env in fleet.shops:
        return Tenant(env)
    for stage in fleet.stages:
        suffix = f"-{stage}"
        if env.endswith(suffix) and env[: -len(suffix)] in fleet.shops:
            return Tenant(env[: -len(suffix)], stage)
    return f'env "{env}" is not a registered shop (nor "<shop>-<stage>" of a declared stage)'
