"""Helpers the scenarios share: find where to inject a fault in *this* fleet (any layout), edit
config files by JSON path without disturbing anything else, and judge command output.

Faults are located through helm-guard's own parser (positions of values by JSON path), so the
scenarios work on any fleet, not only the example one: "two shops with a D1 binding each" is
looked up, not assumed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from helm_guard import jsonc
from helm_guard.context import TargetInfo, load_files
from helm_guard.drill import Record
from helm_guard.drill.sandbox import CommandRun, Workspace
from helm_guard.fleet import Fleet, load_fleet
from helm_guard.jsonc import JsonPath, Span


class CannotInject(Exception):
    """This fleet offers no place to inject the scenario's fault."""


class Located(NamedTuple):
    """A value in a config file, found by JSON path."""

    shop: str
    rel: str
    path: JsonPath
    value: Any
    line: int

    @property
    def where(self) -> str:
        return f"{self.rel}:{self.line}"


class FleetView:
    """The sandbox fleet as helm-guard parses it: shops, their targets, positions."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.fleet: Fleet = load_fleet(ws.fleet_file)
        self.files = load_files(self.fleet)
        self.targets: list[TargetInfo] = [
            t for f in self.files for t in f.targets
            if t.tenant is not None and t.target.error is None and f.doc is not None
        ]

    def shop_targets(self) -> list[TargetInfo]:
        """Each shop's main (non-stage) target, in file order."""
        seen: set[str] = set()
        out = []
        for t in self.targets:
            if t.tenant is not None and t.tenant.stage is None and t.tenant.shop not in seen:
                seen.add(t.tenant.shop)
                out.append(t)
        return out

    def locate(self, t: TargetInfo, path: JsonPath) -> Located:
        doc = t.file.doc
        assert doc is not None and t.tenant is not None
        value: Any = doc.value
        for part in path:
            value = value[part]
        return Located(t.tenant.shop, t.file.rel, path, value, doc.span(path).line)

    def binding_field(self, t: TargetInfo, kind: str, field: str) -> Located | None:
        """The first `kind` binding of target `t` that has a string `field`."""
        for i, b in t.target.indexed_bindings(kind):
            if isinstance(b.get(field), str):
                return self.locate(t, (*t.target.origin(kind), i, field))
        return None

    def pair(self, kind: str, field: str) -> tuple[Located, Located]:
        """Two different shops' `kind[].field` values, from different files when possible."""
        found = [loc for t in self.shop_targets()
                 if (loc := self.binding_field(t, kind, field)) is not None]
        for a in found:
            for b in found:
                if a.shop != b.shop and a.rel != b.rel:
                    return a, b
        for a in found:
            for b in found:
                if a.shop != b.shop and a.line != b.line:
                    return a, b
        raise CannotInject(f"the fleet has no two shops that each bind {kind}[].{field}")

    def one(self, kind: str, field: str) -> Located:
        for t in self.shop_targets():
            loc = self.binding_field(t, kind, field)
            if loc is not None:
                return loc
        raise CannotInject(f"no shop of the fleet binds {kind}[].{field}")

    def target_of(self, shop: str) -> TargetInfo:
        for t in self.shop_targets():
            if t.tenant is not None and t.tenant.shop == shop:
                return t
        raise CannotInject(f"shop {shop!r} has no deploy target")


# ---------------------------------------------------------------------- editing
def _offset(text: str, line: int, col: int) -> int:
    starts = [0] + [m.end() for m in re.finditer(r"\r\n?|\n", text)]
    return starts[line - 1] + col - 1


def _range(text: str, span: Span) -> tuple[int, int]:
    return _offset(text, span.line, span.col), _offset(text, span.end_line, span.end_col)


class Edit(NamedTuple):
    rel: str
    start: int
    end: int
    text: str


def apply_edits(ws: Workspace, edits: Iterable[Edit]) -> None:
    """Apply text edits (offsets into the file's current text), several per file allowed."""
    by_file: dict[str, list[Edit]] = {}
    for e in edits:
        by_file.setdefault(e.rel, []).append(e)
    for rel, items in by_file.items():
        text = ws.read(rel)
        for e in sorted(items, key=lambda e: e.start, reverse=True):
            text = text[:e.start] + e.text + text[e.end:]
        ws.write(rel, text)


