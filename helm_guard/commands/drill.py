"""`helm-guard drill`: run disaster drills in a sandbox and report what the guard did.

    helm-guard drill [--scenario NAME|all ...] [--fleet FILE] [--report FILE]
                     [--format text|json|markdown] [--wrangler PATH] [--keep-sandbox]

Every scenario runs against a temporary clone of the fleet repository with its own bare remote
and a local Cloudflare API emulator; the real remote and real Cloudflare are never touched (the
drill says so first). Progress goes to stderr, the report to stdout in `--format`; `--report
FILE` also writes it (format from the suffix: .json, .md, else `--format`). Inside GitHub
Actions (`GITHUB_STEP_SUMMARY` set) the Markdown report is appended to the job summary.

Exit codes: 0 every scenario passed, 1 at least one failed, 2 usage (unknown scenario, no fleet,
a `--wrangler` that is not there).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from helm_guard.commands._common import add_fleet_option, write_output
from helm_guard.errors import EXIT_BLOCKED, EXIT_OK, UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", action="append", default=[], metavar="NAME|all",
                   help="scenario to run (repeatable; default: all)")
    add_fleet_option(p)
    p.add_argument("--report", metavar="FILE",
                   help="also write the report to FILE (.json: JSON, .md: Markdown)")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                   help="report format on stdout (default: text)")
    p.add_argument("--wrangler", metavar="PATH",
                   help="wrangler executable for the incident scenario (default: "
                        "$HELM_GUARD_WRANGLER, the fleet's node_modules/.bin/wrangler, "
                        "else tests/node of this helm-guard checkout)")
    p.add_argument("--keep-sandbox", action="store_true",
                   help="keep the sandbox directory for inspection (its path is printed)")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")


def run(args: argparse.Namespace) -> int:
    from helm_guard.drill import report as drill_report
    from helm_guard.drill import run_drill, scan_for_secrets
    from helm_guard.drill.sandbox import WRANGLER_HINT, find_wrangler
    from helm_guard.drill.scenarios import BY_NAME, SCENARIOS
    from helm_guard.fleet import find_fleet_file

    if args.list:
        for m in SCENARIOS:
            print(f"{m.NAME:<22} {m.TITLE}")
        return EXIT_OK
    names = args.scenario or ["all"]
    if "all" in names:
        selected = list(SCENARIOS)
    else:
        unknown = [n for n in names if n not in BY_NAME]
        if unknown:
            raise UsageError(f"unknown scenario: {', '.join(unknown)}",
                             hint="choose from: all, " + ", ".join(BY_NAME))
        selected = [m for m in SCENARIOS if m.NAME in names]
    if args.report and not Path(args.report).resolve().parent.is_dir():
        raise UsageError(f"--report {args.report}: its directory does not exist",
                         hint="create the directory first, or name a file in an existing one")
    fleet_file = find_fleet_file(args.fleet)
    wrangler = find_wrangler(args.wrangler, fleet_file.parent)
    if args.wrangler and wrangler is None:
        raise UsageError(f"--wrangler: not an executable file: {args.wrangler}")

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if wrangler is None and any(getattr(m, "NEEDS_WRANGLER", False) for m in selected):
        progress(f"helm-guard drill: {WRANGLER_HINT}")

    secrets: set[str] = set()
    result = run_drill(selected, fleet_file, wrangler=wrangler, keep_sandbox=args.keep_sandbox,
                       progress=progress, secrets=secrets)
    rendered = {fmt: drill_report.render(result, fmt) for fmt in drill_report.RENDERERS}
    leaked = scan_for_secrets(list(rendered.values()), secrets)
    failed = result.failed > 0 or not result.scenarios
    if leaked:  # never expected (Record redacts); if it happens: redact and fail loudly
        for fmt, text in rendered.items():
            for s in leaked:
                text = text.replace(s, "[REDACTED]")
            rendered[fmt] = text
        progress("helm-guard drill: FAIL: a planted secret reached the report (redacted)")
        failed = True
    if args.report:
        suffix = Path(args.report).suffix.lower()
        fmt = {".json": "json", ".md": "markdown", ".markdown": "markdown"}.get(suffix,
                                                                                 args.format)
        write_output(rendered[fmt], args.report)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(rendered["markdown"])
        except OSError as exc:
            progress(f"helm-guard drill: cannot append to the job summary: {exc}")
    if args.keep_sandbox:
        progress(f"helm-guard drill: sandbox kept at {result.kept}")
    write_output(rendered[args.format], None)
    return EXIT_BLOCKED if failed else EXIT_OK
