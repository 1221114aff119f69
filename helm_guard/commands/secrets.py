"""`helm-guard secrets [--shop SLUG ...] [--format text|json|markdown]`: which of each tenant's
required secrets (`helm_guard.secrets_policy`) its live Worker has, by name, from the
Cloudflare API (`GET …/workers/scripts/<worker>/secrets`, names only: a value is never read,
so it can never be printed).

The runbook's "Stripe webhook signatures failing" check (`wrangler secret list --env {slug}`
by eye, after payments already failed), for every shop and stage at once.

Exit 0 when every tenant has every required secret; 1 when one is MISSING or UNKNOWN (the API
could not tell: an error, a Worker that does not exist); 2 usage or configuration (an unknown
shop, no API token); 3 internal.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import TextIO

from helm_guard.commands._common import add_fleet_option
from helm_guard.errors import EXIT_BLOCKED, EXIT_OK, UsageError
from helm_guard.fleet import Fleet, Tenant, find_fleet_file, load_fleet
from helm_guard.secrets_policy import MISSING, OK, UNKNOWN, SecretCheck, check_live
from helm_guard.slugs import check_shop_slug

WORKERS = 4  # concurrent API reads; the client's token bucket keeps the account's rate


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shop", action="append", metavar="SLUG", default=[],
                   help="only this shop (and its stages); repeatable (default: every shop)")
    add_fleet_option(p)
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                   help="output format (default: text)")


def tenants_of(fleet: Fleet, shops: list[str]) -> list[Tenant]:
    """Every tenant of the named shops (all shops when none is named)."""
    for slug in shops:
        if slug not in fleet.shops:
            raise UsageError(f"shop {slug!r} is not in the registry of {fleet.path}",
                             hint="known shops: " + ", ".join(sorted(fleet.shops)))
    wanted = set(shops)
    return [t for t in fleet.tenants() if not wanted or t.shop in wanted]


def run(args: argparse.Namespace, *, client: object | None = None,
        out: TextIO | None = None) -> int:
    """Entry point; `client` (an API client) and `out` are for tests."""
    shops = [check_shop_slug(s) for s in args.shop]
    fleet = load_fleet(find_fleet_file(args.fleet))
    tenants = tenants_of(fleet, shops)
    stream = out if out is not None else sys.stdout
    if client is None:
        from helm_guard.cloudflare.api import Client, CloudflareError

        try:
            client = Client.from_env()
        except CloudflareError as exc:
            raise UsageError(str(exc), hint=exc.hint) from None
    api = client

    def one(tenant: Tenant) -> SecretCheck:
        return check_live(api, fleet, tenant)  # type: ignore[arg-type]

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(one, tenants))
    render = {"text": render_text, "json": render_json, "markdown": render_markdown}
    stream.write(render[args.format](results))
    stream.flush()
    return EXIT_OK if all(r.status == OK for r in results) else EXIT_BLOCKED


def _counts(results: list[SecretCheck]) -> dict[str, int]:
    return {s: sum(r.status == s for r in results) for s in (OK, MISSING, UNKNOWN)}


def _summary(results: list[SecretCheck]) -> str:
    c = _counts(results)
    verdict = "all required secrets present" if c[MISSING] == c[UNKNOWN] == 0 else "BLOCKED"
    return (f"{len(results)} tenant(s): {c[OK]} ok, {c[MISSING]} missing, {c[UNKNOWN]} unknown"
            f" — {verdict}")


def render_text(results: list[SecretCheck]) -> str:
    lines = []
    for r in results:
        head = f"{r.status:<8} {r.tenant.label()} ({r.worker})"
        if r.error is not None:
            lines.append(f"{head}: the API could not tell: {r.error}")
        elif not r.required:
            lines.append(f"{head}: no secret required")
        else:
            detail = f"present: {', '.join(r.present) or '-'}"
            if r.missing:
                detail = f"missing: {', '.join(r.missing)}; " + detail
            lines.append(f"{head}: {detail}")
    lines.append(_summary(results))
    if not any(r.required for r in results):
        lines.append("note: the fleet file declares no required secrets "
                     '("secrets": {"required": [...]})')
    if any(r.status != OK for r in results):
        lines.append("what to do: `helm-guard runbook --shop SLUG` gives the exact "
                     "`wrangler secret put` command for each shop; run it with the value from "
                     "the provider (e.g. Stripe dashboard -> Webhooks -> signing secret)")
    return "\n".join(lines) + "\n"


def render_json(results: list[SecretCheck]) -> str:
    doc = {"version": 1, "counts": _counts(results),
           "ok": all(r.status == OK for r in results),
           "tenants": [r.to_json() for r in results]}
    return json.dumps(doc, indent=2) + "\n"


def render_markdown(results: list[SecretCheck]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["## Required secrets", "", _summary(results), "",
             "| status | tenant | Worker | missing | present |", "|---|---|---|---|---|"]
    for r in results:
        missing = r.error if r.error is not None else ", ".join(r.missing)
        lines.append(f"| {r.status} | {cell(r.tenant.label())} | `{r.worker}` | "
                     f"{cell(missing or '')} | {cell(', '.join(r.present))} |")
    return "\n".join(lines) + "\n"
