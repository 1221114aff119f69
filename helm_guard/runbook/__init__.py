"""The per-shop runbook: the operators' runbook with every command filled in for one shop and
correct for wrangler 4.86 and this fleet's layout (`helm-guard runbook --shop SLUG`).

The text is a package template (`template.md`); `{{token}}` placeholders are filled from a
`ShopFacts` record:
- `{{slug}}`, `{{worker}}`, `{{database}}`, `{{database_id}}`, `{{bucket}}`, `{{config}}`,
  `{{target_flags}}`, `{{layout}}`, `{{owner}}`, `{{fleet_root}}`, `{{sessions_table}}`,
  `{{staff_column}}`: facts;
- `{{w:ID}}`: the wrangler command `ID` of `wrangler_commands` (one argument list each);
- `{{hg:ID}}`: the helm-guard command `ID` of `helm_commands`.
An unknown token is an internal error (the tests render every shop of the example fleet).

How the commands are built (see `../shared/notes/wrangler.md` §4 and §14):
- a shop-per-file shop is addressed with `--config shops/<slug>/wrangler.jsonc` (plus
  `--env=""`, the explicit top level, when that file also has envs); an env-per-shop shop with
  `--config <file> --env <slug>`. Paths are relative to the fleet root.
- `d1 execute <binding> --remote` with the binding that carries the registry's database id in
  the shop's config (never the database name: a name absent from the resolved config falls
  back to the account and still reaches that database under a wrong `--env`); `d1 import`
  does not exist (`d1 execute --file`), nor does `r2 object list`; `r2 object get
  <bucket>/<key> --file F --remote` (with `-J <jurisdiction>` when the binding has one), the
  bucket by the naming template (the registry's truth, not the config's);
- `secret list|put` never gets `--name` (with `--env` it targets `<name>-<env>`);
- `tail` never names the Worker with `--env` (`tail helm-x --env x` tails `helm-x-x`: found by
  the test below); `deployments status` names it with `--name` (no suffix there).

Every generated wrangler command is run by `tests/test_runbook.py` through the real wrangler
4.86 against the emulator, which must see the request that command exists to make (so an
unknown command or flag, or a command that reaches the wrong Worker, database or bucket,
fails the test); every helm-guard command that exists in this checkout is parsed by its own
parser.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from importlib import resources
from typing import Any, NamedTuple

from helm_guard.errors import Blocked, UsageError
from helm_guard.fleet import FLEET_FILE, Fleet, Tenant

AUDIT_TAIL_SQL = "SELECT id, at, action FROM audit_events ORDER BY id DESC LIMIT 50;"
BACKUP_KEY = "backups/db/YYYY-MM-DD.sql"
BACKUP_FILE = "./backup.sql"
DEFAULT_SECRET = "STRIPE_WEBHOOK_SECRET"
_TOKEN_RE = re.compile(r"\{\{([a-z]+:)?([a-z_0-9-]+)\}\}")


class ShopFacts(NamedTuple):
    """Where one shop's production target lives and what it is called (registry + config)."""

    slug: str
    worker: str
    database: str  # the registry/naming database name
    database_id: str
    bucket: str  # the naming template's bucket
    d1_binding: str  # the config's binding that carries the registry id
    jurisdiction: str | None
    config: str  # relative to the fleet root, POSIX
    env: str | None  # None: no --env; "": the explicit top level
    layout: str
    owner: str | None
    required_secrets: tuple[str, ...]
    sessions_table: str
    staff_column: str
    fleet_arg: tuple[str, ...]  # ("--fleet", NAME) when the fleet file has another name

    def target_flags(self) -> list[str]:
        flags = ["--config", self.config]
        if self.env == "":
            flags.append("--env=")
        elif self.env is not None:
            flags += ["--env", self.env]
        return flags


