"""What the state holds: halts, halt-state events, the halt state as read, ledger lines.

A halt has scope `fleet` or `shop` (+ `shop`). A shop is blocked by active fleet halts and its
own shop halts. Once its `expires` has passed a halt no longer blocks; `status` still lists it
as expired until a `resume` of its scope clears it, and its events stay in the history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from helm_guard.state.clock import format_time, format_when, human_delta, parse_time, utcnow
from helm_guard.state.layout import LEDGER_VERSION, SCHEMA_VERSION, STATE_BRANCH
from helm_guard.state.validate import SLUG_RE, check_object


class Halt(NamedTuple):
    """One halt: the fleet or one shop, by whom, since when, why, until when."""

    id: str
    scope: str  # "fleet" or "shop"
    shop: str | None
    reason: str
    by: str
    since: datetime
    expires: datetime | None = None

    @property
    def target(self) -> str:
        """`fleet` or `shop <slug>`."""
        return "fleet" if self.scope == "fleet" else f"shop {self.shop}"

    def is_expired(self, now: datetime | None = None) -> bool:
        """True once `expires` has passed: the halt no longer blocks."""
        return self.expires is not None and (now or utcnow()) >= self.expires

    def applies_to(self, shop: str) -> bool:
        """Whether this halt covers `shop` (ignoring expiry)."""
        return self.scope == "fleet" or self.shop == shop

    def to_json(self) -> dict[str, Any]:
        """The halt as stored in halt.json."""
        return {
            "id": self.id,
            "scope": self.scope,
            "shop": self.shop,
            "reason": self.reason,
            "by": self.by,
            "since": format_time(self.since),
            "expires": format_time(self.expires) if self.expires else None,
        }

    @classmethod
    def from_json(cls, data: object, where: str) -> Halt:
        """Parse and validate one halt object; ValueError says what is wrong and where."""
        obj = check_object(
            data,
            where,
            required={"id", "scope", "shop", "reason", "by", "since", "expires"},
            optional=set(),
        )
        for key in ("id", "reason", "by"):
            if not isinstance(obj[key], str) or not obj[key].strip():
                raise ValueError(f"{where}.{key} must be a non-empty string")
        scope, shop = obj["scope"], obj.get("shop")
        if scope == "fleet":
            if shop is not None:
                raise ValueError(f"{where}: a fleet halt has shop null")
        elif scope == "shop":
            if not isinstance(shop, str) or not SLUG_RE.match(shop):
                raise ValueError(f"{where}.shop must be a shop slug for scope 'shop'")
        else:
            raise ValueError(f"{where}.scope must be 'fleet' or 'shop', not {scope!r}")
        expires = obj.get("expires")
        return cls(
            id=obj["id"],
            scope=scope,
            shop=shop,
            reason=obj["reason"],
            by=obj["by"],
            since=parse_time(obj["since"], f"{where}.since"),
            expires=None if expires is None else parse_time(expires, f"{where}.expires"),
        )


class Event(NamedTuple):
    """One recorded halt-state change: `init`, `halt` or `resume`."""

    action: str
    at: datetime
    by: str
    reason: str
    scope: str | None = None  # "fleet" | "shop" | None (init)
    shops: tuple[str, ...] = ()
    halt_ids: tuple[str, ...] = ()
    lifted_ids: tuple[str, ...] = ()
    expires: datetime | None = None

    @property
    def target(self) -> str:
        """What the event was about, for people."""
        if self.scope == "fleet":
            return "fleet"
        if self.scope == "shop":
            return "shop " + ", ".join(self.shops)
        return "-"

    def to_json(self) -> dict[str, Any]:
        """The event as stored in halt.json's `last_event` and in commit trailers."""
        return {
            "action": self.action,
            "at": format_time(self.at),
            "by": self.by,
            "reason": self.reason,
            "scope": self.scope,
            "shops": list(self.shops),
            "halt_ids": list(self.halt_ids),
            "lifted_ids": list(self.lifted_ids),
            "expires": format_time(self.expires) if self.expires else None,
        }

    @classmethod
    def from_json(cls, data: object, where: str) -> Event:
        """Parse and validate an event object."""
        obj = check_object(
            data,
            where,
            required={"action", "at", "by", "reason"},
            optional={"scope", "shops", "halt_ids", "lifted_ids", "expires"},
        )
        if obj["action"] not in ("init", "halt", "resume"):
            raise ValueError(f"{where}.action must be init, halt or resume")
        if obj.get("scope") not in (None, "fleet", "shop"):
            raise ValueError(f"{where}.scope must be 'fleet', 'shop' or null")
        for key in ("by", "reason"):
            if not isinstance(obj[key], str):
                raise ValueError(f"{where}.{key} must be a string")
        lists = {}
        for key in ("shops", "halt_ids", "lifted_ids"):
            value = obj.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{where}.{key} must be a list of strings")
            lists[key] = tuple(value)
        expires = obj.get("expires")
        return cls(
            action=obj["action"],
            at=parse_time(obj["at"], f"{where}.at"),
            by=obj["by"],
            reason=obj["reason"],
            scope=obj.get("scope"),
            shops=lists["shops"],
            halt_ids=lists["halt_ids"],
            lifted_ids=lists["lifted_ids"],
            expires=None if expires is None else parse_time(expires, f"{where}.expires"),
        )


class HaltState(NamedTuple):
    """The halt state as read from the remote (or computed after a write)."""

    remote: str
    initialised: bool
    commit: str | None = None
    halts: tuple[Halt, ...] = ()
    last_event: Event | None = None
    schema_version: int = SCHEMA_VERSION
    notes: tuple[str, ...] = ()

    def active(self, now: datetime | None = None) -> tuple[Halt, ...]:
        """Halts in force (not expired)."""
        now = now or utcnow()
        return tuple(h for h in self.halts if not h.is_expired(now))

    def expired(self, now: datetime | None = None) -> tuple[Halt, ...]:
        """Halts whose expiry passed but that no resume has cleared yet (they do not block)."""
        now = now or utcnow()
        return tuple(h for h in self.halts if h.is_expired(now))

    def blocking(self, shop: str, now: datetime | None = None) -> tuple[Halt, ...]:
        """Active halts that stop a deploy of `shop`."""
        return tuple(h for h in self.active(now) if h.applies_to(shop))

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        """Machine-readable view (used by `status --format json`)."""
        now = now or utcnow()
        return {
            "remote": self.remote,
            "branch": STATE_BRANCH,
            "initialised": self.initialised,
            "commit": self.commit,
            "schema_version": self.schema_version,
            "halts": [{**h.to_json(), "expired": h.is_expired(now)} for h in self.halts],
            "notes": list(self.notes),
        }


def describe_halt(h: Halt, now: datetime) -> str:
    """One line: target, who, since, expiry, reason."""
    since = format_when(h.since)
    if h.expires is None:
        until = "no expiry"
    elif h.is_expired(now):
        until = f"EXPIRED {human_delta(now - h.expires)} ago"
    else:
        until = f"expires in {human_delta(h.expires - now)}"
    return f"{h.target:<16} by {h.by}, since {since}, {until}: {h.reason}"


class LedgerEntry(NamedTuple):
    """One deploy-ledger line of a shop."""

    seq: int
    at: datetime
    by: str
    shop: str
    record: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The line as stored (`v` is the ledger line format version)."""
        return {
            "v": LEDGER_VERSION,
            "seq": self.seq,
            "at": format_time(self.at),
            "by": self.by,
            "shop": self.shop,
            "record": self.record,
        }

