"""One audit run: read what is live (incrementally), judge it, say what it found.

Requests per run (C = the client, every attempt counted, retries included):
- always: the account's Workers (1), custom domains (1), zones (1 per 50), each zone's routes
  (1 per zone);
- per Worker whose `modified_on` moved since the cursor (or with no cursor entry): its
  deployments (1) and each version of the live deployment not yet known clean against the
  tenant's current digest (1 each);
- per Worker found drifted: its versions again, every run (a drift verdict is never cached).

Reads run on `threads` worker threads sharing the client (its token bucket paces them all);
verdicts and the cursor are handled by the calling thread only. `save(cursor_json)` is called
every `save_every` seconds while something new was learnt, at the end, and on an interruption,
so a long cold audit resumes where it stopped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, NamedTuple, Protocol

from helm_guard.audit import model
from helm_guard.audit.cursor import Cursor
from helm_guard.audit.model import AuditReport, Deployment, Problem, Stats, Verdict
from helm_guard.audit.provenance import is_recorded
from helm_guard.audit.truth import Truth
from helm_guard.fleet import Fleet, Tenant
from helm_guard.hosts import Served, ShapeError, served_by_domains, served_by_routes
from helm_guard.state import LedgerEntry

Progress = Callable[[int, int], None]
Save = Callable[[dict[str, Any]], None]


class Reader(Protocol):
    """The Cloudflare reads the audit makes (`helm_guard.cloudflare.api.Client`)."""

    account_id: str
    requests: int
    retried: int
    throttled_seconds: float

    def scripts(self) -> list[dict[str, Any]]: ...
    def deployments(self, script: str) -> list[dict[str, Any]]: ...
    def version(self, script: str, version_id: str) -> dict[str, Any]: ...
    def custom_domains(self) -> list[dict[str, Any]]: ...
    def zones(self) -> list[dict[str, Any]]: ...
    def zone_routes(self, zone_id: str) -> list[dict[str, Any]]: ...


class Ledger(Protocol):
    """The deploy ledger as the audit needs it (`helm_guard.state.audit_cursor`)."""

    error: str | None  # why it could not be read (then nothing is "recorded")
    ids: dict[str, str]  # shop -> ledger blob id (changes whenever the shop's ledger does)

    def entries(self, slugs: Iterable[str]) -> dict[str, list[LedgerEntry]]: ...


class _Job(NamedTuple):
    tenant: Tenant
    worker: str
    deployment: Deployment | None  # known from the cursor; None: read it
    clean: frozenset[str]  # version ids known clean against the tenant's digest


class _Read(NamedTuple):
    deployment: Deployment | None
    bindings: dict[str, list[dict[str, Any]]]  # version id -> bindings read this run
    error: str | None


class _Hosts(NamedTuple):
    served: dict[str | None, list[Served]]  # worker -> what sends hosts to it
    by_host: dict[str, list[Served]]  # host (no wildcard) -> what serves it
    wild: list[Served]  # wildcard patterns: judged against every tenant's hosts
    error: str | None


def run_audit(fleet: Fleet, client: Reader, ledger: Ledger, cursor: Cursor, *,
              shops: Iterable[str] | None = None, threads: int = 4,
              progress: Progress | None = None, save: Save | None = None,
              save_every: float = 30.0, clock: Callable[[], float] = time.monotonic
              ) -> AuditReport:
    start, first_requests = clock(), client.requests
    truth = Truth(fleet)
    wanted = set(shops) if shops is not None else None
    tenants = [t for t in fleet.tenants() if wanted is None or t.shop in wanted]
    notes: list[str] = []
    try:
        scripts = {str(s["id"]): str(s.get("modified_on") or "") for s in client.scripts()
                   if isinstance(s.get("id"), str)}
    except Exception as exc:  # noqa: BLE001 - any failure: every tenant is UNKNOWN
        reason = f"the account's Workers could not be listed: {_why(exc)}"
        verdicts = [Verdict(t.label(), t.shop, t.stage, truth.worker(t), model.UNKNOWN,
                            reason=reason) for t in tenants]
        return _report(client, fleet, verdicts, notes, start, first_requests, clock, 0, 0, 0)
    hosts = _read_hosts(client)
    if ledger.error:
        notes.append(f"the ledger could not be read: {ledger.error}")

    jobs: list[_Job] = []
    done: dict[Tenant, Verdict] = {}
    pending: dict[Tenant, tuple[Deployment | None, dict[str, list[dict[str, Any]]]]] = {}
    for tenant in tenants:
        worker = truth.worker(tenant)
        if worker not in scripts:
            done[tenant] = _verdict(truth, tenant, worker, None, [], hosts, None, "",
                                    missing="no Worker of this name in the account")
            cursor.forget(worker)
            continue
        entry = cursor.entry(worker)
        fresh = (entry is not None and entry["modified_on"] == scripts[worker]
                 and entry["shop"] == tenant.shop and entry["stage"] == tenant.stage)
        known = _deployment(entry) if fresh else None
        digest = truth.digest(tenant)
        if fresh and (known is None or all(cursor.is_clean(v, digest) for v, _ in known.versions)):
            pending[tenant] = (known, {})  # nothing to read
        else:
            clean = frozenset(v for v, _ in known.versions if cursor.is_clean(v, digest)) \
                if known else frozenset()
            jobs.append(_Job(tenant, worker, known, clean))

    stale = {t.shop for t in tenants if t not in done and not _reusable(
        cursor.entry(truth.worker(t)), scripts.get(truth.worker(t)), ledger, t)}
    entries = ledger.entries(sorted(stale)) if stale and not ledger.error else {}
    total, finished = len(tenants), len(done)
    last_save = clock()

    def settle(tenant: Tenant, worker: str, read: _Read, cached: bool) -> None:
        nonlocal finished
        finished += 1
        done[tenant] = _settle(truth, cursor, ledger, entries, scripts, hosts, tenant, worker,
                               read, cached)
        if progress is not None:
            progress(finished, total)

    for tenant, (known, _) in pending.items():
        settle(tenant, truth.worker(tenant), _Read(known, {}, None), True)
    read_workers = sum(1 for j in jobs if j.deployment is None)
    counted = [0]
    try:
        with ThreadPoolExecutor(max_workers=max(1, threads),
                                thread_name_prefix="helm-audit") as pool:
            futures: dict[Future[_Read], _Job] = {
                pool.submit(_read_worker, client, job): job for job in jobs}
            try:
                while futures:
                    finished_now, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for fut in finished_now:
                        job = futures.pop(fut)
                        read = fut.result()
                        counted[0] += len(read.bindings)
                        settle(job.tenant, job.worker, read, False)
                    if save is not None and cursor.dirty and clock() - last_save >= save_every:
                        save(cursor.to_json())
                        cursor.dirty = False
                        last_save = clock()
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
    except BaseException:
        if save is not None and cursor.dirty and not ledger.error:
            save(cursor.to_json())  # resume from here next time
        raise

    _second_look(truth, cursor, ledger, done)
    verdicts = [done[t] for t in tenants]
    if wanted is None:
        verdicts += _unknown_workers(fleet, truth, scripts, {truth.worker(t) for t in tenants})
        cursor.prune({truth.worker(t) for t in tenants if truth.worker(t) in scripts})
    if save is not None and cursor.dirty and not ledger.error:
        save(cursor.to_json())
        cursor.dirty = False
    if hosts.error:
        notes.append(hosts.error)
    return _report(client, fleet, verdicts, notes, start, first_requests, clock,
                   len(scripts), read_workers, counted[0])


def _second_look(truth: Truth, cursor: Cursor, ledger: Ledger,
                 done: dict[Tenant, Verdict]) -> None:
    """Read the ledger again for out-of-band verdicts: a deploy that went live just before the
    read records itself a few seconds later, and must not be reported as out of band."""
    oob = [t for t, v in done.items() if v.status == model.OUT_OF_BAND]
    refresh = getattr(ledger, "refresh", None)
    if not oob or refresh is None or not refresh():
        return
    entries = ledger.entries(sorted({t.shop for t in oob}))
    for tenant in oob:
        v = done[tenant]
        if v.deployment and is_recorded(v.deployment, entries.get(tenant.shop, []), tenant.stage):
            done[tenant] = v._replace(status=model.IN_SYNC, recorded=True, reason=None)
            entry = cursor.entry(v.worker)
            if entry is not None:
                cursor.put(v.worker, {**entry, "recorded": True,
                                      "ledger": ledger.ids.get(tenant.shop)})


def _why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _deployment(entry: dict[str, Any] | None) -> Deployment | None:
    raw = entry.get("deployment") if entry else None
    return Deployment.from_api(raw) if isinstance(raw, dict) else None


def _reusable(entry: dict[str, Any] | None, modified_on: str | None, ledger: Ledger,
              tenant: Tenant) -> bool:
    """Whether the cursor's "recorded" answer still holds: same Worker state, same ledger."""
    return (entry is not None and entry["shop"] == tenant.shop
            and entry["stage"] == tenant.stage and entry["modified_on"] == modified_on
            and entry["ledger"] == ledger.ids.get(tenant.shop))


