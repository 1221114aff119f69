"""The per-rule example corpora under `tests/rules/` (the format is described in
`tests/rules/README.md` and CONTRIBUTING.md): each case is the example fleet with some files
replaced or added, checked as a whole, and its findings must be exactly the `expected.txt`
beside it (`path:line:col: ID [fragment of the message]`, one per line)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import NamedTuple

import pytest

from helm_guard import rules
from tests.fleets import EXAMPLE, check

CORPUS = Path(__file__).resolve().parent / "rules"
EXPECTED = "expected.txt"
_LINE = re.compile(r"(?P<path>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<rule>[A-Z]+\d{3})"
                   r"(?: (?P<fragment>.+))?")


class Expected(NamedTuple):
    path: str
    line: int
    col: int
    rule: str
    fragment: str | None


def parse_expected(path: Path) -> list[Expected]:
    """The lines of an `expected.txt` (blank lines and `#` comments are ignored)."""
    out = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        m = _LINE.fullmatch(text)
        assert m, f"{path}:{n}: not `path:line:col: ID [message fragment]`: {raw!r}"
        out.append(Expected(m["path"], int(m["line"]), int(m["col"]), m["rule"], m["fragment"]))
    return out


def cases() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*/*") if p.is_dir())


def materialise(case: Path, dest: Path) -> Path:
    """The example fleet with the case's files laid over it."""
    shutil.copytree(EXAMPLE, dest, dirs_exist_ok=True)
    shutil.copytree(case, dest, dirs_exist_ok=True, symlinks=True,
                    ignore=lambda d, names: [EXPECTED] if Path(d) == case else [])
    return dest


@pytest.mark.parametrize("case", cases(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_rule_example(case: Path, tmp_path: Path) -> None:
    expected = parse_expected(case / EXPECTED)
    findings = check(materialise(case, tmp_path / "fleet")).findings
    actual = sorted(f"{f.path}:{f.line}:{f.col}: {f.rule}" for f in findings)
    wanted = sorted(f"{e.path}:{e.line}:{e.col}: {e.rule}" for e in expected)
    assert actual == wanted, (
        f"{case.relative_to(CORPUS)}: findings differ from {EXPECTED}; the check found:\n"
        + "\n".join(f"{f.path}:{f.line}:{f.col}: {f.rule}  ({f.message})" for f in findings))
    for e in expected:
        if e.fragment is not None:
            messages = [f.message for f in findings
                        if (f.path, f.line, f.col, f.rule) == (e.path, e.line, e.col, e.rule)]
            assert any(e.fragment in m for m in messages), (e, messages)


def test_every_rule_has_bad_and_near_miss_examples() -> None:
    """Each rule folder is `<ID>_<name>` of a registered rule; it holds at least one `bad_*`
    case that the rule reports and one `ok_*` near miss with no finding at all."""
    metas = {m.id: m for m in rules.rule_meta()}
    folders = {p.name: p for p in CORPUS.iterdir() if p.is_dir()}
    for name, folder in folders.items():
        rule_id, _, rule_name = name.partition("_")
        assert rule_id in metas, f"tests/rules/{name}: no rule {rule_id}"
        assert rule_name == metas[rule_id].name, \
            f"tests/rules/{name}: rule {rule_id} is named {metas[rule_id].name!r}"
        kids = [p for p in folder.iterdir() if p.is_dir()]
        assert all(p.name.startswith(("bad_", "ok_")) for p in kids), kids
        for case in kids:
            assert (case / EXPECTED).is_file(), f"{case}: no {EXPECTED}"
            assert any(p.is_file() and p.name != EXPECTED for p in case.rglob("*")) or \
                any(p.is_symlink() for p in case.rglob("*")), f"{case}: no file to lay over"
            found = {e.rule for e in parse_expected(case / EXPECTED)}
            if case.name.startswith("bad_"):
                assert rule_id in found, f"{case}: {EXPECTED} does not expect {rule_id}"
            else:
                assert not found, f"{case}: a near miss must be clean, expects {found}"
        assert any(p.name.startswith("bad_") for p in kids), f"{folder}: no bad_ case"
        assert any(p.name.startswith("ok_") for p in kids), f"{folder}: no ok_ near miss"
    # HG202 needs wrangler's own schema file: tests/test_wrangler_schema.py covers it
    missing = {f"{m.id}_{m.name}" for m in metas.values()} - set(folders) - {
        f"HG202_{metas['HG202'].name}"}
    assert not missing, f"rules without examples under tests/rules/: {sorted(missing)}"
