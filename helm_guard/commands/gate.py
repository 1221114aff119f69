"""`helm-guard gate`: the CI deploy gate's flags and outputs. Exit 0 = the deploy may proceed,
1 = blocked. What the gate decides, and how, is `helm_guard.gate`; its reports are
`helm_guard.report.gate`."""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from helm_guard import __version__
from helm_guard.commands._common import add_fleet_option, keep_until_exit, write_output
from helm_guard.errors import EXIT_BLOCKED, EXIT_OK, UsageError
from helm_guard.gate import REBIND_TRAILER
from helm_guard.slugs import check_shop_slug

if TYPE_CHECKING:
    from helm_guard.gate import Outcome
    from helm_guard.report import CheckSummary

_REMOTE_RE = re.compile(r"^(?!-)[A-Za-z0-9._/-]{1,100}\Z")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_fleet_option(p)
    p.add_argument("--base", metavar="REF",
                   help="compare with this commit (default: $GITHUB_EVENT_BEFORE, else the "
                        "merge-base with the remote's default branch)")
    p.add_argument("--head", metavar="REF", default="HEAD",
                   help="the commit to deploy; must be the checked-out commit (default: HEAD)")
    p.add_argument("--allow-rebind", metavar="SLUG", action="append", default=[],
                   help="acknowledge a rebind of this shop (repeatable); prefer a "
                        f"`{REBIND_TRAILER}: <slug>` commit trailer, which stays in history")
    p.add_argument("--format", choices=("text", "json", "github"),
                   help="stdout format (default: github inside GitHub Actions, else text)")
    p.add_argument("--sarif", metavar="FILE", help="also write the findings as SARIF to FILE")
    p.add_argument("--plan", metavar="FILE", help="write the deploy plan (JSON) to FILE")
    p.add_argument("--report-only", action="store_true",
                   help="pull requests: report everything, exit 1 when blocked, deploy nothing")
    p.add_argument("--remote", metavar="NAME",
                   help="the git remote with the default branch and the halt state (default: "
                        "the fleet file's state.remote, else origin)")
    p.add_argument("--wrangler-schema", metavar="PATH",
                   help="also validate against this wrangler config-schema.json")


def run(args: argparse.Namespace) -> int:
    for slug in args.allow_rebind:
        check_shop_slug(slug, "--allow-rebind")
    for flag, ref in (("--base", args.base), ("--head", args.head)):
        from helm_guard import gitio

        if ref is not None and not gitio.valid_ref(ref):
            raise UsageError(f"{flag} {ref!r} is not a valid git ref or commit")
    if args.remote is not None and not _REMOTE_RE.match(args.remote):
        raise UsageError(f"--remote {args.remote!r} is not a remote name")
    from helm_guard.checker import load_inputs
    from helm_guard.gate import gate

    inputs = load_inputs(args.fleet, args.wrangler_schema)
    outcome, result = gate(inputs, base=args.base, head=args.head, allow=args.allow_rebind,
                           remote=args.remote, report_only=args.report_only,
                           environ=os.environ)
    keep_until_exit(result)
    emit(outcome, fmt=args.format, sarif=args.sarif, plan_file=args.plan, environ=os.environ)
    return EXIT_BLOCKED if outcome.blocked else EXIT_OK


def emit(o: Outcome, *, fmt: str | None, sarif: str | None, plan_file: str | None,
         environ: Mapping[str, str]) -> None:
    from helm_guard import plan as plans
    from helm_guard import report
    from helm_guard.report.gate import outputs, render_github, render_summary, render_text, to_json

    fmt = fmt or report.default_format(environ)
    summary = _check_summary(o)
    if sarif:
        write_output(report.render("sarif", o.findings, summary), sarif)
    if plan_file:
        write_output(json.dumps(o.plan, indent=1, ensure_ascii=False) + "\n", plan_file)
    if fmt == "json":
        text = json.dumps(to_json(o), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "github":
        text = render_github(o, summary)
    else:
        text = render_text(o, summary)
    write_output(text, None)
    plans.append_github_file("GITHUB_STEP_SUMMARY", render_summary(o), environ)
    plans.append_github_file("GITHUB_OUTPUT", plans.format_outputs(outputs(o)), environ)


def _check_summary(o: Outcome) -> CheckSummary:
    from helm_guard import report, rules

    return report.CheckSummary(*o.checked, __version__, rules.rule_meta())


