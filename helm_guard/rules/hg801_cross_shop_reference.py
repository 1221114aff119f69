"""## What it does
Looks at every other string of a deploy target's bindings (vars, binding names, Hyperdrive,
any nested field, ...), and at every object key inside them (a var's name, a key nested in a
var's object value), and reports any that names another shop's resource: its Worker,
database, bucket or registered ids. Fields that have their own rule are left to it:
D1 and R2 (HG401-HG502), KV ids (HG503), Worker references (HG802, HG803), Queue and Workflow
names (HG805); routes are HG804's. A Queue or Workflow name the registry gives another shop is
also reported when it appears as a token of a var or of a var's key (those names are
free-form, so only the registry can tell them).

## Why is this bad?
A var holding bravo's database id or Worker name, read by code that binds at run time, lets
acme's Worker reach bravo's data by another road.

## Example
```jsonc
"vars": {"UPSTREAM": "https://helm-bravo.example.workers.dev"}
```

Use instead:
```jsonc
"vars": {"UPSTREAM": "https://helm-acme.example.workers.dev"}
```
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from helm_guard.context import Context, Problem, TargetInfo
from helm_guard.fleet import UUID_RE, Tenant, route_host
from helm_guard.jsonc import JsonPath
from helm_guard.resolve import NON_INHERITABLE
from helm_guard.rules._common import belongs

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg801_cross_shop_reference as _this
    from helm_guard.rules.types import Prepares, TargetRule
    _: TargetRule = _this
    _prepares: Prepares = _this

ID = "HG801"
NAME = "cross-shop-reference"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "A var or other binding field names another shop's resource."

_NON_INHERITABLE = frozenset(NON_INHERITABLE)
# fields judged by their own rules (one cause, one finding): D1/R2 (HG401-HG502), KV (HG503),
# Worker references (HG802, HG803), Queue and Workflow names (HG805); routes are HG804's
_SKIP = {("d1_databases", "database_name"), ("d1_databases", "database_id"),
         ("d1_databases", "preview_database_id"), ("r2_buckets", "bucket_name"),
         ("r2_buckets", "preview_bucket_name"), ("kv_namespaces", "id"),
         ("kv_namespaces", "preview_id"), ("services", "service"),
         ("durable_objects", "script_name"), ("tail_consumers", "service"),
         ("streaming_tail_consumers", "service"), ("workflows", "script_name"),
         ("workflows", "name"), ("queues", "queue"), ("queues", "dead_letter_queue"),
         ("dispatch_namespaces", "service")}
_SKIP_FIELDS = {key: frozenset(f for k, f in _SKIP if k == key) for key, _ in _SKIP}
_IDS = (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
        r"|[0-9a-fA-F]{32}")
_HOST = r"[A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)+"


def _candidate_re(ctx: Context) -> re.Pattern[str]:
    """One regex finding every substring that could be a resource identity: ids, hostnames,
    and names starting with the literal prefix of the naming templates (e.g. `helm-`)."""
    if ID not in ctx.cache:
        prefixes = {t.split("{", 1)[0] for t in ctx.fleet.naming.values()}
        if "" in prefixes:
            names = r"[A-Za-z0-9][A-Za-z0-9_-]*+"
        else:
            # case-insensitive: `HELM-BRAVO-DB` names bravo's database as well as its spelling
            names = ("(?i:" + "|".join(re.escape(p) for p in sorted(prefixes))
                     + r")[A-Za-z0-9_-]*+")
        # anchored at token starts, possessive runs: no quadratic rescans inside long words
        ctx.cache[ID] = re.compile(f"(?<![A-Za-z0-9_.-])(?:{_IDS}|{_HOST}|{names})")
    pattern: re.Pattern[str] = ctx.cache[ID]
    return pattern


_HEX32_KEY = re.compile(r"[0-9a-f]{32}")
_LOOKUP_KEY = re.compile(r"[a-z0-9_.-]+")  # what a (lowercased) candidate can be made of
_HEX_SHAPE = str.maketrans({**{chr(c): " " for c in range(128)},
                            **{c: "h" for c in "0123456789abcdef"}, "-": "-"})
_UUID_SHAPE = "hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh"
_HEX32_SHAPE = "h" * 32
_MAX_OTHER_KEYS = 16


class _Sieve:
    """A necessary condition, in C-speed string tests, for a text to contain any owned
    identity. Every identity the scan can look up is a lowercased substring of the text, so a
    text that contains none of the owner index's keys names nothing. Each key is vouched for
    by one test: it holds a literal part of a naming template (`helm-`), it is a registry id
    (its hex shape shows in the text's hex shape), or it is one of a few other keys (tested
    one by one). Keys the scan can never produce (a route with `/*`) need no test. A fleet
    where this does not cover every key (a naming template without literal text, many
    registered routes) gets no sieve: every target is scanned."""

    def __init__(self, ctx: Context) -> None:
        # one literal part per naming template, preferring a part all templates share (`helm-`)
        parts = [[p.lower() for p in re.split(r"\{slug\}|\{stage\}", t) if p]
                 for t in ctx.fleet.naming.values()]
        self.usable = all(parts) and not any("{" in p or "}" in p for ps in parts for p in ps)
        shared = {p: sum(p in ps for ps in parts) for ps in parts for p in ps}
        self.chunks = tuple(sorted({max(ps, key=lambda p: (shared[p], len(p))) for ps in parts
                                    if ps}))
        self.uuid = self.hex32 = False
        keys: list[str] = list(ctx.owners) if self.usable else []
        # registered route hosts are looked up too (`_owner_of_candidate`): each is vouched
        # for by the part after its first label (`shops.example`), or the host itself
        if self.usable:
            keys.extend(host.split(".", 1)[1] if host.count(".") > 1 else host
                        for host in ctx.fleet.registry_names("route"))
        for chunk in self.chunks:  # a rendered name holds its template's literal parts
            keys = [k for k in keys if chunk not in k]
        keys = list(dict.fromkeys(keys))  # every shop's host gives the same zone
        others: list[str] = []
        uuid_match, hex32_match, lookup_match = (UUID_RE.match, _HEX32_KEY.fullmatch,
                                                 _LOOKUP_KEY.fullmatch)
        for key in keys:
            if uuid_match(key):
                self.uuid = self.hex32 = True  # also written without its dashes
            elif hex32_match(key):
                self.hex32 = True
            elif lookup_match(key):  # else no candidate can ever be this key
                others.append(key)
        if len(others) > _MAX_OTHER_KEYS:
            self.usable = False
        self.others = tuple(others)

    def may_name(self, text: str, lowered: bool = False) -> bool:
        """False only when `text` contains no key of the owner index."""
        if not self.usable:
            return True
        low = text if lowered else text.lower()
        for part in self.chunks:
            if part in low:
                return True
        for key in self.others:
            if key in low:
                return True
        if self.uuid or self.hex32:
            shape = low.translate(_HEX_SHAPE)
            return (self.uuid and _UUID_SHAPE in shape) or (self.hex32 and _HEX32_SHAPE in shape)
        return False


def _sieve(ctx: Context) -> _Sieve:
    key = f"{ID}:sieve"
    if key not in ctx.cache:
        ctx.cache[key] = _Sieve(ctx)
    sieve: _Sieve = ctx.cache[key]
    return sieve


def _strings(value: Any, parts: JsonPath) -> Iterator[tuple[JsonPath, str, bool]]:
    """(path, text, whether the text is the key at `path` rather than its value) for every
    string and every object key inside `value`."""
    stack: list[tuple[Any, JsonPath]] = [(value, parts)]
    while stack:
        v, p = stack.pop()
        if isinstance(v, str):
            yield p, v, False
        elif isinstance(v, dict):
            for k in v:
                yield p + (k,), k, True
            stack.extend((x, p + (k,)) for k, x in v.items())
        elif isinstance(v, list):
            stack.extend((x, p + (i,)) for i, x in enumerate(v))


def prepare(ctx: Context) -> None:
    _candidate_re(ctx)


def _texts(value: Any, out: list[str], skip: frozenset[str] = frozenset(),
           depth: int = 0) -> None:
    """Every string and object key inside `value` (no paths: the fast pre-scan), except the
    strings that the scan with paths skips: the value of a `skip` field at depth 2 or more
    (`[0].database_name`). The common shapes (a block of plain strings, a list of flat binding
    objects) take no recursive call."""
    if type(value) is dict:
        out.extend(value)  # the keys: a var named `helm-bravo-db` names bravo's database
        if not depth:  # a top-level block (`vars`): most values are plain strings
            strs = [v for v in value.values() if type(v) is str]
            out.extend(strs)
            if len(strs) != len(value):
                for v in value.values():
                    if type(v) is not str:
                        _texts(v, out, skip, 1)
            return
        for k, v in value.items():
            if type(v) is str:
                if k not in skip:
                    out.append(v)
            else:
                _texts(v, out, skip, depth + 1)
    elif type(value) is list:
        inner = depth + 1
        for item in value:
            if type(item) is dict:  # a binding: its fields, one level down, inline
                out.extend(item)  # its keys too (a nested object's, below, by _texts)
                for k, v in item.items():
                    if type(v) is str:
                        if k not in skip:
                            out.append(v)
                    else:
                        _texts(v, out, skip, inner + 1)
            else:
                _texts(item, out, skip, inner)
    elif isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict | list):  # a Mapping or list subclass: the general walk
        _texts(dict(value) if isinstance(value, dict) else list(value), out, skip, depth)


def _owner_of_candidate(ctx: Context, cand: str, tenant: Any = None) -> Any:
    """The tenant owning `cand`, or its longest dash-prefix (`helm-bravo-orders` -> the
    owner of `helm-bravo`), so `helm-acme-east-db` stays acme-east's, not acme's. A route
    host of `tenant`'s own shop counts as `tenant`'s (a stage's var may name its shop's
    storefront URL: nothing is bound by it)."""
    owner = ctx.owner_of(cand)
    if owner is not None:
        return owner
    if len(cand) == 32 and _HEX32_KEY.fullmatch(cand.lower()):  # a UUID without its dashes
        low = cand.lower()
        owner = ctx.owner_of(f"{low[:8]}-{low[8:12]}-{low[12:16]}-{low[16:20]}-{low[20:]}")
        if owner is not None:
            return owner
    if "." in cand:  # another shop's registered route host (a URL, a custom domain)
        owner = ctx.fleet.owner_of("route", cand.rstrip("."))
        if owner is not None:
            return tenant if tenant is not None and owner.shop == tenant.shop else owner
    head = cand
    while "-" in head:
        head = head.rsplit("-", 1)[0]
        owner = ctx.owner_of(head)
        if owner is not None:
            return owner
    for part in cand.split(".")[:-1] if "." in cand else ():
        owner = ctx.owner_of(part)
        if owner is not None:
            return owner
    return None


def _without_own_hosts(ctx: Context, t: TargetInfo, low: str) -> str:
    """`low` (a lowercased blob) without the tenant's own route hosts (its shop's, for a
    stage) where they start a text or follow `//`, for the sieve: a var holding the shop's own
    URL (`https://acme.shops.example/`, most fleets have one) need not be scanned. Only whole
    hosts at a token start go, so another host (`xacme.shops.example`) is never cut."""
    if t.tenant is None or "." not in low:
        return low
    fleet = ctx.fleet
    hosts = fleet.registry_entry(t.tenant).get("routes") or ()
    if t.tenant.stage is not None:
        hosts = (*hosts, *(fleet.registry_entry(Tenant(t.tenant.shop)).get("routes") or ()))
    if not hosts:
        return low
    low = "\n" + low
    for entry in hosts:
        host = route_host(entry) if isinstance(entry, str) else ""
        if host and host in low:
            low = low.replace("\n" + host, "\n ").replace("//" + host, "// ")
    return low


_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_KEY_OF = "a key in "  # a finding about an object key (`"vars": {"helm-bravo-db": ...}`)


def _registry_names_in_vars(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    """Queue and Workflow names are free-form (no naming template), so the candidate pattern
    cannot see them: a var token equal to a name the registry gives another shop is reported.
    Costs nothing for a fleet whose registry lists no queue or workflow."""
    fleet = ctx.fleet
    has_names = ctx.cache.get(f"{ID}:free-names")
    if has_names is None:
        has_names = ctx.cache[f"{ID}:free-names"] = bool(
            fleet.registry_names("queue") or fleet.registry_names("workflow"))
    if not has_names:
        return
    origin = t.target.origin("vars")
    for parts, text, at_key in _strings(t.target.get("vars"), origin):
        for token in _TOKEN.findall(text):
            for kind in ("queue", "workflow"):
                owner = fleet.owner_of(kind, token)
                if owner is not None and t.tenant is not None and owner.shop != t.tenant.shop:
                    yield ctx.problem(t, parts, f'{_KEY_OF if at_key else ""}"vars" names '
                                      f"another shop's {kind} {token!r}{belongs(owner)}",
                                      at_key=at_key)
                    break
            else:
                continue
            break


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    target = t.target
    if target.error is not None or (t.tenant is None and not t.is_base):
        return
    keys = [k for k in target.raw if k in _NON_INHERITABLE]
    pattern = _candidate_re(ctx)
    texts: list[str] = []
    for key in keys:
        _texts(target.get(key), texts, _SKIP_FIELDS.get(key, frozenset()))
    # one scan over every string; paths are only worked out when a foreign identity shows up
    if "vars" in keys:
        yield from _registry_names_in_vars(t, ctx)
    blob = "\n".join(texts)
    sieve = _sieve(ctx)
    if sieve.usable:
        low = blob.lower()
        if not sieve.may_name(low, True) or \
                not sieve.may_name(_without_own_hosts(ctx, t, low), True):
            return
    foreign = set()
    for cand in set(pattern.findall(blob)):
        owner = _owner_of_candidate(ctx, cand, t.tenant)
        if owner is not None and owner != t.tenant:
            foreign.add(cand)
    if not foreign:
        return
    for key in keys:
        origin = target.origin(key)
        for parts, text, at_key in _strings(target.get(key), origin):
            if not at_key and len(parts) >= len(origin) + 2 and (key, parts[-1]) in _SKIP:
                continue
            for m in pattern.finditer(text):
                if m.group() in foreign:
                    owner = _owner_of_candidate(ctx, m.group())
                    yield ctx.problem(t, parts, f'{_KEY_OF if at_key else ""}"{key}" names '
                                      f"another shop's resource {m.group()!r}{belongs(owner)}",
                                      at_key=at_key)
                    break
