"""D1 set-up shared by tests: databases with the registry's ids, a sessions table, an API
client on the emulator."""

from __future__ import annotations

from helm_guard.cloudflare import api
from helm_guard.emulator import CloudflareEmulator

SESSIONS_DDL = ("CREATE TABLE {table} (id TEXT PRIMARY KEY, {column} INTEGER NOT NULL, "
                "token_hash TEXT NOT NULL, expires_at TEXT NOT NULL)")


def seed_database(emu: CloudflareEmulator, name: str, database_id: str) -> None:
    """A D1 database with the registry's id."""
    emu.add_d1_database(name, database_id)


def seed_sessions(emu: CloudflareEmulator, database_id: str, staff_counts: dict[object, int],
                  *, table: str = "staff_sessions", column: str = "staff_id") -> None:
    """A sessions table with `n` sessions for each staff id."""
    emu.d1_execute(database_id, SESSIONS_DDL.format(table=table, column=column))
    rows = [(f"s-{staff}-{i}", staff, f"hash-{staff}-{i}", "2026-12-07T08:00:00Z")
            for staff, n in staff_counts.items() for i in range(n)]
    emu.d1_executemany(database_id, f"INSERT INTO {table} VALUES (?, ?, ?, ?)", rows)


def count(emu: CloudflareEmulator, database_id: str, *, table: str = "staff_sessions",
          column: str = "staff_id") -> dict[object, int]:
    rows = emu.d1_execute(database_id,
                          f"SELECT {column} AS s, COUNT(*) AS n FROM {table} GROUP BY {column}")
    return {r["s"]: r["n"] for r in rows}


def client_for(emu: CloudflareEmulator) -> api.Client:
    return api.Client.from_env({"CLOUDFLARE_API_TOKEN": "tok",
                                "CLOUDFLARE_ACCOUNT_ID": emu.account_id,
                                "CLOUDFLARE_API_BASE_URL": str(emu.base_url)}, max_retries=0)
