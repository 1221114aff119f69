"""Steps 5 and 6 of `helm-guard rollback`: roll back, then verify the live deployment.

The rollback goes through `helm_guard.wrangler.rollback`, which never forces. If Cloudflare
answers 10220 (secrets changed since the target version), the operator is told which secrets
changed and asked again; `--yes` alone refuses, `--force-secrets` opts in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from helm_guard.cloudflare import readback
from helm_guard.cloudflare.wrangler import SECRETS_CHANGED_CODE, WranglerError, bindings_of
from helm_guard.deploying import judge
from helm_guard.errors import Blocked
from helm_guard.incident import Step

if TYPE_CHECKING:
    from helm_guard.rollback.session import Rollback


def roll_back(rb: Rollback, s: Step) -> None:
    """Step 5: ask Cloudflare to serve the target at 100% (unless it already does)."""
    assert rb.target_id is not None
    if rb.live_id == rb.target_id:
        s.skip("already live")
        s.say(f"{rb.target_id} is already live; skipping the rollback request")
        return
    try:
        rb.w.rollback(rb.target_id, name=rb.worker, message=rb.message)
    except WranglerError as exc:
        if exc.code != SECRETS_CHANGED_CODE:
            raise rollback_error(exc) from None
        secrets_changed(rb, s, exc)
        try:
            rb.w.rollback(rb.target_id, name=rb.worker, message=rb.message, force_secrets=True)
        except WranglerError as again:
            raise rollback_error(again) from None
    s.say(f"Cloudflare accepted: {rb.target_id} at 100%", note=True)


def rollback_error(exc: WranglerError) -> Blocked:
    """A failed rollback request, saying whether the live version is known to be unchanged."""
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


def secrets_changed(rb: Rollback, s: Step, exc: WranglerError) -> None:
    """Cloudflare refused with 10220: explain, then go on only if the operator opts in."""
    names = ", ".join(exc.changed_secrets) or "(Cloudflare did not name them)"
    s.say(
        f"Cloudflare refused (code {SECRETS_CHANGED_CODE}): these secrets changed after "
        f"version {rb.target_id} was created: {names}",
        note=True,
    )
    s.say(
        "Secrets are not versioned: rolling back runs the old code with the CURRENT "
        "secret values. If the old code expects other values (a rotated key, a new "
        "format), the shop may break in a new way."
    )
    if rb.force_secrets:
        s.say("--force-secrets given: rolling back anyway", note=True)
    elif rb.yes:
        raise Blocked(
            f"rollback refused: secrets changed since {rb.target_id} ({names}); --yes "
            "never forces changed secrets on its own",
            hint="re-run with --yes --force-secrets to roll back anyway, or without --yes "
            "to decide at the prompt",
        )
    elif not rb.ask(s, f"roll back anyway, with the current values of {names}?"):
        raise Blocked(
            f"not confirmed: nothing was rolled back (secrets changed: {names})",
            hint="decide whether the old code works with the current secrets, then re-run",
        )
    else:
        s.say(f"confirmed by typing '{rb.slug}'", note=True)
    rb.forced = list(exc.changed_secrets) or ["(unnamed)"]


def verify(rb: Rollback, s: Step) -> bool:
    """Step 6: the target must serve 100% and bind exactly the expected resources."""
    assert rb.target_id is not None
    traffic = readback.live(rb.api, rb.worker).traffic
    problems = []
    if traffic != [(rb.target_id, 100.0)]:
        problems.append(f"the live deployment is {traffic or 'empty'}, not {rb.target_id} at 100%")
    now = bindings_of(readback.version(rb.api, rb.worker, rb.target_id))
    diffs = judge(rb.fleet, rb.tenant, now)
    problems += [d.message for d in diffs]
    if problems:
        s.say("!!! VERIFY FAILED: the shop is NOT known to be safe !!!")
        for p in problems:
            s.say(f"!!! {p}")
        s.status = "FAILED"
        s.record.notes.extend(problems)
        rb.steps.say(
            "helm-guard rollback: stopped at step 6/7 (verify). The halt stays in force. "
            "Look at `wrangler deployments status --name " + rb.worker + "` now; "
            "to continue: " + rb.continue_hint()
        )
        return False
    rb.after_rows = rb.rows(now)
    s.say(
        f"{rb.target_id} serves 100% and binds exactly shop {rb.slug}'s resources",
        note=True,
    )
    return True
