"""`helm-guard inspect` must resolve every real-world config exactly as wrangler's own config
reader does (../shared/corpus/real-world/oracle/, produced by ../shared/tools/wrangler-oracle/).
Warnings may be worded differently; everything else must be equal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helm_guard.commands.inspect import inspect_file, redact_vars

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "real-world"
ORACLES = sorted((CORPUS / "oracle").glob("*.json"))


def test_corpus_is_present() -> None:
    assert len(ORACLES) >= 100, f"expected the real-world corpus at {CORPUS}"


def _comparable(entry: dict) -> dict:
    out = {"error": entry["error"] is not None, "targets": []}
    for t in entry["targets"]:
        t = dict(t)
        t.pop("warnings", None)
        t.pop("logs", None)
        t.pop("assumed_files", None)
        t["error"] = t["error"] is not None
        if t.get("vars"):
            t["vars"] = redact_vars(t["vars"])  # inspect never prints secret values
        out["targets"].append(t)
    return out


@pytest.mark.parametrize("oracle", ORACLES, ids=lambda p: p.stem)
def test_inspect_matches_wrangler(oracle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = json.loads(oracle.read_text(encoding="utf-8"))
    monkeypatch.chdir(CORPUS)
    got = inspect_file(expected["file"])
    assert got["file"] == expected["file"]
    assert _comparable(got) == _comparable(expected)


def test_secret_values_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    oracle = json.loads((CORPUS / "oracle" / "201.json").read_text(encoding="utf-8"))
    monkeypatch.chdir(CORPUS)
    got = inspect_file(oracle["file"])
    secrets = [v for t in oracle["targets"] for k, v in (t["vars"] or {}).items()
               if k.endswith("SECRET") and v]
    assert secrets
    text = json.dumps(got)
    assert all(s not in text for s in secrets)
    assert "<redacted: a value of a secret-named var" in text


def test_target_errors_name_the_field() -> None:
    """Where wrangler refuses a target, our error names the same field path."""
    oracle = json.loads((CORPUS / "oracle" / "195.json").read_text(encoding="utf-8"))
    got = inspect_file(str(CORPUS / oracle["file"]))
    bad = [t for t in got["targets"] if t["error"]]
    assert len(bad) == 1 and bad[0]["env"] == "production"
    assert "env.production.kv_namespaces[0]" in bad[0]["error"]
