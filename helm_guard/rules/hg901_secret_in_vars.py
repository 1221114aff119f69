"""## What it does
Reports a secret committed as a plain `vars` value: Stripe live keys (`sk_live_`, `rk_live_`),
webhook signing secrets (`whsec_`), other well-known token formats (AWS, GitHub, Slack,
Cloudflare API tokens, private keys), high-entropy tokens, and non-empty values of vars whose
name says they are secret (`*_SECRET`, `*_TOKEN`, `*_PASSWORD`, `*_PRIVATE_KEY`), and any var,
whatever its value, named like one of the shop's required secrets (the fleet file's
`secrets.required`): a var of that name would replace the secret. The message names the var
and the kind of secret, **never** the value.

## Why is this bad?
`vars` are plain text: in git history, in every clone, in the dashboard. A leaked Stripe live
key moves a shop's money.

## Example
```jsonc
"vars": {"STRIPE_KEY": "sk_live_…"}
```

Use instead:
```sh
wrangler secret put STRIPE_KEY --env acme   # and declare it in "secrets": {"required": [...]}
```
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg901_secret_in_vars as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG901"
NAME = "secret-in-vars"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "A secret value is committed in vars."

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a Stripe live secret key", re.compile(r"\b[sr]k_live_[0-9A-Za-z]{10,}")),
    ("a Stripe test secret key", re.compile(r"\b[sr]k_test_[0-9A-Za-z]{10,}")),
    ("a Stripe webhook signing secret", re.compile(r"\bwhsec_[0-9A-Za-z+/=]{10,}")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[0-9A-Za-z]{30,}|github_pat_\w{30,})")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{10,}")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a JSON Web Token", re.compile(r"\beyJ[0-9A-Za-z_-]{10,}\.eyJ[0-9A-Za-z_-]{10,}\.")),
)
# A literal every pattern above contains: a plain substring test rules out most values before
# any regex runs.
_LITERALS = ("k_live_", "k_test_", "whsec_", "AKIA", "ASIA", "gho_", "ghp_", "ghu_", "ghs_",
             "ghr_", "github_pat_", "xox", "PRIVATE KEY", "eyJ")
_LITERAL = re.compile("|".join(re.escape(lit) for lit in _LITERALS))
_ANY = re.compile("|".join(f"(?:{p.pattern})" for _, p in _PATTERNS))
_NO_UNDERSCORE = tuple(lit for lit in _LITERALS if "_" not in lit)


def has_literal(text: str) -> bool:
    """`_LITERAL.search(text) is not None`, faster on ordinary text: a literal with an
    underscore needs one in the text (one `memchr`), the others are plain substring tests
    (the regex tries its alternatives at every `e`, `A`, `k`, ...: 2-3 times slower)."""
    if "_" in text and _LITERAL.search(text):
        return True
    for literal in _NO_UNDERSCORE:
        if literal in text:
            return True
    return False
_SECRET_SUFFIXES = ("SECRET", "TOKEN", "PASSWORD", "PASSWD", "PRIVATE_KEY", "API_KEY")
_PLACEHOLDER = re.compile(r"^(|x+|\*+|changeme|todo|placeholder|<[^>]*>|\$\{[^}]*\})$", re.I)
_TOKENISH = re.compile(r"^[A-Za-z0-9+/=_\-.]{32,}$")
_HEX_OR_UUID = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})$", re.I)


def _entropy(s: str) -> float:
    counts = Counter(s)
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def classify(name: str, value: str) -> str | None:
    """The kind of secret `value` looks like, or None. Never returns the value itself."""
    if len(value) >= 15 and has_literal(value) and _ANY.search(value):
        for kind, pattern in _PATTERNS:
            if pattern.search(value):
                return kind
    if name.upper().endswith(_SECRET_SUFFIXES) and not _PLACEHOLDER.match(value.strip()):
        return "a value of a secret-named var"
    if (len(value) >= 32 and _TOKENISH.match(value) and not _HEX_OR_UUID.match(value)
            and _entropy(value) >= 4.3
            and any(c.isdigit() for c in value) and any(c.isupper() for c in value)
            and any(c.islower() for c in value)):
        return "a high-entropy token"
    return None


def _any_policy(ctx: Context) -> bool:
    """Whether the fleet file declares required secrets anywhere (fleet, shop or stage);
    worked out once per run: most fleets declare none, and then no var can shadow one."""
    key = f"{ID}:policy"
    found = ctx.cache.get(key)
    if found is None:
        fleet = ctx.fleet
        found = "secrets" in fleet.data
        for entry in fleet.shops.values():
            if found:
                break
            if isinstance(entry, Mapping):
                stages = entry.get("stages")
                found = "secrets" in entry or (isinstance(stages, Mapping) and any(
                    isinstance(stage, Mapping) and "secrets" in stage
                    for stage in stages.values()))
        ctx.cache[key] = found
    return bool(found)


def _required_names(vars_: dict[str, object], t: TargetInfo, ctx: Context) -> list[str]:
    """The vars named like one of the tenant's required secrets (`helm_guard.secrets_policy`)."""
    if t.tenant is None or not _any_policy(ctx):
        return []
    from helm_guard.secrets_policy import required_secrets

    required = required_secrets(ctx.fleet, t.tenant)
    return [n for n in vars_ if n in required] if required else []


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    if t.target.error is not None:
        return
    vars_ = t.target.get("vars")
    if not isinstance(vars_, dict):
        return
    shadowing = _required_names(vars_, t, ctx)  # issue 15: whatever the value
    for name in shadowing:
        yield ctx.problem(
            t, t.target.origin("vars") + (name,),
            f"vars.{name} is a required secret of shop {t.tenant.label() if t.tenant else '?'} "
            f"(the fleet file's secrets.required): a var replaces the secret of that name in "
            f"the Worker's env (value not shown): remove it and use `wrangler secret put {name}`")
    if shadowing:
        vars_ = {n: v for n, v in vars_.items() if n not in shadowing}
    # one scan over all values for the known token formats, one over all names for the secret
    # suffixes (upper-cased together: line breaks stay put); per-var work only where needed
    try:
        blob = "\n".join(vars_.values())
    except TypeError:  # a var that is not a string: gather the strings one by one
        blob = "\n".join(v for v in vars_.values() if isinstance(v, str))
    strings = [(n, v) for n, v in vars_.items() if isinstance(v, str)] \
        if has_literal(blob) and _ANY.search(blob) else None
    if strings is None:  # no known token format: long values and secret-named vars only
        names = "\n".join(vars_).upper() + "\n"
        if any(suffix + "\n" in names for suffix in _SECRET_SUFFIXES):
            strings = [(n, v) for n, v in vars_.items() if isinstance(v, str)
                       and (len(v) >= 32 or n.upper().endswith(_SECRET_SUFFIXES))]
        elif len(blob) >= 32:
            strings = [(n, v) for n, v in vars_.items() if isinstance(v, str) and len(v) >= 32]
        else:
            return
    for name, value in strings:
        kind = classify(name, value)
        if kind is not None:
            yield ctx.problem(
                t, t.target.origin("vars") + (name,),
                f"vars.{name} holds {kind} ({len(value)} characters, not shown): remove it from "
                f"the config, rotate it, and use `wrangler secret put {name}`")
