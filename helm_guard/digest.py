"""The deploy digest: one hash for "what this deploy target will be", checked and deployed.

`target_digest` is `sha256:` + the hex SHA-256 of the canonical JSON of

    {"digest_version": 1,
     "target":   the resolved deploy target exactly as `helm-guard inspect` prints it
                 (`Target.as_dict()`: env, error, worker, account_id, the D1/R2/KV/service
                 bindings, route, routes, vars) without `warnings`,
     "registry": the shop's whole registry entry in the fleet file (stages included),
     "naming":   the fleet's naming templates (defaults filled in)}

Canonical JSON is `json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
encoded as UTF-8, so key order, whitespace, comments and trailing commas of the files do not
change the digest, while any change of a binding, id, name, route, var, registry entry or
naming template does. The gate puts the digest of every target into the deploy plan; `verify`
recomputes it from the checkout the deploy job is about to deploy and refuses on a difference.
Code outside the config (`main`, `src/**`, compatibility dates) is not part of the digest: the
deploy job deploys the commit the gate checked, which the plan also records.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from helm_guard.fleet import DEFAULT_NAMING

DIGEST_VERSION = 1
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}\Z")


def canonical_json(value: Any) -> str:
    """The one serialisation every digest is computed over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def target_digest(
    target_dict: Mapping[str, Any],
    registry_entry: Mapping[str, Any] | None,
    naming: Mapping[str, str] | None = None,
) -> str:
    """`sha256:<hex>` of a resolved target (`Target.as_dict()`), its shop's registry entry and
    the fleet's naming templates (`Fleet.naming`; None means the defaults)."""
    target = {k: v for k, v in target_dict.items() if k != "warnings"}
    payload = {
        "digest_version": DIGEST_VERSION,
        "target": target,
        "registry": dict(registry_entry or {}),
        "naming": {**DEFAULT_NAMING, **(naming or {})},
    }
    return "sha256:" + hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def valid_digest(value: str) -> bool:
    """Whether `value` has the form `sha256:` + 64 lowercase hex digits."""
    return bool(DIGEST_RE.match(value))
