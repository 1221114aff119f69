"""The shape of the package: no import cycle, commands on top, every rule of its shape.

The import graph is read from the source (module-level imports, outside `if TYPE_CHECKING:`;
imports inside functions are deferred, so they cannot form a cycle at import time, but they
still count for the layering rule); every module is also imported alone in a fresh
interpreter, so an import that only works in some order fails here.
"""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

from helm_guard import rules
from helm_guard.rules import types

PACKAGE = Path(__file__).resolve().parents[1] / "helm_guard"

# Library modules allowed to import from `helm_guard.commands` (none: add one only with a
# reason). Commands import libraries, never the reverse.
UPWARD_EXCEPTIONS: set[str] = set()


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or \
        (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path, known: set[str]) -> tuple[set[str], set[str]]:
    """(imported at module level, imported anywhere) among `known` modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top: set[str] = set()
    every: set[str] = set()

    def targets(node: ast.Import | ast.ImportFrom) -> set[str]:
        found = set()
        if isinstance(node, ast.Import):
            bases = [a.name for a in node.names]
            subs: list[str] = []
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            bases = [base]
            subs = [f"{base}.{a.name}" for a in node.names]
        for candidate in [*bases, *subs]:
            if candidate in known:
                found.add(candidate)
        return found

    def visit(nodes: list[ast.stmt], level: bool) -> None:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                hits = targets(node)
                every.update(hits)
                if level:
                    top.update(hits)
            elif isinstance(node, ast.If) and _is_type_checking(node):
                continue
            else:
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.stmt):
                        inner = level and not isinstance(
                            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                        visit([child], inner)
    visit(tree.body, True)
    top.discard(name)
    every.discard(name)
    return top, every


def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    mods = _modules()
    known = set(mods)
    top, every = {}, {}
    for name, path in mods.items():
        top[name], every[name] = _imports(name, path, known)
    return top, every


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            # importing a submodule first imports its package: that edge is implied
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_no_import_cycle_at_module_level() -> None:
    top, _ = _graph()
    # a package's own submodules importing their package `__init__` is how Python works;
    # only cycles through other modules count
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in top.items()}
    assert _cycles(graph) == []


def test_cycle_detection_can_fail() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_commands_import_libraries_never_the_reverse() -> None:
    _, every = _graph()
    upward = sorted(m for m, deps in every.items()
                    if not m.startswith(("helm_guard.commands", "helm_guard.cli"))
                    and any(d.startswith("helm_guard.commands") for d in deps))
    assert set(upward) <= UPWARD_EXCEPTIONS, \
        f"library modules importing from helm_guard.commands: {upward}"


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    names = sorted(n for n in _modules() if n != "helm_guard.__main__")  # runs the CLI
    script = (
        "import importlib, sys\n"
        "bad = []\n"
        "for name in sys.argv[1:]:\n"
        "    for m in [m for m in sys.modules if m == 'helm_guard' or "
        "m.startswith('helm_guard.')]:\n"
        "        del sys.modules[m]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        bad.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "print('\\n'.join(bad))\n"
        "sys.exit(1 if bad else 0)\n")
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    proc = subprocess.run([sys.executable, "-c", script, *names],  # noqa: S603
                          capture_output=True, text=True, check=False, env=env,
                          cwd=PACKAGE.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_rule_module_has_the_members_of_its_shape_and_says_so_for_mypy() -> None:
    shapes = types.by_shape(rules.all_rules())
    protocols = {"file": types.FileRule, "target": types.TargetRule, "fleet": types.FleetRule}
    for name in rules.RULE_MODULES:
        module = importlib.import_module(f"helm_guard.rules.{name}")
        source = (PACKAGE / "rules" / f"{name}.py").read_text(encoding="utf-8")
        members = [m for p in protocols[module.SCOPE].__mro__ if p is not object
                   for m in getattr(p, "__annotations__", {})]
        members += ["check"]
        if hasattr(module, "collect"):
            members.append("collect")
        for member in members:
            assert hasattr(module, member), f"{name} lacks {member}"
        # the module states its shape for mypy (see rules/types.py)
        shape = {"file": "FileRule", "target": "TargetRule"}.get(module.SCOPE) or (
            "SummarizingFleetRule" if hasattr(module, "summarize") else
            "CollectingFleetRule" if hasattr(module, "collect") else "FleetRule")
        assert f"from helm_guard.rules import {name} as _this" in source, name
        assert f"_: {shape} = _this" in source, f"{name} must state `_: {shape} = _this`"
        if hasattr(module, "prepare"):
            assert "_prepares: Prepares = _this" in source, name
    assert len(shapes.file) + len(shapes.target) + len(shapes.fleet) == len(rules.RULE_MODULES)


# Long modules being split or moved by other work right now (remove the entry when done).
LONG_WHILE_REWORKED: set[str] = set()
MAX_LINES = 400


def test_long_modules_say_why() -> None:
    """A module over ~400 lines says why in its docstring ("Why over 400 lines: ...")."""
    silent = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).as_posix()
        text = path.read_text(encoding="utf-8")
        if text.count("\n") <= MAX_LINES or rel in LONG_WHILE_REWORKED:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if "Why over 400 lines:" not in doc:
            silent.append(f"{rel} ({text.count(chr(10))} lines)")
    assert not silent, f"split these modules, or say why they are long: {silent}"


def test_records_are_named_tuples() -> None:
    """One style for records (values that never change): `typing.NamedTuple` (cheap to make,
    which the check's hot path needs, and immutable). A frozen dataclass is the other style,
    so it is refused; a plain `@dataclass` is for mutable run state (an incident being
    written, an emulator's store), never for a record."""
    frozen = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("@dataclass(") and "frozen=True" in line:
                frozen.append(f"{path.relative_to(PACKAGE.parent)}:{n}")
    assert not frozen, f"make these records NamedTuples: {frozen}"
