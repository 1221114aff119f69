"""`helm-guard rollback --shop SLUG`: the operator's command for a binding-swap incident.

Seven steps, printed as they run (`[n/7] <step> … ok (0.4 s)`):

1. halt deploys: the whole fleet (as the runbook says), or only the shop with
   `--halt-scope shop`; reason "rollback of SLUG". An active halt that already covers it is
   kept, not duplicated.
2. choose the target by correctness, not recency: among the versions Cloudflare can still roll
   back to (`versions list`: the last 10), the newest whose bindings equal the shop's expected
   ones (`helm_guard.bindings`), preferring, in this order, versions the ledger recorded as
   deployed (or rolled back to) by helm-guard, then versions Cloudflare's deployment history
   shows were live, then versions that were only uploaded. wrangler's own default (the
   previous 100% deployment) is never used: it can be the bad version itself. `--to` names a
   version explicitly; it is checked the same way and refused if it is not eligible. A live
   version that already matches is kept: without `--to` there is nothing to roll back.
3. show the plan: live vs target bindings side by side, naming the shop that owns each
   resource, and the other shop(s) the live version touches.
4. confirm: type the shop slug (not y/n); `--yes` for automation; `--dry-run` stops here.
   A dry run changes nothing at all: no halt, no Cloudflare write, no ledger, no file.
5. roll back: `helm_guard.wrangler.rollback`, which never forces. If Cloudflare answers 10220
   (secrets changed since the target version), the command explains which secrets changed and
   asks again (type the slug). With `--yes` it refuses unless `--force-secrets` is also
   given: automation must opt in to running old code with new secrets explicitly.
6. verify: re-read the live deployment; the target must serve 100% and bind exactly the
   expected resources. Otherwise it says so loudly and exits 1.
7. record: a `rollback` ledger event and `docs/incidents/<date>-<slug>.md` in the fleet repo
   (`helm_guard.incident`). The halt stays; the output ends with the next steps.

Converging re-runs: after the confirmation, before touching Cloudflare, a `rollback-started`
event (from/to versions, before/after bindings, the steps so far) is appended to the ledger; a
failure at step 5 appends `rollback-failed` (best effort). A re-run reads the ledger and the
live deployment: if the target is already live (the earlier run got that far, or a timed-out
request took effect after all) it skips to verify and record, reusing the incident's id, its
"before" bindings and its timeline; if a completed rollback to the live version is recorded it
reports that and stops. Every failure says at which step it stopped and how to continue.

wrangler runs with `--name` and a private empty config (never the shop's config: that file may
be the very thing that was swapped).
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from helm_guard import state
from helm_guard.bindings import (
    ExpectedBindings,
    OwnerIndex,
    compare,
    expected_bindings,
    other_shops,
    owner_note,
    side_by_side,
)
from helm_guard.commands.deploy import (
    actor,
    add_common_arguments,
    check_shop_slug,
    explain,
    make_wrangler,
    remote_of,
    safe_bindings,
)
from helm_guard.errors import EXIT_BLOCKED, EXIT_OK, Blocked, HelmGuardError, UsageError
from helm_guard.incident import (
    Incident,
    StepRecord,
    Steps,
    binding_rows,
    fmt_time,
    same_kind,
    utc_now,
)
from helm_guard.wrangler import (
    SECRETS_CHANGED_CODE,
    VERSION_ID_RE,
    Wrangler,
    WranglerError,
    bindings_of,
    validate_message,
)

TOTAL = 7


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_arguments(p)
    p.add_argument("--to", metavar="VERSION_ID", help="roll back to this version (still checked)")
    p.add_argument(
        "--dry-run", action="store_true", help="stop after showing the plan; change nothing"
    )
    p.add_argument("--yes", action="store_true", help="do not ask for the shop slug (automation)")
    p.add_argument(
        "--force-secrets",
        action="store_true",
        help="roll back even if secrets changed since the target version (Cloudflare 10220); "
        "needed together with --yes, since --yes alone never forces",
    )
    p.add_argument(
        "--halt-scope",
        choices=("fleet", "shop"),
        default="fleet",
        help="halt the whole fleet (default, as the runbook says) or only this shop",
    )
    p.add_argument("--message", "-m", metavar="TEXT", help="annotation for the rollback")


def run(
    args: argparse.Namespace,
    *,
    wrangler: Wrangler | None = None,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
) -> int:
    """Entry point; `wrangler`, `stdin`, `out` are for tests."""
    slug = check_shop_slug(args.shop)
    if args.to is not None and not VERSION_ID_RE.fullmatch(args.to):
        raise UsageError(
            f"--to {args.to!r} is not a version id",
            hint="a version id is a lowercase UUID; `wrangler versions list --name helm-"
            f"{slug}` lists them",
        )
    message = args.message if args.message is not None else f"helm-guard rollback of {slug}"
    validate_message(message)
    run_ = Rollback(
        slug,
        fleet_path=args.fleet,
        to=args.to,
        dry_run=args.dry_run,
        yes=args.yes,
        force_secrets=args.force_secrets,
        halt_scope=args.halt_scope,
        remote=args.remote,
        message=message,
        wrangler=wrangler,
        wrangler_args=args,
        stdin=stdin if stdin is not None else sys.stdin,
        out=out if out is not None else sys.stdout,
    )
    return run_.run()


@dataclass
class Pending:
    """A rollback the ledger says was started (confirmed) but not recorded as done."""

    incident: str
    from_version: str
    to_version: str
    started: str
    record: dict[str, Any]
    timeline: list[StepRecord] = field(default_factory=list)


def _ledger_state(
    entries: Sequence[state.LedgerEntry],
) -> tuple[set[str], Pending | None, dict[str, Any] | None]:
    """(version ids helm-guard deployed or rolled back to, the pending rollback, the last
    completed rollback record)."""
    good: set[str] = set()
    pending: Pending | None = None
    done: dict[str, Any] | None = None
    for e in entries:
        r = e.record
        action = r.get("action")
        if action == "deploy" and isinstance(r.get("version_id"), str):
            good.add(r["version_id"])
            done = None
        elif action == "rollback-started":
            pending = Pending(
                str(r.get("incident")),
                str(r.get("from_version")),
                str(r.get("to_version")),
                str(r.get("started", state.format_time(e.at))),
                r,
                [StepRecord.from_json(x) for x in r.get("steps", []) if isinstance(x, dict)],
            )
        elif action == "rollback-failed" and pending is not None:
            if r.get("incident") == pending.incident and isinstance(r.get("step"), dict):
                pending.timeline.append(StepRecord.from_json(r["step"]))
        elif action == "rollback":
            if isinstance(r.get("to_version"), str):
                good.add(r["to_version"])
            if pending is not None and r.get("incident") == pending.incident:
                pending = None
            done = {**r, "at": state.format_time(e.at)}
    return good, pending, done


class Rollback:
    """One run of the rollback; attributes carry what the steps learn."""

    def __init__(
        self,
        slug: str,
        *,
        fleet_path: str | None,
        to: str | None,
        dry_run: bool,
        yes: bool,
        force_secrets: bool,
        halt_scope: str,
        remote: str | None,
        message: str,
        wrangler: Wrangler | None,
        wrangler_args: argparse.Namespace | None,
        stdin: TextIO,
        out: TextIO,
    ) -> None:
        from helm_guard.fleet import find_fleet_file, load_fleet

        self.slug = slug
        self.to = to
        self.dry_run = dry_run
        self.yes = yes
        self.force_secrets = force_secrets
        self.halt_scope = halt_scope
        self.message = message
        self.stdin = stdin
        self.out = out
        # the fleet file only: the configs may be the incident, and are not needed
        self.fleet = load_fleet(find_fleet_file(fleet_path))
        if slug not in self.fleet.shops:
            raise UsageError(
                f"shop {slug!r} is not in the registry of {self.fleet.path}",
                hint="known shops: " + ", ".join(sorted(self.fleet.shops)),
            )
        self.expected: ExpectedBindings = expected_bindings(self.fleet, slug)
        self.worker = self.expected.worker
        self.index = OwnerIndex(self.fleet)
        self.repo = state.resolve_repo(self.fleet.root)
        self.remote = remote_of(self.fleet, remote)
        if wrangler is None:
            assert wrangler_args is not None
            wrangler = make_wrangler(wrangler_args, self.fleet)
        self.w = wrangler
        self.w.executable  # noqa: B018 - a missing wrangler must stop us before the halt
        self.steps = Steps(TOTAL, out=out, name="rollback")
        self.halt_text = ""
        self.target_id: str | None = to
        self.forced: list[str] = []

    # ------------------------------------------------------------------ helpers
    def _ask(self, step: Any, question: str) -> bool:
        step.say(question)
        self.out.write(f"      type '{self.slug}' to continue: ")
        self.out.flush()
        answer = self.stdin.readline()
        if not (answer.endswith("\n") and self.stdin.isatty()):
            self.out.write("\n")  # a piped answer is not echoed: end the prompt line
        return answer.strip() == self.slug

    def _rows(self, bindings: Sequence[Mapping[str, Any]]) -> list[str]:
        return binding_rows(bindings, lambda b: owner_note(b, self.index))

    def _continue_hint(self) -> str:
        to = f" --to {self.target_id}" if self.target_id else ""
        return (
            f"run `helm-guard rollback --shop {self.slug}{to}` again: it re-reads Cloudflare and "
            "the ledger and continues where this run stopped; any halt recorded stays in force"
        )

    # ------------------------------------------------------------------ the run
    def run(self) -> int:
        mode = " (DRY RUN: nothing will be changed)" if self.dry_run else ""
        self.steps.say(f"helm-guard rollback: shop {self.slug}, Worker {self.worker}{mode}")
        try:
            return self._run()
        except HelmGuardError as exc:
            hint = f"{exc.hint}\n  to continue: " if exc.hint else ""
            raise same_kind(exc, exc.message, hint + self._continue_hint()) from exc

    def _run(self) -> int:
        with self.steps.step(1, "halt deploys") as s:
            self._halt(s)
        with self.steps.step(2, "choose the target version") as s:
            outcome = self._choose(s)
        if outcome is not None:
            self._next_steps(done=outcome == "done")
            return EXIT_OK
        with self.steps.step(3, "show the plan") as s:
            self._plan(s)
        with self.steps.step(4, "confirm") as s:
            if self.dry_run:
                s.say(
                    "dry run: stopping here; nothing was changed (no halt, no rollback, no record)"
                )
                s.status = "stopped (dry run)"
                return EXIT_OK
            self._confirm(s)
        with self.steps.step(5, f"roll back to {self.target_id}") as s:
            self._journal()
            try:
                self._roll_back(s)
            except HelmGuardError as exc:
                self._record_failure(exc)
                raise
        with self.steps.step(6, "verify the live deployment") as s:
            ok = self._verify(s)
        if not ok:
            return EXIT_BLOCKED
        with self.steps.step(7, "record (ledger + incident file)") as s:
            self._record(s)
        self._next_steps(done=True)
        return EXIT_OK

    # ------------------------------------------------------------------ step 1
    def _halt(self, s: Any) -> None:
        reason = f"rollback of {self.slug}"
        st = state.read_state(self.repo, self.remote, must_exist=False)
        now = state.utcnow()
        if self.halt_scope == "fleet":
            existing = [h for h in st.active(now) if h.scope == "fleet"]
        else:
            existing = list(st.blocking(self.slug, now))
        if existing:
            h = existing[0]
            self.halt_text = (
                f"{h.target} halted by {h.by} since {state.format_time(h.since)}: "
                f"{h.reason} ({h.id})"
            )
            s.say(f"already halted, kept: {self.halt_text}", note=True)
            return
        what = "the fleet" if self.halt_scope == "fleet" else f"shop {self.slug}"
        if self.dry_run:
            s.say(f"dry run: would halt {what} with reason {reason!r}")
            self.halt_text = f"(dry run) {what} not halted"
            return
        shops = [] if self.halt_scope == "fleet" else [self.slug]
        res = state.halt(self.repo, self.remote, reason=reason, shops=shops)
        new = [h for h in res.state.halts if res.event and h.id in res.event.halt_ids]
        h = new[0]
        self.halt_text = (
            f"{h.target} halted by {h.by} since {state.format_time(h.since)}: {h.reason} ({h.id})"
        )
        s.say(f"halted: {self.halt_text}", note=True)

    # ------------------------------------------------------------------ step 2
    def _choose(self, s: Any) -> str | None:
        """Pick the target; return "done"/"nothing" when there is nothing to do."""
        entries = state.read_ledger(self.repo, self.remote, self.slug)
        good, self.pending, last_done = _ledger_state(entries)
        deployments = self.w.deployments_list(name=self.worker)
        versions = self.w.versions_list(name=self.worker)
        window = {str(v.get("id")): v for v in versions if isinstance(v, dict)}
        order = [str(v.get("id")) for v in versions if isinstance(v, dict)]  # oldest first
        self.live_id = _live_version(deployments)
        if self.live_id is None:
            raise Blocked(
                f"{self.worker} has no live deployment on Cloudflare: nothing to roll back from",
                hint="check the Worker name and account (`wrangler deployments list`)",
            )
        live = window.get(self.live_id) or self.w.versions_view(self.live_id, name=self.worker)
        self.live_bindings = bindings_of(live)
        self.live_diffs = compare(self.live_bindings, self.expected, self.index)
        state_word = (
            "binds ANOTHER shop's resources"
            if any(d.owner for d in self.live_diffs)
            else ("differs from the registry" if self.live_diffs else "matches the registry")
        )
        s.say(f"live: {self.live_id} ({state_word})", note=True)
        deployed = {
            str(v.get("version_id"))
            for d in deployments
            if isinstance(d, dict)
            for v in d.get("versions") or []
            if isinstance(v, dict) and v.get("percentage") == 100
        }
        s.say(
            f"{len(order)} version(s) Cloudflare can roll back to; "
            f"{len(good & set(order))} recorded in the ledger"
        )
        if self.to is not None:
            target = self._check_explicit(window)
            why = "named with --to"
        elif not self.live_diffs:  # never "roll back" from a correct version unless told to
            target, why = live, "the live version itself: it matches the registry"
        else:
            target, why = self._pick(order, window, good, deployed)
        self.target_id = str(target["id"])
        self.target_bindings = bindings_of(target)
        s.say(f"target: {self.target_id} ({why})", note=True)
        if self.target_id != self.live_id:
            return None
        if self.pending is not None and self.pending.to_version == self.live_id:
            s.say(
                "the target is already live: an earlier run got this far; continuing with "
                "verify and record",
                note=True,
            )
            return None
        if last_done is not None and last_done.get("to_version") == self.live_id:
            self.others = [str(x) for x in last_done.get("other_shops") or []]
            s.say(
                f"already rolled back to {self.live_id} at {last_done.get('at')} "
                f"(incident file {last_done.get('incident_file')}); nothing left to do"
            )
            return "done"
        s.say(
            "the live version already binds the shop's own resources: nothing to roll back "
            "(use --to VERSION_ID to roll back to a specific older version)"
        )
        return "nothing"

    def _check_explicit(self, window: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
        assert self.to is not None
        if self.to not in window:
            raise Blocked(
                f"version {self.to} is not among the {len(window)} versions of {self.worker} "
                "that Cloudflare can still roll back to",
                hint="pick one from `wrangler versions list`, or leave out --to to let "
                "helm-guard choose",
            )
        target = window[self.to]
        diffs = compare(bindings_of(target), self.expected, self.index)
        if diffs:
            raise Blocked(
                f"refusing --to {self.to}: its bindings are not shop {self.slug}'s own:\n"
                + explain(diffs, self.slug),
                hint="leave out --to to let helm-guard pick the newest correct version",
            )
        return target

    def _pick(
        self,
        order: list[str],
        window: Mapping[str, Mapping[str, Any]],
        good: set[str],
        deployed: set[str],
    ) -> tuple[Mapping[str, Any], str]:
        matching = [
            vid
            for vid in reversed(order)  # newest first
            if not compare(bindings_of(window[vid]), self.expected, self.index)
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
        raise Blocked(
            f"no version of {self.worker} that Cloudflare can still roll back to binds shop "
            f"{self.slug}'s own resources (checked {len(order)}); nothing was rolled back",
            hint="options: (1) fix the shop's config in git (the registry is the truth), get it "
            f"reviewed, `helm-guard resume --shop {self.slug}` and `helm-guard deploy --shop "
            f"{self.slug}`; (2) if you know a correct older version, `--to VERSION_ID` (it is "
            "still checked); (3) to stop the damage now, take the shop offline (e.g. disable "
            "its route) while you fix it",
        )

    # ------------------------------------------------------------------ step 3
    def _plan(self, s: Any) -> None:
        if self.pending is not None and self.pending.to_version == self.target_id:
            s.say(f"continuing incident {self.pending.incident} (started {self.pending.started})")
            if self.live_id == self.target_id:
                s.say(
                    f"{self.target_id} is already live; the bad version "
                    f"{self.pending.from_version} had (as recorded then):"
                )
                for row in self.pending.record.get("before_rows", []):
                    s.say(f"  {row}")
                return
        for line in side_by_side(self.live_bindings, self.target_bindings, self.index):
            s.say(line)
        if self.live_diffs:
            s.say("the live version differs from the registry:")
            for d in self.live_diffs:
                s.say(f"  - {d.message}")
        others = other_shops(self.live_diffs, self.slug)
        if others:
            s.say(
                f"OTHER SHOP(S) whose resources the live version touches: {', '.join(others)}",
                note=True,
            )

    # ------------------------------------------------------------------ step 4
    def _confirm(self, s: Any) -> None:
        if self.live_id == self.target_id:
            s.skip("the target is already live; nothing left to confirm")
            s.say("the target is already live; nothing to confirm")
            return
        if self.yes:
            s.say("confirmed by --yes", note=True)
            return
        if not self._ask(s, f"roll {self.worker} back from {self.live_id} to {self.target_id}?"):
            raise Blocked(
                "not confirmed: nothing was rolled back",
                hint="the halt stays in force; run the command again and type the slug",
            )
        s.say(f"confirmed by typing '{self.slug}'", note=True)

    # ------------------------------------------------------------------ step 5
    def _journal(self) -> None:
        """Append `rollback-started` (once per incident and target) before touching Cloudflare."""
        p = self.pending
        if (
            p is not None
            and p.to_version == self.target_id
            and (p.from_version == self.live_id or self.live_id == self.target_id)
        ):
            self.incident_id = p.incident
            self.started = p.started
            self.before_rows = list(p.record.get("before_rows", []))
            self.diff_lines = list(p.record.get("differences", []))
            self.others = list(p.record.get("other_shops", []))
            self.earlier = list(p.timeline)
            return
        now = utc_now()
        self.incident_id = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{self.slug}-{secrets.token_hex(3)}"
        self.started = self.steps.records[0].started
        self.before_rows = self._rows(self.live_bindings)
        self.diff_lines = [d.message for d in self.live_diffs]
        self.others = other_shops(self.live_diffs, self.slug)
        self.earlier = []
        record = {
            "action": "rollback-started",
            "incident": self.incident_id,
            "worker": self.worker,
            "from_version": self.live_id,
            "to_version": self.target_id,
            "started": self.started,
            "actor": actor(self.repo),
            "halt": self.halt_text,
            "before_bindings": safe_bindings(self.live_bindings),
            "before_rows": self.before_rows,
            "differences": self.diff_lines,
            "other_shops": self.others,
            "steps": [r.to_json() for r in self.steps.records[:4]],
        }
        state.append_ledger(self.repo, self.remote, self.slug, record)

    def _roll_back(self, s: Any) -> None:
        assert self.target_id is not None
        if self.live_id == self.target_id:
            s.skip("already live")
            s.say(f"{self.target_id} is already live; skipping the rollback request")
            return
        try:
            self.w.rollback(self.target_id, name=self.worker, message=self.message)
        except WranglerError as exc:
            if exc.code != SECRETS_CHANGED_CODE:
                raise self._rollback_error(exc) from None
            self._secrets_changed(s, exc)
            try:
                self.w.rollback(
                    self.target_id, name=self.worker, message=self.message, force_secrets=True
                )
            except WranglerError as again:
                raise self._rollback_error(again) from None
        s.say(f"Cloudflare accepted: {self.target_id} at 100%", note=True)

    def _rollback_error(self, exc: WranglerError) -> Blocked:
        timed_out = "timed out" in exc.message
        known = (
            "it is NOT known whether Cloudflare applied it (the request timed out)"
            if timed_out
            else "Cloudflare refused or failed the request, so the live version is unchanged"
        )
        return Blocked(
            f"the rollback request failed: {exc.message}; {known}",
            hint="check the API status (https://www.cloudflarestatus.com) and your token",
        )

    def _secrets_changed(self, s: Any, exc: WranglerError) -> None:
        names = ", ".join(exc.changed_secrets) or "(Cloudflare did not name them)"
        s.say(
            f"Cloudflare refused (code {SECRETS_CHANGED_CODE}): these secrets changed after "
            f"version {self.target_id} was created: {names}",
            note=True,
        )
        s.say(
            "Secrets are not versioned: rolling back runs the old code with the CURRENT "
            "secret values. If the old code expects other values (a rotated key, a new "
            "format), the shop may break in a new way."
        )
        if self.force_secrets:
            s.say("--force-secrets given: rolling back anyway", note=True)
        elif self.yes:
            raise Blocked(
                f"rollback refused: secrets changed since {self.target_id} ({names}); --yes "
                "never forces changed secrets on its own",
                hint="re-run with --yes --force-secrets to roll back anyway, or without --yes "
                "to decide at the prompt",
            )
        elif not self._ask(s, f"roll back anyway, with the current values of {names}?"):
            raise Blocked(
                f"not confirmed: nothing was rolled back (secrets changed: {names})",
                hint="decide whether the old code works with the current secrets, then re-run",
            )
        else:
            s.say(f"confirmed by typing '{self.slug}'", note=True)
        self.forced = list(exc.changed_secrets) or ["(unnamed)"]

    def _record_failure(self, exc: HelmGuardError) -> None:
        """Best effort: put the failed attempt into the ledger for the incident's timeline."""
        rec = self.steps.records[-1]
        rec.notes.append(exc.message[:300])
        step = {**rec.to_json(), "status": "failed"}
        try:
            state.append_ledger(
                self.repo,
                self.remote,
                self.slug,
                {"action": "rollback-failed", "incident": self.incident_id, "step": step},
            )
        except HelmGuardError:
            pass

    # ------------------------------------------------------------------ step 6
    def _verify(self, s: Any) -> bool:
        assert self.target_id is not None
        status = self.w.deployments_status(name=self.worker)
        traffic = [
            (v.get("version_id"), v.get("percentage"))
            for v in status.get("versions") or []
            if isinstance(v, dict)
        ]
        problems = []
        if traffic != [(self.target_id, 100)]:
            problems.append(
                f"the live deployment is {traffic or 'empty'}, not {self.target_id} at 100%"
            )
        now = bindings_of(self.w.versions_view(self.target_id, name=self.worker))
        diffs = compare(now, self.expected, self.index)
        problems += [d.message for d in diffs]
        if problems:
            s.say("!!! VERIFY FAILED: the shop is NOT known to be safe !!!")
            for p in problems:
                s.say(f"!!! {p}")
            s.status = "FAILED"
            s.record.notes.extend(problems)
            self.steps.say(
                "helm-guard rollback: stopped at step 6/7 (verify). The halt stays in force. "
                "Look at `wrangler deployments status --name " + self.worker + "` now; "
                "to continue: " + self._continue_hint()
            )
            return False
        self.after_rows = self._rows(now)
        s.say(
            f"{self.target_id} serves 100% and binds exactly shop {self.slug}'s resources",
            note=True,
        )
        return True

    # ------------------------------------------------------------------ step 7
    def _record(self, s: Any) -> None:
        from helm_guard.incident import write_incident

        current = self.steps.records[-1]
        timeline = [
            *self.earlier,
            *self.steps.records[:-1],
            StepRecord(
                current.n,
                current.total,
                current.title,
                current.started,
                0.0,
                "ok",
                ["incident file and ledger event written"],
            ),
        ]
        owner = self.fleet.shops.get(self.slug, {}).get("owner")
        incident = Incident(
            id=self.incident_id,
            shop=self.slug,
            worker=self.worker,
            started=self.started,
            actor=actor(self.repo),
            from_version=str(
                self.pending.from_version
                if self.pending is not None and self.pending.incident == self.incident_id
                else self.live_id
            ),
            to_version=str(self.target_id),
            before=self.before_rows,
            after=self.after_rows,
            differences=self.diff_lines,
            other_shops=self.others,
            halt=self.halt_text,
            timeline=timeline,
            forced_secrets=self.forced,
            owner=owner if isinstance(owner, str) else None,
        )
        path = write_incident(self.repo, incident)
        rel = path.relative_to(self.repo).as_posix()
        s.say(f"incident file: {rel} (commit it to the fleet repository)", note=True)
        appended = state.append_ledger(
            self.repo,
            self.remote,
            self.slug,
            {
                "action": "rollback",
                "incident": self.incident_id,
                "worker": self.worker,
                "from_version": incident.from_version,
                "to_version": self.target_id,
                "actor": incident.actor,
                "halt": self.halt_text,
                "other_shops": self.others,
                "forced_secrets": self.forced,
                "incident_file": rel,
                "recorded": fmt_time(utc_now()),
            },
        )
        s.say(f"ledger {self.slug} #{appended.entry.seq} ({appended.commit[:12]})")

    def _next_steps(self, *, done: bool) -> None:
        shops = [self.slug, *getattr(self, "others", [])]
        lines = ["", "next steps:"]
        if done:
            lines.append(
                f"  1. audit both shops' data ({' and '.join(shops)}): did the wrong shop's data "
                "get written? If so, restore from the last good backup (runbook)"
            )
            lines.append("  2. find how the binding got swapped; fix it in git; tighten checks")
        else:
            lines.append("  1. find what is wrong with the shop (this was not a binding swap)")
        lines.append(
            "  then: `helm-guard resume` (or `--shop " + self.slug + "`) once the cause is "
            "fixed; until then the halt stays in force"
        )
        for line in lines:
            self.steps.say(line)


def _live_version(deployments: Sequence[Any]) -> str | None:
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


def incident_dir(repo: Path) -> Path:
    """Where incident files go (for tests and drills)."""
    from helm_guard.incident import INCIDENT_DIR

    return repo / INCIDENT_DIR