def _read_worker(client: Reader, job: _Job) -> _Read:
    """On a pool thread: the live deployment (unless known) and the versions not known clean.
    Never raises: a failure is the tenant's UNKNOWN."""
    try:
        deployment = job.deployment
        if deployment is None:
            listed = client.deployments(job.worker)
            deployment = Deployment.from_api(listed[0]) if listed else None
        bindings: dict[str, list[dict[str, Any]]] = {}
        for vid, _ in deployment.versions if deployment else ():
            if vid in job.clean or vid in bindings:
                continue
            version = client.version(job.worker, vid)
            raw = (version.get("resources") or {}).get("bindings")
            if not isinstance(raw, list):
                raise ValueError(f"version {vid} has no bindings list")
            bindings[vid] = [b for b in raw if isinstance(b, dict)]
        return _Read(deployment, bindings, None)
    except Exception as exc:  # noqa: BLE001 - reported as UNKNOWN, never as in sync
        return _Read(None, {}, f"Cloudflare could not be read for {job.worker}: {_why(exc)}")


def _read_hosts(client: Reader) -> _Hosts:
    """Custom domains and every zone's routes, indexed by Worker and by host. Parsed by the
    parsers deploy's read-back uses (`hosts.served_by_domains`/`served_by_routes`: an entry of
    another shape makes every tenant UNKNOWN, never skipped)."""
    served: dict[str | None, list[Served]] = {}
    by_host: dict[str, list[Served]] = {}
    wild: list[Served] = []
    try:
        found = served_by_domains(client.custom_domains())
        for zone in client.zones():
            if not isinstance(zone.get("id"), str):
                raise ShapeError(f"a zone without an id: {str(zone)[:120]}")
            found += served_by_routes(client.zone_routes(zone["id"]),
                                      str(zone.get("name") or zone["id"]))
    except Exception as exc:  # noqa: BLE001 - then no tenant can be said to be in sync
        return _Hosts({}, {}, [], f"routes and custom domains could not be read: {_why(exc)}")
    for item in found:
        served.setdefault(item.worker, []).append(item)
        if "*" in item.host:
            wild.append(item)
        else:
            by_host.setdefault(item.host, []).append(item)
    return _Hosts(served, by_host, wild, None)


