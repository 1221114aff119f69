"""Step 2 of `helm-guard rollback`: choose the target version by correctness, not recency.

The candidates are the versions Cloudflare can still roll back to (read through the API door,
`helm_guard.cloudflare.readback`, sorted as `wrangler versions list` sorts them: the last
10). The target is the newest whose bindings equal the shop's expected ones, preferring, in
this order, versions the ledger recorded as deployed (or rolled back to) by helm-guard, then
versions Cloudflare's deployment history shows were live, then versions that were only
uploaded. wrangler's own default (the previous 100% deployment) is never used: it can be the
bad version itself. `--to` is checked the same way and refused if it is not eligible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from helm_guard import state
from helm_guard.bindings import Mismatch
from helm_guard.cloudflare import readback
from helm_guard.cloudflare.wrangler import VERSION_ID_RE, bindings_of
from helm_guard.deploying import explain, judge
from helm_guard.errors import Blocked
from helm_guard.fleet import Fleet, Tenant
from helm_guard.incident import Step
from helm_guard.rollback.ledger import ledger_state

if TYPE_CHECKING:
    from helm_guard.rollback.session import Rollback


def choose_target(rb: Rollback, s: Step) -> str | None:
    """Pick the target; return "done"/"nothing" when there is nothing to do."""
    entries = state.read_ledger(rb.repo, rb.remote, rb.slug)
    good, rb.pending, last_done = ledger_state(entries)
    deployments = readback.deployments(rb.api, rb.worker)
    versions = readback.deployable_versions(rb.api, rb.worker)
    window, order = candidates(versions)
    rb.live_id = live_version(deployments)
    if rb.live_id is None:
        raise Blocked(
            f"{rb.worker} has no live deployment on Cloudflare: nothing to roll back from",
            hint="check the Worker name and account (`wrangler deployments list`)",
        )
    live = window.get(rb.live_id) or readback.version(rb.api, rb.worker, rb.live_id)
    rb.live_bindings = bindings_of(live)
    rb.live_diffs = judge(rb.fleet, rb.tenant, rb.live_bindings)
    rb.live_since = went_live(deployments, rb.live_id)
    s.say(f"live: {rb.live_id} ({live_verdict(rb.live_diffs)})", note=True)
    deployed = deployed_versions(deployments)
    s.say(
        f"{len(order)} version(s) Cloudflare can roll back to; "
        f"{len(good & set(order))} recorded in the ledger"
    )
    if rb.to is not None:
        target = check_explicit(rb.to, window, rb.fleet, rb.tenant)
        why = "named with --to"
    elif not rb.live_diffs:  # never "roll back" from a correct version unless told to
        target, why = live, "the live version itself: it matches the registry"
    else:
        target, why = pick(order, window, good, deployed, rb.fleet, rb.tenant)
    rb.target_id = str(target["id"])
    rb.target_bindings = bindings_of(target)
    s.say(f"target: {rb.target_id} ({why})", note=True)
    if rb.target_id != rb.live_id:
        return None
    if rb.pending is not None and rb.pending.to_version == rb.live_id:
        s.say(
            "the target is already live: an earlier run got this far; continuing with "
            "verify and record",
            note=True,
        )
        return None
    if last_done is not None and last_done.get("to_version") == rb.live_id:
        rb.others = [str(x) for x in last_done.get("other_shops") or []]
        s.say(
            f"already rolled back to {rb.live_id} at {last_done.get('at')} "
            f"(incident file {last_done.get('incident_file')}); nothing left to do"
        )
        return "done"
    s.say(
        "the live version already binds the shop's own resources: nothing to roll back "
        "(use --to VERSION_ID to roll back to a specific older version)"
    )
    return "nothing"


def candidates(
    versions: Sequence[Any],
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """(the versions Cloudflare can roll back to by id, their ids oldest first)."""
    window = {str(v.get("id")): v for v in versions if isinstance(v, dict)}
    order = [str(v.get("id")) for v in versions if isinstance(v, dict)]  # oldest first
    return window, order


def live_version(deployments: Sequence[Any]) -> str | None:
    """The version serving the most traffic in the newest deployment (wrangler lists oldest
    first)."""
    if not deployments or not isinstance(deployments[-1], dict):
        return None
    traffic = [v for v in deployments[-1].get("versions") or [] if isinstance(v, dict)]
    if not traffic:
        return None
    best = max(traffic, key=lambda v: float(v.get("percentage") or 0))
    vid = best.get("version_id")
    return str(vid) if isinstance(vid, str) and VERSION_ID_RE.fullmatch(vid) else None


def went_live(deployments: Sequence[Any], version_id: str | None) -> str | None:
    """When `version_id` first served traffic, by Cloudflare's deployment history (wrangler
    lists it oldest first): the `created_on` of the oldest listed deployment that gave it a
    share; None when unknown. Bounds the data audit of an incident (the history Cloudflare
    returns may be cut off: the audit starts no later than this)."""
    for d in deployments:
        if not isinstance(d, dict):
            continue
        for v in d.get("versions") or []:
            if isinstance(v, dict) and v.get("version_id") == version_id and \
                    float(v.get("percentage") or 0) > 0:
                created = d.get("created_on")
                return created if isinstance(created, str) else None
    return None


def live_verdict(diffs: Sequence[Mismatch]) -> str:
    """How the live version's bindings compare with the registry, in a few words."""
    if any(d.owner for d in diffs):
        return "binds ANOTHER shop's resources"
    return "differs from the registry" if diffs else "matches the registry"