def shop_facts(fleet: Fleet, slug: str) -> ShopFacts:
    """The facts of shop `slug`'s production target. The config must resolve exactly one
    production target for the shop (else Blocked: the commands would be guesses)."""
    from helm_guard.context import load_files
    from helm_guard.secrets_policy import required_secrets
    from helm_guard.sessions import sessions_table

    if slug not in fleet.shops:
        raise UsageError(f"shop {slug!r} is not in the registry of {fleet.path}",
                         hint="known shops: " + ", ".join(sorted(fleet.shops)))
    tenant = Tenant(slug)
    entries = [e for e in fleet.config_entries()  # this shop's file, and shared ones
               if e.layout != "shop-per-file" or e.slug == slug]
    found = [t for f in load_files(fleet, entries) for t in f.targets if t.tenant == tenant]
    if len(found) != 1:
        raise Blocked(f"shop {slug} has {len(found)} production deploy targets in the fleet's "
                      "configs (exactly one is needed to fill in the commands)",
                      hint="run `helm-guard check` and fix the configs first")
    t = found[0]
    exp = fleet.expected(tenant)
    if not exp.database_id:
        raise Blocked(f"shop {slug} has no database_id in the registry")
    target = t.target
    binding = next((b for b in target.bindings("d1_databases")
                    if b.get("database_id") == exp.database_id
                    and isinstance(b.get("binding"), str)), None)
    if binding is None:
        raise Blocked(f"{t.file.rel}: no D1 binding of shop {slug} carries the registry's "
                      f"database id {exp.database_id}: `wrangler d1` would reach another "
                      "database", hint="run `helm-guard check`; fix the config first")
    r2 = next((b for b in target.bindings("r2_buckets")
               if b.get("bucket_name") == exp.bucket_name), {})
    jurisdiction = r2.get("jurisdiction") if isinstance(r2.get("jurisdiction"), str) else None
    env: str | None = target.env
    doc = t.file.doc.value if t.file.doc is not None else None
    if env is None and isinstance(doc, dict) and doc.get("env"):
        env = ""  # a per-shop file with envs: the top level, explicitly
    table, column = sessions_table(fleet)
    entry = fleet.shops[slug]
    owner = entry.get("owner") if isinstance(entry.get("owner"), str) else None
    fleet_arg = () if fleet.path.name == FLEET_FILE else ("--fleet", fleet.path.name)
    return ShopFacts(slug, exp.worker, exp.database_name, exp.database_id, exp.bucket_name,
                     str(binding["binding"]), jurisdiction, t.file.rel, env, t.file.entry.layout,
                     owner, required_secrets(fleet, tenant), table, column, fleet_arg)


# ---------------------------------------------------------------------- the commands
def wrangler_commands(f: ShopFacts) -> dict[str, list[str]]:
    """id -> wrangler argument list (without the leading `wrangler`)."""
    target = f.target_flags()
    r2 = ["-J", f.jurisdiction] if f.jurisdiction else []
    secrets = f.required_secrets or (DEFAULT_SECRET,)
    out = {
        # no Worker positional: `tail <worker> --env E` tails `<worker>-E` (like `secret`)
        "tail": ["tail", *target, "--format", "pretty"],
        "deployments-status": ["deployments", "status", "--name", f.worker, *target],
        "d1-audit-tail": ["d1", "execute", f.d1_binding, "--remote", *target,
                          "--command", AUDIT_TAIL_SQL],
        "d1-sessions-count": ["d1", "execute", f.d1_binding, "--remote", *target, "--command",
                              f"SELECT {f.staff_column}, COUNT(*) AS sessions FROM "
                              f"{f.sessions_table} GROUP BY {f.staff_column};"],
        "d1-bookmark": ["d1", "time-travel", "info", f.d1_binding, *target],
        "r2-get-backup": ["r2", "object", "get", f"{f.bucket}/{BACKUP_KEY}", "--file",
                          BACKUP_FILE, "--remote", *r2],
        "d1-apply-file": ["d1", "execute", f.d1_binding, "--remote", *target,
                          "--file", BACKUP_FILE],
        "secret-list": ["secret", "list", *target],
        "d1-undo": ["d1", "time-travel", "restore", f.d1_binding, "--bookmark", "BOOKMARK",
                    *target],
    }
    for name in secrets:
        out[f"secret-put-{name.lower()}"] = ["secret", "put", name, *target]
    return out


