"""`helm-guard runbook --shop SLUG [--format markdown|text] [--output FILE]`: the operators'
runbook for one shop, every command filled in and correct for wrangler 4.86 and this fleet's
layout (`helm_guard.runbook`; the text is the package template `helm_guard/runbook/template.md`).

Reads the fleet file and the shop's config only (no API, no git). Exit 0; 1 when the shop's
config does not resolve to exactly one production target carrying the registry's database id
(the commands would be guesses); 2 usage (unknown shop, no fleet file).
"""

from __future__ import annotations

import argparse

from helm_guard.commands._common import add_fleet_option, write_output
from helm_guard.errors import EXIT_OK
from helm_guard.fleet import find_fleet_file, load_fleet
from helm_guard.runbook import render
from helm_guard.slugs import check_shop_slug


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shop", required=True, metavar="SLUG", help="the shop's slug")
    add_fleet_option(p)
    p.add_argument("--format", choices=("markdown", "text"), default="markdown",
                   help="output format (default: markdown)")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")


def run(args: argparse.Namespace) -> int:
    slug = check_shop_slug(args.shop)
    fleet = load_fleet(find_fleet_file(args.fleet))
    write_output(render(fleet, slug, args.format), args.output)
    return EXIT_OK