def deployed_versions(deployments: Sequence[Any]) -> set[str]:
    """Versions Cloudflare's deployment history shows served 100% at some point."""
    return {
        str(v.get("version_id"))
        for d in deployments
        if isinstance(d, dict)
        for v in d.get("versions") or []
        if isinstance(v, dict) and v.get("percentage") == 100
    }


def check_explicit(
    to: str,
    window: Mapping[str, Mapping[str, Any]],
    fleet: Fleet,
    tenant: Tenant,
) -> Mapping[str, Any]:
    """The version named with `--to`, refused unless it can be rolled back to and binds
    exactly the shop's expected resources."""
    worker = fleet.expected(tenant).worker
    if to not in window:
        raise Blocked(
            f"version {to} is not among the {len(window)} versions of {worker} "
            "that Cloudflare can still roll back to",
            hint="pick one from `wrangler versions list`, or leave out --to to let "
            "helm-guard choose",
        )
    target = window[to]
    diffs = judge(fleet, tenant, bindings_of(target))
    if diffs:
        raise Blocked(
            f"refusing --to {to}: its bindings are not shop {tenant.label()}'s own:\n"
            + explain(diffs, tenant.shop),
            hint="leave out --to to let helm-guard pick the newest correct version",
        )
    return target


def pick(
    order: list[str],
    window: Mapping[str, Mapping[str, Any]],
    good: set[str],
    deployed: set[str],
    fleet: Fleet,
    tenant: Tenant,
) -> tuple[Mapping[str, Any], str]:
    """The newest version whose bindings match, by preference (recorded in the ledger, then
    live before, then only uploaded), and why it was picked."""
    matching = [
        vid
        for vid in reversed(order)  # newest first
        if not judge(fleet, tenant, bindings_of(window[vid]))
    ]
    tiers = (
        (good, "newest correct version the ledger recorded as deployed"),
        (deployed, "newest correct version that was live before (not in the ledger)"),
        (set(matching), "newest correct version; it was uploaded but NEVER live"),
    )
    for ids, why in tiers:
        for vid in matching:
            if vid in ids:
                return window[vid], why
    slug = tenant.shop
    raise Blocked(
        f"no version of {fleet.expected(tenant).worker} that Cloudflare can still roll back "
        f"to binds shop {slug}'s own resources (checked {len(order)}); nothing was rolled back",
        hint="options: (1) fix the shop's config in git (the registry is the truth), get it "
        f"reviewed, `helm-guard resume --shop {slug} --reason TEXT` and `helm-guard deploy --shop "
        f"{slug}`; (2) if you know a correct older version, `--to VERSION_ID` (it is "
        "still checked); (3) to stop the damage now, take the shop offline (e.g. disable "
        "its route) while you fix it",
    )
