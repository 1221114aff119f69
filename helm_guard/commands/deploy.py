"""`helm-guard deploy --shop SLUG [--env NAME]`: a two-phase, verified deploy of one target.

Without `--env`, the shop's production target. `--env NAME` selects the target by its wrangler
env, as in the gate's plan entry: in a shop-per-file config the env is the stage (`staging`),
in an env-per-shop config it is `<slug>-<stage>` (or `<slug>` itself, the production target).
The target is the one the fleet check resolved to a tenant of this shop (never re-derived from
the name); a stage must be declared in the fleet file's `stages` and registered under
`shops.<slug>.stages.<stage>`. A stage deploy uploads and activates the stage's Worker
(`naming.stage_worker`), passes `--env` to wrangler, compares the bindings with the stage's
own registry resources (binding the production database is a difference) and ledgers under
the shop with `stage` recorded.

`wrangler deploy` uploads and activates in one step, leaving no moment to check what goes
live. This command splits it, and checks in between:

1. verify: `helm_guard.commands.verify.verify_shop`: the fleet check (a finding touching the
   shop blocks), the shop's deploy digest (`--digest`, from the gate's plan, must equal the
   one recomputed from this checkout; without `--digest` the recomputed one is recorded) and
   the halt state (read from the remote, fail closed; a halt covering the shop blocks) and
   the deploy order (a newer commit already ledgered for this shop and stage blocks);
   Then, still before anything runs: wrangler must be the pinned 4.86.0 package
   (`helm_guard.cloudflare.sandbox`), and the repository must hold nothing a deploy must not
   act on (`helm_guard.preflight`: a custom build, a cross-Worker migration, a foreign tail
   consumer, another account, `.env` files, a deploy redirect, a wrangler config above the
   fleet root);
2. upload: `wrangler versions upload --config <shop's config, absolute> [--env E] --name
   <worker>` (auto-provisioning off), run from a neutral folder with an empty `--env-file` and
   an environment built from scratch: a new version, deploys nothing;
3. check: read *that* version back under the Worker's own path (API door,
   `helm_guard.cloudflare.readback`: a version of another Worker is a 404) and judge its
   bindings with the one judge (`helm_guard.deploying.judge` = `bindings.judge_bindings` over
   `Fleet.owned`); read the Worker's tail consumers and custom domains and judge them too;
   any difference stops here, before anything is live, and says whose resource it is;
4. activate: `wrangler versions deploy <id>@100`;
5. confirm: re-read the newest deployment: the version must be at 100%; its bindings and the
   Worker's attachments are judged again; Cloudflare's `created_on` is when it went live;
6. record: append `{action: deploy, worker, version_id, commit, digest, actor, env, stage,
   live_since, ...}` to the shop's ledger on the state branch
   (`helm_guard.state.append_ledger`); `stage` is null for production.

Test seam: `deploy_shop(..., before_upload=fn)` calls `fn(config_path)` after the check and
before the upload. Tests use it to swap the config's `database_id` in that window (the race
a real swap would exploit) and prove that step 3 stops the deploy before activation. The seam
is a Python keyword only: no flag or environment variable reaches it.

Why over 400 lines: the deploy's steps, each with its message and recovery advice, read top
to bottom as the runbook does.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from helm_guard import state
from helm_guard.bindings import ExpectedBindings, OwnerIndex, expected_bindings
from helm_guard.cloudflare import readback
from helm_guard.cloudflare.wrangler import Wrangler, bindings_of, validate_message
from helm_guard.commands._common import add_common_arguments
from helm_guard.commands.verify import verify_shop
from helm_guard.deploying import (
    actor,
    declared_classes,
    explain,
    judge,
    judge_attachments,
    make_wrangler,
    remote_of,
    safe_bindings,
)
from helm_guard.errors import EXIT_OK, Blocked, UsageError
from helm_guard.fleet import Fleet, Tenant
from helm_guard.incident import Steps
from helm_guard.secrets_policy import require_in_version
from helm_guard.slugs import check_shop_slug

if TYPE_CHECKING:
    from helm_guard.cloudflare.api import Client
    from helm_guard.hosts import Served

TOTAL = 6
_ENV_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}\Z")  # as in the plan (helm_guard.plan)


class ShopTarget(NamedTuple):
    """Where a shop's target (production or a stage) lives and what it must bind."""

    fleet: Fleet
    slug: str
    config: Path  # absolute
    config_rel: str
    env: str | None  # passed to wrangler as --env ("" = explicitly the top level)
    worker: str
    expected: ExpectedBindings
    owners: OwnerIndex
    digest: str
    stage: str | None = None  # None: production
    doc: Any = None  # the parsed config (what the check read)
    resolved: Any = None  # the resolved target (`helm_guard.resolve.Target`)

    @property
    def tenant(self) -> Tenant:
        return Tenant(self.slug, self.stage)

    def label(self) -> str:
        """`bravo` or `bravo (staging)`."""
        return self.tenant.label()


