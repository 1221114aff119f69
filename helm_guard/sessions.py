"""Revoking a staff member's sessions in one shop's database (`helm-guard revoke-sessions`):
the runbook's "A session token leaked", made safe.

The runbook's `wrangler d1 execute helm-{slug}-db --remote --command "DELETE FROM
staff_sessions WHERE staff_id = ?;"` cannot work (`--command` binds no parameters), and
editing the id into the SQL by hand is one typo from `WHERE staff_id = 42 OR 1=1` (every
session) or from the wrong shop's database. Here:

- the staff id must be an id: a positive decimal integer (no sign, no leading zero, at most
  2^63-1; bound as a number) or a UUID (bound as a string); anything else is a usage error
  before anything is sent (`check_staff_id`);
- the database is the **registry's** `database_id` for the tenant (never a binding from a
  config: that is what a swap corrupts), and Cloudflare must name it as the shop's own
  database (`naming.d1`) before any query;
- table and column default to the runbook's (`staff_sessions`, `staff_id`) and come from the
  fleet file's `"sessions": {"table", "staff_column"}`; they are SQL identifiers (validated,
  then double-quoted); the staff id only ever travels as a bound parameter;
- the count comes first; the DELETE is one parameterised statement; after it the staff
  member's count must be 0, the rows deleted must equal the rows counted, and the other staff's
  sessions must not have decreased.

Pure helpers here plus `Database`, a thin wrapper over `helm_guard.cloudflare.d1` bound to one
registry database. The steps (confirm, ledger, incident file) are in
`commands/revoke_sessions.py`, which only strings these together.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from helm_guard.errors import Blocked, UsageError
from helm_guard.fleet import UUID_RE, Fleet, Tenant
from helm_guard.incident import StepRecord, incident_file, write_atomic

DEFAULT_TABLE = "staff_sessions"
DEFAULT_STAFF_COLUMN = "staff_id"
IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_INT_RE = re.compile(r"[1-9][0-9]{0,18}")
_UUID_ANY_CASE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                            r"[0-9a-fA-F]{12}")
MAX_INT = 2**63 - 1
NEXT_STEPS = (
    "Rotate the staff member's PIN: ask them to set a new PIN now (the sessions are gone; the "
    "leaked cookie no longer works, but whoever had it may know the PIN).",
    "Email the shop owner: explain what happened and what we did (this incident file is the "
    "summary).",
    "Hard expiry on sessions (12 hours) limits the damage; check the audit log for what the "
    "session did before it was revoked (`helm-guard audit-chain --shop {slug}`).",
)


def check_staff_id(value: object) -> int | str:
    """The staff id as it will be bound: an int for a decimal id, the string for a UUID. A
    UsageError for anything else (`42 OR 1=1`, `42;DROP`, `-1`, `042`, `  42`, ...)."""
    if isinstance(value, str) and _INT_RE.fullmatch(value) and int(value) <= MAX_INT:
        return int(value)
    if isinstance(value, str) and _UUID_ANY_CASE.fullmatch(value):
        return value
    raise UsageError(
        f"--staff {value!r} is not a staff id",
        hint="a staff id is a positive whole number (e.g. 42) or a UUID; it is bound as a "
        "query parameter, never pasted into SQL",
    )


class SessionsTable(NamedTuple):
    table: str
    column: str

    def quoted(self) -> tuple[str, str]:
        return f'"{self.table}"', f'"{self.column}"'


def sessions_table(fleet: Fleet) -> SessionsTable:
    """Table and staff column from the fleet file's `sessions` (else the runbook's names),
    validated as plain SQL identifiers."""
    block = fleet.data.get("sessions") or {}
    if not isinstance(block, Mapping):
        raise UsageError("the fleet file's sessions must be an object")
    table = block.get("table", DEFAULT_TABLE)
    column = block.get("staff_column", DEFAULT_STAFF_COLUMN)
    for what, name in (("sessions.table", table), ("sessions.staff_column", column)):
        if not isinstance(name, str) or not IDENTIFIER_RE.fullmatch(name):
            raise UsageError(f"the fleet file's {what} {name!r} is not an SQL identifier",
                             hint="letters, digits and underscores, starting with a letter")
    return SessionsTable(table, column)


class Target(NamedTuple):
    """The database to act on, from the registry only."""

    tenant: Tenant
    database_id: str
    database_name: str  # what Cloudflare must call it (naming template)
    table: SessionsTable


def registry_target(fleet: Fleet, slug: str, stage: str | None = None) -> Target:
    """The tenant's database from the registry (never from a config)."""
    if slug not in fleet.shops:
        raise UsageError(f"shop {slug!r} is not in the registry of {fleet.path}",
                         hint="known shops: " + ", ".join(sorted(fleet.shops)))
    if stage is not None and stage not in (fleet.shops[slug].get("stages") or {}):
        raise UsageError(f"shop {slug} has no stage {stage!r} in the registry")
    tenant = Tenant(slug, stage)
    exp = fleet.expected(tenant)
    if not isinstance(exp.database_id, str) or not UUID_RE.match(exp.database_id):
        raise UsageError(f"{tenant.label()} has no valid database_id in the registry")
    return Target(tenant, exp.database_id, exp.database_name, sessions_table(fleet))


class Counts(NamedTuple):
    staff: int  # sessions of the staff member
    others: int  # sessions of everyone else


