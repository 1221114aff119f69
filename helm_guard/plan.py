"""The deploy plan the gate hands to the workflow: entries, batches, GitHub outputs.

A plan is JSON:

    {"version": 1, "commit": "<40 hex>", "batch_size": 256,
     "entries": [{"shop": "acme", "config": "shops/acme/wrangler.jsonc", "env": null,
                  "digest": "sha256:..."}, ...]}

one entry per deploy target of every shop to deploy, sorted by shop, config and env. GitHub
caps a job matrix at 256 jobs, so the entries are cut into batches of `batch_size` (≤ 256):
batch N is `entries[N*batch_size:(N+1)*batch_size]`, and its matrix is `{"include": [...]}`.
The gate writes the first batch's matrix directly (enough for fleets up to 256 targets);
`helm-guard batch --plan FILE --index N` prints any other one.

`$GITHUB_OUTPUT` values are always written with the heredoc form (`name<<DELIM`), with a
random delimiter that does not occur in the value, so no value can inject another output.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from helm_guard.digest import valid_digest
from helm_guard.errors import UsageError
from helm_guard.slugs import SLUG_RE

PLAN_VERSION = 1
MAX_BATCH = 256  # GitHub Actions: at most 256 jobs per matrix
_SHA_RE = re.compile(r"^[0-9a-f]{40}\Z")
_ENV_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}\Z")


def make_entry(shop: str, config: str, env: str | None, digest: str) -> dict[str, Any]:
    return {"shop": shop, "config": config, "env": env, "digest": digest}


def make_plan(commit: str, entries: Sequence[Mapping[str, Any]],
              batch_size: int = MAX_BATCH) -> dict[str, Any]:
    ordered = sorted(entries, key=lambda e: (e["shop"], e["config"], e["env"] or ""))
    return {"version": PLAN_VERSION, "commit": commit, "entries": [dict(e) for e in ordered],
            "batch_size": batch_size}


def batch_count(plan: Mapping[str, Any]) -> int:
    n, size = len(plan["entries"]), int(plan["batch_size"])
    return (n + size - 1) // size


def batch_matrix(plan: Mapping[str, Any], index: int) -> dict[str, Any]:
    """The matrix (`{"include": [...]}`) of batch `index` of a valid plan."""
    size = int(plan["batch_size"])
    return {"include": list(plan["entries"][index * size: (index + 1) * size])}


def validate_plan(plan: Any) -> list[str]:
    """Every problem with a plan (empty when it is valid); nothing in it is trusted."""
    if not isinstance(plan, dict):
        return ["the plan must be a JSON object"]
    problems = []
    if plan.get("version") != PLAN_VERSION:
        problems.append(f"version must be {PLAN_VERSION}, got {plan.get('version')!r}")
    if not isinstance(plan.get("commit"), str) or not _SHA_RE.match(plan["commit"]):
        problems.append("commit must be a 40-character lowercase hex commit id")
    size = plan.get("batch_size")
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_BATCH:
        problems.append(f"batch_size must be an integer from 1 to {MAX_BATCH}")
    entries = plan.get("entries")
    if not isinstance(entries, list):
        return [*problems, "entries must be a list"]
    seen: set[tuple[str, str, str | None]] = set()
    for i, e in enumerate(entries):
        where = f"entries[{i}]"
        if not isinstance(e, dict) or set(e) != {"shop", "config", "env", "digest"}:
            problems.append(f"{where} must have exactly shop, config, env and digest")
            continue
        if not isinstance(e["shop"], str) or not SLUG_RE.match(e["shop"]):
            problems.append(f"{where}.shop is not a valid shop slug")
        if not _safe_rel(e["config"]):
            problems.append(f"{where}.config must be a relative path inside the repository")
        if e["env"] is not None and (not isinstance(e["env"], str) or not _ENV_RE.match(e["env"])):
            problems.append(f"{where}.env must be null or an env name")
        if not isinstance(e["digest"], str) or not valid_digest(e["digest"]):
            problems.append(f"{where}.digest must be sha256: and 64 hex digits")
        key = (str(e["shop"]), str(e["config"]), e["env"] if isinstance(e["env"], str) else None)
        if key in seen:
            problems.append(f"{where} repeats an earlier entry")
        seen.add(key)
    return problems


def _safe_rel(path: object) -> bool:
    if not isinstance(path, str) or not path or len(path) > 1024:
        return False
    if path.startswith("/") or "\\" in path or any(c < " " for c in path):
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))


def load_plan(path: str) -> dict[str, Any]:
    """Read and validate a plan file; any problem is a usage error (exit 2)."""
    try:
        plan = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read the plan {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UsageError(f"the plan {path} is not valid JSON: {exc}") from exc
    problems = validate_plan(plan)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UsageError(f"the plan {path} is invalid: {problems[0]}{more}",
                         hint="pass the plan file written by `helm-guard gate --plan`")
    return plan


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def format_outputs(values: Mapping[str, str]) -> str:
    """`$GITHUB_OUTPUT` text: every value in the heredoc form with a fresh random delimiter."""
    parts = []
    for name, value in values.items():
        delim = f"ghadelimiter_{secrets.token_hex(16)}"
        while delim in value:  # pragma: no cover - 128 random bits
            delim = f"ghadelimiter_{secrets.token_hex(16)}"
        parts.append(f"{name}<<{delim}\n{value}\n{delim}\n")
    return "".join(parts)


def append_github_file(variable: str, text: str, environ: Mapping[str, str] | None = None) -> bool:
    """Append `text` to the file named by `$variable` (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY).

    Returns False when the variable is unset (not running in GitHub Actions).
    """
    env = os.environ if environ is None else environ
    target = env.get(variable)
    if not target:
        return False
    try:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write ${variable} ({target}): {exc.strerror or exc}") from exc
    return True