# ---------------------------------------------------------------------- helpers
def check_env_name(env: str | None) -> str | None:
    """Validate `--env` before it reaches anything else (None: production)."""
    if env is None:
        return None
    if not isinstance(env, str) or not _ENV_RE.match(env) or env.startswith("-"):
        raise UsageError(
            f"--env {env!r} is not an env name",
            hint="pass the env of the shop's entry in the gate's plan (e.g. staging)",
        )
    return env


def find_target(fleet_path: str | None, slug: str, env: str | None = None) -> ShopTarget:
    """Load the fleet (and check it) and locate shop `slug`'s target: production, or the one
    whose wrangler env is `env`.

    The target is the one the fleet check resolved to a tenant of this shop; with `env`, its
    tenant's stage (if any) must be declared in `stages` and registered for the shop.
    Findings are `verify_shop`'s business; a target without a Worker name of its own is
    refused here."""
    from helm_guard.commands.check import run_fleet_check
    from helm_guard.digest import deploy_digest

    result = run_fleet_check(fleet_path)
    ctx = result.context
    fleet: Fleet = ctx.fleet
    if slug not in fleet.shops:
        raise UsageError(
            f"shop {slug!r} is not in the registry of {fleet.path}",
            hint="known shops: " + ", ".join(sorted(fleet.shops)),
        )
    if env is None:
        found = [t for t in ctx.targets if t.tenant == Tenant(slug)]
        if len(found) != 1:
            raise Blocked(
                f"shop {slug} has {len(found)} production deploy targets in the fleet's configs "
                "(exactly one is needed)",
                hint="`helm-guard inspect` shows the targets of each config file",
            )
    else:
        found = [t for t in ctx.targets if t.shop == slug and t.target.env == env]
        if len(found) != 1:
            envs = sorted(
                repr(t.target.env) for t in ctx.targets if t.shop == slug and t.target.env
            )
            raise UsageError(
                f"--env {env!r} is not a deploy target of shop {slug} "
                f"({len(found)} targets of this shop have that env, exactly one is needed)",
                hint=f"shop {slug}'s envs: "
                + (", ".join(envs) or "none")
                + "; pass the env of the shop's entry in the gate's plan",
            )
    t = found[0]
    assert t.tenant is not None
    stage = t.tenant.stage
    if stage is not None:
        registered = fleet.shops[slug].get("stages", {})
        if stage not in fleet.stages or stage not in registered:
            raise UsageError(
                f"--env {env!r} is stage {stage!r} of shop {slug}, which is not "
                + (
                    'declared in the fleet file\'s "stages"'
                    if stage not in fleet.stages
                    else f"registered under shops.{slug}.stages"
                ),
                hint="declare and register the stage (and re-run the gate) before deploying it",
            )
    exp = expected_bindings(fleet, slug, stage)
    worker = t.target.worker
    target_env = t.target.env
    doc = t.file.doc.value if t.file.doc is not None else None
    if target_env is None and isinstance(doc, dict) and doc.get("env"):
        target_env = ""  # explicit top level: wrangler would otherwise warn about several envs
    if worker != exp.worker:
        raise Blocked(
            f"{t.file.rel}: shop {t.tenant.label()}'s Worker is named {worker!r}, expected "
            f"{exp.worker!r}",
            hint="run `helm-guard check`; nothing was uploaded",
        )
    digest = deploy_digest(fleet, t)
    return ShopTarget(
        fleet,
        slug,
        fleet.root / t.file.rel,
        t.file.rel,
        target_env,
        exp.worker,
        exp,
        OwnerIndex(fleet),
        digest,
        stage,
        doc,
        t.target,
    )


# ---------------------------------------------------------------------- command
def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_arguments(p)
    p.add_argument(
        "--digest",
        metavar="sha256:HEX",
        help="the shop's deploy digest from the gate's plan; refuse if the checkout differs",
    )
    p.add_argument(
        "--env",
        metavar="NAME",
        help="the target's wrangler env from the gate's plan entry: a declared stage of the "
        "shop (shop-per-file: the stage, e.g. staging; env-per-shop: <slug>-<stage>) "
        "(default: the shop's production target)",
    )
    p.add_argument("--message", "-m", metavar="TEXT", help="annotation for the version")


