"""Scenario 12: a swapped version deployed OUT OF BAND (a laptop's deploy, not through the
pipeline): `audit` must find it live, name both shops, record a fleet halt
(`--halt-on-drift`), and `rollback` must restore the shop's own version, after which the audit
is in sync again."""

from __future__ import annotations

import json
from typing import Any

from helm_guard.drill import Record
from helm_guard.drill.sandbox import Workspace
from helm_guard.drill.scenarios._common import expect_exit
from helm_guard.drill.scenarios._swap import seed_ledger, swap_setup, version_bindings

NAME = "out-of-band-swap"
TITLE = "Out-of-band swapped deploy: audit detects, halts, rollback restores"
HYPOTHESIS = ("A version binding another shop's database, deployed outside helm-guard, is "
              "reported by `audit --halt-on-drift` as DRIFT naming both shops (exit 1) with "
              "who deployed it, a fleet halt is recorded, `rollback --yes` restores the shop's "
              "own version, and the next audit is in sync.")
FAULT = ("emulated Cloudflare: shop A's Worker runs a good version recorded in the ledger; "
         "then a version with shop B's D1 database id is uploaded and deployed by "
         "laptop@drill.invalid, bypassing gate and deploy.")
FRESH = True
NEEDS_WRANGLER = True
LAPTOP = "laptop@drill.invalid"


def _row(stdout: str, tenant: str) -> dict[str, Any] | None:
    try:
        rows = json.loads(stdout)["tenants"]
    except (ValueError, KeyError, TypeError):
        return None
    return next((r for r in rows if isinstance(r, dict) and r.get("tenant") == tenant), None)


def run(ws: Workspace, rec: Record) -> None:
    setup = swap_setup(ws, rec)
    if setup is None:
        return
    a, b, target, worker = setup
    emu = ws.sandbox.emulator
    good = emu.seed_version(worker, version_bindings(target), deploy=True, message="drill: good")
    ledgered = seed_ledger(ws, a.shop, {
        "action": "deploy", "worker": worker, "version_id": good, "commit": ws.start_sha,
        "digest": None, "actor": "helm-guard drill", "message": "seeded by the drill",
        "stage": None})
    swapped = emu.out_of_band_deploy(worker, version_bindings(target, d1_override=str(b.value)),
                                     author_email=LAPTOP, message="quick fix from my laptop")
    live = (emu.live_version(worker) or {}).get("id")
    rec.expect("set-up: the swapped version is live, deployed out of band",
               "live = the out-of-band version", "live = out-of-band version; ledger "
               + ("seeded" if ledgered else "NOT seeded"), live == swapped and ledgered)

    rec.begin("detect (audit --halt-on-drift)")
    run = ws.helm("helm-guard audit --halt-on-drift", "audit", "--shop", a.shop,
                  "--format", "json", "--halt-on-drift", *ws.fleet_args())
    if expect_exit(rec, "the audit blocks (exit 1)", run, 1):
        rec.timing("detect", run.seconds)
    row = _row(run.stdout, a.shop) or {}
    rec.expect(f"shop {a.shop} is DRIFT naming shop {b.shop}", f"drift, others [{b.shop}]",
               f"{row.get('status')}, others {row.get('others')}",
               row.get("status") == "drift" and row.get("others") == [b.shop])
    author = (row.get("deployment") or {}).get("author_email")
    rec.expect("the report says who deployed it, and that the ledger did not record it",
               f"author {LAPTOP}, recorded false", f"author {author}, recorded "
               f"{row.get('recorded')}", author == LAPTOP and row.get("recorded") is False)

    rec.begin("halt")
    st = ws.helm("helm-guard status", "status", "--format", "json")
    try:
        doc = json.loads(st.stdout)
        active = [h for h in doc["halts"] if isinstance(h, dict) and h.get("active")
                  and h.get("scope") == "fleet"]
    except (ValueError, KeyError, TypeError):
        active = None
    reasons = " ".join(str(h.get("reason", "")) for h in active or [])
    rec.expect("a fleet halt naming both shops is in force",
               f"an active halt whose reason names {a.shop} and {b.shop}",
               f"{len(active)} active: {reasons!r}" if active is not None
               else f"unreadable: {rec.excerpt(st)}",
               bool(active) and a.shop in reasons and b.shop in reasons)
    if active:
        rec.timing("halt", run.seconds)

    rec.begin("rollback")
    run = ws.helm("helm-guard rollback --yes", "rollback", "--shop", a.shop, "--yes",
                  *ws.fleet_args())
    if expect_exit(rec, "rollback completes and verifies", run, 0):
        rec.timing("restore", run.seconds)
    live = (emu.live_version(worker) or {}).get("id")
    rec.expect("the shop's own, ledgered version is live again", "live = the good version",
               "good version" if live == good else f"{live}: {rec.excerpt(run)}", live == good)

    rec.begin("audit again")
    run = ws.helm("helm-guard audit", "audit", "--shop", a.shop, "--format", "json",
                  *ws.fleet_args())
    expect_exit(rec, "the audit is in sync after the rollback (exit 0)", run, 0)
