"""Disaster drills: inject a fault into a sandbox copy of the fleet, run the real helm-guard
commands against it, and record whether the guard did what it promises.

A scenario (see `helm_guard.drill.scenarios`) states a hypothesis ("a D1 id swap is blocked by
the registry"), injects one fault, runs commands as subprocesses exactly as CI and operators do
(`python -m helm_guard ...`, `git commit` through the real pre-commit hook, real wrangler against
the emulator), and records `Expectation`s (expected vs observed) and timings: time to detect,
to block, to halt, to restore. A scenario passes only if every expectation held; an exception
inside a scenario is a FAIL with the step it happened in. `run_drill` runs scenarios in one
`Sandbox` (shared workspace where safe, a fresh one where a scenario changes the remote) and
returns a `DrillReport` that `helm_guard.drill.report` renders as text, JSON or Markdown.
"""

from __future__ import annotations

import re
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

from helm_guard.drill.sandbox import BANNER, CommandRun, Sandbox, Workspace

TIMING_KEYS = ("detect", "block", "halt", "restore")
REDACTED = "[REDACTED]"
# Belt and braces: anything that looks like a live Stripe key is masked in drill output.
_SECRET_SHAPES = re.compile(r"\b(?:sk|rk)_live_[A-Za-z0-9]{8,}|\bwhsec_[A-Za-z0-9]{8,}")


class Expectation(NamedTuple):
    """One promise checked: what should happen, what did, and whether that is the same."""

    step: str
    description: str
    expected: str
    observed: str
    ok: bool


class StepRun(NamedTuple):
    """A command as the report shows it (never its output)."""

    label: str
    argv: tuple[str, ...]
    exit_code: int
    seconds: float


class Record:
    """What one scenario did: expectations, commands, timings, the current step."""

    def __init__(self, name: str, secrets: set[str]) -> None:
        self.name = name
        self.step = "set-up"
        self.expectations: list[Expectation] = []
        self.commands: list[CommandRun] = []
        self.timings: dict[str, float | None] = dict.fromkeys(TIMING_KEYS)
        self._secrets = secrets
        self.own_secrets: list[str] = []

    def begin(self, step: str) -> None:
        """Name the step that the following commands and expectations belong to."""
        self.step = step

    def command(self, run: CommandRun) -> None:
        self.commands.append(run)

    def secret(self, value: str) -> str:
        """Register a value that must appear nowhere in the drill's output; returns it."""
        self._secrets.add(value)
        self.own_secrets.append(value)
        return value

    def redact(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s, REDACTED)
        return _SECRET_SHAPES.sub(REDACTED, text)

    def expect(self, description: str, expected: str, observed: str, ok: bool) -> bool:
        self.expectations.append(Expectation(self.step, self.redact(description),
                                             self.redact(expected), self.redact(observed),
                                             bool(ok)))
        return bool(ok)

    def timing(self, key: str, seconds: float) -> None:
        """Record a timing (the first one of each kind wins: the moment it first happened)."""
        if self.timings.get(key) is None:
            self.timings[key] = round(seconds, 3)

    def excerpt(self, run: CommandRun, limit: int = 400) -> str:
        """The end of a command's output, redacted, on one line: evidence for a failure."""
        text = " | ".join(ln.strip() for ln in run.output.splitlines() if ln.strip())
        text = self.redact(text)
        return text if len(text) <= limit else "…" + text[-limit:]


class ScenarioResult(NamedTuple):
    name: str
    title: str
    hypothesis: str
    fault: str
    verdict: str  # "PASS" | "FAIL"
    failed_step: str | None
    error: str | None
    seconds: float
    timings: dict[str, float | None]
    expectations: list[Expectation]
    steps: list[StepRun]