def run(
    args: argparse.Namespace, *, wrangler: Wrangler | None = None, out: TextIO | None = None
) -> int:
    """Entry point; `wrangler`/`out` are for tests (default: from the flags / stdout)."""
    slug = check_shop_slug(args.shop)
    env = check_env_name(args.env)
    if args.digest is not None:
        from helm_guard.digest import valid_digest

        if not valid_digest(args.digest):
            raise UsageError(f"--digest {args.digest!r} is not sha256:<64 hex digits>")
    if args.message is not None:
        validate_message(args.message)
    deploy_shop(
        args.fleet,
        slug,
        env=env,
        digest=args.digest,
        remote=args.remote,
        message=args.message,
        wrangler=wrangler,
        wrangler_args=args,
        out=out,
    )
    return EXIT_OK


def deploy_shop(
    fleet_path: str | None,
    slug: str,
    *,
    env: str | None = None,
    digest: str | None = None,
    remote: str | None = None,
    message: str | None = None,
    wrangler: Wrangler | None = None,
    wrangler_args: argparse.Namespace | None = None,
    out: TextIO | None = None,
    before_upload: Callable[[Path], None] | None = None,
) -> dict[str, Any]:
    """The six steps; returns the ledger record. Raises Blocked saying where it stopped.

    `env`: the target's wrangler env (see the module docstring); None: production."""
    from helm_guard import gitio

    env = check_env_name(env)
    stream = out if out is not None else sys.stdout
    steps = Steps(TOTAL, out=stream, name="deploy")
    steps.say(f"helm-guard deploy: shop {slug}" + (f", env {env}" if env is not None else ""))

    with steps.step(1, "verify (check, digest, halt, order)") as s:
        target = find_target(fleet_path, slug, env)
        verified = verify_shop(fleet_path, slug, digest or target.digest, remote, env=env)
        if (
            verified.digest != target.digest
            or verified.config != target.config_rel
            or verified.worker != target.worker
            or verified.stage != target.stage
        ):
            raise Blocked(f"shop {target.label()}'s config changed while it was being verified")
        fleet = target.fleet
        repo = state.resolve_repo(fleet.root)
        remote_name = remote_of(fleet, remote)
        s.say(
            f"{target.config_rel}: no findings for shop {slug}; target "
            + ("production" if target.stage is None else f"stage {target.stage}")
            + f", Worker {target.worker}; digest {target.digest}"
            + (" matches the plan" if digest else "")
        )
        s.say(
            "no halt in force (state "
            + (verified.state_commit[:12] if verified.state_commit else "not initialised")
            + ")"
        )
        if wrangler is None:
            assert wrangler_args is not None
            wrangler = make_wrangler(wrangler_args, fleet)
        wrangler.executable  # noqa: B018 - locate and verify it now: a bad wrangler blocks here
        from helm_guard.cloudflare.api import Client
        from helm_guard.preflight import check_repository

        check_repository(fleet, target.tenant, target.config, target.config_rel, target.doc,
                         target.resolved,
                         wrangler.credentials().get("CLOUDFLARE_ACCOUNT_ID"), repo)
        s.say("no custom build, cross-Worker migration, foreign tail consumer, other account, "
              ".env file, deploy redirect or parent wrangler config")
        settings = wrangler.api_settings()  # the same allow-listed settings wrangler gets
        client = Client(settings)

    env_flag = f" --env={target.env}" if target.env is not None else ""
    with steps.step(2, "upload a new version (not live yet)") as s:
        if before_upload is not None:
            before_upload(target.config)
        s.say(
            f"wrangler versions upload --config={target.config_rel}{env_flag} "
            f"--name={target.worker}"
        )
        version_id = wrangler.versions_upload(
            target.config,
            name=target.worker,
            env=target.env,
            message=message,
        )
        s.say(f"version {version_id}", note=True)

    with steps.step(3, "check the uploaded version and the Worker's attachments") as s:
        bindings = bindings_of(readback.version(client, target.worker, version_id))
        for b in safe_bindings(bindings):
            s.say(f"{b['name']}: {b['points_at']}")
        diffs = judge(fleet, target.tenant, bindings)
        if diffs:
            raise Blocked(
                f"version {version_id} of {target.worker} does not bind shop "
                f"{target.label()}'s own resources; it was NOT activated (it stays an "
                "inactive upload):\n" + explain(diffs, slug),
                hint=f"fix {target.config_rel} (the registry in {fleet.path.name} is the "
                "truth), then deploy again",
            )
        s.say(f"{version_id} is a version of {target.worker}; bindings match the registry")
        served = attachments(client, target)
        s.say("tail consumers, routes, custom domains, Durable Object namespaces and preview "
              "settings are the shop's own"
              + (f" ({len(served)} route(s)/domain(s))" if served else ""))
        require_in_version(fleet, Tenant(slug, target.stage), bindings,  # required secrets
                           version_id=version_id, worker=target.worker)

    with steps.step(4, f"activate {version_id} at 100%"):
        wrangler.versions_deploy(
            version_id,
            name=target.worker,
            message=message or f"helm-guard deploy {target.label()}",
            config=target.config,
            env=target.env,
        )

    with steps.step(5, "confirm the live deployment") as s:
        live_since = confirm_live(client, target, version_id)
        s.say(f"{version_id} serves 100% since {live_since or '(unknown)'} and binds shop "
              f"{target.label()}'s own resources; tail consumers, routes, custom domains, "
              "Durable Object namespaces and preview settings are its own")

    with steps.step(6, "record in the ledger") as s:
        commit = gitio.rev_parse(repo, "HEAD")
        record: dict[str, Any] = {
            "action": "deploy",
            "worker": target.worker,
            "version_id": version_id,
            "commit": commit,
            "digest": target.digest,
            "actor": actor(repo),
            "config": target.config_rel,
            "env": target.env,
            "stage": target.stage,
            "message": message,
            "bindings": safe_bindings(bindings),
            "live_since": live_since,
        }
        try:
            appended = state.append_ledger(repo, remote_name, slug, record)
        except Blocked as exc:
            raise Blocked(
                f"{version_id} IS LIVE, but the ledger record failed: {exc.message}",
                hint="the deploy itself is done; record it by re-running the deploy once git "
                "works (it uploads an identical version), and tell the team",
            ) from None
        s.say(f"ledger {slug} #{appended.entry.seq} ({appended.commit[:12]})")
    steps.say(f"deployed {target.worker} version {version_id}")
    return record


