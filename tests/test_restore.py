"""`helm-guard restore`: Time Travel and SQL-backup restores against the emulator's D1/R2,
with real git for the halt and the ledger. The registry decides which database is touched."""

from __future__ import annotations

import argparse
import io
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from helm_guard import state
from helm_guard.cloudflare import d1
from helm_guard.commands import restore
from helm_guard.errors import Blocked
from helm_guard.recovery import seed
from tests.fleets import ACME_ID, BRAVO_ID

if TYPE_CHECKING:
    from tests.recovery_helpers import World

pytest_plugins = ["tests.recovery_helpers"]
START = datetime(2026, 5, 8, 9, 0, tzinfo=UTC)


def run(w: World, *argv: str, stdin: str = "") -> tuple[int, str]:
    p = argparse.ArgumentParser()
    restore.add_arguments(p)
    args = p.parse_args(["--shop", "acme", "--fleet", str(w.repo), *argv])
    out = io.StringIO()
    try:
        code = restore.run(args, client=w.client, stdin=io.StringIO(stdin), out=out)
    except Blocked as exc:
        exc.output = out.getvalue()  # type: ignore[attr-defined]
        raise
    return code, out.getvalue()


def count(w: World, db: str) -> int:
    return int(w.emu.d1_execute(db, "SELECT count(*) AS n FROM audit_events")[0]["n"])


def good_then_bad(w: World) -> str:
    """100 good rows in acme, bravo's own 30 rows; the moment between; then 50 bad rows."""
    seed.seed(w.emu, ACME_ID, seed.make_rows(100, shop="acme", start=START))
    seed.seed(w.emu, BRAVO_ID, seed.make_rows(30, shop="bravo", start=START))
    time.sleep(0.02)
    moment = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    time.sleep(0.02)
    seed.append(w.emu, ACME_ID, 50, shop="bravo", start=START + timedelta(hours=3))
    return moment


def ledger(w: World) -> list[dict]:
    return [e.record for e in state.read_ledger(w.repo, "origin", "acme")]


def test_restore_by_timestamp_replaces_data_records_undo_and_leaves_bravo_alone(
        world: World) -> None:
    # the shop's own config is swapped to bind bravo's database: the registry decides anyway
    cfg = world.repo / "shops" / "acme" / "wrangler.jsonc"
    cfg.write_text(cfg.read_text().replace(ACME_ID, BRAVO_ID))
    moment = good_then_bad(world)
    bravo_before = world.emu.d1_bookmark(BRAVO_ID)
    undo = world.emu.d1_bookmark(ACME_ID)
    world.emu.clear_requests()
    code, out = run(world, "--timestamp", moment, stdin="acme\n")
    assert code == 0, out
    assert count(world, ACME_ID) == 100
    assert "[4/9] take the undo point" in out and undo in out
    assert f"helm-guard restore --shop acme --bookmark {undo}" in out
    assert "audit chain: intact (100 rows)" in out
    # never another shop's database or bucket
    assert not any(BRAVO_ID in r["path"] or "bravo" in r["path"] for r in world.emu.requests)
    assert world.emu.d1_bookmark(BRAVO_ID) == bravo_before and count(world, BRAVO_ID) == 30
    # ledger: the undo point was recorded before the restore, then the restore
    recs = ledger(world)
    assert [r["action"] for r in recs] == ["restore-prepared", "restore-started", "restore"]
    assert recs[0]["undo_bookmark"] == undo == recs[2]["undo_bookmark"]
    assert recs[2]["rows_before"] == {"audit_events": 150}
    assert recs[2]["rows_after"] == {"audit_events": 100}
    incident = (world.repo / recs[2]["incident_file"]).read_text()
    assert f"`helm-guard restore --shop acme --bookmark {undo}`" in incident
    assert "Rows before: audit_events 150" in incident
    halts = state.read_state(world.repo, "origin", must_exist=True).halts
    assert [(h.scope, h.shop, h.reason) for h in halts] == [("shop", "acme", "restore of acme")]
    # a re-run converges: nothing is restored twice
    world.emu.clear_requests()
    code, out = run(world, "--timestamp", moment, stdin="acme\n")
    assert code == 0 and "already restored" in out
    assert not any(r["path"].endswith("/restore") for r in world.emu.requests)
    # the undo really undoes
    code, out = run(world, "--bookmark", undo, "--yes")
    assert code == 0 and count(world, ACME_ID) == 150


