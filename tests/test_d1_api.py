"""D1 through the API door (`helm_guard.cloudflare.d1`) against the emulator's sqlite3-backed
D1 area: parameterised queries, the real answer shape, errors, batches."""

from __future__ import annotations

import json
import urllib.request

import pytest

from helm_guard.cloudflare import api, d1
from helm_guard.emulator import CloudflareEmulator


@pytest.fixture()
def emu():
    with CloudflareEmulator(token="tok") as e:
        yield e


def client_for(emu: CloudflareEmulator, **kw: object) -> api.Client:
    env = {"CLOUDFLARE_API_TOKEN": "tok", "CLOUDFLARE_ACCOUNT_ID": emu.account_id,
           "CLOUDFLARE_API_BASE_URL": emu.base_url}
    return api.Client.from_env(env, **kw)


def test_query_answers_the_real_api_shape(emu: CloudflareEmulator) -> None:
    db = emu.add_d1_database("helm-acme-db")
    emu.d1_execute(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    req = urllib.request.Request(
        f"{emu.base_url}/accounts/{emu.account_id}/d1/database/{db}/query",
        data=json.dumps({"sql": "INSERT INTO t (v) VALUES (?)", "params": ["a"]}).encode(),
        headers={"Authorization": "Bearer tok", "Content-Type": "application/json"},
        method="POST")
    with urllib.request.urlopen(req) as resp:
        body = json.load(resp)
    assert body["success"] is True
    [one] = body["result"]
    assert one["success"] is True and one["results"] == []
    assert one["meta"]["changes"] == 1 and one["meta"]["last_row_id"] == 1
    assert one["meta"]["changed_db"] is True and one["meta"]["rows_written"] == 1


def test_query_binds_params_and_never_interpolates(emu: CloudflareEmulator) -> None:
    db = emu.add_d1_database("helm-acme-db")
    emu.d1_execute(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    c = client_for(emu)
    evil = "x'); DROP TABLE t; --"
    d1.query(c, db, "INSERT INTO t (v) VALUES (?)", [evil])
    d1.query(c, db, "INSERT INTO t (v) VALUES (?)", ["b"])
    got = d1.query(c, db, "SELECT id, v FROM t WHERE id >= ? ORDER BY id", [1])
    assert got.rows == [{"id": 1, "v": evil}, {"id": 2, "v": "b"}]
    assert got.meta["rows_read"] == 2 and got.meta["changed_db"] is False
    assert emu.requests[-1]["body"] == {"sql": "SELECT id, v FROM t WHERE id >= ? ORDER BY id",
                                         "params": [1]}


def test_batch_is_all_or_nothing(emu: CloudflareEmulator) -> None:
    db = emu.add_d1_database("helm-acme-db")
    c = client_for(emu, max_retries=0)
    res = d1.query_all(c, db, "CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);"
                              " SELECT 'a;b' AS s")
    assert len(res) == 3 and res[2].rows == [{"s": "a;b"}]
    with pytest.raises(api.CloudflareError) as err:
        d1.query_all(c, db, "INSERT INTO t VALUES (2); INSERT INTO nope VALUES (1)")
    assert err.value.status == 400 and err.value.code == 7500
    assert "no such table: nope" in str(err.value)
    assert d1.query(c, db, "SELECT count(*) AS n FROM t").rows == [{"n": 1}]  # rolled back


def test_query_refuses_bad_ids_and_unknown_databases(emu: CloudflareEmulator) -> None:
    c = client_for(emu, max_retries=0)
    with pytest.raises(api.CloudflareError, match="not a D1 database id"):
        d1.query(c, "DB", "SELECT 1")
    with pytest.raises(api.CloudflareError, match="not a D1 database id"):
        d1.query(c, "../../workers/scripts", "SELECT 1")
    assert emu.requests == []  # nothing was sent
    with pytest.raises(api.CloudflareError) as err:
        d1.query(c, "11111111-2222-4333-8444-555555555555", "SELECT 1")
    assert err.value.status == 404 and err.value.code == 7404


def test_query_expects_one_statement(emu: CloudflareEmulator) -> None:
    db = emu.add_d1_database("helm-acme-db")
    c = client_for(emu)
    with pytest.raises(api.CloudflareError, match="one statement"):
        d1.query(c, db, "SELECT 1; SELECT 2")
    assert d1.database(c, db)["name"] == "helm-acme-db"


def test_blobs_come_back_as_byte_lists(emu: CloudflareEmulator) -> None:
    db = emu.add_d1_database("helm-acme-db")
    c = client_for(emu)
    assert d1.query(c, db, "SELECT x'0102ff' AS b").rows == [{"b": [1, 2, 255]}]


def test_database_list_route(emu: CloudflareEmulator) -> None:
    emu.add_d1_database("helm-acme-db")
    c = client_for(emu)
    assert [d["name"] for d in c.pages(c.account_path("d1", "database"))] == ["helm-acme-db"]


def test_time_travel_bookmark_and_restore_to_a_point(emu: CloudflareEmulator) -> None:
    db = emu.add_d1_database("helm-acme-db")
    c = client_for(emu)
    d1.query(c, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    d1.query(c, db, "INSERT INTO t (v) VALUES (?)", ["good"])
    good = d1.bookmark(c, db)
    moment = emu.requests[-1]  # noqa: F841 - the clock moves on below
    import time as _t

    _t.sleep(0.01)
    from datetime import UTC, datetime

    when = datetime.now(UTC).isoformat()
    _t.sleep(0.01)
    d1.query(c, db, "INSERT INTO t (v) VALUES (?)", ["bad"])
    assert d1.bookmark(c, db) != good
    assert d1.bookmark(c, db, when) == good
    before = d1.bookmark(c, db)
    res = d1.restore(c, db, timestamp=when)
    assert res.previous_bookmark == before
    assert d1.query(c, db, "SELECT v FROM t").rows == [{"v": "good"}]
    undo = d1.restore(c, db, bookmark=res.previous_bookmark)  # the undo really undoes
    assert d1.query(c, db, "SELECT v FROM t ORDER BY id").rows == [{"v": "good"}, {"v": "bad"}]
    assert undo.previous_bookmark == res.bookmark
    with pytest.raises(api.CloudflareError):
        d1.restore(c, db, bookmark=good, timestamp=when)
    with pytest.raises(api.CloudflareError):
        d1.bookmark(c, db, "2001-01-01T00:00:00Z")


def test_export_polls_and_downloads_d1_sql(emu: CloudflareEmulator) -> None:
    db = emu.add_d1_database("helm-acme-db")
    c = client_for(emu)
    d1.query_all(c, db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);"
                        "CREATE TABLE u (x); CREATE INDEX t_v ON t (v)")
    d1.query(c, db, "INSERT INTO t (v) VALUES (?)", ["it's"])
    at, sql = d1.export(c, db)
    text = sql.decode()
    assert at == d1.bookmark(c, db)
    assert text.startswith("PRAGMA defer_foreign_keys=TRUE;")
    assert """INSERT INTO "t" VALUES(1,'it''s');""" in text and "CREATE INDEX t_v" in text
    # the SQL rebuilds the same data in an empty database
    other = emu.add_d1_database("helm-copy-db")
    d1.query_all(c, other, text)
    assert d1.query(c, other, "SELECT v FROM t").rows == [{"v": "it's"}]
    _, only_u = d1.export(c, db, tables=["u"])
    assert b'"t"' not in only_u and b"CREATE TABLE u" in only_u
