"""What `helm-guard deploy` refuses in the repository before wrangler runs (belt and braces).

`check` and `gate` refuse these as findings (custom builds, `.env` files, deploy redirects, a
wrangler config above the fleet root); `deploy` refuses them again right before it uploads,
because the deploy is where the Cloudflare token is, and because an operator may run wrangler
by hand from the same checkout (the runbook does), where these files *do* act:

- a `build` key anywhere in the shop's config: wrangler runs `build.command` through a shell
  during `versions upload`/`deploy`, with the token in its environment (custom builds are
  refused; build in a step without credentials and commit or upload the result);
- `transferred_classes` in `migrations`: moves another Worker's Durable Object namespace;
- tail consumers (`tail_consumers`, `streaming_tail_consumers`) that are not the tenant's own
  Worker or a shared service (`versions deploy` with a config syncs them): judged by the same
  judge as the uploaded version (`helm_guard.deploying.judge`);
- an `account_id` in the target other than the account the token is for (a config value
  beats `CLOUDFLARE_ACCOUNT_ID` in wrangler);
- `.env`, `.env.*` files and `.wrangler/deploy/config.json` redirects in the config's folder
  or any folder up to the fleet root, and on up to the git work tree's root; a
  `wrangler.json`/`wrangler.jsonc`/`wrangler.toml` in any folder above the fleet root
  (wrangler searches parent folders, `.json` first);
- a config reached through a symbolic link (the check read one file, wrangler might read
  another).

helm-guard's own wrangler runs are immune to the files either way (explicit absolute
`--config`, neutral cwd, empty `--env-file`: `helm_guard.cloudflare.sandbox`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from helm_guard.errors import Blocked
from helm_guard.fleet import Fleet, Tenant

PARENT_CONFIG_NAMES = ("wrangler.json", "wrangler.jsonc", "wrangler.toml")
REDIRECT = Path(".wrangler") / "deploy" / "config.json"
_FIX = "nothing was uploaded; fix the repository (`helm-guard check` names the same problem)"


def _blocks(doc: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(JSON path prefix, block) for the top level and every env block."""
    yield "$", doc
    envs = doc.get("env")
    if isinstance(envs, Mapping):
        for name, block in envs.items():
            if isinstance(block, Mapping):
                yield f"$.env.{name}", block


def config_refusals(doc: Any, rel: str, worker: str | None = None,
                    env: str | None = None) -> list[str]:
    """Keys in the parsed config that deploy refuses, as `file: $.path: why` lines: a `build`
    anywhere, and a `transferred_classes[].from_script` in the target's migrations (env `env`'s
    own, else the inherited top level) that is not exactly `worker`, the Worker uploaded
    (HG806's rule: only the tenant's own Worker may be named)."""
    if not isinstance(doc, Mapping):
        return [f"{rel}: the configuration is not a JSON object"]
    out: list[str] = []
    for prefix, block in _blocks(doc):
        if "build" in block:
            out.append(f"{rel}: {prefix}.build: a custom build runs repository code with the "
                       "Cloudflare token (wrangler runs build.command during the upload); "
                       "custom builds are refused: build in a step without credentials and "
                       "point `main` at the result")
    prefix, block = "$", doc
    envs = doc.get("env")
    if env and isinstance(envs, Mapping) and isinstance(envs.get(env), Mapping) \
            and "migrations" in envs[env]:
        prefix, block = f"$.env.{env}", envs[env]
    migrations = block.get("migrations")
    for i, step in enumerate(migrations if isinstance(migrations, list) else []):
        moves = step.get("transferred_classes") if isinstance(step, Mapping) else None
        for j, move in enumerate(moves if isinstance(moves, list) else
                                 ([] if moves is None else [moves])):
            source = move.get("from_script") if isinstance(move, Mapping) else None
            if worker is None or source != worker:
                out.append(f"{rel}: {prefix}.migrations[{i}].transferred_classes[{j}]: moves "
                           f"a Durable Object namespace from Worker {source!r}, not "
                           f"{worker or 'the Worker deployed'}; refused")
    return out