def test_dry_run_sends_no_write(world: World) -> None:
    moment = good_then_bad(world)
    world.emu.clear_requests()
    code, out = run(world, "--timestamp", moment, "--dry-run")
    assert code == 0 and "dry run: stopping here" in out and "rows now:  audit_events 150" in out
    for r in world.emu.requests:
        assert r["method"] == "GET" or (
            r["path"].endswith("/query") and r["body"]["sql"].lstrip().startswith("SELECT")), r
    assert count(world, ACME_ID) == 150
    assert ledger(world) == [] and not state.read_state(world.repo, "origin",
                                                        must_exist=False).halts


def test_restore_from_a_sql_backup_really_replaces_the_data(world: World) -> None:
    seed.seed(world.emu, ACME_ID, seed.make_rows(40, shop="acme", start=START))
    world.emu.d1_execute(ACME_ID, "CREATE TABLE orders (id INTEGER PRIMARY KEY, total INT)")
    world.emu.d1_execute(ACME_ID, "INSERT INTO orders (total) VALUES (5), (7)")
    _, sql = d1.export(world.client, ACME_ID)
    world.emu.r2_put_object("helm-acme-assets", "backups/db/2026-05-08.sql", sql)
    # the data is lost / damaged afterwards: a new table, orders gone, bad audit rows
    world.emu.d1_execute(ACME_ID, "DROP TABLE orders")
    world.emu.d1_execute(ACME_ID, "CREATE TABLE junk (x)")
    seed.append(world.emu, ACME_ID, 5, shop="bravo", start=START + timedelta(days=1))
    code, out = run(world, "--backup", "backups/db/2026-05-08.sql", "--yes")
    assert code == 0, out
    tables = world.emu.d1_execute(ACME_ID, "SELECT name FROM sqlite_master WHERE type='table' "
                                           "ORDER BY name")
    assert [t["name"] for t in tables] == ["audit_events", "orders"]
    assert count(world, ACME_ID) == 40
    assert "rows after: audit_events 40, orders 2" in out and "intact (40 rows)" in out


def test_backup_must_be_in_the_shops_own_bucket(world: World) -> None:
    seed.seed(world.emu, ACME_ID, seed.make_rows(3, shop="acme", start=START))
    world.emu.r2_put_object("helm-bravo-assets", "backups/db/2026-05-08.sql", b"SELECT 1;")
    with pytest.raises(Blocked, match="is not a backup in r2://helm-acme-assets/backups/db/"):
        run(world, "--backup", "backups/db/2026-05-08.sql", "--yes")
    world.emu.r2_put_object("helm-acme-assets", "backups/db/broken.sql", b"INSERT INTO nope;")
    with pytest.raises(Blocked, match="cannot be restored"):
        run(world, "--backup", "backups/db/broken.sql", "--yes")
    assert count(world, ACME_ID) == 3


def test_wrong_slug_restores_nothing(world: World) -> None:
    moment = good_then_bad(world)
    with pytest.raises(Blocked, match="not confirmed") as err:
        run(world, "--timestamp", moment, stdin="bravo\n")
    assert "to continue" in str(err.value.hint)
    assert count(world, ACME_ID) == 150
    assert [r["action"] for r in ledger(world)] == ["restore-prepared"]
    # nothing was restored: the next run takes a fresh undo point
    code, out = run(world, "--timestamp", moment, "--yes")
    assert code == 0 and "keeping ITS undo point" not in out


def test_a_failed_restore_says_how_to_undo_and_the_rerun_keeps_the_first_undo_point(
        world: World) -> None:
    moment = good_then_bad(world)
    undo = world.emu.d1_bookmark(ACME_ID)
    world.emu.fail_next("POST", r"/time_travel/restore$", "500")
    with pytest.raises(Blocked) as err:
        run(world, "--timestamp", moment, "--yes")
    text = f"{err.value.message} {err.value.hint}"
    assert "stopped at step 7/9 (restore)" in text
    assert f"to undo: `helm-guard restore --shop acme --bookmark {undo}`" in text
    assert [r["action"] for r in ledger(world)] == ["restore-prepared", "restore-started",
                                                    "restore-failed"]
    seed.append(world.emu, ACME_ID, 1, shop="acme", start=START)  # the shop wrote meanwhile
    code, out = run(world, "--timestamp", moment, "--yes")
    assert code == 0 and f"keeping ITS undo point {undo}" in out
    assert count(world, ACME_ID) == 100


def test_usage_errors_before_anything_happens(world: World) -> None:
    from helm_guard.errors import UsageError

    with pytest.raises(UsageError, match="in the future"):
        run(world, "--timestamp", "2999-01-01T00:00:00Z")
    with pytest.raises(UsageError, match="not a time"):
        run(world, "--timestamp", "yesterday")
    with pytest.raises(UsageError, match="not an object key"):
        run(world, "--backup", "../helm-bravo-assets/x.sql")
    assert world.emu.requests == [] and ledger(world) == []
