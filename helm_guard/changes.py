"""What a range of commits changes in a fleet: affected shops, new/removed shops, rebinds.

The head side is the checked fleet (the checkout, which the gate requires to be the head
commit). The base side is loaded from git objects: the base fleet file and the config files
that need comparing are read with one `git cat-file --batch` into a temporary directory and
go through the same loader, resolver and classifier as the check (`checker.load_files`).

Only what can differ is compared. When the fleet file's `configs`, `naming`, `stages` or
`account_id` change, every config file is compared (a *full* comparison); otherwise only the
config files whose bytes changed (plus every env-per-shop file when the registry changed,
because the registry decides which of their envs are shops). An unchanged file resolves to
the same targets at both commits, so skipping it cannot hide a rebind.

Why over 400 lines: it is one comparison read top to bottom (what git says, the base side,
identities, the comparison); splitting it would scatter one story over several files.

Affected shops (what the deploy must redeploy):
- a change of a fleet-file setting other than `shops` (naming, shared resources, ...) or of a
  path matching a `shared_paths` glob (at base or head): every shop;
- a shop's registry entry (added or changed);
- a shop-per-file config, or any other file in its folder: that shop;
- an env-per-shop config: the shops whose env block changed, or all its shops when the shared
  top level changed.

Rebinds: for each shop registered at both commits, the identity of every target (Worker name,
account, D1 name/id/preview id, R2 bucket/preview/jurisdiction, KV ids, service targets
(environment, entrypoint, props), Queue producers/consumers/dead-letter queues, Workflow names
and scripts, Durable Object scripts, tail consumers, routes; per binding name) and the
identity fields of its registry entry (ids, routes, KV, Queues, Workflows) are compared; any
difference, an added or a removed target is a rebind.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from helm_guard import gitio
from helm_guard.context import ConfigFile, TargetInfo, load_files
from helm_guard.errors import Blocked, UsageError
from helm_guard.fleet import ConfigEntry, Fleet, Tenant, load_fleet

# Fleet-file keys whose change means every config must be compared again.
STRUCTURAL_KEYS = ("configs", "naming", "stages", "account_id")
# Fleet-file keys that do not change any deploy.
INERT_KEYS = frozenset({"$schema", "shops"})
# Registry fields that name resources (owner/notes do not).
REGISTRY_IDENTITY = ("database_id", "preview_database_id", "preview_bucket_name",
                     "kv_namespaces", "routes", "queues", "workflows")
_IDENTITY_FIELDS: dict[str, tuple[str, ...]] = {
    "d1_databases": ("database_name", "database_id", "preview_database_id"),
    "r2_buckets": ("bucket_name", "preview_bucket_name", "jurisdiction"),
    "kv_namespaces": ("id", "preview_id"),
    "services": ("service", "environment", "entrypoint"),
}
# Lists of bindings outside `as_dict` whose fields name a Queue, Workflow or Worker:
# (key, sub-list, label field, identity fields)
_REFERENCE_FIELDS: tuple[tuple[str, str | None, str, tuple[str, ...]], ...] = (
    ("queues", "producers", "binding", ("queue",)),
    ("queues", "consumers", "queue", ("queue", "dead_letter_queue")),
    ("workflows", None, "binding", ("name", "script_name", "class_name")),
    ("durable_objects", "bindings", "name", ("script_name", "class_name", "environment")),
    ("tail_consumers", None, "service", ("service",)),
    ("streaming_tail_consumers", None, "service", ("service",)),
    ("services", None, "binding", ("props",)),
)


class Rebind(NamedTuple):
    shop: str
    where: str  # "shops/acme/wrangler.jsonc" or "helm-fleet.jsonc (registry)"
    changes: tuple[str, ...]


class Changes(NamedTuple):
    paths: tuple[str, ...]  # changed paths, relative to the fleet root
    affected: tuple[str, ...]  # shops registered at head that must be redeployed
    all_reason: str | None  # why every shop is affected, if so
    new_shops: tuple[str, ...]
    removed_shops: tuple[str, ...]
    rebinds: tuple[Rebind, ...]
    full_compare: bool


# --------------------------------------------------------------------------- globs


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a `shared_paths` glob: `**` spans folders, `*` and `?` stay in one."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1: end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def matching(paths: Iterable[str], patterns: Iterable[str]) -> list[tuple[str, str]]:
    """(path, pattern) for each path matching one of the globs (first match)."""
    regexes = [(p, glob_regex(p.removeprefix("./"))) for p in dict.fromkeys(patterns)]
    hits = []
    for path in paths:
        for pattern, rx in regexes:
            if rx.match(path):
                hits.append((path, pattern))
                break
    return hits


# --------------------------------------------------------------------------- the base side


class _PartialFleet(Fleet):
    """A fleet whose config patterns may match nothing (only some files were materialised)."""

    def config_entries(self) -> list[ConfigEntry]:
        try:
            return super().config_entries()
        except UsageError:
            pass
        keep = []
        for spec in self.data.get("configs", ()):
            one = Fleet(self.path, {**self.data, "configs": [spec]})
            try:
                keep.extend(one.config_entries())
            except UsageError:
                continue
        unique = {e.rel: e for e in keep}
        return [unique[k] for k in sorted(unique)]


def read_base_fleet(repo: Path, prefix: str, base: str, fleet_rel: str) -> Fleet | None:
    """The fleet file at commit `base` (None when it has none); invalid blocks the gate."""
    git_path = prefix + fleet_rel
    raw = gitio.read_blobs(repo, base, [git_path])[git_path]
    if raw is None:
        return None
    with tempfile.TemporaryDirectory(prefix="helm-guard-base-") as tmp:
        path = Path(tmp) / Path(fleet_rel).name
        path.write_bytes(raw)
        try:
            return load_fleet(path)
        except UsageError as exc:
            raise Blocked(
                f"the fleet file at the base commit {base[:12]} is invalid, so rebinds cannot "
                f"be checked: {str(exc).replace(str(path), fleet_rel)}",
                hint="pass --base with the last commit that was deployed cleanly",
            ) from None


def load_base_files(repo: Path, prefix: str, base: str, fleet_rel: str,
                    data: Mapping[str, Any], paths: Sequence[str] | None) -> list[ConfigFile]:
    """The config files of the fleet `data` at commit `base`, resolved and classified like the
    check does; only `paths` (None: every file of the commit) are read from git."""
    if paths is None:
        wanted = [p[len(prefix):] for p in gitio.tree_paths(repo, base) if p.startswith(prefix)]
    else:
        wanted = list(paths)
    blobs = gitio.read_blobs(repo, base, [prefix + p for p in wanted]) if wanted else {}
    with tempfile.TemporaryDirectory(prefix="helm-guard-base-") as tmp:
        root = Path(tmp)
        for rel in wanted:
            blob = blobs[prefix + rel]
            if blob is None or rel == fleet_rel or not _safe_rel(rel):
                continue
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(blob)
        return load_files(_PartialFleet(root / fleet_rel, data))


def _safe_rel(rel: str) -> bool:
    return not rel.startswith("/") and all(p not in ("", ".", "..") for p in rel.split("/"))


# --------------------------------------------------------------------------- identities


def target_identity(t: TargetInfo) -> dict[str, str]:
    """The resource identity of one target, flattened: `d1_databases[DB].database_id` -> id."""
    d = t.target.as_dict()
    if d.get("error"):
        return {"(target)": "does not resolve (configuration error)"}
    out = {"worker": _show(d.get("worker")), "account_id": _show(d.get("account_id"))}
    for key, fields in _IDENTITY_FIELDS.items():
        seen: dict[str, int] = {}
        for b in d.get(key) or ():
            name = str(b.get("binding"))
            seen[name] = seen.get(name, 0) + 1
            label = name if seen[name] == 1 else f"{name}#{seen[name]}"
            for f in fields:
                if b.get(f) is not None:
                    out[f"{key}[{label}].{f}"] = _show(b.get(f))
    for key, sub, label_field, fields in _REFERENCE_FIELDS:
        value = t.target.get(key)
        if sub is not None:
            value = value.get(sub) if isinstance(value, Mapping) else None
        seen = {}
        for b in value if isinstance(value, list) else ():
            if not isinstance(b, Mapping):
                continue
            name = str(b.get(label_field))
            seen[name] = seen.get(name, 0) + 1
            label = name if seen[name] == 1 else f"{name}#{seen[name]}"
            where = key if sub is None else f"{key}.{sub}"
            for f in fields:
                if b.get(f) is not None:
                    out[f"{where}[{label}].{f}"] = _show(b.get(f))
    routes = d.get("routes")
    out["routes"] = "none" if routes is None else ", ".join(sorted(_show(r) for r in routes))
    return out


def _show(value: Any) -> str:
    if value is None:
        return "none"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def diff_identity(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """`key: old → new` for every identity that differs (added/removed included)."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a != b:
            out.append(f"{key}: {a if a is not None else '(none)'} → "
                       f"{b if b is not None else '(none)'}")
    return out


