"""The Workers area of the emulator: scripts, versions, deployments, settings, subdomains and
secret names (S = /accounts/{a}/workers/scripts/{script}).

| method | path | notes |
|---|---|---|
| GET | /accounts/{a}/workers/subdomain | `{"subdomain": ...}` |
| GET | /accounts/{a}/workers/services/{name} | 404 + 10007 for an unknown Worker |
| GET | /accounts/{a}/workers/scripts | list of scripts |
| GET/POST | S/versions | POST: multipart upload; `?deployable=true`: the window only |
| GET | S/versions/{id} | any version, also outside the rollback window |
| GET/POST | S/deployments | GET newest first (as the real API); POST checks window + secrets |
| GET/PATCH | S/settings, S/script-settings | stored dict, echoed back |
| GET/POST | S/subdomain | `{"enabled": true, "previews_enabled": false}` |
| GET/PUT/DELETE | S/secrets[/{name}] | values are never stored or recorded |

Rules of `POST S/deployments` (documented divergences from the real API are marked *emu*):
- percentages must sum to 100, every version must exist (code 10219 *emu*);
- only the `rollback_window` (default 10; the real limit went from 10 to 100 in 2025-09)
  most recent versions are deployable: older -> 400, code `ROLLBACK_WINDOW_CODE` *emu*;
- without `?force=true`, a version created before a secret of the script last changed ->
  400, code 10220, message `The following secrets have changed: A, B` (the text wrangler 4.86
  parses in `versions/rollback/index.ts`; it then retries with `?force=true`).

Why over 400 lines: versions, deployments and the API's rules about them (rollback
window, changed secrets) are one state machine.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from helm_guard.emulator.core import (
    BAD_REQUEST_CODE,
    ROLLBACK_WINDOW_CODE,
    SECRETS_CHANGED_CODE,
    VERSION_NOT_FOUND_CODE,
    WORKER_NOT_FOUND_CODE,
    ApiError,
    EmulatorCore,
    EmulatorError,
    Route,
    Router,
)


@dataclass
class _Version:
    seq: int
    data: dict[str, Any]


@dataclass
class _Script:
    name: str
    tag: str
    created_on: str
    versions: list[_Version] = field(default_factory=list)  # oldest first
    deployments: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    secrets: dict[str, int] = field(default_factory=dict)  # name -> seq of last change
    settings: dict[str, Any] = field(default_factory=dict)
    subdomain: dict[str, Any] = field(
        default_factory=lambda: {"enabled": True, "previews_enabled": False}
    )
    modified_on: str = ""  # changes on every upload, deployment and secret change
    migration_tag: str | None = None  # the last Durable Object migration applied




class WorkersArea(EmulatorCore):
    """Scripts, versions, deployments, settings and secret names."""

    def _init_area(self) -> None:
        super()._init_area()
        self._scripts: dict[str, _Script] = {}

    def _account_routers(self) -> list[Router]:
        return [*super()._account_routers(), self._route_workers]

    # ------------------------------------------------------------------ state helpers
    def _script(self, name: str, *, create: bool = False) -> _Script:
        script = self._scripts.get(name)
        if script is None:
            if not create:
                raise ApiError(
                    404, WORKER_NOT_FOUND_CODE, "This Worker does not exist on your account."
                )
            script = _Script(name=name, tag=uuid.uuid4().hex, created_on=self._now())
            self._scripts[name] = script
        return script

    def _helper_script(self, name: str) -> _Script:
        script = self._scripts.get(name)
        if script is None:
            raise EmulatorError(f"no such script {name!r}")
        return script

    @staticmethod
    def _find_version(script: _Script, version_id: str) -> _Version | None:
        for version in script.versions:
            if version.data["id"] == version_id:
                return version
        return None

    def _add_version(
        self,
        script: _Script,
        bindings: list[dict[str, Any]],
        *,
        triggered_by: str,
        message: str | None = None,
        tag: str | None = None,
        compatibility_date: str = "2025-01-01",
        compatibility_flags: Iterable[str] = (),
        etag: str | None = None,
        source: str = "wrangler",
        limits: dict[str, Any] | None = None,
    ) -> _Version:
        now = self._now()
        annotations: dict[str, str] = {"workers/triggered_by": triggered_by}
        if message is not None:
            annotations["workers/message"] = message
        if tag is not None:
            annotations["workers/tag"] = tag
        version_id = str(uuid.uuid4())
        data: dict[str, Any] = {
            "id": version_id,
            "number": len(script.versions) + 1,
            "metadata": {
                "created_on": now,
                "modified_on": now,
                "source": source,
                "author_id": self.author_id,
                "author_email": self.author_email,
                "has_preview": False,
            },
            "annotations": annotations,
            "resources": {
                "bindings": copy.deepcopy(bindings),
                "script": {
                    "etag": etag or hashlib.sha256(version_id.encode()).hexdigest(),
                    "handlers": ["fetch"],
                    "last_deployed_from": source,
                },
                "script_runtime": {
                    "compatibility_date": compatibility_date,
                    "compatibility_flags": list(compatibility_flags),
                    "usage_model": "standard",
                    "limits": limits or {"cpu_ms": 30000},
                },
            },
            "startup_time_ms": 1,
        }
        version = _Version(seq=self._next_seq(), data=data)
        script.versions.append(version)
        self._touch(script, now)
        return version

    def _window(self, script: _Script) -> list[_Version]:
        return script.versions[-self.rollback_window :] if self.rollback_window > 0 else []

    def _add_deployment(
        self,
        script: _Script,
        traffic: list[tuple[str, float]],
        *,
        message: str | None,
        source: str,
        triggered_by: str,
        author_email: str | None = None,
    ) -> dict[str, Any]:
        annotations: dict[str, str] = {"workers/triggered_by": triggered_by}
        if message is not None:
            annotations["workers/message"] = message
        deployment = {
            "id": str(uuid.uuid4()),
            "source": source,
            "strategy": "percentage",
            "author_email": author_email or self.author_email,
            "annotations": annotations,
            "created_on": self._now(),
            "versions": [{"version_id": vid, "percentage": pct} for vid, pct in traffic],
        }
        script.deployments.append(deployment)
        self._touch(script, str(deployment["created_on"]))
        return deployment

    # ------------------------------------------------------------------ public helpers
    def seed_version(
        self,
        script: str,
        bindings: list[dict[str, Any]],
        *,
        deploy: bool = False,
        message: str | None = None,
        tag: str | None = None,
        compatibility_date: str = "2025-01-01",
    ) -> str:
        """Add a version (as if uploaded by wrangler) to `script`, creating the script;
        optionally deploy it at 100%. Returns the new version id."""
        with self._lock:
            s = self._script(script, create=True)
            version = self._add_version(
                s,
                bindings,
                triggered_by="upload",
                message=message,
                tag=tag,
                compatibility_date=compatibility_date,
            )
            if deploy:
                self._add_deployment(
                    s,
                    [(version.data["id"], 100)],
                    message=message,
                    source="wrangler",
                    triggered_by="deployment",
                )
            return str(version.data["id"])

    def deploy(self, script: str, version_id: str, *, message: str | None = None) -> str:
        """Deploy an existing version at 100% without the API's checks (window, secrets):
        a setup tool for tests and drills. Returns the deployment id."""
        with self._lock:
            s = self._helper_script(script)
            if self._find_version(s, version_id) is None:
                raise EmulatorError(f"script {script!r} has no version {version_id!r}")
            deployment = self._add_deployment(
                s, [(version_id, 100)], message=message, source="api", triggered_by="deployment"
            )
            return str(deployment["id"])

    def set_secret(self, script: str, name: str, *, new_version: bool = True) -> str | None:
        """Record that secret `name` of `script` changed now (no value is kept).

        Like the real platform, a secret change with `new_version` creates a version that
        copies the live version's bindings plus a `secret_text` binding, and deploys it at
        100% (triggered_by "secret"); returns its id, or None when nothing was deployed.
        """
        with self._lock:
            s = self._helper_script(script)
            s.secrets[name] = self._next_seq()
            self._touch(s)
            live = self._live(s)
            if not new_version or live is None:
                return None
            bindings = [b for b in live.data["resources"]["bindings"] if b.get("name") != name]
            bindings.append({"type": "secret_text", "name": name})
            runtime = live.data["resources"]["script_runtime"]
            version = self._add_version(
                s,
                bindings,
                triggered_by="secret",
                compatibility_date=runtime["compatibility_date"],
                compatibility_flags=runtime["compatibility_flags"],
                etag=live.data["resources"]["script"]["etag"],
            )
            self._add_deployment(
                s,
                [(version.data["id"], 100)],
                message=None,
                source="wrangler",
                triggered_by="secret",
            )
            return str(version.data["id"])

    def _live(self, script: _Script) -> _Version | None:
        if not script.deployments:
            return None
        traffic = script.deployments[-1]["versions"]
        if not traffic:
            return None
        best = max(traffic, key=lambda t: t["percentage"])
        return self._find_version(script, best["version_id"])

    def live_version(self, script: str) -> dict[str, Any] | None:
        """The version serving the most traffic in the latest deployment (None if none)."""
        with self._lock:
            s = self._scripts.get(script)
            live = self._live(s) if s is not None else None
            return copy.deepcopy(live.data) if live is not None else None

    def versions(self, script: str) -> list[dict[str, Any]]:
        """All versions of `script`, oldest first ([] for an unknown script)."""
        with self._lock:
            s = self._scripts.get(script)
            return [copy.deepcopy(v.data) for v in s.versions] if s is not None else []

    def deployments(self, script: str) -> list[dict[str, Any]]:
        """All deployments of `script`, newest first (as `GET .../deployments`)."""
        with self._lock:
            s = self._scripts.get(script)
            return copy.deepcopy(list(reversed(s.deployments))) if s is not None else []

    def secrets(self, script: str) -> list[str]:
        """Names of the secrets of `script`, sorted."""
        with self._lock:
            s = self._scripts.get(script)
            return sorted(s.secrets) if s is not None else []

    def scripts(self) -> list[str]:
        """Names of all scripts, sorted."""
        with self._lock:
            return sorted(self._scripts)

    # ------------------------------------------------------------------ routing
    def _route_workers(
        self, method: str, sub: str, query: dict[str, str], body: Any, user_agent: str
    ) -> Route | None:
        if not sub.startswith("/workers/"):
            return None
        if method == "GET" and sub == "/workers/subdomain":
            return 200, {"subdomain": "helm-guard-emulator"}, {}
        if method == "GET" and sub == "/workers/scripts":
            return 200, [self._script_summary(s) for s in self._scripts.values()], {}
        m = re.fullmatch(r"/workers/services/([^/]+)", sub)
        if m and method == "GET":
            return 200, self._service(self._script(m.group(1))), {}
        m = re.fullmatch(r"/workers/scripts/([^/]+)(/.*)?", sub)
        if m is None:
            return None
        name, rest = m.group(1), m.group(2) or ""
        return self._route_script(method, name, rest, query, body, user_agent)

    def _route_script(
        self,
        method: str,
        name: str,
        rest: str,
        query: dict[str, str],
        body: Any,
        user_agent: str,
    ) -> tuple[int, Any, dict[str, Any]]:
        source = "wrangler" if user_agent.startswith("wrangler") else "api"
        if rest == "/versions" and method == "POST":
            script = self._script(name, create=self.auto_create)
            return 200, self._upload(script, body, query, source), {}
        script = self._script(name)
        if rest == "/versions" and method == "GET":
            items = self._window(script) if query.get("deployable") == "true" else script.versions
            return 200, {"items": [copy.deepcopy(v.data) for v in reversed(items)]}, {}
        m = re.fullmatch(r"/versions/([^/]+)", rest)
        if m and method == "GET":
            version = self._find_version(script, m.group(1))
            if version is None:
                raise ApiError(404, VERSION_NOT_FOUND_CODE, f"Version {m.group(1)} not found")
            return 200, copy.deepcopy(version.data), {}
        if rest == "/deployments" and method == "GET":
            return 200, {"deployments": copy.deepcopy(list(reversed(script.deployments)))}, {}
        if rest == "/deployments" and method == "POST":
            force = query.get("force") == "true"
            return 200, self._post_deployment(script, body, force, source), {}
        if rest in ("/settings", "/script-settings"):
            if method == "PATCH":
                if not isinstance(body, dict):
                    raise ApiError(400, BAD_REQUEST_CODE, "settings must be a JSON object")
                script.settings.update(body.get("settings", body) if rest == "/settings" else body)
            if method in ("GET", "PATCH"):
                return 200, copy.deepcopy(script.settings), {}
        if rest == "/subdomain":
            if method == "POST" and isinstance(body, dict):
                script.subdomain.update(body)
            if method in ("GET", "POST"):
                return 200, dict(script.subdomain), {}
        if rest == "/secrets" and method == "GET":
            return 200, [{"name": n, "type": "secret_text"} for n in sorted(script.secrets)], {}
        if rest == "/secrets" and method == "PUT":
            if not isinstance(body, dict) or not isinstance(body.get("name"), str):
                raise ApiError(400, BAD_REQUEST_CODE, "secret must have a name")
            self.set_secret(name, body["name"])
            return 200, {"name": body["name"], "type": "secret_text"}, {}
        m = re.fullmatch(r"/secrets/([^/]+)", rest)
        if m and method == "DELETE":
            script.secrets.pop(m.group(1), None)
            self._touch(script)
            return 200, None, {}
        raise ApiError(404, 7003, f"No route for {method} .../scripts/{name}{rest}")

    @staticmethod
    def _script_summary(script: _Script) -> dict[str, Any]:
        summary = {"id": script.name, "tag": script.tag, "created_on": script.created_on,
                   "modified_on": script.modified_on or script.created_on}
        if script.migration_tag is not None:
            summary["migration_tag"] = script.migration_tag  # what wrangler compares
        return summary

    # ------------------------------------------------------------------ audit helpers
    def _touch(self, script: _Script, when: str | None = None) -> None:
        """The script changed now: its `modified_on` in `GET .../workers/scripts` moves (the
        audit re-reads only scripts whose `modified_on` moved)."""
        script.modified_on = when or self._now()

    def out_of_band_deploy(
        self,
        script: str,
        bindings: list[dict[str, Any]] | None = None,
        *,
        version_id: str | None = None,
        author_email: str = "someone@laptop.example",
        message: str | None = "deployed from a laptop",
        source: str = "dashboard",
    ) -> str:
        """A deploy helm-guard did not make (a laptop's `wrangler deploy`, a dashboard
        edit): upload `bindings` as a new version (or take the existing `version_id`) and
        deploy it at 100% as `author_email` from `source`. Returns the live version id."""
        with self._lock:
            s = self._script(script, create=True)
            if version_id is None:
                if bindings is None:
                    raise EmulatorError("give the bindings of a new version or a version_id")
                version_id = str(self._add_version(s, bindings, triggered_by="upload",
                                                   message=message, source=source).data["id"])
            elif self._find_version(s, version_id) is None:
                raise EmulatorError(f"script {script!r} has no version {version_id!r}")
            self._add_deployment(s, [(version_id, 100)], message=message, source=source,
                                 triggered_by="deployment", author_email=author_email)
            return version_id

    def _service(self, script: _Script) -> dict[str, Any]:
        last = script.versions[-1].data if script.versions else None
        modified = last["metadata"]["modified_on"] if last else script.created_on
        return {
            "id": script.name,
            "created_on": script.created_on,
            "modified_on": modified,
            "default_environment": {
                "environment": "production",
                "created_on": script.created_on,
                "modified_on": modified,
                "script": {
                    "id": script.name,
                    "tag": script.tag,
                    "tags": [],
                    "etag": last["resources"]["script"]["etag"] if last else None,
                    "handlers": ["fetch"],
                    "created_on": script.created_on,
                    "modified_on": modified,
                    "usage_model": "standard",
                    "last_deployed_from": "wrangler",
                },
            },
        }

    def _upload(
        self, script: _Script, body: Any, query: dict[str, str], source: str
    ) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
            raise ApiError(400, BAD_REQUEST_CODE, "multipart body must have a metadata part")
        meta = body["metadata"]
        raw_bindings = meta.get("bindings", [])
        if not isinstance(raw_bindings, list) or not all(
            isinstance(b, dict) and isinstance(b.get("name"), str) for b in raw_bindings
        ):
            raise ApiError(400, BAD_REQUEST_CODE, "metadata.bindings must be a list of objects")
        previous = script.versions[-1].data["resources"]["bindings"] if script.versions else []
        prev_by_name = {b["name"]: b for b in previous}
        bindings: list[dict[str, Any]] = []
        seen: set[str] = set()
        for b in raw_bindings:
            if b["name"] in seen:
                raise ApiError(
                    400, 10053, f"the binding name '{b['name']}' cannot be used more than once"
                )
            seen.add(b["name"])
            if b.get("type") == "inherit":
                if b["name"] not in prev_by_name:
                    raise ApiError(
                        400,
                        10056,
                        f"The following required secrets have not been set: {b['name']}",
                    )
                bindings.append(copy.deepcopy(prev_by_name[b["name"]]))
            else:
                bindings.append(
                    {k: v for k, v in b.items() if k not in ("text", "value")}
                    if b.get("type") == "secret_text"
                    else copy.deepcopy(b)
                )
        for kept_type in meta.get("keep_bindings") or []:
            for b in previous:
                if b.get("type") == kept_type and b["name"] not in seen:
                    bindings.append(copy.deepcopy(b))
                    seen.add(b["name"])
        script.migration_tag = self._apply_migrations(script.name, script.migration_tag, meta)
        annotations = meta.get("annotations") or {}
        files = body.get("files", {})
        etag = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
        version = self._add_version(
            script,
            bindings,
            triggered_by="upload",
            message=annotations.get("workers/message"),
            tag=annotations.get("workers/tag"),
            compatibility_date=meta.get("compatibility_date") or "2025-01-01",
            compatibility_flags=meta.get("compatibility_flags") or [],
            etag=etag,
            source=source,
            limits=meta.get("limits"),
        )
        return copy.deepcopy(version.data)

    def _post_deployment(
        self, script: _Script, body: Any, force: bool, source: str
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, BAD_REQUEST_CODE, "deployment body must be a JSON object")
        if body.get("strategy") != "percentage":
            raise ApiError(400, BAD_REQUEST_CODE, 'strategy must be "percentage"')
        entries = body.get("versions")
        if not isinstance(entries, list) or not entries:
            raise ApiError(400, BAD_REQUEST_CODE, "versions must be a non-empty list")
        traffic: list[tuple[str, float]] = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise ApiError(400, BAD_REQUEST_CODE, "each version must be an object")
            vid, pct = entry.get("version_id"), entry.get("percentage")
            if not isinstance(vid, str) or not isinstance(pct, int | float) or pct < 0:
                raise ApiError(400, BAD_REQUEST_CODE, "version_id/percentage invalid")
            traffic.append((vid, pct))
        if abs(sum(p for _, p in traffic) - 100) > 1e-6:
            raise ApiError(400, BAD_REQUEST_CODE, "percentages must sum to 100")
        window_ids = {v.data["id"] for v in self._window(script)}
        targets: list[_Version] = []
        for vid, _ in traffic:
            version = self._find_version(script, vid)
            if version is None:
                raise ApiError(404, VERSION_NOT_FOUND_CODE, f"Version {vid} not found")
            if vid not in window_ids:
                raise ApiError(
                    400,
                    ROLLBACK_WINDOW_CODE,
                    f"Version {vid} cannot be deployed: only the {self.rollback_window} most "
                    "recent versions of a Worker can be deployed or rolled back to.",
                )
            targets.append(version)
        if not force:
            oldest = min(v.seq for v in targets)
            changed = sorted(n for n, seq in script.secrets.items() if seq > oldest)
            if changed:
                raise ApiError(
                    400,
                    SECRETS_CHANGED_CODE,
                    "The following secrets have changed: " + ", ".join(changed),
                )
        annotations = body.get("annotations") or {}
        message = annotations.get("workers/message") if isinstance(annotations, dict) else None
        live = self._live(script)
        rollback = len(targets) == 1 and live is not None and targets[0].seq < live.seq
        return copy.deepcopy(
            self._add_deployment(
                script,
                traffic,
                message=message,
                source=source,
                triggered_by="rollback" if rollback else "deployment",
            )
        )