def _doc(ws: Workspace, rel: str) -> jsonc.Document:
    doc = jsonc.parse_text(ws.read(rel), rel)
    if doc.error is not None:
        raise CannotInject(f"{rel} does not parse: {doc.error.message}")
    return doc


def replace_value(ws: Workspace, rel: str, path: JsonPath, value: Any) -> Edit:
    """An edit that replaces the value at `path` with `value` (as JSON)."""
    doc = _doc(ws, rel)
    start, end = _range(doc.text, doc.span(path))
    return Edit(rel, start, end, json.dumps(value, ensure_ascii=False))


def swap(ws: Workspace, a: Located, b: Located) -> None:
    """Swap two located values (same or different files), nothing else changes."""
    apply_edits(ws, [replace_value(ws, a.rel, a.path, b.value),
                     replace_value(ws, b.rel, b.path, a.value)])


def insert_member(ws: Workspace, rel: str, obj_path: JsonPath, key: str, value: Any,
                  *, after: JsonPath | None = None) -> None:
    """Insert `"key": value,` into the object at `obj_path` (first member), or right after the
    member at `after` (its value), in JSONC (trailing commas are fine)."""
    doc = _doc(ws, rel)
    member = f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}"
    if after is not None:
        _, end = _range(doc.text, doc.span(after))
        apply_edits(ws, [Edit(rel, end, end, f", {member}")])
        return
    start, _ = _range(doc.text, doc.span(obj_path))
    if doc.text[start] != "{":
        raise CannotInject(f"{rel}: {jsonc.format_json_path(obj_path)} is not an object")
    apply_edits(ws, [Edit(rel, start + 1, start + 1, f" {member},")])


def delete_member(ws: Workspace, rel: str, path: JsonPath) -> None:
    """Remove the member at `path` (key, value and the comma after it)."""
    doc = _doc(ws, rel)
    start, _ = _range(doc.text, doc.key_span(path))
    _, end = _range(doc.text, doc.span(path))
    m = re.compile(r"\s*,").match(doc.text, end)
    if m:
        end = m.end()
    apply_edits(ws, [Edit(rel, start, end, "")])


# ---------------------------------------------------------------------- judging output
def points_at(output: str, rel: str, line: int) -> bool:
    """Whether output names `rel` at `line` (text `path:line:`, annotations or a table)."""
    candidates = (f"{rel}:{line}:", f"{rel}:{line} ", f"file={rel},line={line}",
                  f"{rel}:{line})", f"`{rel}:{line}`", f"{rel}:{line}\n", f"{rel}:{line}|")
    return any(c in output for c in candidates) or bool(
        re.search(rf"{re.escape(rel)}\W+(?:line\W+)?{line}\b", output))


def expect_blocked(rec: Record, what: str, run: CommandRun,
                   places: Sequence[Located] = (), rule: str | None = None,
                   text: str = "") -> bool:
    """Expect exit 1 and, optionally, the positions, the rule ID and more output text."""
    ok = rec.expect(f"{what} blocks (exit 1)", "exit 1", f"exit {run.exit_code}"
                    + ("" if run.exit_code == 1 else f": {rec.excerpt(run)}"),
                    run.exit_code == 1)
    out = run.output + text
    for p in places:
        ok &= rec.expect(f"{what} points at {p.rel} line {p.line} ({p.shop})",
                         f"output names {p.where}",
                         "named" if points_at(out, p.rel, p.line) else
                         f"not named: {rec.excerpt(run)}",
                         points_at(out, p.rel, p.line))
    if rule:
        # not the test seam's own warning ("rules disabled ...: HG403"): a finding
        reported = any(re.search(rf"\b{rule}\b", ln) and "DISABLE_RULES" not in ln
                       for ln in out.splitlines())
        ok &= rec.expect(f"{what} reports rule {rule}", f"a {rule} finding in the output",
                         "present" if reported else f"absent: {rec.excerpt(run)}", reported)
    return ok


def expect_exit(rec: Record, what: str, run: CommandRun, code: int) -> bool:
    return rec.expect(what, f"exit {code}", f"exit {run.exit_code}"
                      + ("" if run.exit_code == code else f": {rec.excerpt(run)}"),
                      run.exit_code == code)


