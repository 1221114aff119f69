"""`helm-guard inspect`: what wrangler will deploy from each file, target by target.

The JSON shape is the wrangler oracle's (see README): one entry per file, one per target with
inheritance applied; absent binding lists are `[]`, absent `vars` is `{}`. A var whose value
looks like a secret (rule HG901) is shown as `<redacted: KIND, N characters>`: helm-guard never
prints secret values.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from helm_guard import jsonc
from helm_guard.commands._common import write_output
from helm_guard.errors import EXIT_BLOCKED, EXIT_OK, EXIT_USAGE
from helm_guard.resolve import resolve


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="wrangler.jsonc files")
    p.add_argument("--env", metavar="NAME",
                   help='only this env ("" for the top level), like wrangler --env')
    p.add_argument("--format", choices=("json", "text"), default="json")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE")


def run(args: argparse.Namespace) -> int:
    """Exit 0: every target resolves; 1: a file does not parse or a target is refused (what
    wrangler would refuse); 2: a path cannot be read (missing, a directory, no permission),
    after printing what was read (the unreadable entry carries its error)."""
    entries = [inspect_file(p, args.env) for p in args.paths]
    if args.format == "json":
        out: Any = entries[0] if len(entries) == 1 else entries
        text = json.dumps(out, indent=2, ensure_ascii=False) + "\n"
    else:
        text = "".join(render_text(e) for e in entries)
    write_output(text, args.output)
    unreadable = [e for e in entries if e["error"] and e["error"].startswith(_UNREADABLE)]
    if unreadable:
        for e in unreadable:
            print(f"helm-guard inspect: {e['error']}", file=sys.stderr)
        return EXIT_USAGE
    bad = any(e["error"] or any(t["error"] for t in e["targets"]) for e in entries)
    return EXIT_BLOCKED if bad else EXIT_OK


_UNREADABLE = "cannot read "


def inspect_file(path: str, env: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"file": path, "error": None, "targets": []}
    try:
        doc = jsonc.parse_file(path)
    except OSError as exc:
        entry["error"] = f"{_UNREADABLE}{path}: {exc.strerror or exc}"
        return entry
    if doc.error is not None:
        e = doc.error
        entry["error"] = f"{e.message} ({path}:{e.line}:{e.col})"
        return entry
    dup_warnings = [
        f"duplicate key {jsonc.format_json_path(d.path)} at {path}:{d.span.line}:{d.span.col} "
        f"(first at line {d.first.line}); wrangler uses this last value"
        for d in doc.duplicates
    ]
    targets = resolve(doc.value, path)
    if env is not None:
        wanted = None if env == "" else env
        targets = [t for t in targets if t.env == wanted]
        if not targets:
            entry["error"] = f'no environment named "{env}" in {path}'
    for t in targets:
        d = t.as_dict()
        if d["vars"]:
            d["vars"] = redact_vars(d["vars"])
        d["warnings"] = dup_warnings + d["warnings"]
        entry["targets"].append(d)
    return entry


def redact_vars(vars_: dict[str, Any]) -> dict[str, Any]:
    """`vars` with every secret-looking string value replaced by a description of it."""
    from helm_guard.rules.hg901_secret_in_vars import classify

    out: dict[str, Any] = {}
    for name, value in vars_.items():
        kind = classify(name, value) if isinstance(value, str) else None
        out[name] = value if kind is None else f"<redacted: {kind}, {len(value)} characters>"
    return out


def render_text(entry: dict[str, Any]) -> str:
    lines = [f"{entry['file']}"]
    if entry["error"]:
        lines.append(f"  ERROR: {entry['error']}")
    for t in entry["targets"]:
        label = "top level" if t["env"] is None else f"env {t['env']}"
        if t["error"]:
            lines.append(f"  [{label}] ERROR: {t['error']}")
            continue
        worker = t["worker"] or '(none: no "name" in the config)'
        lines.append(f"  [{label}] worker {worker}  account {t['account_id'] or '-'}")
        for b in t["d1_databases"]:
            lines.append(f"      D1  {b['binding']:<12} {b['database_name'] or '-':<28} "
                         f"{b['database_id'] or '(no database_id)'}")
        for b in t["r2_buckets"]:
            lines.append(f"      R2  {b['binding']:<12} {b['bucket_name'] or '(no bucket_name)'}")
        for b in t["kv_namespaces"]:
            lines.append(f"      KV  {b['binding']:<12} {b['id'] or '-'}")
        for b in t["services"]:
            lines.append(f"      SVC {b['binding']:<12} {b['service']}")
        for r in t["routes"] or ():
            pattern = r.get("pattern") if isinstance(r, dict) else r
            lines.append(f"      ROUTE {pattern}")
        if t["vars"]:
            lines.append(f"      vars: {', '.join(sorted(t['vars']))}")
        for w in t["warnings"]:
            lines.append(f"      warning: {w.splitlines()[0]}")
    return "\n".join(lines) + "\n"