def helm_commands(f: ShopFacts) -> dict[str, list[str]]:
    """id -> helm-guard argument list (without the leading `helm-guard`)."""
    fl = list(f.fleet_arg)
    incident = f"docs/incidents/YYYY-MM-DD-{f.slug}.md"
    return {
        "check": ["check", *fl],
        "status": ["status"],
        "halt-shop": ["halt", "--reason", f"SEV1 on {f.slug}", "--shop", f.slug],
        "halt-fleet": ["halt", "--reason", f"SEV1: {f.slug} bound another shop's resources"],
        "resume": ["resume", "--reason", "cause fixed and verified"],
        "rollback-dry": ["rollback", "--shop", f.slug, *fl, "--dry-run"],
        "rollback": ["rollback", "--shop", f.slug, *fl],
        "audit": ["audit", "--shop", f.slug, *fl],
        "data-audit": ["data-audit", "--incident", incident, *fl],
        "audit-chain": ["audit-chain", "--shop", f.slug, *fl],
        "restore-dry": ["restore", "--shop", f.slug, "--backup", BACKUP_KEY, *fl, "--dry-run"],
        "restore": ["restore", "--shop", f.slug, "--backup", BACKUP_KEY, *fl],
        "restore-time": ["restore", "--shop", f.slug, "--timestamp", "YYYY-MM-DDTHH:MM:SSZ",
                         *fl, "--dry-run"],
        "secrets": ["secrets", "--shop", f.slug, *fl],
        "revoke-dry": ["revoke-sessions", "--shop", f.slug, "--staff", "STAFF_ID", *fl,
                       "--dry-run"],
        "revoke": ["revoke-sessions", "--shop", f.slug, "--staff", "STAFF_ID", *fl],
    }


def shell(argv: list[str]) -> str:
    """A command line to paste into a POSIX shell (`--env=` shown as `--env=""`)."""
    return " ".join('--env=""' if a == "--env=" else shlex.quote(a) for a in argv)


# ---------------------------------------------------------------------- rendering
def template() -> str:
    return resources.files(__package__).joinpath("template.md").read_text(encoding="utf-8")


def fill(text: str, f: ShopFacts, fleet_root: str) -> str:
    """Replace every `{{token}}` of `text`; an unknown token raises KeyError (a bug)."""
    w = wrangler_commands(f)
    h = helm_commands(f)
    facts: Mapping[str, Any] = {
        "slug": f.slug, "worker": f.worker, "database": f.database,
        "database_id": f.database_id, "bucket": f.bucket, "config": f.config,
        "target_flags": shell(f.target_flags()), "layout": f.layout,
        "owner": f.owner or "the shop owner",
        "owner_row": f.owner or "not in the registry (`shops.<slug>.owner`)",
        "fleet_root": fleet_root, "sessions_table": f.sessions_table,
        "staff_column": f.staff_column, "d1_binding": f.d1_binding,
        "required_secrets": ", ".join(f"`{n}`" for n in f.required_secrets)
        or "none declared (add `\"secrets\": {\"required\": [...]}` to the fleet file)",
        "secret_puts": "\n".join(shell(["wrangler", *argv]) for k, argv in w.items()
                                 if k.startswith("secret-put-")),
    }

    def one(m: re.Match[str]) -> str:
        kind, name = m.group(1), m.group(2)
        if kind == "w:":
            return shell(["wrangler", *w[name]])
        if kind == "hg:":
            return shell(["helm-guard", *h[name]])
        if kind is None:
            return str(facts[name])
        raise KeyError(m.group(0))

    out = []
    for line in text.splitlines():
        indent = line[: len(line) - len(line.lstrip(" "))]
        out.append(_TOKEN_RE.sub(one, line).replace("\n", "\n" + indent))
    return "\n".join(out) + "\n"


def render(fleet: Fleet, slug: str, fmt: str = "markdown") -> str:
    """The runbook of shop `slug` as Markdown or plain text."""
    text = fill(template(), shop_facts(fleet, slug), str(fleet.root))
    return text if fmt == "markdown" else to_text(text)


def to_text(markdown: str) -> str:
    """Plain text for a terminal: no fences, headings underlined, no backticks."""
    out: list[str] = []
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            continue
        m = re.match(r"(#+) (.*)", line)
        if m:
            title = m.group(2).replace("`", "")
            out += [title.upper() if len(m.group(1)) == 1 else title,
                    ("=" if len(m.group(1)) <= 2 else "-") * len(title)]
            continue
        out.append(line.replace("**", "").replace("`", ""))
    return "\n".join(out) + "\n"


def command_lines(markdown: str, program: str) -> list[str]:
    """Every line inside a fenced code block that starts with `program ` (for the tests: no
    command of the text escapes checking)."""
    lines, inside = [], False
    for raw in markdown.splitlines():
        line = raw.strip()
        if line.startswith("```"):
            inside = not inside
            continue
        if inside and line.startswith(program + " "):
            lines.append(line)
    return lines
