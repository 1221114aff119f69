"""The shop slug rule, in one place: `[a-z0-9-]`, starting and ending with a letter or digit,
at most 51 characters (so `helm-{slug}-assets` is a valid R2 bucket name). Dependency-free so
that `halt` keeps working even when the fleet code cannot load."""

from __future__ import annotations

import re

from helm_guard.errors import UsageError

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,49}[a-z0-9])?\Z")


def check_shop_slug(slug: object, option: str = "--shop") -> str:
    """Return `slug` if it can name a shop; else a UsageError naming the option."""
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise UsageError(
            f"{option} {slug!r} is not a shop slug",
            hint="lowercase letters, digits and inner dashes, as in helm-fleet.jsonc",
        )
    return slug
