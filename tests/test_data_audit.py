"""`helm-guard data-audit`: the rows each database got while a swapped version was live, from
the rollback's incident file, with the evidence appended to it (emulator D1, real git)."""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from helm_guard.commands import data_audit
from helm_guard.errors import UsageError
from helm_guard.incident import Incident, StepRecord, write_incident
from helm_guard.recovery import seed
from tests.fleets import ACME_ID, BRAVO_ID

if TYPE_CHECKING:
    from tests.recovery_helpers import World

pytest_plugins = ["tests.recovery_helpers"]
T0 = datetime(2026, 5, 8, 9, 0, tzinfo=UTC)
LIVE = datetime(2026, 5, 8, 10, 0, tzinfo=UTC)  # the swapped version went live
BACK = "2026-05-08T10:30:00Z"  # the rollback step started then


def run(w: World, *argv: str) -> tuple[int, str]:
    p = argparse.ArgumentParser()
    data_audit.add_arguments(p)
    args = p.parse_args(["--fleet", str(w.repo), *argv])
    out = io.StringIO()
    code = data_audit.run(args, client=w.client, out=out)
    return code, out.getvalue()


def incident_file(w: World, *, live_line: bool = True) -> Path:
    steps = [StepRecord(1, 7, "halt deploys", "2026-05-08T10:29:00Z", 0.4, "ok"),
             StepRecord(5, 7, "roll back to 1111", BACK, 1.2, "ok"),
             StepRecord(7, 7, "record (ledger + incident file)", "2026-05-08T10:31:00Z", 0, "ok")]
    inc = Incident(id="20260508T102900Z-acme-abcdef", shop="acme", worker="helm-acme",
                   started="2026-05-08T10:29:00Z", actor="Ana", from_version="bad",
                   to_version="good", before=[], after=[], differences=[],
                   other_shops=["bravo"], halt="fleet halted", timeline=steps)
    path = write_incident(w.repo, inc)
    if live_line:  # what the deploy records: when the swapped version went live
        text = path.read_text().replace(
            "- Rolled back by", "- Swapped version live since: `2026-05-08T10:00:00Z`\n"
            "- Rolled back by")
        path.write_text(text)
    return path


def swap(w: World) -> None:
    """acme writes its own db until 10:00, into bravo's db 10:00-10:30, its own again after;
    bravo writes its own db all along."""
    step = timedelta(minutes=2)
    seed.seed(w.emu, ACME_ID, seed.make_rows(30, shop="acme", start=T0, step=step))  # to 10:00
    seed.seed(w.emu, BRAVO_ID, seed.make_rows(60, shop="bravo", start=T0, step=step))
    seed.append(w.emu, BRAVO_ID, 15, shop="acme", start=LIVE + timedelta(seconds=30))
    seed.append(w.emu, ACME_ID, 10, shop="acme", start=LIVE + timedelta(minutes=40))


def test_swap_window_rows_in_the_wrong_database_are_found_and_recorded(world: World) -> None:
    swap(world)
    path = incident_file(world)
    world.emu.clear_requests()
    code, out = run(world, "--incident", str(path), "--page", "7")
    assert code == 1, out
    assert "2026-05-08T10:00:00Z .. 2026-05-08T10:30:02Z" in out
    assert "YES: 15 row(s) of another shop were written into bravo's database" in out
    assert "helm-guard restore --shop bravo --timestamp 2026-05-08T10:00:00Z --dry-run" in out
    text = path.read_text()
    assert "## Data audit" in text and "(helm-guard data-audit)" in text
    assert "- bravo: helm-bravo-db" in text and "written by another shop: acme 15" in text
    export = path.with_name(f"{path.stem}.data-bravo.jsonl")
    rows = [json.loads(x) for x in export.read_text().splitlines()]
    assert len(rows) == 16 + 15 and sum(r["shop"] == "acme" for r in rows) == 15
    acme_rows = path.with_name(f"{path.stem}.data-acme.jsonl").read_text().splitlines()
    assert acme_rows == []  # acme's own database got nothing while its Worker wrote elsewhere
    assert "acme: helm-acme-db (`1a9e6c1e-0d6a-4c33-9b8e-6b2f3f6f0a01`): 0 row(s)" in out
    # read-only and only the registry's two databases
    for r in world.emu.requests:
        assert r["method"] == "GET" or r["body"]["sql"].startswith("SELECT"), r
    # a re-run appends nothing new
    run(world, "--incident", str(path))
    assert path.read_text().count("## Data audit") == 1


def test_nothing_written_to_the_other_database(world: World) -> None:
    seed.seed(world.emu, ACME_ID, seed.make_rows(30, shop="acme", start=T0))
    seed.seed(world.emu, BRAVO_ID, seed.make_rows(5, shop="bravo", start=T0))
    code, out = run(world, "--shop", "acme", "--other", "bravo", "--from",
                    "2026-05-08T10:00:00Z", "--to", "2026-05-08T10:30:00Z")
    assert code == 0, out
    assert "NO: no row of another shop was written into bravo's database" in out


def test_window_must_be_known(world: World) -> None:
    path = incident_file(world, live_line=False)
    swap(world)
    with pytest.raises(UsageError, match=r"does not give the go-live time \(--from\)"):
        run(world, "--incident", str(path))
    code, out = run(world, "--incident", str(path), "--from", "2026-05-08T10:00:00Z")
    assert code == 1 and "from incident file" in out
    with pytest.raises(UsageError, match="ends"):
        run(world, "--incident", str(path), "--from", "2026-05-09T10:00:00Z")
