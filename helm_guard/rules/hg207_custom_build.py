"""## What it does
Reports a custom build (`build`, e.g. `{"command": "sh prebuild.sh"}`) in a shop config, at
the top level or in any env (`build` is inheritable: an env without its own inherits the top
level's, so the top level's finding covers every env).

## Why is this bad?
wrangler runs `build.command` in a shell during `deploy` and `versions upload`, with the deploy
token (`CLOUDFLARE_API_TOKEN`) in its environment. A shop config that adds a build step runs
repository-controlled code with an account-wide token: it can deploy, rebind or read any shop.
helm-guard refuses custom builds in shop configs (a decision, documented in the README).

## Example
```jsonc
"build": {"command": "sh prebuild.sh"}
```

Use instead:
Build before deploying, in a CI step without the Cloudflare token, and point `main` at the
built file; or bundle with wrangler's own bundler (no `build` key).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg207_custom_build as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG207"
NAME = "custom-build"
SEVERITY = "error"
SCOPE = "target"  # each target's own block: an env that inherits the top level's `build`
# is covered by the top level's finding
SUMMARY = "A custom build runs a command with the deploy token; refused in shop configs."


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    if "build" in t.target.raw:
        yield ctx.problem(t, t.target.prefix + ("build",),
                          '"build" runs a command during deploy with the Cloudflare deploy '
                          "token in its environment: custom builds are refused in shop configs; "
                          "build in a CI step without the token and point \"main\" at its output",
                          at_key=True)