class Database:
    """One registry database through the D1 API; every statement parameterised."""

    def __init__(self, client: Any, target: Target) -> None:
        self.client = client
        self.target = target

    def confirm_identity(self) -> str:
        """Cloudflare's name for the registry id must be the tenant's own database name."""
        from helm_guard.cloudflare import d1

        info = d1.database(self.client, self.target.database_id)
        name = info.get("name")
        if name != self.target.database_name:
            raise Blocked(
                f"the registry's database id {self.target.database_id} for "
                f"{self.target.tenant.label()} is database {name!r} on Cloudflare, not "
                f"{self.target.database_name!r}: refusing to touch it",
                hint="fix the registry (helm-fleet.jsonc) first; nothing was changed")
        return str(name)

    def _rows(self, sql: str, params: Sequence[int | str]) -> list[dict[str, Any]]:
        from helm_guard.cloudflare import d1

        return d1.query(self.client, self.target.database_id, sql, list(params)).rows

    def counts(self, staff: int | str) -> Counts:
        table, column = self.target.table.quoted()
        rows = self._rows(f"SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN {column} = ? "
                          f"THEN 1 ELSE 0 END), 0) AS staff FROM {table}", [staff])
        if len(rows) != 1:
            raise Blocked(f"counting sessions returned {len(rows)} rows, expected 1")
        total, mine = rows[0].get("total"), rows[0].get("staff")
        if not isinstance(total, int) or not isinstance(mine, int) or not 0 <= mine <= total:
            raise Blocked(f"counting sessions gave an unreadable answer ({rows[0]!r})")
        return Counts(mine, total - mine)

    def delete(self, staff: int | str) -> int | None:
        """Delete the staff member's sessions; the number of rows deleted (D1's
        `meta.changes`), None when D1 did not say."""
        from helm_guard.cloudflare import d1

        table, column = self.target.table.quoted()
        result = d1.query(self.client, self.target.database_id,
                          f"DELETE FROM {table} WHERE {column} = ?", [staff])
        changes = result.meta.get("changes")
        return changes if isinstance(changes, int) else None


def verify(before: Counts, deleted: int | None, after: Counts) -> list[str]:
    """What is wrong after the delete ([] when all is well)."""
    problems = []
    if after.staff != 0:
        problems.append(f"{after.staff} session(s) of the staff member are still there")
    if deleted is not None and deleted > before.staff:
        problems.append(f"the delete removed {deleted} row(s), but only {before.staff} were "
                        "counted for the staff member")
    if after.others < before.others:
        problems.append(f"other staff's sessions went from {before.others} to {after.others} "
                        "(did some expire meanwhile? check the table)")
    return problems


def actor(repo: Path) -> str:
    """Who acts: `$GITHUB_ACTOR` in CI, else the git identity (as deploy records it). The
    ledger commit is signed with the git identity either way, so an unknown one is a usage
    error here, before anything is deleted."""
    from helm_guard import gitio

    try:
        identity = gitio.identity(repo)
    except gitio.GitError as exc:
        raise UsageError(f"git does not know who you are ({exc.detail}); the revocation is "
                         "recorded under your identity",
                         hint='git config --global user.name "Your Name" && '
                         "git config --global user.email you@example.com") from None
    if os.environ.get("GITHUB_ACTOR"):
        return f"{os.environ['GITHUB_ACTOR']} (GitHub Actions)"
    return identity


# ---------------------------------------------------------------------- incident file
class Revocation(NamedTuple):
    """What the incident file and the ledger say (no token, no session data)."""

    id: str
    started: str
    actor: str
    target: Target
    staff: int | str
    before: Counts
    deleted: int | None
    after: Counts
    owner: str | None
    timeline: Sequence[StepRecord]


def render_incident(r: Revocation) -> str:
    """The incident file's Markdown (pure)."""
    t = r.target
    lines = [
        f"# Incident {r.started[:10]}: leaked session on {t.tenant.label()}",
        "",
        f"- Incident id: `{r.id}`",
        f"- Shop: **{t.tenant.label()}**" + (f", owner {r.owner}" if r.owner else ""),
        f"- Database: `{t.database_name}` (registry id `{t.database_id}`)",
        f"- Staff member: `{r.staff}` (`{t.table.table}.{t.table.column}`)",
        f"- Sessions revoked: {r.deleted if r.deleted is not None else r.before.staff} "
        f"(counted before: {r.before.staff}; after: {r.after.staff})",
        f"- Other staff's sessions: {r.before.others} before, {r.after.others} after "
        "(untouched)",
        f"- Revoked by: {r.actor}",
        "",
        "## Timeline (UTC)",
        "",
        "| time | step | outcome | seconds | notes |",
        "|---|---|---|---|---|",
    ]
    for s in r.timeline:
        notes = "; ".join(n.replace("|", "\\|") for n in s.notes)
        lines.append(f"| {s.started} | {s.n}/{s.total} {s.title} | {s.status} | "
                     f"{s.seconds:.1f} | {notes} |")
    lines += ["", "## Next steps", ""]
    lines += [f"- [ ] {step.format(slug=t.tenant.shop)}" for step in NEXT_STEPS]
    lines += ["", "## Undo", "",
              "None, on purpose: the revoked sessions include the leaked one. The staff member "
              "signs in again with the new PIN.", ""]
    return "\n".join(lines)


def incident_path(root: Path, r: Revocation) -> Path:
    """`docs/incidents/<date>-<slug>-sessions[-n].md`: this incident's own file if it exists
    (same id), else the first free name."""
    return incident_file(root, f"{r.started[:10]}-{r.target.tenant.shop}-sessions", r.id)


def write_incident(root: Path, r: Revocation) -> Path:
    return write_atomic(incident_path(root, r), render_incident(r))
