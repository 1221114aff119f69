"""Validation shared by halt.json and the ledger: shop slugs, object shapes, duplicate keys."""

from __future__ import annotations

from typing import Any

from helm_guard.errors import UsageError
from helm_guard.slugs import SLUG_RE


def check_slug(slug: str) -> str:
    """Return `slug` if it can name a shop (and a ledger file); else a UsageError."""
    if not SLUG_RE.match(slug):
        raise UsageError(
            f"{slug!r} is not a shop slug",
            hint="use the shop's slug from helm-fleet.jsonc (lower-case letters, digits, '-')",
        )
    return slug


def check_object(data: object, where: str, *, required: set[str], optional: set[str]) -> dict:
    """`data` as a dict with all `required` keys and no keys beyond `optional`, or ValueError."""
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be an object")
    missing = sorted(required - data.keys())
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")
    unknown = sorted(data.keys() - required - optional)
    if unknown:
        raise ValueError(f"{where} has unknown field {', '.join(unknown)}")
    return data


def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`json.loads` object hook: a ValueError on a repeated key."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen
