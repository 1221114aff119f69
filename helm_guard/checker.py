"""The check engine: parse every config of the fleet, resolve its targets, run every rule,
and turn the rules' problems into positioned findings.

Rules never compute positions: they yield `Problem(source, json_path, message, shop)` and the
engine asks the source document for the span only when a problem exists (positions cost a
positional parse; most files of a clean fleet never need one).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from helm_guard import clean_shape, jsonc
from helm_guard import parallel as parallel_
from helm_guard.context import ConfigFile, Context, Problem, load_files
from helm_guard.finding import Finding
from helm_guard.fleet import ConfigEntry, Fleet
from helm_guard.jsonc import Document, JsonPath, Span
from helm_guard.rules import types
from helm_guard.rules.types import Rule

Harvest = Callable[[ConfigFile], Iterable[Any]]


class CheckResult(NamedTuple):
    findings: list[Finding]
    files: int
    targets: int
    shops: int
    context: Context
    harvested: list[Any]  # what `harvest` drew from every file (in no particular order)


def disabled_rules_from_env() -> frozenset[str]:
    """Test-only seam (used by the drills to prove they can fail): rule IDs listed in
    HELM_GUARD_TEST_DISABLE_RULES are skipped, with a loud warning on stderr."""
    raw = os.environ.get("HELM_GUARD_TEST_DISABLE_RULES", "").strip()
    if not raw:
        return frozenset()
    ids = frozenset(x.strip() for x in raw.split(",") if x.strip())
    print(f"helm-guard: WARNING: rules disabled by the test seam "
          f"HELM_GUARD_TEST_DISABLE_RULES: {', '.join(sorted(ids))}", file=sys.stderr)
    return ids


class CheckInputs(NamedTuple):
    fleet: Fleet
    fleet_doc: Document
    wrangler_schema: Path | None


def load_inputs(fleet_path: str | None, wrangler_schema: str | None = None) -> CheckInputs:
    """The fleet (`fleet_path`, else found from the current folder up), its parsed fleet
    file, and wrangler's config schema to validate against (`wrangler_schema`, else the
    fleet's `node_modules/wrangler/config-schema.json` when present)."""
    from helm_guard.errors import UsageError
    from helm_guard.fleet import find_fleet_file, load_fleet

    path = find_fleet_file(fleet_path)
    fleet = load_fleet(path)
    schema: Path | None = None
    if wrangler_schema:
        schema = Path(wrangler_schema)
        if not schema.is_file():
            raise UsageError(f"--wrangler-schema: no such file: {wrangler_schema}")
    else:
        found = fleet.root / "node_modules" / "wrangler" / "config-schema.json"
        schema = found if found.is_file() else None
    fleet_doc = fleet.doc if fleet.doc is not None else jsonc.parse_file(path)
    return CheckInputs(fleet, fleet_doc, schema)


PARALLEL_MIN_FILES = 1500  # below this, forking costs more than it saves


