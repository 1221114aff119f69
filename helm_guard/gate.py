"""The CI deploy gate: everything `helm-guard gate` decides (the command,
`helm_guard.commands.gate`, parses flags and prints; the reports are `helm_guard.report.gate`).

Steps, in order (every one runs, so the report is complete even when an early one blocks):

1. the whole-fleet check of the checkout; any finding blocks (git is asked for the range
   first: when every shop is affected, the check's own parse also digests every target for
   the plan, so the fleet is parsed once);
2. the base and head commits: `--head` (default HEAD; it must be the checked-out commit, and
   the work tree must be clean, so what is checked is what the commit holds). The base is the
   first of: `--base REF`; `$GITHUB_EVENT_BEFORE` (set it to `${{ github.event.before }}`;
   ignored when all zeros, as on a new branch); for pull requests the merge-base with
   `<remote>/$GITHUB_BASE_REF`; the merge-base with the remote's default branch
   (`refs/remotes/<remote>/HEAD`). A base that is not in the clone blocks, with the fix
   (`fetch-depth: 0` on actions/checkout);
3. affected shops, new and removed shops and rebinds between base and head (`helm_guard.changes`);
   a rebind blocks unless acknowledged by a `Helm-Rebind: <slug>` trailer in a commit of
   base..head or by `--allow-rebind <slug>`;
4. the halt state, read from the remote (fail closed): an active halt covering an affected shop
   blocks;
5. outputs: the report on stdout (`--format text|json|github`: GitHub annotations), the job
   summary in `$GITHUB_STEP_SUMMARY`, `$GITHUB_OUTPUT` (`blocked`, `shops`, `batch_count`,
   `batches`, `matrix`, `commit`, `base`, `report_only`), `--plan FILE` (the deploy plan, see
   `helm_guard.plan`; empty when blocked) and `--sarif FILE`.

`--report-only` (pull requests) computes and prints everything and still exits 1 when blocked,
but says that nothing is deployed by this run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from helm_guard.errors import Blocked
from helm_guard.finding import Finding, with_prefix
from helm_guard.slugs import SLUG_RE

if TYPE_CHECKING:
    from helm_guard.checker import CheckInputs, CheckResult

REBIND_TRAILER = "Helm-Rebind"
FETCH_HINT = ("check out the full history: `fetch-depth: 0` on actions/checkout (a shallow "
              "clone has no base commit to compare with), or pass --base with a commit the "
              "clone has")
_ZERO = "0" * 40


class Outcome(NamedTuple):
    """Everything the gate found; every reporter is a function of this."""

    base: str | None
    base_source: str
    head: str | None
    findings: list[Finding]
    affected: tuple[str, ...]
    new_shops: tuple[str, ...]
    removed_shops: tuple[str, ...]
    all_reason: str | None
    rebinds: list[dict[str, Any]]  # shop, where, changes, acknowledged_by (None: not)
    halts: list[str]  # halts in force, described
    blocks: list[tuple[str, str]]  # (kind, why) the deploy is blocked; empty: may proceed
    plan: dict[str, Any]
    report_only: bool
    checked: tuple[int, int, int]  # files, targets, shops

    @property
    def blocked(self) -> bool:
        return bool(self.blocks)

    @property
    def reasons(self) -> list[str]:
        return [why for _, why in self.blocks]


def gate(inputs: CheckInputs, *, base: str | None, head: str, allow: Sequence[str],
         remote: str | None, report_only: bool, environ: Mapping[str, str]
         ) -> tuple[Outcome, CheckResult]:
    """The gate's verdict on the fleet `inputs` (see the module docstring), and the check it
    ran (which the caller may keep alive: see `commands._common.keep_until_exit`)."""
    from helm_guard import changes as ch
    from helm_guard import gitio
    from helm_guard import plan as plans
    from helm_guard.checker import run_check

    fleet, fleet_doc, schema = inputs
    repo = fleet.root
    remote = remote or (fleet.data.get("state") or {}).get("remote") or "origin"
    base_sha: str | None = None
    head_sha: str | None = None
    source = ""
    scope: ch.Scope | None = None
    git_failure: str | None = None
    try:  # what git alone tells, so the check can gather what the plan needs
        head_sha, base_sha, source = _commits(repo, base, head, remote, environ)
        scope = ch.scope(repo, fleet, base_sha, head_sha)
    except gitio.GitError as exc:
        git_failure = f"git failed, so the changes cannot be determined: {exc.detail}"
    except Blocked as exc:
        git_failure = str(exc)
    # every shop affected (shared code): the check's map phase digests every target, in its
    # workers, instead of the gate parsing the whole fleet a second time
    harvest = _plan_harvest(fleet) if scope is not None and scope.all_reason else None
    result = run_check(fleet, fleet_doc, wrangler_schema=schema, parallel=True,
                       harvest=harvest)
    ctx = result.context
    # the parallel check keeps no parsed files: its config entries, files parsed on demand
    view = ch.HeadView(fleet, list(ctx.entries.values()), ctx.files)
    reasons: list[tuple[str, str]] = []
    if result.findings:
        n = len(result.findings)
        reasons.append(("findings", f"the fleet check has {n} finding{'s' if n != 1 else ''}"))

    changes: ch.Changes | None = None
    acks: dict[str, str] = {}
    if git_failure is None and head_sha is not None and base_sha is not None:
        try:
            dirty = gitio.dirty_paths(repo, ".") or _untracked_configs(repo, view, head_sha)
            if dirty:
                more = f" (and {len(dirty) - 1} more)" if len(dirty) > 1 else ""
                reasons.append(("checkout", str(Blocked(
                    f"the work tree differs from the head commit: {dirty[0]}{more}",
                    hint="the gate checks the checkout, so it must be the clean commit"))))
            changes = ch.compute(repo, view, base_sha, head_sha, scope)
            acks = _acknowledgements(repo, base_sha, head_sha, allow)
        except gitio.GitError as exc:
            git_failure = f"git failed, so the changes cannot be determined: {exc.detail}"
        except Blocked as exc:
            git_failure = str(exc)
    if git_failure is not None:
        reasons.append(("git", git_failure))

    rebinds: list[dict[str, Any]] = []
    affected: tuple[str, ...] = ()
    if changes is not None:
        affected = changes.affected
        for r in changes.rebinds:
            ack = acks.get(r.shop)
            rebinds.append({"shop": r.shop, "where": r.where, "changes": list(r.changes),
                            "acknowledged_by": ack})
            if ack is None:
                reasons.append(("rebind",
                    f"unacknowledged rebind of shop {r.shop} ({r.where}): "
                    f"{'; '.join(r.changes)}. If it is intended, add a `{REBIND_TRAILER}: "
                    f"{r.shop}` trailer to a commit of the range (or pass --allow-rebind "
                    f"{r.shop})"))
    halts, halt_reasons = _halt_check(repo, remote, "state" in fleet.data, affected)
    reasons.extend(("halt", why) for why in halt_reasons)

    planned = []
    if not reasons and head_sha is not None:
        if harvest is not None:
            wanted = frozenset(affected)
            planned = [e for e in result.harvested if e["shop"] in wanted]
        else:
            planned = _plan_entries(view, affected)
    plan = plans.make_plan(head_sha or _ZERO, planned)
    findings = with_prefix(result.findings, fleet.display_prefix)
    return Outcome(base_sha, source, head_sha, findings, affected,
                   changes.new_shops if changes else (), changes.removed_shops if changes else (),
                   changes.all_reason if changes else None, rebinds, halts, reasons, plan,
                   report_only, (result.files, result.targets, result.shops)), result


def _commits(repo: Path, base: str | None, head: str, remote: str,
             environ: Mapping[str, str]) -> tuple[str, str, str]:
    """(head, base, where the base came from); Blocked when either cannot be determined."""
    from helm_guard import gitio

    head_sha = gitio.resolve_commit(repo, head)
    if head_sha is None:
        raise Blocked(f"--head {head!r} is not a commit in this clone", hint=FETCH_HINT)
    checkout = gitio.resolve_commit(repo, "HEAD")
    if checkout != head_sha:
        raise Blocked(f"--head {head} is {head_sha[:12]}, but the checkout is at "
                      f"{(checkout or 'nothing')[:12]}: the gate checks the checkout",
                      hint=f"check out {head} before running the gate")
    before = environ.get("GITHUB_EVENT_BEFORE", "").strip()
    base_ref = environ.get("GITHUB_BASE_REF", "").strip()
    if base is not None:
        ref, source = base, "--base"
    elif before and before != _ZERO:
        if not gitio.valid_ref(before):
            raise Blocked(f"$GITHUB_EVENT_BEFORE {before!r} is not a commit id")
        ref, source = before, "$GITHUB_EVENT_BEFORE"
    else:
        if base_ref and gitio.valid_ref(f"refs/remotes/{remote}/{base_ref}"):
            branch: str | None = f"refs/remotes/{remote}/{base_ref}"
        else:
            branch = gitio.symbolic_target(repo, f"refs/remotes/{remote}/HEAD")
        target = gitio.resolve_commit(repo, branch) if branch else None
        if branch is None or target is None:
            raise Blocked("no base commit to compare with: pass --base, or set "
                          "GITHUB_EVENT_BEFORE, or fetch the remote's default branch and "
                          f"record it as {remote}/HEAD (`git fetch {remote}` then "
                          f"`git remote set-head {remote} --auto`)",
                          hint=FETCH_HINT)
        mb = gitio.merge_base(repo, target, head_sha)
        if mb is None:
            raise Blocked(f"no merge-base of {head} and {branch} in this clone",
                          hint=FETCH_HINT)
        return head_sha, mb, f"merge-base with {branch.removeprefix('refs/remotes/')}"
    base_sha = gitio.resolve_commit(repo, ref)
    if base_sha is None:
        shallow = " (this clone is shallow)" if gitio.is_shallow(repo) else ""
        raise Blocked(f"the base commit {ref} ({source}) is not in this clone{shallow}",
                      hint=FETCH_HINT)
    return head_sha, base_sha, source


def _untracked_configs(repo: Path, view: Any, head: str) -> list[str]:
    """Checked config files that the head commit does not contain (untracked files)."""
    from helm_guard import gitio

    top = gitio.toplevel(repo).resolve()
    prefix = repo.resolve().relative_to(top).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    tracked = set(gitio.tree_paths(repo, head))
    return [rel for rel in view.entries if prefix + rel not in tracked]


def _acknowledgements(repo: Path, base: str, head: str, allow: Sequence[str]) -> dict[str, str]:
    """shop -> what acknowledged its rebind (a trailer's commit, or the flag)."""
    from helm_guard import gitio

    acks: dict[str, str] = {}
    for sha, value in gitio.trailer_values(repo, base, head, REBIND_TRAILER):
        for slug in re.split(r"[\s,]+", value):
            if SLUG_RE.match(slug):
                acks.setdefault(slug, f"{REBIND_TRAILER} trailer in {sha[:12]}")
    for slug in allow:
        acks.setdefault(slug, "--allow-rebind")
    return acks


def _halt_check(repo: Path, remote: str, must_exist: bool,
                shops: Sequence[str]) -> tuple[list[str], list[str]]:
    """(halts in force, described; reasons they block these shops). Fails closed."""
    from helm_guard import state

    try:
        st = state.read_state(repo, remote, must_exist=must_exist)
    except Blocked as exc:  # StateUnreadable
        return [], [str(exc)]
    now = state.utcnow()
    active = st.active(now)
    described = [state.describe_halt(h, now).replace("  ", " ") for h in active]
    reasons = []
    wanted = set(shops)
    for h in active:
        hit = sorted(wanted) if h.scope == "fleet" else [s for s in (h.shop,) if s in wanted]
        if hit:
            who = "the fleet" if h.scope == "fleet" else f"shop {h.shop}"
            reasons.append(f"{who} is halted (by {h.by}, since {state.format_time(h.since)}): "
                           f"{h.reason}; lift it with `helm-guard resume "
                           + ("" if h.scope == "fleet" else f"--shop {h.shop} ")
                           + "--reason TEXT`")
    return described, reasons


PARALLEL_PLAN_FILES = 1500  # parse-and-digest in forked workers from this many files


def _plan_entries(view: Any, shops: Sequence[str]) -> list[dict[str, Any]]:
    """One plan entry (with its digest) per target of `shops`, from the files holding them.

    Many files (a shared-code change: every shop) are parsed and digested in forked workers,
    like the check's map phase; each worker returns only the small entries.
    """
    from helm_guard import parallel

    wanted = frozenset(shops)
    rels = [r for r, e in view.entries.items()
            if e.layout == "env-per-shop" or e.slug in wanted]
    workers = parallel.worker_count() if len(rels) >= PARALLEL_PLAN_FILES else 1
    if workers < 2:
        return _entries_of(view, rels, wanted)
    chunks = parallel.deal(rels, workers)
    parts = parallel.forked_map(lambda i: _entries_of(view, chunks[i], wanted), workers)
    return [entry for part in parts for entry in part]


def _entries_of(view: Any, rels: Sequence[str], wanted: frozenset[str]) -> list[dict[str, Any]]:
    entries_of_file = _plan_harvest(view.fleet)
    return [e for f in view.files(rels) for e in entries_of_file(f) if e["shop"] in wanted]


def _plan_harvest(fleet: Any) -> Callable[[Any], list[dict[str, Any]]]:
    """A function giving the plan entry (with its digest) of every shop target of a file."""
    from helm_guard.digest import InputReader, deploy_digest
    from helm_guard.plan import make_entry

    inputs = InputReader(fleet.root)  # shares folder listings across the targets

    def entries(f: Any) -> list[dict[str, Any]]:
        return [make_entry(t.shop, f.rel, t.target.env, deploy_digest(fleet, t, inputs))
                for t in f.targets if t.shop]

    return entries


