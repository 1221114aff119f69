"""Numbered steps with timings, and the incident file a rollback leaves in the fleet repo.

`Steps` prints `[n/N] <step> … ok (0.4 s)` as an operator command runs, and records when each
step started and how long it took: the incident file's timeline is built from those records
(including steps of an earlier, interrupted run, which the rollback keeps in the ledger).

`render_incident(...)` is a pure function: same inputs, same Markdown. `write_incident(...)`
puts it at `docs/incidents/<date>-<slug>.md` (the date the incident started, UTC); a re-run of
the same incident (same id) rewrites its own file, a different incident on the same day gets
`-2`, `-3`...
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from helm_guard.errors import Blocked, HelmGuardError, UsageError

INCIDENT_DIR = "docs/incidents"
CHECKLIST = (
    "Shop owner emailed with summary",
    "Post-mortem written (this file)",
    "Cause identified",
    "Fix deployed",
    "Prevention measure decided (test? alert? guardrail?)",
    "Prevention measure implemented",
)


def utc_now() -> datetime:
    """Now, UTC, whole milliseconds dropped to seconds for records."""
    return datetime.now(UTC).replace(microsecond=0)


def fmt_time(moment: datetime) -> str:
    """`2026-08-22T10:15:00Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class StepRecord:
    """One step as it ran: number, title, start (UTC), seconds, outcome, notes."""

    n: int
    total: int
    title: str
    started: str
    seconds: float = 0.0
    status: str = "running"  # ok | skipped | failed | stopped
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """For the ledger (the timeline survives an interrupted run)."""
        return {
            "n": self.n,
            "total": self.total,
            "title": self.title,
            "started": self.started,
            "seconds": round(self.seconds, 1),
            "status": self.status,
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepRecord:
        """Inverse of `to_json` (tolerant: a ledger line is data, not code)."""
        return cls(
            int(data.get("n", 0)),
            int(data.get("total", 0)),
            str(data.get("title", "")),
            str(data.get("started", "")),
            float(data.get("seconds", 0.0)),
            str(data.get("status", "")),
            [str(x) for x in data.get("notes", [])],
        )


class Step:
    """Handle of the running step: `say()` prints an indented detail line."""

    def __init__(self, steps: Steps, record: StepRecord) -> None:
        self._steps = steps
        self.record = record
        self.status = "ok"

    def say(self, text: str = "", *, note: bool = False) -> None:
        """Print `text` under the step (each line indented); `note=True` also keeps it for
        the timeline."""
        self._steps._detail(text)
        if note:
            self.record.notes.append(text)

    def skip(self, why: str) -> None:
        """Mark the step as skipped (it still ends normally)."""
        self.status = "skipped"
        self.record.notes.append(why)


class Steps:
    """Run numbered steps, print them, and keep their records."""

    def __init__(self, total: int, *, out: TextIO | None = None, name: str = "") -> None:
        self.total = total
        self.out = out if out is not None else sys.stdout
        self.name = name
        self.records: list[StepRecord] = []
        self._open = False
        self._head = ""

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def _detail(self, text: str) -> None:
        if self._open:
            self._write("\n")
            self._open = False
        for line in text.splitlines() or [""]:
            self._write(f"      {line}".rstrip() + "\n")

    def _end(self, word: str, seconds: float) -> None:
        tail = f"{word} ({seconds:.1f} s)\n"
        if self._open:
            self._write(tail)
        else:
            self._write(f"{self._head} {tail}")
        self._open = False

    @contextmanager
    def step(self, n: int, title: str) -> Iterator[Step]:
        """Run step `n`: print its head, yield a handle, print `ok`/`skipped`/`FAILED`.

        A HelmGuardError raised inside is re-raised as Blocked (same exit code) with
        "stopped at step n/N (title)" in front, so every failure says where it stopped.
        """
        record = StepRecord(n, self.total, title, fmt_time(utc_now()))
        self.records.append(record)
        handle = Step(self, record)
        self._head = f"[{n}/{self.total}] {title} …"
        self._write(self._head + " ")
        self._open = True
        start = time.monotonic()
        try:
            yield handle
        except HelmGuardError as exc:
            record.seconds = time.monotonic() - start
            record.status = "failed"
            self._end("FAILED", record.seconds)
            raise same_kind(
                exc, f"stopped at step {n}/{self.total} ({title}): {exc.message}", exc.hint
            ) from exc
        except BaseException:
            record.seconds = time.monotonic() - start
            record.status = "failed"
            self._end("FAILED", record.seconds)
            raise
        record.seconds = time.monotonic() - start
        record.status = handle.status
        self._end(handle.status, record.seconds)

    def say(self, text: str) -> None:
        """Print a line outside any step."""
        if self._open:
            self._write("\n")
            self._open = False
        self._write(text + "\n")


def same_kind(exc: HelmGuardError, message: str, hint: str | None) -> HelmGuardError:
    """A new error with `exc`'s exit code (Blocked or UsageError), `message` and `hint`."""
    if exc.exit_code == Blocked.exit_code:
        return Blocked(message, hint=hint)
    return UsageError(message, hint=hint)


def run_steps(steps: Steps, title: str, *, dry_run: bool, body: Callable[[], int],
              continue_hint: Callable[[], str], joint: str = "\n  ") -> int:
    """Say `title` (and that a dry run changes nothing), run `body` and return its exit code;
    an error it raises is raised again, same kind and message, its hint (if any, then `joint`)
    followed by `continue_hint()`: how to continue from where the run stopped."""
    steps.say(title + (" (DRY RUN: nothing will be changed)" if dry_run else ""))
    try:
        return body()
    except HelmGuardError as exc:
        hint = f"{exc.hint}{joint}" if exc.hint else ""
        raise same_kind(exc, exc.message, hint + continue_hint()) from exc


# ---------------------------------------------------------------------- incident file
@dataclass
class Incident:
    """Everything the incident file says. Bindings are display rows (no secret values)."""

    id: str
    shop: str
    worker: str
    started: str  # UTC timestamp of the first step
    actor: str
    from_version: str
    to_version: str
    before: list[str]  # `NAME: identity [shop x]`
    after: list[str]
    differences: list[str]
    other_shops: list[str]
    halt: str
    timeline: list[StepRecord]
    forced_secrets: list[str] = field(default_factory=list)
    owner: str | None = None  # the shop owner's contact from the registry, when known
    went_live: str | None = None  # when the bad version first served traffic (Cloudflare)
    rolled_back: str | None = None  # when the rollback request was sent (UTC)


def render_incident(inc: Incident) -> str:
    """The incident file's Markdown (pure)."""
    shops = [inc.shop, *[s for s in inc.other_shops if s != inc.shop]]
    lines = [
        f"# Incident {inc.started[:10]}: {inc.shop} bound another shop's resources",
        "",
        f"- Incident id: `{inc.id}`",
        f"- Affected shop: **{inc.shop}** (Worker `{inc.worker}`)"
        + (f", owner {inc.owner}" if inc.owner else ""),
        "- Other shop(s) whose resources the live version touched: "
        + (", ".join(f"**{s}**" for s in inc.other_shops) or "none identified"),
        f"- Rolled back by: {inc.actor}",
        f"- Rolled back from version `{inc.from_version}` to `{inc.to_version}`",
        "- The bad version went live: "
        + (f"{inc.went_live} (Cloudflare's deployment `created_on`)" if inc.went_live
           else "UNKNOWN (not in Cloudflare's deployment history: audit from the last "
           "known-good deploy in the ledger)"),
        f"- Data audit window: from {inc.went_live or 'the last known-good deploy'} until "
        f"{inc.rolled_back or 'the rollback (see the timeline)'}",
        f"- Halt: {inc.halt} (still in force)",
    ]
    if inc.forced_secrets:
        lines.append(
            "- Secrets changed since the target version (rolled back anyway, on purpose): "
            + ", ".join(inc.forced_secrets)
        )
    lines += ["", "## What was wrong", ""]
    lines += [f"- {d}" for d in inc.differences] or ["- (no binding difference recorded)"]
    lines += ["", "## Bindings before (the bad live version)", ""]
    lines += [f"- {b}" for b in inc.before] or ["- (none)"]
    lines += ["", "## Bindings after (the version rolled back to)", ""]
    lines += [f"- {b}" for b in inc.after] or ["- (none)"]
    lines += [
        "",
        "## Timeline (UTC)",
        "",
        "| time | step | outcome | seconds | notes |",
        "|---|---|---|---|---|",
    ]
    for r in inc.timeline:
        notes = "; ".join(n.replace("|", "\\|") for n in r.notes)
        lines.append(
            f"| {r.started} | {r.n}/{r.total} {r.title} | {r.status} | {r.seconds:.1f} | {notes} |"
        )
    lines += [
        "",
        "## Next steps",
        "",
        "- Audit both shops' data ("
        + " and ".join(shops)
        + "): did the wrong shop's data get written? `helm-guard data-audit --incident "
        "<this file>` reads both databases for the window above; `helm-guard audit-chain "
        "--shop <slug>` verifies each chain; `helm-guard restore` restores, undo point first.",
        "- Find how the binding got swapped and fix the configuration.",
        "- Lift the halt with `helm-guard resume --reason TEXT` only when the cause is fixed.",
        "",
        "## Post-incident checklist",
        "",
    ]
    lines += [f"- [ ] {item}" for item in CHECKLIST]
    return "\n".join(lines) + "\n"


