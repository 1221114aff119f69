"""Set-up shared by the data-recovery scenarios (s13, s14): one shop's D1 database and bucket
on the emulated Cloudflare, addressed as the registry names them, holding a chained audit log
(`helm_guard.recovery.seed`), and the fleet file's `"audit"` block describing that chain."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from helm_guard.drill.sandbox import Workspace
from helm_guard.drill.scenarios._common import CannotInject, FleetView
from helm_guard.recovery import seed
from helm_guard.recovery.settings import ShopData, shop_data

START = datetime(2026, 4, 20, 8, 0, tzinfo=UTC)
STEP = timedelta(hours=2)  # 200 rows span April and May: two monthly archives


def prepare(ws: Workspace, rows: int = 200) -> tuple[ShopData, Any]:
    """The first shop with a registry database_id: its database and bucket created on the
    emulator (registry id, template names), `rows` chained audit rows, monthly archives, and
    the demo `"audit"` block in the fleet file (unless it has one)."""
    fleet = FleetView(ws).fleet
    shop = None
    for slug in fleet.shops:
        try:
            shop = shop_data(fleet, slug)
            break
        except Exception:  # noqa: BLE001 - a shop without a registry id: try the next
            continue
    if shop is None:
        raise CannotInject("no shop in the registry has a database_id")
    text = ws.fleet_file.read_text(encoding="utf-8")
    if '"audit"' not in text:
        new, n = re.subn(r'\n(\s*)"shops"\s*:',
                         lambda m: f'\n{m.group(1)}"audit": {json.dumps(seed.DEMO_AUDIT_BLOCK)},'
                         f'\n{m.group(1)}"shops":', text, count=1)
        if n != 1:
            raise CannotInject("cannot find where to add the audit block to the fleet file")
        ws.fleet_file.write_text(new, encoding="utf-8")
    emu = ws.sandbox.emulator
    if shop.database_id not in {d["uuid"] for d in emu.d1_databases()}:
        emu.add_d1_database(shop.database_name, shop.database_id)
    emu.add_r2_bucket(shop.bucket)
    emu.d1_execute(shop.database_id, "DROP TABLE IF EXISTS audit_events")  # shared
    seed.seed(emu, shop.database_id, seed.make_rows(rows, shop=shop.slug, start=START,
                                                    step=STEP))
    seed.archive_months(emu, shop.database_id, shop.bucket)
    return shop, emu


def count(emu: Any, shop: ShopData) -> int:
    try:
        return int(emu.d1_execute(shop.database_id,
                                  "SELECT count(*) AS n FROM audit_events")[0]["n"])
    except Exception:  # noqa: BLE001 - the table is gone (the data loss itself)
        return 0
