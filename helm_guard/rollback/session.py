"""`Rollback`: one run of `helm-guard rollback`; its attributes carry what the steps learn."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from helm_guard import state
from helm_guard.bindings import (
    ExpectedBindings,
    Mismatch,
    OwnerIndex,
    expected_bindings,
    owner_note,
)
from helm_guard.cloudflare.wrangler import Wrangler
from helm_guard.deploying import make_wrangler, remote_of
from helm_guard.errors import UsageError
from helm_guard.fleet import Tenant
from helm_guard.incident import Step, StepRecord, Steps, binding_rows
from helm_guard.rollback.ledger import Pending

TOTAL = 7


class Rollback:
    """One run of the rollback; attributes carry what the steps learn."""

    # learned by the steps, set as they run
    pending: Pending | None  # step 2
    live_id: str | None
    live_bindings: list[dict[str, Any]]
    live_diffs: list[Mismatch]
    live_since: str | None  # when the live version first served traffic (Cloudflare)
    target_bindings: list[dict[str, Any]]
    incident_id: str  # step 5 (the journal)
    started: str
    before_rows: list[str]
    diff_lines: list[str]
    others: list[str]  # also step 2, when the rollback was already done
    earlier: list[StepRecord]
    after_rows: list[str]  # step 6

    def __init__(
        self,
        slug: str,
        *,
        fleet_path: str | None,
        to: str | None,
        dry_run: bool,
        yes: bool,
        force_secrets: bool,
        halt_scope: str,
        remote: str | None,
        message: str,
        wrangler: Wrangler | None,
        wrangler_args: argparse.Namespace | None,
        stdin: TextIO,
        out: TextIO,
    ) -> None:
        from helm_guard.fleet import find_fleet_file, load_fleet

        self.slug = slug
        self.to = to
        self.dry_run = dry_run
        self.yes = yes
        self.force_secrets = force_secrets
        self.halt_scope = halt_scope
        self.message = message
        self.stdin = stdin
        self.out = out
        # the fleet file only: the configs may be the incident, and are not needed
        self.fleet = load_fleet(find_fleet_file(fleet_path))
        if slug not in self.fleet.shops:
            raise UsageError(
                f"shop {slug!r} is not in the registry of {self.fleet.path}",
                hint="known shops: " + ", ".join(sorted(self.fleet.shops)),
            )
        self.tenant = Tenant(slug)
        self.expected: ExpectedBindings = expected_bindings(self.fleet, slug)
        self.worker = self.expected.worker
        self.index = OwnerIndex(self.fleet)
        self.repo: Path = state.resolve_repo(self.fleet.root)
        self.remote = remote_of(self.fleet, remote)
        if wrangler is None:
            assert wrangler_args is not None
            wrangler = make_wrangler(wrangler_args, self.fleet)
        self.w = wrangler
        self.w.executable  # noqa: B018 - a missing wrangler must stop us before the halt
        from helm_guard.cloudflare.api import Client

        self.api = Client(self.w.api_settings())  # reads: one request instead of a process
        self.steps = Steps(TOTAL, out=out, name="rollback")
        self.halt_text = ""
        self.target_id: str | None = to
        self.forced: list[str] = []

    def ask(self, step: Step, question: str) -> bool:
        """Ask `question` under `step`; True when the operator types the shop slug."""
        step.say(question)
        self.out.write(f"      type '{self.slug}' to continue: ")
        self.out.flush()
        answer = self.stdin.readline()
        if not (answer.endswith("\n") and self.stdin.isatty()):
            self.out.write("\n")  # a piped answer is not echoed: end the prompt line
        return answer.strip() == self.slug

    def rows(self, bindings: Sequence[Mapping[str, Any]]) -> list[str]:
        """`bindings` as incident-file rows, each naming the shop that owns the resource."""
        return binding_rows(bindings, lambda b: owner_note(b, self.index))

    def continue_hint(self) -> str:
        """How to continue after a failure: the same command again."""
        to = f" --to {self.target_id}" if self.target_id else ""
        return (
            f"run `helm-guard rollback --shop {self.slug}{to}` again: it re-reads Cloudflare and "
            "the ledger and continues where this run stopped; any halt recorded stays in force"
        )