def file_refusals(root: Path, config: Path, top: Path | None = None) -> list[str]:
    """Files wrangler would read that helm-guard does not check: `.env*` and redirects from
    the config's folder up to the fleet root (and on up to `top`, the git work tree's root,
    when the fleet lives in a sub-folder: `wrangler -c` run from there reads them), wrangler
    configs above the fleet root, and a config reached through a symbolic link."""
    out: list[str] = []
    root = root.absolute()
    top = root if top is None else top.absolute()
    if top != root and top not in root.parents:
        top = root
    try:
        rel = config.absolute().relative_to(root)
    except ValueError:
        return [f"{config}: the config is outside the fleet root {root}"]
    here = root
    for part in rel.parts:
        here = here / part
        if here.is_symlink():
            out.append(f"{here.relative_to(root)}: a symbolic link on the config's path; "
                       "refused (the check and wrangler could read different files)")
    folders = [config.parent.absolute()]
    while folders[-1] != top and top in folders[-1].parents:
        folders.append(folders[-1].parent)
    for folder in folders:
        try:
            names = sorted(p.name for p in folder.iterdir())
        except OSError as exc:
            out.append(f"{folder}: cannot be listed ({exc.strerror or exc}); refused")
            continue
        shown = (folder.relative_to(root).as_posix() if folder == root or root in folder.parents
                 else str(folder))
        shown = "" if shown == "." else shown + "/"
        for name in names:
            if name == ".env" or name.startswith(".env."):
                out.append(f"{shown}{name}: wrangler loads it into its environment when run "
                           "from this folder (it can rename the Worker, pick another env or "
                           "send the token elsewhere); remove it from the repository")
        if (folder / REDIRECT).exists() or (folder / REDIRECT).is_symlink():
            out.append(f"{shown}{REDIRECT.as_posix()}: a deploy redirect; a bare "
                       "`wrangler deploy` here would deploy the config it names; remove it")
    for folder in root.parents:
        for name in PARENT_CONFIG_NAMES:
            path = folder / name
            if path.exists() or path.is_symlink():
                out.append(f"{path}: a wrangler config above the fleet root; wrangler run "
                           "from inside the fleet finds it first; remove it")
    return out


def account_refusal(target_account: object, token_account: str | None, rel: str) -> list[str]:
    """The target's `account_id` (stated or inherited) must be the token's account."""
    if target_account in (None, "") or target_account == token_account:
        return []
    return [f"{rel}: account_id {target_account!r} is not the account of the deploy "
            f"credentials ({token_account or 'CLOUDFLARE_ACCOUNT_ID unset'}); wrangler would "
            "use the config's; refused"]


def check_repository(fleet: Fleet, tenant: Tenant, config: Path, rel: str, doc: Any,
                     target: Any, token_account: str | None, top: Path | None = None) -> None:
    """Every refusal above, in one Blocked (or nothing). `target` is the resolved target
    (`helm_guard.resolve.Target`)."""
    from helm_guard.deploying import explain, judge, tail_bindings

    problems = config_refusals(doc, rel, target.worker, target.env or None)
    problems += file_refusals(fleet.root, config, top)
    problems += account_refusal(target.get("account_id"), token_account, rel)
    tails = tail_bindings({k: target.get(k) for k in
                           ("tail_consumers", "streaming_tail_consumers")})
    if tails:
        kinds = {"d1", "r2_bucket"}
        diffs = [d for d in judge(fleet, tenant, tails) if d.type not in kinds]
        if diffs:
            problems.append(f"{rel}: tail consumers that are not shop {tenant.label()}'s own "
                            "Worker or a shared service:\n" + explain(diffs, tenant.shop))
    if problems:
        raise Blocked(
            f"shop {tenant.label()}: the repository holds what a deploy must not act on:\n"
            + "\n".join(f"  - {p}" for p in problems),
            hint=_FIX,
        )