def attachments(client: Client, target: ShopTarget) -> list[Served]:
    """Read back what reaches the Worker besides its bindings and refuse what is not the
    shop's own (`deploying.judge_attachments`): tail consumers, the routes of the zones of the
    shop's registered hosts and every custom domain (`readback.hosts_served`: a host of
    another shop sent to this Worker, or one of the shop's hosts sent to another Worker), and
    the account's Durable Object namespaces (another Worker's namespace moved to this one, or
    a class the config does not declare), and the Worker's preview settings (their bindings
    judged like a version's). Returns what serves the shop's hosts or Worker."""
    fleet, tenant = target.fleet, target.tenant
    settings = readback.script_settings(client, target.worker)
    served = readback.hosts_served(client, fleet.owned(tenant).route_hosts)
    namespaces = readback.durable_object_namespaces(client)
    declared = declared_classes(target.resolved, target.worker)
    previews = readback.preview_defaults(client, target.worker)
    diffs = judge_attachments(fleet, tenant, settings, served, namespaces, declared, previews)
    if diffs:
        raise Blocked(
            f"Worker {target.worker} has attachments that are not shop {target.label()}'s "
            "own:\n" + explain(diffs, target.slug),
            hint="detach them in Cloudflare (or register them for the shop), then deploy again",
        )
    own = fleet.owned(tenant).route_hosts
    return [x for x in served if x.worker == target.worker or x.host in own]


def confirm_live(client: Client, target: ShopTarget, version_id: str) -> str | None:
    """Re-read the live deployment: `version_id` at 100% with the expected bindings,
    attachments still the shop's own. Returns when it went live (Cloudflare's `created_on`)."""
    now = readback.live(client, target.worker)
    if now.traffic != [(version_id, 100.0)]:
        raise Blocked(
            f"the live deployment of {target.worker} is {now.traffic or 'empty'}, not "
            f"{version_id} at 100%",
            hint="look at `wrangler deployments status`; someone or something else deployed",
        )
    bindings = bindings_of(readback.version(client, target.worker, version_id))
    diffs = judge(target.fleet, target.tenant, bindings)
    try:
        attachments(client, target)
    except Blocked as exc:
        diffs_text = exc.message
    else:
        diffs_text = ""
    rollback = (
        f"helm-guard rollback --shop {target.slug}"
        if target.stage is None
        else f"`wrangler rollback --name {target.worker}` (helm-guard rollback covers "
        "production targets only)"
    )
    if diffs:
        raise Blocked(
            f"LIVE version {version_id} does not bind shop {target.label()}'s own resources:\n"
            + explain(diffs, target.slug) + (f"\n{diffs_text}" if diffs_text else ""),
            hint=f"roll back now: {rollback}",
        )
    if diffs_text:
        raise Blocked(
            f"LIVE version {version_id} of {target.worker} is active, but the read-back after "
            f"activation refuses it: {diffs_text}",
            hint="detach what is named above in Cloudflare now (`helm-guard audit` shows every "
            f"host and Worker involved), and roll back if in doubt: {rollback}",
        )
    return now.created_on
