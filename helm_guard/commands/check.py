"""`helm-guard check`: the whole fleet against its registry; exit 1 on any finding.

Fleet-wide rules need every shop, so the whole fleet is always checked; PATHS only narrows
which findings are reported (pre-commit and editors pass the files they care about).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from helm_guard import __version__
from helm_guard.commands._common import add_fleet_option, keep_until_exit, write_output
from helm_guard.errors import EXIT_BLOCKED, EXIT_OK, UsageError
from helm_guard.finding import ERROR, Finding, with_prefix

if TYPE_CHECKING:
    from helm_guard.checker import CheckResult


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="report findings only for these files (the whole fleet is still checked)")
    add_fleet_option(p)
    p.add_argument("--format", choices=("text", "json", "sarif", "github"),
                   help="output format (default: github inside GitHub Actions, else text)")
    p.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE")
    p.add_argument("--wrangler-schema", metavar="PATH",
                   help="also validate against wrangler's config-schema.json (default: "
                        "node_modules/wrangler/config-schema.json of the fleet, when present)")


def run(args: argparse.Namespace) -> int:
    return check(paths=args.paths, fleet_path=args.fleet, fmt=args.format,
                 output=args.output, wrangler_schema=args.wrangler_schema)


def run_fleet_check(fleet_path: str | None, wrangler_schema: str | None = None, *,
                    parallel: bool = False) -> CheckResult:
    """Load the fleet and check it: the shared first step of check, verify and deploy."""
    from helm_guard.checker import load_inputs, run_check

    fleet, fleet_doc, schema = load_inputs(fleet_path, wrangler_schema)
    return run_check(fleet, fleet_doc, wrangler_schema=schema, parallel=parallel)


def check(*, paths: list[str], fleet_path: str | None, fmt: str | None, output: str | None,
          wrangler_schema: str | None) -> int:
    from helm_guard import report, rules

    result = run_fleet_check(fleet_path, wrangler_schema, parallel=True)
    keep_until_exit(result)
    findings = result.findings
    fleet = result.context.fleet
    if paths:
        findings = _narrow(findings, paths, fleet.root)
    findings = with_prefix(findings, fleet.display_prefix)
    summary = report.CheckSummary(result.files, result.targets, result.shops, __version__,
                                  rules.rule_meta())
    write_output(report.render(fmt or report.default_format(os.environ), findings, summary),
                 output)
    return EXIT_BLOCKED if any(f.severity == ERROR for f in findings) else EXIT_OK


def _narrow(findings: list[Finding], paths: list[str], root: Path) -> list[Finding]:
    wanted: set[str] = set()
    root = root.resolve()
    for p in paths:
        full = Path(p).resolve()
        if not full.exists():
            raise UsageError(f"no such file: {p}")
        if not full.is_relative_to(root):
            raise UsageError(f"{p} is outside the fleet repository ({root})")
        wanted.add(full.relative_to(root).as_posix())
    return [f for f in findings if f.path in wanted]
