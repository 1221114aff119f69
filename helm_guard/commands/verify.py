"""`helm-guard verify --shop SLUG --digest sha256:...`: the last look before `wrangler deploy`.

Run in the deploy job on the checkout it is about to deploy. It recomputes the shop's deploy
digest (`helm_guard.digest`) from that checkout and compares it with the digest the gate put
in the plan, re-runs the whole-fleet check and refuses on any finding that touches the shop,
re-reads the halt state from the remote (failing closed when it cannot be read), and checks the
deploy order against the shop's ledger. Any difference exits 1 and says what changed: this
closes the gap between "what was checked" and "what is deployed" (a moved ref, a re-run of an
old job, an edit between jobs).

Deploy order: GitHub's `concurrency` groups serialise a shop's deploy jobs but are not FIFO,
so an older queued job may start after a newer one and would put the older commit live. The
ledger is read from the same remote state commit as the halt (fail closed: unreadable or
malformed blocks); its last `deploy` record for this shop *and stage* (records without a
`stage` are production) gives the commit deployed last, R. The checkout's commit H (HEAD,
which `--commit` pins) is refused when R is a strict descendant of H ("a newer commit R was
already deployed ...; this job is older"). H equal to R is allowed (a re-run of the same
commit, e.g. to record a deploy whose ledger write failed), and so is H descending from R (the
normal case). When neither contains the other (history rewritten, or a deploy from another
branch) a full clone allows it, since it is not an ordering question; a shallow clone cannot
tell unrelated from cut off and blocks. R unknown to this clone (a shallow checkout, or a
commit not fetched) blocks too: check out with `fetch-depth: 0`. Rollbacks are not deploys and
do not take part.

`--env` selects the target (the wrangler env, as in the plan entry); without it, the shop's
production target. `--commit` (the plan's commit) also requires the checkout to be at it.
The deploy command calls `verify_shop` directly.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from helm_guard.commands._common import add_fleet_option
from helm_guard.errors import EXIT_OK, Blocked, UsageError
from helm_guard.finding import Finding
from helm_guard.fleet import Tenant
from helm_guard.slugs import check_shop_slug

if TYPE_CHECKING:
    from helm_guard.state import HaltState

_SHA_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})\Z")


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
    stage: str | None = None  # the target's stage (None: production)
    last_commit: str | None = None  # the commit deployed last to this shop and stage, if any


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
    which = "production" if v.stage is None else f"stage {v.stage}, env {v.env}"
    order = (f"; not older than the last deploy ({v.last_commit[:12]})" if v.last_commit
             else "")
    print(f"helm-guard verify: shop {v.shop} ({v.config}, {which}, Worker {v.worker}) matches "
          f"{v.digest}; no findings; no halt in force "
          f"(state {v.state_commit[:12] if v.state_commit else 'not initialised'}){order}")
    return EXIT_OK


def verify_shop(fleet_path: str | None, shop: str, digest: str, remote: str | None = None, *,
                env: str | None = None, commit: str | None = None,
                wrangler_schema: str | None = None) -> VerifiedShop:
    """Verify that `shop`'s target may be deployed from the checkout now, or raise Blocked.

    Bad arguments raise UsageError (exit 2) before anything is read.
    """
    from helm_guard import state
    from helm_guard.commands.check import run_fleet_check
    from helm_guard.digest import deploy_digest, valid_digest

    check_shop_slug(shop)
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
    now = deploy_digest(fleet, t)
    problems = []
    if now != digest:
        problems.append(
            f"the checked config was {digest}, now it is {now}: {t.file.rel} "
            f"({'production' if env is None else f'env {env}'}), a file wrangler reads beside "
            f"or above it (.env*, .dev.vars*, a .wrangler redirect, another wrangler config), "
            f"the registry entry of {shop} or the naming changed since the gate ran (a moved "
            "ref, a re-run of an old job, an edit between jobs, a file dropped into the "
            "checkout)")
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
    stage = t.tenant.stage if t.tenant is not None else None
    last = check_deploy_order(fleet.root, st, shop, stage)
    return VerifiedShop(shop, t.target.env, t.file.rel, str(t.file.entry.path),
                        t.target.worker, now, target, st.commit, stage, last)


def check_deploy_order(repo: Path, st: HaltState, shop: str, stage: str | None) -> str | None:
    """Refuse to deploy the checkout's commit when the ledger (at the state commit `st` was
    read from) shows a newer commit already deployed to (`shop`, `stage`); see the module
    docstring. Returns the commit deployed last (None: no deploy recorded)."""
    from helm_guard import gitio, state

    if st.commit is None:
        return None
    try:
        raw = gitio.read_blob(repo, st.commit, state.ledger_path(shop))
    except gitio.GitError as exc:
        raise Blocked(f"cannot read shop {shop}'s ledger at state {st.commit[:12]}: "
                      f"{exc.detail}", hint="run `git fsck` here, or retry from a fresh clone"
                      ) from None
    entries = state.parse_ledger(raw, shop, remote=st.remote) if raw else []
    last = None
    for e in entries:
        if e.record.get("action") == "deploy" and e.record.get("stage") == stage:
            last = e
    if last is None:
        return None
    who = Tenant(shop, stage).label()
    when = state.format_time(last.at)
    where = f"ledger/{shop} #{last.seq}"
    recorded = last.record.get("commit")
    if not isinstance(recorded, str) or not _SHA_RE.match(recorded):
        raise Blocked(f"the last deploy of shop {who} ({when}, {where}) records no commit id "
                      f"({recorded!r}): cannot tell whether this job is older",
                      hint="look at the ledger (`helm-guard status`) and fix the record")
    here = gitio.rev_parse(repo, "HEAD")
    if here is None:
        raise Blocked("the checkout has no HEAD commit", hint="check out the commit to deploy")
    if recorded == here:
        return recorded
    shallow = gitio.is_shallow(repo)
    if not gitio.has_commit(repo, recorded):
        raise Blocked(
            f"the last deploy of shop {who} ({when}, {where}) was commit {recorded[:12]}, which "
            f"this {'shallow ' if shallow else ''}clone does not have: cannot tell whether "
            f"this job's commit {here[:12]} is older",
            hint="check out with full history (actions/checkout `fetch-depth: 0`), or "
            f"`git fetch` the branch that has {recorded[:12]}")
    try:
        newer = gitio.is_ancestor(repo, here, recorded)
        older = gitio.is_ancestor(repo, recorded, here)
    except gitio.GitError as exc:
        raise Blocked(f"cannot compare this job's commit {here[:12]} with the last deployed "
                      f"{recorded[:12]}: {exc.detail}",
                      hint="run `git fsck` here, or retry from a fresh full clone") from None
    if newer and not older:
        raise Blocked(
            f"a newer commit {recorded[:12]} was already deployed for shop {who} at {when} "
            f"({where}); this job (commit {here[:12]}) is older: re-run the latest pipeline "
            "instead",
            hint="GitHub's concurrency groups are not FIFO, so an older queued deploy job can "
            "start after a newer one; deploying it would put older code live. To go back on "
            "purpose, revert on the branch (a new commit) or use `helm-guard rollback`")
    if not newer and not older and shallow:
        raise Blocked(
            f"the last deploy of shop {who} ({when}, {where}) was commit {recorded[:12]}, and "
            f"this shallow clone shows no ancestry between it and this job's commit "
            f"{here[:12]}: cannot tell whether this job is older",
            hint="check out with full history (actions/checkout `fetch-depth: 0`)")
    return recorded


# rules about files any wrangler run may read (a root .env, a parent wrangler.json, a stray
# config): a finding of theirs that names no shop concerns every shop
_REPOSITORY_RULES = frozenset({"HG104", "HG606"})


def _touching(findings: list[Finding], shop: str, files: set[str], fleet_rel: str) -> list[Finding]:
    """Findings about the shop, in its config files, fleet-wide ones (no shop named) in the
    fleet file, and repository-wide ones about files wrangler reads (HG104, HG606)."""
    return [f for f in findings
            if f.shop == shop or (f.shop is None and (f.path in files or f.path == fleet_rel
                                                      or f.rule in _REPOSITORY_RULES))]


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
