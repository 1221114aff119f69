"""`helm-guard gate`: the CI deploy gate. Exit 0 = the deploy may proceed, 1 = blocked.

Steps, in order (every one runs, so the report is complete even when an early one blocks):

1. the whole-fleet check of the checkout; any finding blocks;
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

import argparse
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from helm_guard import __version__
from helm_guard.commands._common import add_fleet_option, keep_until_exit, write_output
from helm_guard.errors import EXIT_BLOCKED, EXIT_OK, Blocked, UsageError
from helm_guard.finding import Finding, with_prefix
from helm_guard.slugs import SLUG_RE, check_shop_slug

REBIND_TRAILER = "Helm-Rebind"
FETCH_HINT = ("check out the full history: `fetch-depth: 0` on actions/checkout (a shallow "
              "clone has no base commit to compare with), or pass --base with a commit the "
              "clone has")
_REMOTE_RE = re.compile(r"^(?!-)[A-Za-z0-9._/-]{1,100}\Z")
_ZERO = "0" * 40
LIST_LIMIT = 50  # shops listed in the text report before "… and N more"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_fleet_option(p)
    p.add_argument("--base", metavar="REF",
                   help="compare with this commit (default: $GITHUB_EVENT_BEFORE, else the "
                        "merge-base with the remote's default branch)")
    p.add_argument("--head", metavar="REF", default="HEAD",
                   help="the commit to deploy; must be the checked-out commit (default: HEAD)")
    p.add_argument("--allow-rebind", metavar="SLUG", action="append", default=[],
                   help="acknowledge a rebind of this shop (repeatable); prefer a "
                        f"`{REBIND_TRAILER}: <slug>` commit trailer, which stays in history")
    p.add_argument("--format", choices=("text", "json", "github"),
                   help="stdout format (default: github inside GitHub Actions, else text)")
    p.add_argument("--sarif", metavar="FILE", help="also write the findings as SARIF to FILE")
    p.add_argument("--plan", metavar="FILE", help="write the deploy plan (JSON) to FILE")
    p.add_argument("--report-only", action="store_true",
                   help="pull requests: report everything, exit 1 when blocked, deploy nothing")
    p.add_argument("--remote", metavar="NAME",
                   help="the git remote with the default branch and the halt state (default: "
                        "the fleet file's state.remote, else origin)")
    p.add_argument("--wrangler-schema", metavar="PATH",
                   help="also validate against this wrangler config-schema.json")


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


# --------------------------------------------------------------------------- run


def run(args: argparse.Namespace) -> int:
    for slug in args.allow_rebind:
        check_shop_slug(slug, "--allow-rebind")
    for flag, ref in (("--base", args.base), ("--head", args.head)):
        from helm_guard import gitio

        if ref is not None and not gitio.valid_ref(ref):
            raise UsageError(f"{flag} {ref!r} is not a valid git ref or commit")
    if args.remote is not None and not _REMOTE_RE.match(args.remote):
        raise UsageError(f"--remote {args.remote!r} is not a remote name")
    outcome = gate(args.fleet, base=args.base, head=args.head, allow=args.allow_rebind,
                   remote=args.remote, report_only=args.report_only,
                   wrangler_schema=args.wrangler_schema, environ=os.environ)
    emit(outcome, fmt=args.format, sarif=args.sarif, plan_file=args.plan, environ=os.environ)
    return EXIT_BLOCKED if outcome.blocked else EXIT_OK


def gate(fleet_path: str | None, *, base: str | None, head: str, allow: Sequence[str],
         remote: str | None, report_only: bool, wrangler_schema: str | None,
         environ: Mapping[str, str]) -> Outcome:
    from helm_guard import changes as ch
    from helm_guard import gitio
    from helm_guard import plan as plans
    from helm_guard.commands.check import run_fleet_check

    result = run_fleet_check(fleet_path, wrangler_schema, parallel=True)
    keep_until_exit(result)
    ctx = result.context
    fleet = ctx.fleet
    repo = fleet.root
    # the parallel check keeps no parsed files: its config entries, files parsed on demand
    view = ch.HeadView(fleet, list(ctx.entries.values()), ctx.files)
    remote = remote or (fleet.data.get("state") or {}).get("remote") or "origin"
    reasons: list[tuple[str, str]] = []
    if result.findings:
        n = len(result.findings)
        reasons.append(("findings", f"the fleet check has {n} finding{'s' if n != 1 else ''}"))

    base_sha: str | None = None
    head_sha: str | None = None
    source = ""
    changes: ch.Changes | None = None
    acks: dict[str, str] = {}
    try:
        head_sha, base_sha, source = _commits(repo, base, head, remote, environ)
        dirty = gitio.dirty_paths(repo, ".") or _untracked_configs(repo, view, head_sha)
        if dirty:
            more = f" (and {len(dirty) - 1} more)" if len(dirty) > 1 else ""
            reasons.append(("checkout", str(Blocked(
                f"the work tree differs from the head commit: {dirty[0]}{more}",
                hint="the gate checks the checkout, so it must be the clean commit"))))
        changes = ch.compute(repo, view, base_sha, head_sha)
        acks = _acknowledgements(repo, base_sha, head_sha, allow)
    except gitio.GitError as exc:
        reasons.append(("git", f"git failed, so the changes cannot be determined: {exc.detail}"))
    except Blocked as exc:
        reasons.append(("git", str(exc)))

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
        planned = _plan_entries(view, affected)
    plan = plans.make_plan(head_sha or _ZERO, planned)
    findings = with_prefix(result.findings, fleet.display_prefix)
    return Outcome(base_sha, source, head_sha, findings, affected,
                   changes.new_shops if changes else (), changes.removed_shops if changes else (),
                   changes.all_reason if changes else None, rebinds, halts, reasons, plan,
                   report_only, (result.files, result.targets, result.shops))


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
    global _PLAN_STATE
    wanted = frozenset(shops)
    rels = [r for r, e in view.entries.items()
            if e.layout == "env-per-shop" or e.slug in wanted]
    workers = min(os.cpu_count() or 1, 8)
    if len(rels) < PARALLEL_PLAN_FILES or workers < 2 or not _can_fork():
        return _entries_of(view, rels, wanted)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunks = [rels[i::workers] for i in range(workers)]
    _PLAN_STATE = (view, chunks, wanted)
    try:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers - 1, mp_context=ctx) as pool:
            futures = [pool.submit(_plan_chunk, i) for i in range(1, workers)]
            out = _plan_chunk(0)
            for f in futures:
                out.extend(f.result())
    finally:
        _PLAN_STATE = None
    return out


_PLAN_STATE: tuple[Any, list[list[str]], frozenset[str]] | None = None


def _plan_chunk(index: int) -> list[dict[str, Any]]:
    assert _PLAN_STATE is not None
    view, chunks, wanted = _PLAN_STATE
    return _entries_of(view, chunks[index], wanted)


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _entries_of(view: Any, rels: Sequence[str], wanted: frozenset[str]) -> list[dict[str, Any]]:
    from helm_guard.digest import InputReader, deploy_digest
    from helm_guard.plan import make_entry

    fleet = view.fleet
    inputs = InputReader(fleet.root)
    entries = []
    for f in view.files(rels):
        for t in f.targets:
            shop = t.shop
            if shop in wanted:
                digest = deploy_digest(fleet, t, inputs)
                entries.append(make_entry(shop, t.file.rel, t.target.env, digest))
    return entries


# --------------------------------------------------------------------------- outputs


def emit(o: Outcome, *, fmt: str | None, sarif: str | None, plan_file: str | None,
         environ: Mapping[str, str]) -> None:
    from helm_guard import plan as plans
    from helm_guard import report

    fmt = fmt or report.default_format(environ)
    summary = _check_summary(o)
    if sarif:
        write_output(report.render("sarif", o.findings, summary), sarif)
    if plan_file:
        write_output(json.dumps(o.plan, indent=1, ensure_ascii=False) + "\n", plan_file)
    if fmt == "json":
        text = json.dumps(to_json(o), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "github":
        text = render_github(o, summary)
    else:
        text = render_text(o, summary)
    write_output(text, None)
    plans.append_github_file("GITHUB_STEP_SUMMARY", render_summary(o), environ)
    plans.append_github_file("GITHUB_OUTPUT", plans.format_outputs(outputs(o)), environ)


def _check_summary(o: Outcome) -> Any:
    from helm_guard import report, rules

    return report.CheckSummary(*o.checked, __version__, rules.rule_meta())


def outputs(o: Outcome) -> dict[str, str]:
    """The `$GITHUB_OUTPUT` values."""
    from helm_guard import plan as plans

    count = plans.batch_count(o.plan)
    first = plans.batch_matrix(o.plan, 0) if count else {"include": []}
    return {
        "blocked": "true" if o.blocked else "false",
        "shops": plans.compact(list(o.affected)),
        "batch_count": str(count),
        "batches": plans.compact(list(range(count))),
        "matrix": plans.compact(first),
        "commit": o.head or "",
        "base": o.base or "",
        "report_only": "true" if o.report_only else "false",
    }


def to_json(o: Outcome) -> dict[str, Any]:
    from helm_guard import plan as plans

    return {
        "verdict": "blocked" if o.blocked else "proceed",
        "report_only": o.report_only,
        "base": o.base, "base_source": o.base_source, "head": o.head,
        "reasons": o.reasons,
        "affected_shops": list(o.affected), "all_shops_reason": o.all_reason,
        "new_shops": list(o.new_shops), "removed_shops": list(o.removed_shops),
        "rebinds": o.rebinds, "halts": o.halts,
        "findings": [f._asdict() for f in o.findings],
        "plan": {"targets": len(o.plan["entries"]), "batch_count": plans.batch_count(o.plan)},
    }


def _verdict_line(o: Outcome) -> str:
    if o.blocked:
        line = f"helm-guard gate: BLOCKED ({len(o.reasons)} reason" \
               f"{'s' if len(o.reasons) != 1 else ''})"
    else:
        n = len(o.plan["entries"])
        line = (f"helm-guard gate: deploy may proceed: {len(o.affected)} shop"
                f"{'s' if len(o.affected) != 1 else ''}, {n} target{'s' if n != 1 else ''}")
    if o.report_only:
        line += " — report only: nothing is deployed by this run"
    return line


def _listing(names: Sequence[str], new: Sequence[str]) -> str:
    fresh = set(new)
    shown = [f"{s} (new)" if s in fresh else s for s in names[:LIST_LIMIT]]
    more = f", … and {len(names) - LIST_LIMIT} more" if len(names) > LIST_LIMIT else ""
    return ", ".join(shown) + more


def _details(o: Outcome) -> list[str]:
    """The plain-text body shared by the text and github formats."""
    lines = []
    if o.base and o.head:
        lines.append(f"range: {o.base[:12]}..{o.head[:12]} (base: {o.base_source})")
    if o.all_reason:
        lines.append(f"all shops affected: {o.all_reason}")
    lines.append(f"affected shops ({len(o.affected)}): {_listing(o.affected, o.new_shops) or '-'}")
    if o.removed_shops:
        lines.append(f"removed shops ({len(o.removed_shops)}, not deployed; their Workers and "
                     f"data still exist): {_listing(o.removed_shops, ())}")
    for r in o.rebinds:
        state = (f"acknowledged by {r['acknowledged_by']}" if r["acknowledged_by"]
                 else "NOT acknowledged")
        lines.append(f"rebind of {r['shop']} in {r['where']} ({state}):")
        lines.extend(f"    {c}" for c in r["changes"])
    lines.append("halts in force: " + ("none" if not o.halts else ""))
    lines.extend(f"    {h}" for h in o.halts)
    for reason in o.reasons:
        lines.append(f"blocked: {reason}")
    lines.append(_verdict_line(o))
    return lines


def render_text(o: Outcome, summary: Any) -> str:
    from helm_guard import report

    head = report.render("text", o.findings, summary) if o.findings else ""
    return head + "\n".join(_details(o)) + "\n"


def render_github(o: Outcome, summary: Any) -> str:
    """Annotations for findings, unacknowledged rebinds, halts and other reasons; then text."""
    from helm_guard import report
    from helm_guard.report.github import command

    lines = [report.render("github", o.findings, summary).rstrip("\n")] if o.findings else []
    for r in o.rebinds:
        if r["acknowledged_by"] is None:
            lines.append(command("error", [("file", r["where"].split(" ")[0]),
                                           ("title", f"helm-guard: rebind of {r['shop']}")],
                                 f"unacknowledged rebind of shop {r['shop']}: "
                                 + "; ".join(r["changes"])
                                 + f" (add a `{REBIND_TRAILER}: {r['shop']}` trailer if intended)"))
        else:
            lines.append(command("notice", [("title", f"helm-guard: rebind of {r['shop']}")],
                                 f"rebind of shop {r['shop']} acknowledged by "
                                 f"{r['acknowledged_by']}: " + "; ".join(r["changes"])))
    for kind, why in o.blocks:
        if kind not in ("findings", "rebind"):  # those have their own annotations
            lines.append(command("error", [("title", f"helm-guard gate: {kind}")], why))
    lines.extend(_details(o))
    return "\n".join(lines) + "\n"


SUMMARY_LIMIT = 1_000_000  # bytes; GitHub rejects a step summary over 1 MiB
EXTRA_LIMIT = 60_000  # the gate's own sections after the shared summary


def render_summary(o: Outcome) -> str:
    """The job summary (Markdown, < 1 MiB): the shared summary plus the gate's details."""
    from helm_guard.report import summary_md as md

    affected = [f"{s} (new shop)" if s in set(o.new_shops) else s for s in o.affected]
    rebinds = [
        (r["shop"], f"{r['where']}: {'; '.join(r['changes'])} — "
                    + (f"acknowledged by {r['acknowledged_by']}" if r["acknowledged_by"]
                       else "NOT acknowledged"))
        for r in o.rebinds
    ]
    text = md.render_job_summary(md.BLOCKED if o.blocked else md.PROCEED, o.reasons, affected,
                                 rebinds, o.findings, o.halts,
                                 limit_bytes=SUMMARY_LIMIT - EXTRA_LIMIT)
    extra = ["### Gate\n\n"]
    if o.report_only:
        extra.append("**Report only**: nothing is deployed by this run.\n\n")
    if o.base and o.head:
        extra.append(f"- Range: `{o.base[:12]}..{o.head[:12]}` (base: "
                     f"{md.md_escape(o.base_source)})\n")
    if o.all_reason:
        extra.append(f"- All shops affected: {md.md_escape(md.clip(o.all_reason, 500))}\n")
    n = len(o.plan["entries"])
    from helm_guard import plan as plans

    extra.append(f"- Deploy plan: {n:,} target{'s' if n != 1 else ''} in "
                 f"{plans.batch_count(o.plan):,} batch(es) of at most {o.plan['batch_size']}\n")
    if o.removed_shops:
        shown = o.removed_shops[:200]
        more = len(o.removed_shops) - len(shown)
        extra.append(f"- Removed shops ({len(o.removed_shops):,}; not deployed, their Workers "
                     "and data still exist): "
                     + ", ".join(md.md_escape(s) for s in shown)
                     + (f", … and {more:,} more" if more else "") + "\n")
    tail = "".join(extra)
    tail = tail[:EXTRA_LIMIT // 4]  # ≤ 4 bytes per character in UTF-8
    return text + "\n" + tail
