"""`helm-guard audit-chain`: streaming link + hash verification against the emulator's D1,
the first broken row with its neighbours, and the difference from the monthly R2 archive."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from helm_guard.commands import audit_chain
from helm_guard.errors import Blocked
from helm_guard.recovery import seed
from helm_guard.recovery.chain import verify
from helm_guard.recovery.settings import AuditSettings
from tests.fleets import ACME_ID, BRAVO_ID

if TYPE_CHECKING:
    from tests.recovery_helpers import World

pytest_plugins = ["tests.recovery_helpers"]

START = datetime(2026, 4, 28, 12, 0, tzinfo=UTC)


def run(w: World, *argv: str) -> tuple[int, str]:
    p = argparse.ArgumentParser()
    audit_chain.add_arguments(p)
    args = p.parse_args(["--shop", "acme", "--fleet", str(w.repo), *argv])
    out = io.StringIO()
    try:
        code = audit_chain.run(args, client=w.client, out=out)
    except Blocked as exc:
        exc.output = out.getvalue()  # type: ignore[attr-defined]
        raise
    return code, out.getvalue()


def seeded(w: World, n: int = 300) -> None:
    # one row every hour: 300 rows span April and May (two monthly archives)
    from datetime import timedelta

    seed.seed(w.emu, ACME_ID, seed.make_rows(n, shop="acme", start=START,
                                             step=timedelta(hours=1)))
    seed.archive_months(w.emu, ACME_ID, "helm-acme-assets")


def test_intact_chain_exits_0(world: World) -> None:
    seeded(world)
    code, out = run(world, "--page", "64")
    assert code == 0, out
    assert "300 row(s) checked (ids 1..300" in out and "INTACT" in out
    writes = [r for r in world.emu.requests if r["method"] != "GET"
              and not r["path"].endswith("/query")]
    assert writes == []  # read-only: only queries (all SELECTs) and GETs
    assert all(r["body"]["sql"].startswith("SELECT") for r in world.emu.requests
               if r["path"].endswith("/query"))
    assert not any(BRAVO_ID in r["path"] for r in world.emu.requests)


def test_edited_row_is_found_at_that_row_only_with_the_archive_difference(world: World) -> None:
    seeded(world)
    world.emu.d1_execute(ACME_ID, "UPDATE audit_events SET action = 'refund' WHERE id = 250")
    code, out = run(world, "--page", "64")
    assert code == 1, out
    assert "FIRST BROKEN ROW: id 250 (hash)" in out
    assert "broken rows: 1: 250" in out  # only that row: its stored hash still links on
    assert "> id 250" in out and "id 248" in out and "id 252" in out  # neighbours
    assert "1 row(s) differ from the archive" in out and "id 250 changed: action" in out
    assert "audit_archive/2026-05.jsonl" in out and "SEV1" in out


def test_deleted_row_breaks_the_next_link_and_is_missing_from_the_database(world: World) -> None:
    seeded(world)
    world.emu.d1_execute(ACME_ID, "DELETE FROM audit_events WHERE id = 120")
    code, out = run(world)
    assert code == 1
    assert "FIRST BROKEN ROW: id 121 (link)" in out and "broken rows: 1: 121" in out
    assert "id 120 missing from the database" in out


def test_rehashed_forgery_and_from_id(world: World) -> None:
    seeded(world)
    # a careful forger recomputes the edited row's hash: the next row's link breaks
    row = world.emu.d1_execute(ACME_ID, "SELECT * FROM audit_events WHERE id = 40")[0]
    row["actor"] = "mallory"
    new = seed.chain_hash(row, seed.DEMO_CHAIN)
    world.emu.d1_execute(ACME_ID, "UPDATE audit_events SET actor = ?, chain_hash = ? "
                         "WHERE id = 40", ("mallory", new))
    code, out = run(world)
    assert code == 1 and "FIRST BROKEN ROW: id 41 (link)" in out
    assert "id 40 changed: actor, chain_hash" not in out  # compared from the break on
    code, out = run(world, "--from-id", "41")
    assert code == 1 and "ids 41..300" in out and "FIRST BROKEN ROW: id 41" in out
    code, out = run(world, "--from-id", "42")
    assert code == 0, out


def test_links_only_without_a_recipe(world: World) -> None:
    seeded(world)
    world.emu.d1_execute(ACME_ID, "UPDATE audit_events SET action = 'x' WHERE id = 7")
    s = AuditSettings()  # no chain recipe: an in-place edit is invisible to links alone
    rows = world.emu.d1_execute(ACME_ID, "SELECT * FROM audit_events ORDER BY id")
    assert verify(iter(rows), s).intact
    assert not verify(iter(rows), seed.DEMO_SETTINGS).intact


def test_wrong_database_name_is_refused(world: World) -> None:
    world.emu._d1[ACME_ID]["name"] = "helm-bravo-db"  # the registry id now names another db
    with pytest.raises(Blocked, match="refusing to touch it"):
        run(world)


def test_intact_chain_of_100000_rows_in_bounded_memory(world: World) -> None:
    """Peak memory of a streaming check does not grow with the table: 100,000 rows peak at
    about what 20,000 do (one page at a time), far below holding the rows."""
    import tracemalloc

    from helm_guard.recovery.audit_chain import check_chain
    from helm_guard.recovery.settings import ShopData

    shop = ShopData("acme", ACME_ID, "helm-acme-db", "helm-acme-assets")
    s = seed.DEMO_SETTINGS
    seed.seed(world.emu, ACME_ID, seed.make_rows(20_000, shop="acme", start=START))
    peaks = []
    for extra in (0, 80_000):
        if extra:
            seed.append(world.emu, ACME_ID, extra, shop="acme", start=START)
        tracemalloc.start()
        rep = check_chain(world.client, shop, s, page=2000, archive=False)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert rep.intact and rep.rows == 20_000 + extra
    small, big = peaks
    assert big < small * 1.5 + 2_000_000, peaks
    assert big < 40_000_000, peaks  # the 100,000 rows as dicts alone would take ~100 MB
