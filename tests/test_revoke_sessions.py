"""`helm-guard revoke-sessions` against the emulator's D1 (sqlite) and real git: the staff id
is validated before anything is sent, the database is the registry's (never the config's),
the delete is parameterised and verified, and the event is ledgered and written up."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from helm_guard import cli, state
from helm_guard.commands import revoke_sessions
from helm_guard.emulator import CloudflareEmulator
from helm_guard.errors import Blocked, UsageError
from helm_guard.sessions import check_staff_id
from tests.d1_helpers import client_for, count, seed_database, seed_sessions
from tests.fleets import ACME, ACME_ID, BRAVO_ID, edit
from tests.gitrepos import git

STAFF_UUID = "0b7c3d9e-1111-4222-8333-944455556666"


@pytest.fixture
def dbs(emulator: CloudflareEmulator) -> CloudflareEmulator:
    """acme: 3 sessions of staff 42, 2 of 7, 1 of 4200; bravo: 2 sessions of staff 42."""
    seed_database(emulator, "helm-acme-db", ACME_ID)
    seed_database(emulator, "helm-bravo-db", BRAVO_ID)
    seed_sessions(emulator, ACME_ID, {42: 3, 7: 2, 4200: 1})
    seed_sessions(emulator, BRAVO_ID, {42: 2})
    emulator.clear_requests()
    return emulator


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    revoke_sessions.add_arguments(p)
    return p.parse_args(list(argv))


def d1_paths(emu: CloudflareEmulator) -> set[str]:
    return {r["path"].split("/d1/database/")[1].split("/")[0]
            for r in emu.requests if "/d1/database/" in r["path"]}


def sql_sent(emu: CloudflareEmulator) -> list[str]:
    return [r["body"]["sql"] for r in emu.requests if r["path"].endswith("/query")]


def test_revokes_only_that_staff_members_sessions_verified_and_recorded(
        dbs: CloudflareEmulator, fleet_repo: Path) -> None:
    out = io.StringIO()
    code = revoke_sessions.run(parse("--shop", "acme", "--staff", "42", "--fleet",
                                     str(fleet_repo), "--yes"), client=client_for(dbs), out=out)
    text = out.getvalue()
    assert code == 0, text
    assert count(dbs, ACME_ID) == {7: 2, 4200: 1}
    assert count(dbs, BRAVO_ID) == {42: 2}  # the other shop's database: untouched
    assert d1_paths(dbs) == {ACME_ID}  # and never even asked
    # the staff id never appears in the SQL text: it travels as a parameter
    deletes = [r for r in dbs.requests if r["path"].endswith("/query")
               and r["body"]["sql"].startswith("DELETE")]
    assert len(deletes) == 1
    assert deletes[0]["body"] == {"sql": 'DELETE FROM "staff_sessions" WHERE "staff_id" = ?',
                                  "params": [42]}
    assert all("42" not in sql for sql in sql_sent(dbs))
    for n in range(1, 8):
        assert f"[{n}/7] " in text
    assert "FAILED" not in text
    assert "Rotate the staff member's PIN" in text and "Email the shop owner" in text
    ledger = state.read_ledger(fleet_repo, "origin", "acme")
    assert [e.record["action"] for e in ledger] == ["revoke-sessions-started", "revoke-sessions"]
    rec = ledger[1].record
    assert (rec["shop"], rec["staff"], rec["count"], rec["deleted"]) == ("acme", 42, 3, 3)
    assert rec["others_before"] == rec["others_after"] == 3 and rec["verified"] is True
    assert rec["actor"] == "Ana <ana@example.invalid>" and ledger[1].by == rec["actor"]
    incident = fleet_repo / rec["incident_file"]
    body = incident.read_text(encoding="utf-8")
    assert incident.name.endswith("-acme-sessions.md")
    assert "Sessions revoked: 3" in body and "Rotate the staff member's PIN" in body
    assert "hash-42" not in body  # no session data in the write-up


@pytest.mark.parametrize("bad", ["42 OR 1=1", "42;DROP", "42; DROP TABLE staff_sessions", "-1",
                                 "042", " 42", "42 ", "1e3", "", "0", "4" * 20, "42\n",
                                 "'42'", "0b7c3d9e-1111-4222-8333-94445555666"])
def test_what_is_not_an_id_is_refused_before_anything_is_sent(
        dbs: CloudflareEmulator, fleet_repo: Path, bad: str) -> None:
    with pytest.raises(UsageError, match="not a staff id"):
        revoke_sessions.run(parse("--shop", "acme", "--staff", bad, "--fleet", str(fleet_repo),
                                  "--yes"), client=client_for(dbs), out=io.StringIO())
    assert dbs.requests == []
    assert count(dbs, ACME_ID) == {42: 3, 7: 2, 4200: 1}
    assert state.read_ledger(fleet_repo, "origin", "acme") == []


def test_cli_exit_code_for_an_injection_is_2(fleet_repo: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)  # nothing may be needed
    assert cli.main(["revoke-sessions", "--shop", "acme", "--staff", "42 OR 1=1",
                     "--fleet", str(fleet_repo), "--yes"]) == 2


def test_staff_ids_are_bound_as_numbers_or_uuids() -> None:
    assert check_staff_id("42") == 42
    assert check_staff_id(str(2**63 - 1)) == 2**63 - 1
    assert check_staff_id(STAFF_UUID) == STAFF_UUID
    with pytest.raises(UsageError):
        check_staff_id(str(2**63))


def test_the_config_binding_another_database_changes_nothing(
        dbs: CloudflareEmulator, fleet_repo: Path) -> None:
    edit(fleet_repo / ACME, ACME_ID, BRAVO_ID)  # the shop's config binds bravo's database
    assert revoke_sessions.run(parse("--shop", "acme", "--staff", "42", "--fleet",
                                     str(fleet_repo), "--yes"), client=client_for(dbs),
                               out=io.StringIO()) == 0
    assert d1_paths(dbs) == {ACME_ID}
    assert count(dbs, BRAVO_ID) == {42: 2}
    assert count(dbs, ACME_ID) == {7: 2, 4200: 1}


def test_a_registry_id_that_is_not_the_shops_database_is_refused(
        dbs: CloudflareEmulator, fleet_repo: Path) -> None:
    edit(fleet_repo / "helm-fleet.jsonc", f'"acme": {{"database_id": "{ACME_ID}"',
         f'"acme": {{"database_id": "{BRAVO_ID}"')
    edit(fleet_repo / "helm-fleet.jsonc", f'"database_id": "{BRAVO_ID}",\n',
         '"database_id": "2b0f7d2f-1e7b-4d44-8c9f-7c3a4a7a1b77",\n')
    with pytest.raises(Blocked, match="not 'helm-acme-db'"):
        revoke_sessions.run(parse("--shop", "acme", "--staff", "42", "--fleet",
                                  str(fleet_repo), "--yes"), client=client_for(dbs),
                            out=io.StringIO())
    assert [r["method"] for r in dbs.requests] == ["GET"]  # the identity check only
    assert count(dbs, BRAVO_ID) == {42: 2}


def test_typed_confirmation(dbs: CloudflareEmulator, fleet_repo: Path) -> None:
    args = parse("--shop", "acme", "--staff", "42", "--fleet", str(fleet_repo))
    with pytest.raises(Blocked, match="not confirmed"):
        revoke_sessions.run(args, client=client_for(dbs), stdin=io.StringIO("bravo\n"),
                            out=io.StringIO())
    assert count(dbs, ACME_ID)[42] == 3
    assert state.read_ledger(fleet_repo, "origin", "acme") == []
    assert revoke_sessions.run(args, client=client_for(dbs), stdin=io.StringIO("acme\n"),
                               out=io.StringIO()) == 0
    assert 42 not in count(dbs, ACME_ID)


def test_dry_run_reads_only(dbs: CloudflareEmulator, fleet_repo: Path) -> None:
    out = io.StringIO()
    assert revoke_sessions.run(parse("--shop", "acme", "--staff", "42", "--fleet",
                                     str(fleet_repo), "--dry-run"), client=client_for(dbs),
                               out=out) == 0
    assert "3 session(s)" in out.getvalue() and "dry run" in out.getvalue()
    assert all(sql.startswith("SELECT") for sql in sql_sent(dbs))
    assert count(dbs, ACME_ID)[42] == 3
    assert state.read_ledger(fleet_repo, "origin", "acme") == []


def test_nothing_to_revoke(dbs: CloudflareEmulator, fleet_repo: Path) -> None:
    out = io.StringIO()
    assert revoke_sessions.run(parse("--shop", "acme", "--staff", "99", "--fleet",
                                     str(fleet_repo), "--yes"), client=client_for(dbs),
                               out=out) == 0
    assert "nothing to revoke" in out.getvalue()
    assert state.read_ledger(fleet_repo, "origin", "acme") == []


def test_table_and_column_from_the_fleet_file_and_uuid_ids(
        emulator: CloudflareEmulator, fleet_repo: Path) -> None:
    edit(fleet_repo / "helm-fleet.jsonc", '"shops": {',
         '"sessions": {"table": "sessions_v2", "staff_column": "member"},\n  "shops": {')
    git(fleet_repo, "commit", "--quiet", "-am", "sessions table")
    seed_database(emulator, "helm-acme-db", ACME_ID)
    seed_sessions(emulator, ACME_ID, {STAFF_UUID: 2, "other": 1}, table="sessions_v2",
                  column="member")
    assert revoke_sessions.run(parse("--shop", "acme", "--staff", STAFF_UUID, "--fleet",
                                     str(fleet_repo), "--yes"), client=client_for(emulator),
                               out=io.StringIO()) == 0
    assert count(emulator, ACME_ID, table="sessions_v2", column="member") == {"other": 1}


def test_an_api_failure_blocks_and_says_where(dbs: CloudflareEmulator,
                                              fleet_repo: Path) -> None:
    dbs.fail_next("POST", r"/query$", "500", count=5)
    with pytest.raises(Blocked, match="stopped at step 2/7"):
        revoke_sessions.run(parse("--shop", "acme", "--staff", "42", "--fleet",
                                  str(fleet_repo), "--yes"), client=client_for(dbs),
                            out=io.StringIO())
    assert count(dbs, ACME_ID)[42] == 3


def test_an_unknown_git_identity_stops_before_any_query(
        dbs: CloudflareEmulator, fleet_repo: Path) -> None:
    git(fleet_repo, "config", "--unset", "user.name")
    git(fleet_repo, "config", "--unset", "user.email")
    with pytest.raises(UsageError, match="who you are"):
        revoke_sessions.run(parse("--shop", "acme", "--staff", "42", "--fleet",
                                  str(fleet_repo), "--yes"), client=client_for(dbs),
                            out=io.StringIO())
    assert dbs.requests == []
