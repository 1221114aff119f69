"""The set-up shared by the swapped-version scenarios (s10 live swap incident, s12 out-of-band
swap): two shops whose D1 ids can be swapped, shop A's resolved target and Worker, the bindings
a version of it carries (its own, or with shop B's database id), and the deploy ledger seed."""

from __future__ import annotations

import json
import sys
from typing import Any, NamedTuple

from helm_guard.drill import Record
from helm_guard.drill.sandbox import WRANGLER_HINT, Workspace
from helm_guard.drill.scenarios._common import CannotInject, FleetView, Located
from helm_guard.drill.scenarios._setup import ensure_pair
from helm_guard.resolve import Target


class SwapSetup(NamedTuple):
    a: Located  # the shop whose Worker gets the swapped version
    b: Located  # the shop whose D1 database id is swapped in
    target: Target  # shop A's resolved target
    worker: str  # shop A's Worker name


def version_bindings(target: Target, d1_override: str | None = None) -> list[dict[str, Any]]:
    """The D1 and R2 bindings of a version of `target` (with `d1_override` as every D1 id)."""
    out: list[dict[str, Any]] = []
    for b in target.bindings("d1_databases"):
        out.append({"type": "d1", "name": b.get("binding"),
                    "id": d1_override or b.get("database_id")})
    for b in target.bindings("r2_buckets"):
        out.append({"type": "r2_bucket", "name": b.get("binding"),
                    "bucket_name": b.get("bucket_name")})
    return out


def seed_ledger(ws: Workspace, shop: str, record: dict[str, Any]) -> bool:
    """Append `record` to the shop's deploy ledger in the sandbox; True when it worked."""
    code = ("import json, sys\n"
            "from helm_guard import state\n"
            "state.append_ledger('.', 'origin', sys.argv[1], json.loads(sys.argv[2]))\n")
    run = ws.run("seed the deploy ledger (set-up)",
                 [sys.executable, "-c", code, shop, json.dumps(record)])
    return run.exit_code == 0


def swap_setup(ws: Workspace, rec: Record) -> SwapSetup | None:
    """The real wrangler (None, with a failed expectation, when it is missing), two shops with
    D1 databases, and shop A's target and Worker."""
    rec.begin("set-up")
    if ws.sandbox.wrangler is None:
        rec.expect("the real wrangler is available", "wrangler 4.86.0 (`--wrangler PATH`, "
                   "HELM_GUARD_WRANGLER, node_modules/.bin/wrangler or tests/node)",
                   WRANGLER_HINT, False)
        return None
    a, b = ensure_pair(ws, rec, "d1_databases", "database_id")
    rec.begin("set-up")
    target = FleetView(ws).target_of(a.shop).target
    if target.worker is None:
        raise CannotInject(f"shop {a.shop}'s target has no worker name")
    return SwapSetup(a, b, target, target.worker)
