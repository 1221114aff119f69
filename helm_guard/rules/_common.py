"""Small helpers shared by rule modules (not a rule)."""

from __future__ import annotations

from helm_guard.context import Context, TargetInfo
from helm_guard.fleet import Tenant


def foreign(ctx: Context, t: TargetInfo, value: object) -> Tenant | None:
    """The other tenant that owns `value`, if it belongs to one that is not `t`'s."""
    owner = ctx.owner_of(value)
    if owner is None or owner == t.tenant:
        return None
    return owner


def belongs(owner: Tenant | None) -> str:
    if owner is None:
        return ""
    if owner.stage is None:
        return f" (it belongs to shop {owner.shop!r})"
    return f" (it belongs to shop {owner.shop!r}, stage {owner.stage!r})"
