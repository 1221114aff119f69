"""What a rule may look at: a config file (`ConfigFile`), a resolved deploy target and its
tenant (`TargetInfo`), what a rule reports (`Problem`), and the whole run (`Context`, with the
owner index built once from the registry).

`load_files` reads, parses and resolves configs into `ConfigFile`s; the engine (`checker.py`)
calls it for the map phase, `Context.file_at` on demand for the fleet-wide phase.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, NamedTuple

from helm_guard import jsonc
from helm_guard.fleet import ConfigEntry, Fleet, Tenant, classify_env
from helm_guard.jsonc import Document, JsonPath, Span
from helm_guard.resolve import Target, resolve


class ConfigFile:
    """One config file of the fleet: where it is, what it says, what wrangler makes of it."""

    __slots__ = ("entry", "rel", "doc", "read_error", "targets")

    def __init__(self, entry: ConfigEntry) -> None:
        self.entry = entry
        self.rel: str = entry.rel
        self.doc: Document | None = None
        self.read_error: str | None = None
        self.targets: list[TargetInfo] = []


class TargetInfo(NamedTuple):
    """A resolved deploy target and the tenant it belongs to (None when it has none)."""

    file: ConfigFile
    target: Target
    tenant: Tenant | None
    is_base: bool  # the shared top level of an env-per-shop file
    unresolved: str | None  # why the target has no tenant

    @property
    def shop(self) -> str | None:
        return self.tenant.shop if self.tenant else None


class Problem(NamedTuple):
    """What a rule reports; the engine adds rule ID, severity and position."""

    source: Document | None
    rel: str
    json_path: JsonPath
    message: str
    shop: str | None = None
    span: Span | None = None  # explicit position (parse errors); else computed from json_path
    at_key: bool = False  # point at the key rather than the value


class Context:
    """Everything a rule may look at: the fleet, its files, its targets, and an index of which
    tenant owns which resource identity (built once)."""

    def __init__(self, fleet: Fleet, files: list[ConfigFile], fleet_doc: Document) -> None:
        self.fleet = fleet
        self.files = files
        self.fleet_doc = fleet_doc
        self.targets = [t for f in files for t in f.targets]
        self.wrangler_validator: Any = None
        self._owners: dict[str, Tenant] | None = None
        self.cache: dict[str, Any] = {}  # per-run memo for rules (e.g. name skeletons)
        self.covered: frozenset[str] = frozenset(f.rel for f in files)  # every config's rel
        self._files: dict[str, ConfigFile] = {f.rel: f for f in files}
        self.entries: dict[str, ConfigEntry] = {f.rel: f.entry for f in files}

    def file_at(self, rel: str) -> ConfigFile | None:
        """Config `rel`, parsed and resolved on demand when this process did not map it (the
        fleet-wide phase of a parallel run); None when it is not a config of the fleet."""
        found = self._files.get(rel)
        if found is None and rel in self.entries:
            loaded = load_files(self.fleet, [self.entries[rel]])  # [] if it vanished
            if loaded:
                found = self._files[rel] = loaded[0]
        return found

    def span_at(self, rel: str, parts: JsonPath) -> Span:
        """Position of `parts` in config `rel` (read on demand by `file_at` when this process
        did not map that file: the fleet-wide phase of a parallel run)."""
        f = self.file_at(rel)
        doc = None if f is None else f.doc
        return Span(1, 1, 1, 1) if doc is None else doc.span(parts)

    def problem(self, t: TargetInfo, parts: JsonPath, message: str, **kw: Any) -> Problem:
        return Problem(t.file.doc, t.file.rel, parts, message, t.shop, **kw)

    @property
    def owners(self) -> dict[str, Tenant]:
        """Resource identity -> the tenant that owns it, from naming templates + registry
        (the truth), not from the configs."""
        if self._owners is None:
            self._owners = self.fleet.owner_index()
        return self._owners

    def owner_of(self, value: object) -> Tenant | None:
        if not isinstance(value, str):
            return None
        return self.owners.get(value.lower())


def load_files(fleet: Fleet, entries: Sequence[ConfigEntry] | None = None) -> list[ConfigFile]:
    """Read, parse and resolve each config. An `unchecked` entry whose file does not exist is
    no config after all: it is left out of the result."""
    files = []
    for entry in fleet.config_entries() if entries is None else entries:
        data: bytes | None = None
        if entry.unchecked and entry.linked is False:  # a plain directory: read, no follow
            try:
                data = jsonc.read_bytes(entry.path, follow=False)
            except FileNotFoundError:
                continue
            except OSError:  # a symlink (ELOOP), or unreadable: it exists; the careful road
                entry = entry._replace(linked=None, unchecked=False)
        elif entry.unchecked:  # its directory passes through a symlink: the careful road
            if not os.path.lexists(entry.path):
                continue
            entry = entry._replace(linked=None, unchecked=False)
        cf = ConfigFile(entry)
        if data is not None:
            cf.doc = jsonc.parse_text(data, entry.path)
        elif not entry.inside(fleet.root):
            cf.read_error = ("the path leads outside the fleet repository (a symlink?): "
                             "configs must live in the repository")
        else:
            try:
                cf.doc = jsonc.parse_file(entry.path)
            except IsADirectoryError:
                cf.read_error = "is a directory, not a config file"
            except OSError as exc:
                cf.read_error = f"cannot read the file: {exc.strerror or exc}"
        if cf.doc is not None and cf.doc.error is None:
            for target in resolve(cf.doc.value, entry.rel):
                tenant_or_why = classify_env(fleet, entry, target.env)
                if tenant_or_why == "base":
                    info = TargetInfo(cf, target, None, True, None)
                elif isinstance(tenant_or_why, Tenant):
                    info = TargetInfo(cf, target, tenant_or_why, False, None)
                else:
                    info = TargetInfo(cf, target, None, False, tenant_or_why)
                cf.targets.append(info)
        files.append(cf)
    return files