class DrillReport(NamedTuple):
    started: str
    finished: str
    seconds: float
    fleet: str
    sandbox: str
    sandbox_mode: str
    kept: str | None
    scenarios: list[ScenarioResult]

    @property
    def passed(self) -> int:
        return sum(1 for s in self.scenarios if s.verdict == "PASS")

    @property
    def failed(self) -> int:
        return len(self.scenarios) - self.passed


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def run_scenario(module: ModuleType, ws: Workspace, secrets: set[str]) -> ScenarioResult:
    """Run one scenario in `ws` and judge it."""
    rec = Record(module.NAME, secrets)
    ws.record = rec
    error: str | None = None
    start = time.perf_counter()
    try:
        module.run(ws, rec)
    except Exception as exc:  # a broken scenario step is a FAIL, never a crash of the drill
        error = rec.redact(_describe(exc))
        rec.expect("the scenario ran to the end", "no error", error, False)
    finally:
        ws.record = None
    seconds = time.perf_counter() - start
    if not rec.expectations:
        rec.expect("the scenario checked something", "at least one expectation", "none", False)
    result = _judge(module, rec, error, seconds)
    if rec.own_secrets:  # the scenario planted a secret: its own report must not show it
        from helm_guard.drill import report

        leaked = scan_for_secrets(report.scenario_texts(result), set(rec.own_secrets))
        rec.begin("report")
        rec.expect("the drill's JSON, Markdown and text report of this scenario never contain "
                   "the planted secret", "secret absent",
                   "secret absent" if not leaked else f"secret present {len(leaked)}x (redacted)",
                   not leaked)
        result = _judge(module, rec, error, seconds)
    return result


def _describe(exc: BaseException) -> str:
    """One line for a scenario that stopped: the error and where (file:line of the innermost
    helm-guard frame), never a traceback."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if "helm_guard" in frame.filename:
            where = f" (at {Path(frame.filename).name}:{frame.lineno})"
    message = " ".join(str(exc).split()) or "no message"
    return f"{type(exc).__name__}: {message}{where}"


def _judge(module: ModuleType, rec: Record, error: str | None, seconds: float) -> ScenarioResult:
    failed = next((e for e in rec.expectations if not e.ok), None)
    steps = [StepRun(c.label, tuple(rec.redact(a) for a in c.argv), c.exit_code,
                     round(c.seconds, 3)) for c in rec.commands]
    return ScenarioResult(
        module.NAME, module.TITLE, module.HYPOTHESIS, module.FAULT,
        "FAIL" if failed else "PASS", failed.step if failed else None, error,
        round(seconds, 3), dict(rec.timings), list(rec.expectations), steps)


def run_drill(
    scenarios: Sequence[ModuleType],
    fleet_file: Path,
    *,
    wrangler: Path | None,
    keep_sandbox: bool = False,
    copy_fleet: bool = False,
    progress: Callable[[str], None] | None = None,
    secrets: set[str] | None = None,
) -> DrillReport:
    """Run `scenarios` in one sandbox built from `fleet_file`; never raises for a failing
    scenario (only for a sandbox that cannot be set up: UsageError). `secrets` is filled with
    every value a scenario planted that must not appear in any output (the caller scans the
    rendered report for them)."""
    say = progress or (lambda _msg: None)
    say(BANNER)
    started, t0 = _now(), time.perf_counter()
    results: list[ScenarioResult] = []
    sandbox = Sandbox(fleet_file, wrangler=wrangler, keep=keep_sandbox, copy_fleet=copy_fleet)
    if secrets is not None:
        sandbox.secrets = secrets
    with sandbox:
        say(f"sandbox: {sandbox.root} ({sandbox.mode}); Cloudflare API emulator at "
            f"{sandbox.emulator.base_url}")
        shared: Workspace | None = None
        for module in scenarios:
            if getattr(module, "FRESH", False):
                ws = sandbox.workspace(module.NAME)
            else:
                if shared is None:
                    shared = sandbox.workspace("shared")
                shared.reset()
                ws = shared
            say(f"scenario {module.NAME}: {module.TITLE} ...")
            result = run_scenario(module, ws, sandbox.secrets)
            results.append(result)
            say(f"scenario {module.NAME}: {result.verdict} ({result.seconds:.1f} s)"
                + (f", failed at: {result.failed_step}" if result.failed_step else ""))
    return DrillReport(started, _now(), round(time.perf_counter() - t0, 3), str(fleet_file),
                       str(sandbox.root), sandbox.mode, str(sandbox.root) if keep_sandbox else None,
                       results)


def scan_for_secrets(report_texts: Sequence[str], secrets: set[str]) -> list[str]:
    """Which registered secrets occur in any of the rendered report texts (should be none)."""
    return sorted({s for s in secrets for t in report_texts if s in t})