def gate(ws: Workspace, label: str, base: str | None = None) -> CommandRun:
    """`helm-guard gate` for the range base..HEAD, as the deploy workflow runs it."""
    return ws.helm(label, "gate", "--base", base or ws.start_sha, "--head", ws.head(),
                   *ws.fleet_args())


def commit_fault(ws: Workspace, rec: Record, message: str,
                 places: Sequence[Located], rule: str | None = None) -> None:
    """The developer's path: `git commit` through the pre-commit hook must be refused; then the
    fault is committed anyway (`--no-verify`, as a direct push would) and the gate must block."""
    rec.begin("pre-commit")
    run = ws.commit("git commit (pre-commit hook)", message)
    if ws.sandbox.pre_commit is None:
        rec.expect("the real pre-commit executable is available", "pre-commit on PATH",
                   "not found", False)
    else:
        expect_blocked(rec, "the pre-commit hook (git commit)", run, places, rule)
        head_moved = ws.head() != ws.start_sha
        rec.expect("the refused commit was not created", "HEAD unchanged",
                   "HEAD moved" if head_moved else "HEAD unchanged", not head_moved)
        if run.exit_code != 0:
            rec.timing("detect", run.seconds)
    rec.begin("gate")
    if ws.head() == ws.start_sha:  # refused, as it should be: commit it anyway, as a push would
        forced = ws.commit("git commit --no-verify (hook bypassed)", message, verify=False)
        if forced.exit_code != 0:
            raise RuntimeError(f"could not commit the fault: {rec.excerpt(forced)}")
    run = gate(ws, "helm-guard gate")
    if expect_blocked(rec, "the deploy gate", run, places, rule, ws.github_files()):
        rec.timing("block", run.seconds)
    rec.timing("detect", run.seconds)


def fleet_rel(ws: Workspace) -> str:
    return Path(ws.fleet_file).relative_to(ws.path).as_posix()


# ---------------------------------------------------------------------- gate outputs, digests
def github_outputs(text: str) -> dict[str, str]:
    """Parse a $GITHUB_OUTPUT file (`name=value` and `name<<DELIM` heredocs)."""
    out: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            body: list[str] = []
            i += 1
            while i < len(lines) and lines[i] != delim:
                body.append(lines[i])
                i += 1
            out[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
        i += 1
    return out


def _find_digest(value: Any, shop: str) -> str | None:
    if isinstance(value, dict):
        if value.get("shop") == shop and isinstance(value.get("digest"), str):
            return str(value["digest"])
        items: Iterable[Any] = value.values()
    elif isinstance(value, list):
        items = value
    else:
        return None
    for v in items:
        found = _find_digest(v, shop)
        if found:
            return found
    return None


def gate_digest(ws: Workspace, run: CommandRun, shop: str) -> str | None:
    """The digest the gate planned for `shop`'s main target (from $GITHUB_OUTPUT or stdout)."""
    texts = list(github_outputs(ws.github_files()).values()) + [run.stdout]
    for text in texts:
        try:
            value = json.loads(text)
        except ValueError:
            continue
        found = _find_digest(value, shop)
        if found:
            return found
    return None


def local_digest(ws: Workspace, shop: str) -> str:
    """The digest of `shop`'s main target computed from the checkout (fallback only)."""
    from helm_guard.digest import deploy_digest

    view = FleetView(ws)
    t = view.target_of(shop)
    return deploy_digest(view.fleet, t)


def set_marker_var(ws: Workspace, shop: str, value: str, name: str = "DRILL_MARKER") -> None:
    """Add or change a harmless var of `shop`'s main target (changes its digest, not its
    bindings)."""
    view = FleetView(ws)
    t = view.target_of(shop)
    vars_path = t.target.origin("vars")
    current = t.target.raw.get("vars")
    if isinstance(current, dict) and name in current:
        apply_edits(ws, [replace_value(ws, t.file.rel, (*vars_path, name), value)])
    elif isinstance(current, dict):
        insert_member(ws, t.file.rel, vars_path, name, value)
    else:
        insert_member(ws, t.file.rel, t.target.prefix, "vars", {name: value})


def verify(ws: Workspace, label: str, shop: str, digest: str) -> CommandRun:
    return ws.helm(label, "verify", "--shop", shop, "--digest", digest, *ws.fleet_args())
