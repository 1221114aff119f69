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


def worker_reference(ctx: Context, t: TargetInfo, value: object) -> str | None:
    """Why `t`'s tenant may not reference Worker `value` (None when it may: its own Worker or
    one of the fleet's `shared.services`, compared exactly, as Cloudflare compares names)."""
    assert t.tenant is not None
    owned = ctx.fleet.owned(t.tenant)
    if owned.allows_worker(value):
        return None
    if not isinstance(value, str):
        return f"{value!r} is not a Worker name"
    owner = ctx.owner_of(value)  # case-folded: also finds look-alikes of another's Worker
    if owner is not None and owner != t.tenant and value == value.lower():
        if owner.shop == t.tenant.shop:  # the same shop's other stage (or production)
            return (f"Worker {value!r} is {owner.label()}'s, not {t.tenant.label()}'s own "
                    f"({owned.worker!r}): each stage references its own Worker")
        return f"Worker {value!r} is another shop's{belongs(owner)}"
    allowed = sorted(owned.services)
    near = [a for a in allowed if a.lower() == value.lower()]
    if near:
        return (f"Worker {value!r} is not {near[0]!r}: names compare exactly, case included "
                "(a look-alike is refused)")
    if owner is not None and owner != t.tenant:
        return f"Worker {value!r} is a look-alike of another shop's Worker{belongs(owner)}"
    return (f"Worker {value!r} is neither {t.tenant.label()}'s own ({owned.worker!r}) nor "
            'listed in the fleet\'s "shared.services"')