def run_check(
    fleet: Fleet,
    fleet_doc: Document,
    *,
    wrangler_schema: Path | None = None,
    rules: Sequence[Rule] | None = None,
    parallel: bool = False,
    skip_clean: bool = True,
    harvest: Harvest | None = None,
) -> CheckResult:
    """Check the whole fleet. Map: per config file (parse, resolve, file and target rules, and
    each fleet rule's `collect`). Reduce: each fleet rule's `check` over what was collected.

    With `parallel=True` and a large fleet the map phase runs in forked worker processes (one
    per CPU); `CheckResult.context` then holds no files or targets, so callers that need them
    (deploy, verify) use the default serial run. The cyclic GC is best off for a whole run
    (it would only rescan what the run keeps): `cli.console_main` turns it off for the
    commands that check.

    `skip_clean=False` runs every target rule on every target, without the clean-shape
    shortcut (`helm_guard.clean_shape`); the tests compare both.

    `harvest(file)` runs on every parsed config in the map phase (in the workers of a parallel
    run); its items come back in `CheckResult.harvested`. That is how a caller gets what it
    needs from every file (the gate: plan entries) without parsing the fleet a second time.
    """
    from helm_guard import rules as registry
    from helm_guard import schemas

    workers = parallel_.worker_count() if parallel else 1
    use_workers = workers > 1
    # in parallel, the workers find out which candidate configs exist (they open them anyway)
    entries, pending = fleet.config_candidates() if use_workers else (fleet.config_entries(), {})
    disabled = disabled_rules_from_env()
    active = [m for m in (rules if rules is not None else registry.all_rules())
              if m.ID not in disabled]
    shapes = types.by_shape(active)
    validator = schemas.validator_for_file(wrangler_schema) if wrangler_schema else None
    if use_workers and len(entries) >= PARALLEL_MIN_FILES:
        ctx = Context(fleet, [], fleet_doc)
        ctx.wrangler_validator = validator
        ctx.covered = frozenset(e.rel for e in entries)
        ctx.entries = {e.rel: e for e in entries}
        _ = ctx.owners  # built once, inherited by the workers
        schemas.validate("helm-shop-config", {})  # compile once before forking
        _prepare(active, ctx)
        chunks = parallel_.deal(entries, workers)
        parts = parallel_.forked_map(
            lambda i: _map_chunk(ctx, chunks[i], shapes, skip_clean, harvest), workers)
    else:
        ctx = Context(fleet, load_files(fleet, entries), fleet_doc)
        ctx.wrangler_validator = validator
        _prepare(active, ctx)
        parts = [_with_absent(_map(ctx, shapes, skip_clean, harvest), entries, ctx.files)]
    if pending:
        entries = _drop_absent(ctx, entries, pending, parts)
    findings: list[Finding] = [f for part in parts for f in part.findings]
    for fleet_rule in shapes.fleet:
        collected = [x for part in parts for x in part.collected.get(fleet_rule.ID, ())]
        findings.extend(_stamp(fleet_rule, fleet_rule.check(ctx, collected)))
    findings.sort(key=Finding.sort_key)
    targets = sum(part.targets for part in parts)
    shops = len({shop for part in parts for shop in part.shops})
    harvested = [x for part in parts for x in part.harvested]
    return CheckResult(findings, len(entries), targets, shops, ctx, harvested)


def _prepare(active: Sequence[Rule], ctx: Context) -> None:
    """Each rule's `prepare(ctx)`, once, before the map phase (and before any fork)."""
    for rule in active:
        if types.prepares(rule):
            rule.prepare(ctx)


def _drop_absent(ctx: Context, entries: list[ConfigEntry], pending: dict[str, list[str]],
                 parts: list[_MapResult]) -> list[ConfigEntry]:
    """Forget the candidate configs the map phase found missing; a pattern none of whose
    candidates exists matches no file (a configuration error, as `Fleet.config_entries`)."""
    absent = {rel for part in parts for rel in part.absent}
    for pattern, rels in pending.items():
        if all(rel in absent for rel in rels):
            raise ctx.fleet.no_match(pattern)
    if not absent:
        return entries
    ctx.covered = ctx.covered - absent
    for rel in absent:
        ctx.entries.pop(rel, None)
    return [e for e in entries if e.rel not in absent]


class _MapResult(NamedTuple):
    findings: list[Finding]
    collected: dict[str, list[Any]]
    targets: int
    shops: set[str]
    absent: list[str]  # unchecked candidate configs that turned out not to exist
    harvested: list[Any]


