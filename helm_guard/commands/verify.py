"""`helm-guard verify --shop SLUG --digest sha256:...`: the last look before `wrangler deploy`.

Run in the deploy job on the checkout it is about to deploy. It recomputes the shop's deploy
digest (`helm_guard.digest`) from that checkout and compares it with the digest the gate put
in the plan, re-runs the whole-fleet check and refuses on any finding that touches the shop,
and re-reads the halt state from the remote (failing closed when it cannot be read). Any
difference exits 1 and says what changed: this closes the gap between "what was checked" and
"what is deployed" (a moved ref, a re-run of an old job, an edit between jobs).

`--env` selects the target (the wrangler env, as in the plan entry); without it, the shop's
production target. `--commit` (the plan's commit) also requires the checkout to be at it.
The deploy command calls `verify_shop` directly.
"""

from __future__ import annotations

import argparse
from typing import Any, NamedTuple

from helm_guard.commands._common import add_fleet_option
from helm_guard.errors import EXIT_OK, Blocked, UsageError
from helm_guard.finding import Finding
from helm_guard.fleet import SLUG_RE


class VerifiedShop(NamedTuple):
    """A target that may be deployed now: what it is, and the evidence."""

    shop: str
    env: str | None  # the wrangler env (`--env`) to deploy
    config: str  # path relative to the fleet root
    config_path: str  # absolute path
    worker: str | None
    digest: str
    target: dict[str, Any]  # `inspect`'s view of the target
    state_commit: str | None  # the halt-state commit that allowed it (None: no state yet)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shop", required=True, metavar="SLUG", help="the shop to deploy")
    p.add_argument("--digest", required=True, metavar="sha256:HEX",
                   help="the digest from the gate's plan entry")
    p.add_argument("--env", metavar="ENV",
                   help="the target's wrangler env from the plan entry (default: production)")
    p.add_argument("--commit", metavar="SHA", help="require the checkout to be at this commit")
    add_fleet_option(p)
    p.add_argument("--remote", metavar="NAME",
                   help="the git remote with the halt state (default: the fleet file's "
                        "state.remote, else origin)")


def run(args: argparse.Namespace) -> int:
    v = verify_shop(args.fleet, args.shop, args.digest, args.remote, env=args.env,
                    commit=args.commit)
    which = "production" if v.env is None or v.env == v.shop else f"env {v.env}"
    print(f"helm-guard verify: shop {v.shop} ({v.config}, {which}, Worker {v.worker}) matches "
          f"{v.digest}; no findings; no halt in force "
          f"(state {v.state_commit[:12] if v.state_commit else 'not initialised'})")
    return EXIT_OK


def verify_shop(fleet_path: str | None, shop: str, digest: str, remote: str | None = None, *,
                env: str | None = None, commit: str | None = None,
                wrangler_schema: str | None = None) -> VerifiedShop:
    """Verify that `shop`'s target may be deployed from the checkout now, or raise Blocked.

    Bad arguments raise UsageError (exit 2) before anything is read.
    """
    from helm_guard import state
    from helm_guard.commands.check import run_fleet_check
    from helm_guard.digest import target_digest, valid_digest
    from helm_guard.fleet import Tenant

    if not SLUG_RE.match(shop):
        raise UsageError(f"--shop {shop!r} is not a shop slug")
    if not valid_digest(digest):
        raise UsageError(f"--digest {digest!r} is not sha256: followed by 64 lowercase hex "
                         "digits", hint="pass the digest of the shop's entry in the gate's plan")
    if env is not None and (not env or env.startswith("-") or len(env) > 128):
        raise UsageError(f"--env {env!r} is not an env name")
    if commit is not None:
        _check_commit(fleet_path, commit)

    result = run_fleet_check(fleet_path, wrangler_schema)
    fleet = result.context.fleet
    if shop not in fleet.shops:
        raise Blocked(f"shop {shop} is not in the registry of {fleet.path.name}",
                      hint="the plan does not belong to this checkout; re-run the gate")
    mine = [t for t in result.context.targets if t.shop == shop]
    if env is None:
        chosen = [t for t in mine if t.tenant == Tenant(shop)]
    else:
        chosen = [t for t in mine if t.target.env == env]
    if len(chosen) != 1:
        what = "production" if env is None else f"env {env}"
        found = "no" if not chosen else f"{len(chosen)}"
        raise Blocked(f"shop {shop} has {found} {what} target(s) in this checkout, expected one",
                      hint="the plan does not match this checkout; re-run the gate")
    t = chosen[0]
    target = t.target.as_dict()
    now = target_digest(target, fleet.shops[shop], fleet.naming)
    problems = []
    if now != digest:
        problems.append(
            f"the checked config was {digest}, now it is {now}: {t.file.rel} "
            f"({'production' if env is None else f'env {env}'}) or the registry entry of {shop} "
            "changed since the gate ran (a moved ref, a re-run of an old job, or an edit "
            "between jobs)")
    touching = _touching(result.findings, shop, {x.file.rel for x in mine}, fleet.path.name)
    if touching:
        f = touching[0]
        more = f" (and {len(touching) - 1} more)" if len(touching) > 1 else ""
        problems.append(f"the check now finds {f.rule} at {f.path}:{f.line}:{f.col}: "
                        f"{f.message}{more}")
    if problems:
        raise Blocked(f"shop {shop} must not be deployed: " + "; ".join(problems),
                      hint="re-run the gate on the commit to deploy and use its plan")

    remote = remote or (fleet.data.get("state") or {}).get("remote") or "origin"
    st = state.read_state(fleet.root, remote, must_exist="state" in fleet.data)
    state.check_deploy_allowed(st, shop, "deploy").raise_if_blocked()
    return VerifiedShop(shop, t.target.env, t.file.rel, str(t.file.entry.path),
                        t.target.worker, now, target, st.commit)


def _touching(findings: list[Finding], shop: str, files: set[str], fleet_rel: str) -> list[Finding]:
    """Findings about the shop, in its config files, or fleet-wide ones (no shop named)."""
    return [f for f in findings
            if f.shop == shop or (f.shop is None and (f.path in files or f.path == fleet_rel))]


def _check_commit(fleet_path: str | None, commit: str) -> None:
    from helm_guard import gitio
    from helm_guard.fleet import find_fleet_file

    if not gitio.valid_ref(commit):
        raise UsageError(f"--commit {commit!r} is not a commit id")
    root = find_fleet_file(fleet_path).parent
    want = gitio.resolve_commit(root, commit)
    have = gitio.resolve_commit(root, "HEAD")
    if want is None or want != have:
        raise Blocked(f"the checkout is at {(have or 'nothing')[:12]}, not at the planned commit "
                      f"{commit[:12]}", hint="check out the plan's commit before deploying")