def _host_problems(truth: Truth, tenant: Tenant, worker: str, hosts: _Hosts) -> list[Problem]:
    """Hosts reaching the tenant's Worker that are not its own, and its own hosts served by
    another Worker: `hosts.judge_hosts`, the judge deploy's read-back applies."""
    relevant = list(hosts.served.get(worker, ()))
    for host in sorted(truth.registered_hosts(tenant)):
        relevant += hosts.by_host.get(host, ())
    relevant += hosts.wild
    return [Problem(p.kind, p.pattern, p.message, p.other)
            for p in truth.judge_hosts(tenant, dict.fromkeys(relevant))]


def _settle(truth: Truth, cursor: Cursor, ledger: Ledger, entries: dict[str, list[LedgerEntry]],
            scripts: dict[str, str], hosts: _Hosts, tenant: Tenant, worker: str, read: _Read,
            cached: bool) -> Verdict:
    """Judge one tenant's read (main thread) and update the cursor."""
    if read.error is not None:
        cursor.forget(worker)
        return _verdict(truth, tenant, worker, None, [], hosts, None, "", unknown=read.error)
    digest = truth.digest(tenant)
    problems: list[Problem] = []
    deployment = read.deployment
    for vid, _ in deployment.versions if deployment else ():
        if vid not in read.bindings:
            continue  # known clean against this digest
        found = truth.judge(tenant, read.bindings[vid])
        problems += [Problem("binding", name, f"version {vid}: {msg}", other)
                     for name, msg, other in found]
        if not found:
            cursor.remember_clean(vid, digest)
    entry = cursor.entry(worker)
    recorded: bool | None = None
    if deployment is not None and not ledger.error:
        if _reusable(entry, scripts[worker], ledger, tenant) and entry is not None and \
                entry["deployment"] == deployment.to_json():
            recorded = bool(entry["recorded"])
        else:
            recorded = is_recorded(deployment, entries.get(tenant.shop, []), tenant.stage)
    if recorded is not None or deployment is None:
        cursor.put(worker, {"shop": tenant.shop, "stage": tenant.stage,
                            "modified_on": scripts[worker], "digest": digest,
                            "ledger": ledger.ids.get(tenant.shop),
                            "deployment": deployment.to_json() if deployment else None,
                            "recorded": bool(recorded)})
    return _verdict(truth, tenant, worker, deployment, problems, hosts, recorded,
                    ledger.error or "", cached=cached and not read.bindings,
                    missing=None if deployment else "the Worker exists but nothing is deployed")


