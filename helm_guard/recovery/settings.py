"""What the recovery commands address, all from the fleet file (the registry is the truth):

- `shop_data(fleet, slug)`: the shop's D1 database by the registry's `database_id` (plus the
  name the naming template gives it, to confirm), and its R2 bucket by the naming template.
  Never a binding resolved from a wrangler config: that is what a swap corrupts.
- `audit_settings(fleet)`: the audit log's table and columns (`at` is ISO 8601 text; the
  optional `shop` column names the shop that wrote a row, which makes data-audit definitive),
  the chain-hash recipe, the monthly archive key and the backup prefix, from the fleet file's
  optional `"audit"` block (schema: `schemas/helm-fleet.schema.json`), defaulting to the
  runbook's names.

The chain hash (when `"audit.chain"` is given): `chain_hash = hex(H(v1 SEP v2 SEP ... vn))`
where H is `algorithm` (sha256, sha384, sha512), `v1..vn` are the row's values of `fields` in
order (NULL as the empty string, numbers as SQLite prints them, text as is) and SEP is
`separator` (default `|`). List `prev_chain_hash` among the fields if the app hashes it (it
should: that is what makes it a chain).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from helm_guard.errors import UsageError
from helm_guard.fleet import UUID_RE, Fleet

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
ALGORITHMS = ("sha256", "sha384", "sha512")
DEFAULT_ARCHIVE_KEY = "audit_archive/{yyyy}-{mm}.jsonl"
DEFAULT_BACKUP_PREFIX = "backups/db/"


class ChainSpec(NamedTuple):
    algorithm: str
    fields: tuple[str, ...]
    separator: str = "|"


class AuditSettings(NamedTuple):
    table: str = "audit_events"
    id: str = "id"
    at: str = "at"
    action: str = "action"
    prev_hash: str = "prev_chain_hash"
    hash: str = "chain_hash"
    chain: ChainSpec | None = None
    shop: str | None = None  # optional column naming the shop that wrote the row
    archive_key: str = DEFAULT_ARCHIVE_KEY
    backup_prefix: str = DEFAULT_BACKUP_PREFIX

    def q(self, name: str) -> str:
        """`name` as a quoted SQL identifier (names are validated when read)."""
        return '"' + name + '"'

    def archive_for(self, yyyy: str, mm: str) -> str:
        return self.archive_key.replace("{yyyy}", yyyy).replace("{mm}", mm)


class ShopData(NamedTuple):
    slug: str
    database_id: str
    database_name: str
    bucket: str


def shop_data(fleet: Fleet, slug: str) -> ShopData:
    """The shop's database (registry id) and bucket (naming template); UsageError if the shop
    is unknown or the registry has no usable `database_id` for it."""
    if slug not in fleet.shops:
        raise UsageError(f"shop {slug!r} is not in the registry of {fleet.path}",
                         hint="known shops: " + ", ".join(sorted(fleet.shops)))
    from helm_guard.fleet import Tenant

    exp = fleet.expected(Tenant(slug))
    if not isinstance(exp.database_id, str) or not UUID_RE.match(exp.database_id):
        raise UsageError(f"the registry has no database_id for shop {slug!r}",
                         hint=f"add shops.{slug}.database_id (the D1 uuid) to {fleet.path.name};"
                         " helm-guard never takes a database id from a wrangler config")
    return ShopData(slug, exp.database_id, exp.database_name, exp.bucket_name)


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise UsageError(f"fleet file: audit.{where} {value!r} is not a plain SQL name",
                         hint="letters, digits and _ only, not starting with a digit")
    return value


def audit_settings(fleet: Fleet) -> AuditSettings:
    """The `"audit"` block of the fleet file (validated by the schema, checked again here)."""
    block = fleet.data.get("audit") or {}
    if not isinstance(block, Mapping):
        raise UsageError("fleet file: audit must be an object")
    cols = block.get("columns") or {}
    d = AuditSettings()
    chain = None
    spec = block.get("chain")
    if isinstance(spec, Mapping):
        algorithm = spec.get("algorithm", "sha256")
        if algorithm not in ALGORITHMS:
            raise UsageError(f"fleet file: audit.chain.algorithm {algorithm!r} is not one of "
                             + ", ".join(ALGORITHMS))
        fields = spec.get("fields") or []
        if not fields:
            raise UsageError("fleet file: audit.chain.fields must list the hashed columns")
        chain = ChainSpec(algorithm, tuple(_name(f, "chain.fields") for f in fields),
                          str(spec.get("separator", "|")))
    archive = block.get("archive_key", DEFAULT_ARCHIVE_KEY)
    if not isinstance(archive, str) or "{yyyy}" not in archive or "{mm}" not in archive \
            or archive.startswith("/") or ".." in archive:
        raise UsageError(f"fleet file: audit.archive_key {archive!r} must contain {{yyyy}} and "
                         "{mm} and stay inside the bucket")
    prefix = block.get("backup_prefix", DEFAULT_BACKUP_PREFIX)
    if not isinstance(prefix, str) or not prefix.endswith("/") or ".." in prefix \
            or prefix.startswith("/"):
        raise UsageError(f"fleet file: audit.backup_prefix {prefix!r} must end with /")
    return AuditSettings(
        table=_name(block.get("table", d.table), "table"),
        id=_name(cols.get("id", d.id), "columns.id"),
        at=_name(cols.get("at", d.at), "columns.at"),
        action=_name(cols.get("action", d.action), "columns.action"),
        prev_hash=_name(cols.get("prev_chain_hash", d.prev_hash), "columns.prev_chain_hash"),
        hash=_name(cols.get("chain_hash", d.hash), "columns.chain_hash"),
        chain=chain,
        shop=_name(cols["shop"], "columns.shop") if cols.get("shop") is not None else None,
        archive_key=archive,
        backup_prefix=prefix,
    )


def client_from_env() -> Any:
    """The API client from the operator's environment; missing settings are exit 2."""
    from helm_guard.cloudflare.api import Client, CloudflareError

    try:
        return Client.from_env()
    except CloudflareError as exc:
        raise UsageError(exc.message, hint=exc.hint) from None