def registry_identity(entry: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for stage, sub in [(None, entry), *sorted((entry.get("stages") or {}).items())]:
        for f in REGISTRY_IDENTITY:
            if f in sub:
                key = f if stage is None else f"stages.{stage}.{f}"
                out[key] = _show(sub[f])
    return out


def _by_tenant(targets: Iterable[TargetInfo]) -> dict[Tenant, list[TargetInfo]]:
    out: dict[Tenant, list[TargetInfo]] = {}
    for t in targets:
        if t.tenant is not None:
            out.setdefault(t.tenant, []).append(t)
    return out


def _block_fingerprint(t: TargetInfo) -> str:
    """What an env-per-shop tenant deploys from its file: the shared top level + its env."""
    top = {k: v for k, v in t.target.top.items() if k != "env"}
    raw = top if t.target.env is None else t.target.raw
    return json.dumps([top, raw], sort_keys=True, default=str)


# --------------------------------------------------------------------------- the comparison


class HeadView:
    """The checked head fleet: every config entry, and parsed files only when asked for.

    The parallel check keeps no parsed files, so the gate parses again just the files it
    compares or plans (one file for a one-shop change).
    """

    def __init__(self, fleet: Fleet, entries: Sequence[ConfigEntry],
                 files: Sequence[ConfigFile] = ()) -> None:
        self.fleet = fleet
        self.entries = {e.rel: e for e in entries}
        self._files = {f.rel: f for f in files}

    def files(self, rels: Iterable[str]) -> list[ConfigFile]:
        wanted = [r for r in dict.fromkeys(rels) if r in self.entries]
        missing = [self.entries[r] for r in wanted if r not in self._files]
        for f in load_files(self.fleet, missing) if missing else ():
            self._files[f.rel] = f
        return [self._files[r] for r in wanted]



class Scope(NamedTuple):
    """What git alone says about a range, before any config is compared."""

    prefix: str  # the fleet root's path in the repository ("" or "fleet/")
    fleet_rel: str
    paths: tuple[str, ...]  # changed paths, relative to the fleet root
    base_data: Mapping[str, Any] | None  # the fleet file at base; None: new in the range
    all_reason: str | None  # why every shop is affected, if so


def scope(repo: Path, head_fleet: Fleet, base: str, head: str) -> Scope:
    """The changed paths of `base..head`, the base fleet file, and whether every shop is
    affected (a fleet setting or a shared path changed, or the fleet file is new). Needs no
    parsed config, so the gate knows it before the check runs."""
    top = gitio.toplevel(head_fleet.root)
    prefix = head_fleet.root.resolve().relative_to(top.resolve()).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    fleet_rel = head_fleet.path.name
    paths = tuple(p[len(prefix):] for p in gitio.changed_paths(repo, base, head)
                  if p.startswith(prefix))
    changed = set(paths)
    base_data: Mapping[str, Any] = head_fleet.data
    if fleet_rel in changed:
        base_fleet = read_base_fleet(repo, prefix, base, fleet_rel)
        if base_fleet is None:  # the fleet is new in this range: all shops are new
            return Scope(prefix, fleet_rel, paths, None, "the fleet file is new")
        base_data = base_fleet.data
    settings = sorted(k for k in set(base_data) | set(head_fleet.data)
                      if k not in INERT_KEYS and base_data.get(k) != head_fleet.data.get(k))
    all_reason = None
    if settings:
        all_reason = f"fleet settings changed in {fleet_rel}: {', '.join(settings)}"
    else:
        shared = (*base_data.get("shared_paths", ()), *head_fleet.shared_paths)
        hits = matching(sorted(changed), shared)
        if hits:
            path, pattern = hits[0]
            more = f" (and {len(hits) - 1} more files)" if len(hits) > 1 else ""
            all_reason = f"{path}{more} matches the shared path {pattern}"
    return Scope(prefix, fleet_rel, paths, base_data, all_reason)


def compute(repo: Path, view: HeadView, base: str, head: str,
            known: Scope | None = None) -> Changes:
    """Compare the fleet at `base` with the checked head fleet (whose commit is `head`);
    `known` is the range's `scope`, when the caller has it already."""
    head_fleet = view.fleet
    sc = known if known is not None else scope(repo, head_fleet, base, head)
    prefix, fleet_rel, paths, all_reason = sc.prefix, sc.fleet_rel, sc.paths, sc.all_reason
    changed = set(paths)
    head_shops = head_fleet.shops
    if not changed:
        return Changes((), (), None, (), (), (), False)
    if sc.base_data is None:
        return Changes(paths, tuple(sorted(head_shops)), all_reason,
                       tuple(sorted(head_shops)), (), (), False)
    base_data = sc.base_data
    base_shops: Mapping[str, Any] = base_data.get("shops", {})
    full = any(base_data.get(k) != head_fleet.data.get(k) for k in STRUCTURAL_KEYS)
    affected: set[str] = set()

    new_shops = sorted(set(head_shops) - set(base_shops))
    removed = sorted(set(base_shops) - set(head_shops))
    rebinds: list[Rebind] = []
    registry_changed = False
    for slug in sorted(set(head_shops) & set(base_shops)):
        if head_shops[slug] != base_shops[slug]:
            registry_changed = True
            affected.add(slug)
            diff = diff_identity(registry_identity(base_shops[slug]),
                                 registry_identity(head_shops[slug]))
            if diff:
                rebinds.append(Rebind(slug, f"{fleet_rel} (registry)", tuple(diff)))
    affected.update(new_shops)
    registry_changed = registry_changed or bool(new_shops or removed)

    # -- config files to compare
    entries = view.entries
    if full:
        compare = None  # every file
    else:
        compare = {p for p in changed if p != fleet_rel}
        if registry_changed:
            compare |= {r for r, e in entries.items() if e.layout == "env-per-shop"}
    base_files = load_base_files(repo, prefix, base, fleet_rel, base_data,
                                 None if compare is None else sorted(compare))
    head_cmp = view.files(sorted(entries) if compare is None else sorted(compare))
    head_by_rel = {f.rel: f for f in head_cmp}
    base_by_rel = {f.rel: f for f in base_files}

    # -- affected by config changes
    for rel in sorted(set(base_by_rel) | {f.rel for f in head_cmp}):
        if compare is None and rel not in changed:
            continue
        b, h = base_by_rel.get(rel), head_by_rel.get(rel)
        layout = (h or b).entry.layout  # type: ignore[union-attr]
        if layout == "env-per-shop" and b is not None and h is not None \
                and b.doc is not None and h.doc is not None \
                and b.doc.error is None and h.doc.error is None:
            old = {t.tenant: _block_fingerprint(t) for t in b.targets if t.tenant}
            new = {t.tenant: _block_fingerprint(t) for t in h.targets if t.tenant}
            affected.update(t.shop for t in set(old) | set(new) if old.get(t) != new.get(t))
        else:
            for f in (b, h):
                if f is not None:
                    affected.update(t.shop for t in f.targets if t.shop)
                    if f.entry.layout == "shop-per-file" and f.entry.slug:
                        affected.add(f.entry.slug)
    # other files in a shop's own folder
    others = [p for p in changed if p not in entries and p not in base_by_rel]
    if others:
        folders = {r.rpartition("/")[0]: e.slug for r, e in entries.items()
                   if e.layout == "shop-per-file" and e.slug}
        for p in others:
            parent = p.rpartition("/")[0]
            while parent:
                if parent in folders:
                    affected.add(folders[parent] or "")
                    break
                parent = parent.rpartition("/")[0]

    # -- rebinds in configs
    old_t = _by_tenant(t for f in base_files for t in f.targets)
    new_t = _by_tenant(t for f in head_cmp for t in f.targets)
    both = set(head_shops) & set(base_shops)
    per_shop: dict[tuple[str, str], list[str]] = {}
    for tenant in sorted(set(old_t) | set(new_t), key=lambda t: (t.shop, t.stage or "")):
        if tenant.shop not in both:
            continue
        olds, news = old_t.get(tenant, []), new_t.get(tenant, [])
        where = (news or olds)[0].file.rel
        label = "production" if tenant.stage is None else f"stage {tenant.stage}"
        if not olds:
            lines = [f"{label}: new target in {where} (worker "
                     f"{news[0].target.worker or 'unnamed'})"]
        elif not news:
            lines = [f"{label}: target removed (was in {olds[0].file.rel})"]
        else:
            lines = [f"{label}: {d}" for d in
                     diff_identity(target_identity(olds[0]), target_identity(news[0]))]
            if olds[0].file.rel != news[0].file.rel and lines:
                lines.append(f"{label}: moved from {olds[0].file.rel} to {news[0].file.rel}")
        if lines:
            per_shop.setdefault((tenant.shop, where), []).extend(lines)
    rebinds.extend(Rebind(shop, where, tuple(lines)) for (shop, where), lines in per_shop.items())
    rebinds.sort(key=lambda r: (r.shop, r.where))

    deploy = set(head_shops) if all_reason else affected & set(head_shops)
    return Changes(paths, tuple(sorted(deploy)), all_reason, tuple(new_shops), tuple(removed),
                   tuple(rebinds), full)
