"""Scenario 9: the checked file is edited between the gate and the deploy job: `verify`, run
right before the deploy, must notice (digest mismatch)."""

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

NAME = "edit-after-gate"
TITLE = "Config edited between gate and deploy"
HYPOTHESIS = ("`helm-guard verify --shop S --digest D` passes for exactly what the gate "
              "checked and blocks (digest mismatch) once the shop's config has been edited "
              "after the gate, even by an edit the check itself finds harmless.")
FAULT = "after a passing gate, a var of shop A's config changed in the deploy checkout."
FRESH = False


def run(ws: Workspace, rec: Record) -> None:
    rec.begin("inject")
    shop = FleetView(ws).shop_targets()[0].tenant.shop  # type: ignore[union-attr]
    set_marker_var(ws, shop, "drill-checked")
    rec.begin("gate")
    commit = ws.commit("git commit (pre-commit hook)", f"drill: a harmless change to {shop}")
    if commit.exit_code != 0:
        ws.commit("git commit --no-verify", "drill: a harmless change", verify=False)
    run = gate(ws, "helm-guard gate")
    expect_exit(rec, "the gate passes the clean change", run, 0)
    digest = gate_digest(ws, run, shop)
    rec.expect(f"the gate's deploy matrix carries a digest for {shop}", "sha256:… for the shop",
               digest or "no digest found in $GITHUB_OUTPUT or stdout", digest is not None)
    if digest is None:
        digest = local_digest(ws, shop)
    rec.begin("verify (unchanged)")
    run = verify(ws, "helm-guard verify (as checked)", shop, digest)
    expect_exit(rec, "verify accepts the checkout the gate checked", run, 0)
    rec.begin("edit")
    set_marker_var(ws, shop, "drill-edited-after-gate")
    rec.begin("verify (edited)")
    run = verify(ws, "helm-guard verify (edited after gate)", shop, digest)
    if expect_exit(rec, "verify blocks the edited checkout", run, 1):
        rec.timing("detect", run.seconds)
        rec.timing("block", run.seconds)
    said = "digest" in run.output.lower() or digest in run.output
    rec.expect("verify says the digest differs", "'digest' or the checked digest in the refusal",
               "said" if said else f"not said: {rec.excerpt(run)}", said)
