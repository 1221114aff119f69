"""The JSON Schemas helm-guard ships (`schemas/`), compiled once and validated with
jsonschema-rs (about 5 µs per config; see ../shared/notes/perf.md §4).

`validate(name, instance)` returns `(json_path_parts, message)` pairs, never raises on an
invalid instance.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from helm_guard.errors import UsageError

_PACKAGE_DIR = Path(__file__).resolve().parent


def schema_dir() -> Path:
    """`helm_guard/schema_files` in an installed wheel, the repository's `schemas/` in a
    checkout (editable install)."""
    for candidate in (_PACKAGE_DIR / "schema_files", _PACKAGE_DIR.parent / "schemas"):
        if candidate.is_dir():
            return candidate
    raise UsageError("helm-guard's schemas/ directory is missing from the installation",
                     hint="reinstall helm-guard (pip install --force-reinstall helm-guard)")


def load(name: str) -> dict[str, Any]:
    path = schema_dir() / f"{name}.schema.json"
    with path.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


@cache
def _validator(name: str) -> Any:
    return _compile(json.dumps(load(name)))


@cache
def _compile(schema_text: str) -> Any:
    import jsonschema_rs

    return jsonschema_rs.validator_for(json.loads(schema_text))


def validator_for_file(path: Path) -> Any:
    """A compiled validator for an external schema file (e.g. wrangler's config-schema.json)."""
    try:
        text = path.read_text(encoding="utf-8")
        json.loads(text)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot load the schema: {exc}") from exc
    return _compile(text)


def errors(validator: Any, instance: Any) -> list[tuple[tuple[str | int, ...], str]]:
    out = []
    for err in validator.iter_errors(instance):
        out.append((tuple(err.instance_path), str(err.message)))
    out.sort(key=lambda e: (len(e[0]), [str(p) for p in e[0]]))
    return out


def validate(name: str, instance: Any) -> list[tuple[tuple[str | int, ...], str]]:
    return errors(_validator(name), instance)
