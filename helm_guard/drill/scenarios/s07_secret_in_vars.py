"""Scenario 7: a Stripe live secret committed into `vars`: blocked, and never echoed by any
command, by the job summary, or by the drill's own report."""

from __future__ import annotations

import secrets
import string

from helm_guard.drill import Record
from helm_guard.drill.sandbox import Workspace
from helm_guard.drill.scenarios._common import FleetView, Located, commit_fault, insert_member

NAME = "secret-in-vars"
TITLE = "Stripe secret committed into vars"
HYPOTHESIS = ("A Stripe live secret key in a shop's `vars` is refused by the pre-commit hook "
              "and blocked by the gate (HG901), and the secret appears in no output at all.")
FAULT = "vars.STRIPE_SECRET_KEY = a freshly generated sk_live_… value in shop A's config."
FRESH = False
VAR = "STRIPE_SECRET_KEY"


def make_secret() -> tuple[str, str]:
    """A random, never-real key in Stripe's live shape (built here so that no literal key
    lives in helm-guard's source): (whole key, random part)."""
    tail = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    return "sk_" + "live_" + tail, tail


def run(ws: Workspace, rec: Record) -> None:
    rec.begin("inject")
    secret, tail = make_secret()
    rec.secret(secret)
    rec.secret(tail)
    view = FleetView(ws)
    t = view.shop_targets()[0]
    assert t.tenant is not None and t.file.doc is not None
    vars_path = t.target.origin("vars")
    if isinstance(t.target.raw.get("vars"), dict):
        insert_member(ws, t.file.rel, vars_path, VAR, secret)
    else:
        insert_member(ws, t.file.rel, t.target.prefix, "vars", {VAR: secret})
    line = _line_of(ws, t.file.rel, (*vars_path, VAR))
    place = Located(t.tenant.shop, t.file.rel, (*vars_path, VAR), None, line)
    commit_fault(ws, rec, f"drill: commit a Stripe key into {t.tenant.shop}'s vars", [place],
                 "HG901")

    rec.begin("no echo")
    leaks = [c.label for c in rec.commands if secret in c.output or tail in c.output]
    rec.expect("no command printed the secret (stdout and stderr of every command)",
               "secret absent from all output",
               "absent" if not leaks else f"printed by: {', '.join(leaks)}", not leaks)
    files = ws.github_files()
    in_files = secret in files or tail in files
    rec.expect("the job summary and GitHub outputs do not contain the secret",
               "secret absent", "present" if in_files else "absent", not in_files)


def _line_of(ws: Workspace, rel: str, path: tuple[str | int, ...]) -> int:
    from helm_guard import jsonc

    return jsonc.parse_text(ws.read(rel), rel).span(path).line