def _map(ctx: Context, shapes: types.Shapes, skip_clean: bool,
         harvest: Harvest | None, summarize: bool = True) -> _MapResult:
    findings: list[Finding] = []
    collected: dict[str, list[Any]] = {}
    # the targets the clean-shape rules must still see (all of them without the shortcut)
    dirty = [t for t in ctx.targets if not clean_shape.is_clean(t, ctx)] if skip_clean \
        else ctx.targets
    for file_rule in shapes.file:
        findings.extend(_stamp(file_rule, (p for f in ctx.files for p in file_rule.check(f, ctx))))
    for target_rule in shapes.target:
        targets = dirty if target_rule.ID in clean_shape.COVERS else ctx.targets
        findings.extend(_stamp(target_rule,
                               (p for t in targets for p in target_rule.check(t, ctx))))
    for fleet_rule in shapes.fleet:
        if types.collects(fleet_rule):
            items = [x for f in ctx.files for x in fleet_rule.collect(f, ctx)]
            # a rule may boil its items down where they were collected (in the worker)
            collected[fleet_rule.ID] = [fleet_rule.summarize(items)] \
                if summarize and types.summarizes(fleet_rule) else items
    shops = {t.shop for t in ctx.targets if t.shop}
    harvested = [x for f in ctx.files for x in harvest(f)] if harvest is not None else []
    return _MapResult(findings, collected, len(ctx.targets), shops, [], harvested)


BATCH_FILES = 256  # configs a worker holds at once (see _map_chunk)


def _map_chunk(template: Context, chunk: Sequence[ConfigEntry], shapes: types.Shapes,
               skip_clean: bool, harvest: Harvest | None) -> _MapResult:
    """Map one chunk of a parallel run with a context of its own: the prepared state is
    shared, but whatever the rules memoise while mapping (`ctx.cache`) stays in the chunk, so
    the chunk run in the parent process leaks nothing into the fleet-wide phase.

    The chunk is mapped `BATCH_FILES` configs at a time, each batch's files released before
    the next is read: a parallel run keeps no file (`CheckResult.context` holds none), so a
    worker's memory stays that of one batch, reused, instead of growing with its share of the
    fleet (fewer page faults: the new memory a process touches costs system time). What the
    fleet rules collect (small records) is kept and boiled down once for the whole chunk."""
    cache = dict(template.cache)
    parts: list[_MapResult] = []
    for start in range(0, len(chunk), BATCH_FILES):
        batch = chunk[start:start + BATCH_FILES]
        ctx = Context(template.fleet, load_files(template.fleet, batch), template.fleet_doc)
        ctx.wrangler_validator = template.wrangler_validator
        ctx._owners = template._owners
        ctx.covered = template.covered
        ctx.cache = cache
        parts.append(_with_absent(_map(ctx, shapes, skip_clean, harvest, summarize=False),
                                  batch, ctx.files))
        for f in ctx.files:  # ConfigFile <-> TargetInfo is a cycle, and the GC is off
            f.targets = []
    collected: dict[str, list[Any]] = {}
    for rule in shapes.fleet:  # the chunk's items, boiled down once (one summary per worker)
        if types.collects(rule):
            items = [x for p in parts for x in p.collected.get(rule.ID, ())]
            collected[rule.ID] = [rule.summarize(items)] if types.summarizes(rule) else items
    return _MapResult(
        [x for p in parts for x in p.findings],
        collected,
        sum(p.targets for p in parts),
        {shop for p in parts for shop in p.shops},
        [rel for p in parts for rel in p.absent],
        [x for p in parts for x in p.harvested])


def _with_absent(result: _MapResult, entries: Sequence[ConfigEntry],
                 files: Sequence[ConfigFile]) -> _MapResult:
    """`result`, noting the entries `load_files` left out (candidates that do not exist)."""
    if len(files) == len(entries):
        return result
    present = {f.rel for f in files}
    return result._replace(absent=[e.rel for e in entries if e.rel not in present])


def _stamp(rule: types.RuleInfo, problems: Iterable[Problem]) -> Iterator[Finding]:
    seen: set[tuple[str, JsonPath, str]] = set()
    for p in problems:
        key = (p.rel, p.json_path, p.message)
        if key in seen:
            continue
        seen.add(key)
        span = p.span
        if span is None:
            if p.source is None:
                span = Span(1, 1, 1, 1)
            elif p.at_key and p.json_path:
                span = p.source.key_span(p.json_path)
            else:
                span = p.source.span(p.json_path)
        yield Finding(rule.ID, rule.SEVERITY, p.rel, span.line, span.col, span.end_line,
                      span.end_col, jsonc.format_json_path(p.json_path), p.message, p.shop)