def incident_file(root: Path, base: str, incident_id: str) -> Path:
    """`docs/incidents/<base>[-n].md`: the file of incident `incident_id` if one exists (it
    holds the id line), else the first free name. An unreadable file is someone else's."""
    folder = root / INCIDENT_DIR
    marker = f"- Incident id: `{incident_id}`"
    n = 1
    while True:
        path = folder / (f"{base}.md" if n == 1 else f"{base}-{n}.md")
        if not path.exists():
            return path
        try:
            if marker in path.read_text(encoding="utf-8", errors="replace"):
                return path
        except OSError:
            pass
        n += 1


def write_atomic(path: Path, text: str) -> Path:
    """Write `text` to `path` (folders made, atomic rename); return `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def incident_path(root: Path, inc: Incident) -> Path:
    """`docs/incidents/<date>-<slug>[-n].md`: this incident's own file if one exists (same
    id), else the first free name."""
    return incident_file(root, f"{inc.started[:10]}-{inc.shop}", inc.id)


def write_incident(root: Path, inc: Incident) -> Path:
    """Write the incident file under `root` (atomic rename); return its path."""
    return write_atomic(incident_path(root, inc), render_incident(inc))


def binding_rows(
    bindings: Sequence[Mapping[str, Any]], owner_of: Callable[[Mapping[str, Any]], str | None]
) -> list[str]:
    """`NAME (type): identity [shop x]` for each binding; `owner_of(binding)` -> label|None."""
    from helm_guard.bindings import describe

    rows = []
    for b in bindings:
        owner = owner_of(b)
        rows.append(
            f"{b.get('name')} ({b.get('type')}): {describe(b)}"
            + (f" [shop {owner}]" if owner else "")
        )
    return rows
