"""Scenario 15: the Stripe webhook secret is rotated away (deleted) on a shop's live Worker:
`helm-guard secrets` reports it missing (names only), a deploy of a version without it stops
before activation, and once the secret is set again both pass."""

from __future__ import annotations

from typing import Any

from helm_guard.drill import Record
from helm_guard.drill.sandbox import Workspace
from helm_guard.drill.scenarios._common import (
    CannotInject,
    FleetView,
    expect_exit,
    fleet_rel,
    insert_member,
)
from helm_guard.runbook import shop_facts

NAME = "stripe-secret-missing"
TITLE = "Required Stripe secret missing on the live Worker"
HYPOTHESIS = ("With STRIPE_WEBHOOK_SECRET required by the fleet file, a shop whose Worker lost "
              "it is reported MISSING by `helm-guard secrets` (exit 1, no value read), "
              "`helm-guard deploy` refuses to activate a version without it, and after the "
              "secret is put again both pass.")
FAULT = ("emulated Cloudflare: shop A's Worker live with its own bindings and the secret; then "
         "the secret deleted (the platform deploys a version without it).")
FRESH = True
NEEDS_WRANGLER = True
SECRET = "STRIPE_WEBHOOK_SECRET"


def _bindings(target: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for b in target.bindings("d1_databases"):
        out.append({"type": "d1", "name": b.get("binding"), "id": b.get("database_id")})
    for b in target.bindings("r2_buckets"):
        out.append({"type": "r2_bucket", "name": b.get("binding"),
                    "bucket_name": b.get("bucket_name")})
    return out


def run(ws: Workspace, rec: Record) -> None:
    rec.begin("set-up")
    if ws.sandbox.wrangler is None:
        rec.expect("the real wrangler is available", "wrangler 4.86.0",
                   "not found: run `npm ci --prefix tests/node`", False)
        return
    view = FleetView(ws)
    t = view.shop_targets()[0]
    assert t.tenant is not None
    shop, worker = t.tenant.shop, t.target.worker
    if worker is None:
        raise CannotInject(f"shop {shop}'s target has no Worker name")
    insert_member(ws, fleet_rel(ws), (), "secrets", {"required": [SECRET]})
    run = ws.commit("git commit (require the Stripe secret)",
                    f"drill: require {SECRET} for every shop")
    expect_exit(rec, "declaring a required secret passes the pre-commit check", run, 0)
    ws.git("git push", "push", "--quiet", "origin", "HEAD")
    emu = ws.sandbox.emulator
    good = _bindings(t.target)
    emu.seed_version(worker, good, deploy=True, message="drill: good release")
    emu.set_secret(worker, SECRET)  # the platform deploys a version with the secret binding
    run = ws.helm("helm-guard secrets (healthy)", "secrets", "--shop", shop, *ws.fleet_args())
    expect_exit(rec, "with the secret set, `secrets` passes", run, 0)

    rec.begin("inject")
    emu.clear_requests()
    flags = shop_facts(view.fleet, shop).target_flags()
    run = ws.run("wrangler secret delete", [str(ws.sandbox.wrangler), "secret", "delete",
                                            SECRET, *flags])
    expect_exit(rec, "the secret is deleted with the real wrangler", run, 0)
    # the platform then serves a version without the secret binding
    emu.seed_version(worker, good, deploy=True, message="drill: secret deleted")
    emu.clear_requests()

    rec.begin("detect")
    run = ws.helm("helm-guard secrets", "secrets", "--shop", shop, *ws.fleet_args())
    if expect_exit(rec, "`secrets` exits 1 when a required secret is missing", run, 1):
        rec.timing("detect", run.seconds)
    named = "MISSING" in run.stdout and SECRET in run.stdout
    rec.expect("the report names the shop's missing secret", f"MISSING {shop} … {SECRET}",
               "named" if named else f"not named: {rec.excerpt(run)}", named)
    reads = {(r["method"], r["path"].rsplit("/", 1)[-1]) for r in emu.requests}
    rec.expect("only the names were read (GET …/secrets), nothing written",
               "{GET secrets}", str(sorted(reads)), reads == {("GET", "secrets")})

    rec.begin("deploy blocked")
    live_before = (emu.live_version(worker) or {}).get("id")
    run = ws.helm("helm-guard deploy", "deploy", "--shop", shop, *ws.fleet_args())
    if expect_exit(rec, "deploy refuses a version without the required secret", run, 1):
        rec.timing("block", run.seconds)
    said = "NOT activated" in run.output and SECRET in run.output
    rec.expect("it stops before activation and names the secret", "NOT activated + name",
               "said" if said else f"missing: {rec.excerpt(run)}", said)
    live_after = (emu.live_version(worker) or {}).get("id")
    rec.expect("the live version did not change", str(live_before), str(live_after),
               live_before == live_after)

    rec.begin("fixed")
    emu.set_secret(worker, SECRET)  # `wrangler secret put` with the new signing secret
    run = ws.helm("helm-guard secrets (fixed)", "secrets", "--shop", shop, *ws.fleet_args())
    expect_exit(rec, "`secrets` passes once the secret is set again", run, 0)
    run = ws.helm("helm-guard deploy (fixed)", "deploy", "--shop", shop, *ws.fleet_args())
    if expect_exit(rec, "the deploy goes live once the secret is set", run, 0):
        rec.timing("restore", run.seconds)
    live = emu.live_version(worker) or {}
    names = {b.get("name") for b in live.get("resources", {}).get("bindings", [])
             if b.get("type") == "secret_text"}
    rec.expect("the live version binds the secret", SECRET, ", ".join(sorted(names)) or "none",
               SECRET in names)