def _verdict(truth: Truth, tenant: Tenant, worker: str, deployment: Deployment | None,
             problems: list[Problem], hosts: _Hosts, recorded: bool | None, ledger_error: str,
             *, missing: str | None = None, unknown: str | None = None,
             cached: bool = False) -> Verdict:
    problems = problems + _host_problems(truth, tenant, worker, hosts)
    others = tuple(sorted({p.other.split(" ")[0] for p in problems if p.other} - {tenant.shop}))
    base = Verdict(tenant.label(), tenant.shop, tenant.stage, worker, model.IN_SYNC,
                   tuple(problems), others, deployment, recorded, None, cached)
    if unknown is not None:
        return base._replace(status=model.UNKNOWN, reason=unknown)
    if problems:
        return base._replace(status=model.DRIFT)
    if missing is not None:
        return base._replace(status=model.MISSING, reason=missing)
    if hosts.error:
        return base._replace(status=model.UNKNOWN, reason=hosts.error)
    if recorded is None:
        return base._replace(status=model.UNKNOWN,
                             reason=f"the ledger could not be read: {ledger_error}")
    if not recorded:
        return base._replace(status=model.OUT_OF_BAND,
                             reason="the live deployment is not in the ledger: helm-guard did "
                             "not make it")
    return base


def _unknown_workers(fleet: Fleet, truth: Truth, scripts: dict[str, str],
                     tenant_workers: set[str]) -> list[Verdict]:
    """Workers of the account that belong to no tenant and are not shared services."""
    patterns = [_template_re(fleet.naming["worker"]), _template_re(fleet.naming["stage_worker"])]
    out = []
    for name in sorted(scripts):
        if name in tenant_workers or name in fleet.shared_services:
            continue
        slug = next((m.group("slug") for p in patterns if p and (m := p.fullmatch(name))), None)
        reason = (f"named like shop {slug!r}, which the registry does not know" if slug
                  else "not a Worker of the fleet (no registered tenant, not in "
                  "shared.services)")
        out.append(Verdict(name, None, None, name, model.UNKNOWN_WORKER, reason=reason))
    return out


def _template_re(template: str) -> re.Pattern[str] | None:
    """`helm-{slug}` -> a regex with group `slug` (stage: any name)."""
    parts = re.split(r"(\{slug\}|\{stage\})", template)
    if "{slug}" not in parts:
        return None
    body = "".join("(?P<slug>[a-z0-9-]+?)" if p == "{slug}" else "[a-z0-9-]+" if p == "{stage}"
                   else re.escape(p) for p in parts)
    return re.compile(body)


def _report(client: Reader, fleet: Fleet, verdicts: list[Verdict], notes: list[str],
            start: float, first_requests: int, clock: Callable[[], float], listed: int,
            read_workers: int, versions_read: int) -> AuditReport:
    stats = Stats(client.requests - first_requests, client.retried, client.throttled_seconds,
                  listed, read_workers, versions_read, clock() - start)
    return AuditReport(client.account_id, tuple(verdicts), stats, tuple(notes))
