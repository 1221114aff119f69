"""Scenario 8: deploys while halted are blocked by gate and verify; and when the halt state
cannot be read (remote unreachable or gone), they are blocked too (fail-closed)."""

from __future__ import annotations

from helm_guard.drill import Record
from helm_guard.drill.sandbox import Workspace
from helm_guard.drill.scenarios._common import (
    FleetView,
    expect_exit,
    gate,
    gate_digest,
    local_digest,
    set_marker_var,
    verify,
)

NAME = "halted-deploy"
TITLE = "Deploy while halted; halt state unreachable"
HYPOTHESIS = ("After `helm-guard halt`, the gate and an already-queued deploy job's `verify` "
              "block with the halt's reason; after `resume` they pass; and when the remote "
              "holding the halt state is unreachable or removed, both block (fail-closed).")
FAULT = ("a fleet halt during a pending deploy; then the sandbox remote moved away, then the "
         "`origin` remote renamed.")
FRESH = True
REASON = "drill: binding swap suspected, stop all deploys"


def _mentions(run_output: str, *words: str) -> bool:
    low = run_output.lower()
    return any(w in low for w in words)


def run(ws: Workspace, rec: Record) -> None:
    rec.begin("baseline")
    shop = FleetView(ws).shop_targets()[0].tenant.shop  # type: ignore[union-attr]
    set_marker_var(ws, shop, "drill-halt")
    ws.commit("git commit --no-verify", f"drill: pending change to {shop}", verify=False)
    run = gate(ws, "helm-guard gate (before halt)")
    expect_exit(rec, "the gate passes before the halt", run, 0)
    digest = gate_digest(ws, run, shop) or local_digest(ws, shop)

    rec.begin("halt")
    run = ws.helm("helm-guard halt", "halt", "--reason", REASON)
    if expect_exit(rec, "halt succeeds", run, 0):
        rec.timing("halt", run.seconds)

    rec.begin("gate while halted")
    ws.reset_outputs()
    run = gate(ws, "helm-guard gate (halted)")
    if expect_exit(rec, "the gate blocks while the fleet is halted", run, 1):
        rec.timing("block", run.seconds)
    text = run.output + ws.github_files()
    rec.expect("the gate's refusal gives the halt's reason", "reason in output",
               "given" if REASON in text else f"missing: {rec.excerpt(run)}", REASON in text)

    rec.begin("verify while halted")
    run = verify(ws, "helm-guard verify (halted)", shop, digest)
    expect_exit(rec, "verify (a deploy job queued before the halt) blocks", run, 1)
    rec.expect("verify's refusal names the halt", "'halt' in output",
               "named" if _mentions(run.output, "halt") else f"missing: {rec.excerpt(run)}",
               _mentions(run.output, "halt"))

    rec.begin("resume")
    run = ws.helm("helm-guard resume", "resume", "--reason", "drill: cause fixed")
    expect_exit(rec, "resume succeeds", run, 0)
    run = verify(ws, "helm-guard verify (resumed)", shop, digest)
    expect_exit(rec, "verify passes again after resume (the halt was the only reason)", run, 0)

    rec.begin("remote unreachable")
    moved = ws.origin.with_name("origin-moved.git")
    ws.origin.rename(moved)
    try:
        _expect_fail_closed(ws, rec, shop, digest, "unreachable remote")
    finally:
        moved.rename(ws.origin)

    rec.begin("remote renamed")
    ws.git("git remote rename origin upstream", "remote", "rename", "origin", "upstream")
    try:
        _expect_fail_closed(ws, rec, shop, digest, "no `origin` remote")
    finally:
        ws.git("git remote rename upstream origin", "remote", "rename", "upstream", "origin")


def _expect_fail_closed(ws: Workspace, rec: Record, shop: str, digest: str, why: str) -> None:
    ws.reset_outputs()
    run = gate(ws, f"helm-guard gate ({why})")
    expect_exit(rec, f"the gate blocks when the halt state cannot be read ({why})", run, 1)
    run = verify(ws, f"helm-guard verify ({why})", shop, digest)
    expect_exit(rec, f"verify blocks when the halt state cannot be read ({why})", run, 1)
    said = _mentions(run.output, "remote", "unreachable", "halt state", "state")
    rec.expect("the refusal says the halt state could not be read", "remote/state named",
               "named" if said else f"missing: {rec.excerpt(run)}", said)
