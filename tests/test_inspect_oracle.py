"""`helm-guard inspect` must resolve every config exactly as wrangler's own config reader does.
Warnings may be worded differently; everything else must be equal.

Two oracles: configs made here, resolved by the pinned wrangler of tests/node through
tests/node/wrangler-oracle.mjs (always runs: a fresh clone needs nothing beside it), and the
real-world corpus of the fleet repository (../shared/corpus/real-world/oracle/, produced by
../shared/tools/wrangler-oracle/), which runs only when it is present.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from helm_guard.commands.inspect import inspect_file, redact_vars

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node"
CORPUS = HERE.parents[1] / "shared" / "corpus" / "real-world"
ORACLES = sorted((CORPUS / "oracle").glob("*.json"))
NO_CORPUS = f"real-world corpus not beside this clone ({CORPUS}): generated configs only"

# Configs written here: the example fleet plus what the corpus covered that matters to helm-guard
# (inheritance, derived names, route vs routes, secret-named vars, invalid bindings, duplicate
# keys, comments, a syntax error).
GENERATED: dict[str, str] = {
    "secret-vars": """{
  "name": "api", "main": "src/index.ts",
  "vars": {"NODE_ENV": "production", "PORT": 3000, "BETTER_AUTH_SECRET": "not-a-real-secret-1",
           "GITHUB_CLIENT_SECRET": "not-a-real-secret-2", "EMPTY_SECRET": ""},
}""",
    "env-errors": """// kv ids must be strings with content
{
  "name": "zero-server", "main": "src/main.ts",
  "env": {
    "staging": {"kv_namespaces": [{"binding": "A", "id": "cd3ff4a80734444c98aee76ea9166e3d"}],
                "vars": {"NODE_ENV": "development"}},
    "production": {"kv_namespaces": [{"binding": "A", "id": ""}]},
  },
}""",
    "inheritance": """{
  "name": "helm", "main": "src/index.js", "account_id": "0123456789abcdef0123456789abcdef",
  "routes": ["helm.example/*"],
  "d1_databases": [{"binding": "DB", "database_name": "top-db",
                    "database_id": "1a9e6c1e-0d6a-4c33-9b8e-6b2f3f6f0a01"}],
  "r2_buckets": [{"binding": "B", "bucket_name": "top", "jurisdiction": "eu"}],
  "services": [{"binding": "AUTH", "service": "helm-auth", "entrypoint": "Auth"}],
  "vars": {"A": "1"},
  "env": {
    "acme": {"routes": [{"pattern": "acme.example", "custom_domain": true}]},
    "bravo": {"name": "helm-bravo", "vars": {"B": "2"},
              "d1_databases": [{"binding": "DB", "database_name": "bravo-db",
                                "database_id": "2b0f7d2f-1e7b-4d44-8c9f-7c3a4a7a1b02",
                                "preview_database_id": "2b0f7d2f-1e7b-4d44-8c9f-7c3a4a7a1b99"}]},
    "empty": {},
  },
}""",
    "duplicates": """{
  "name": "helm-acme", "name": "helm-bravo",
  "d1_databases": [{"binding": "DB", "database_id": "aaaa", "database_id": "bbbb",
                    "database_name": "x"}],
  /* block */ "vars": {"A": "1", "A": "2",},
}""",
    "syntax-error": '{"name": "helm-acme", "vars": {"A": 1 "B": 2}}',
}


def _generated_corpus(root: Path) -> list[str]:
    files = root / "files"
    files.mkdir(parents=True)
    rels = []
    examples = sorted((HERE.parent / "examples").rglob("*.jsonc"))
    sources = [(f"example-{p.parent.name}", p.read_text(encoding="utf-8"))
               for p in examples if p.name == "wrangler.jsonc"]
    for name, text in [*sources, *GENERATED.items()]:
        (files / f"{name}.jsonc").write_text(text, encoding="utf-8")
        rels.append(f"files/{name}.jsonc")
    (root / "manifest.json").write_text(json.dumps([{"file": r} for r in rels]), "utf-8")
    return rels


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict]]:
    """The generated configs and what wrangler 4.86.0 itself makes of them."""
    assert shutil.which("node"), "node is required (the oracle is wrangler itself)"
    assert (NODE_DIR / "node_modules" / "wrangler").is_dir(), \
        "wrangler is not installed: run `npm ci --prefix tests/node`"
    root = tmp_path_factory.mktemp("oracle")
    rels = _generated_corpus(root)
    subprocess.run(  # noqa: S603 - fixed argv
        ["node", str(NODE_DIR / "wrangler-oracle.mjs"), "--batch",
         str(root / "manifest.json"), str(root / "oracle")],
        capture_output=True, text=True, check=True, timeout=300,
    )
    oracles = {}
    for rel in rels:
        out = root / "oracle" / (Path(rel).stem + ".json")
        oracles[rel] = json.loads(out.read_text(encoding="utf-8"))
    return root, oracles


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


def test_generated_configs_match_wrangler(generated: tuple[Path, dict[str, dict]],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    root, oracles = generated
    monkeypatch.chdir(root)
    assert len(oracles) == len(GENERATED) + 3
    for rel, expected in oracles.items():
        got = inspect_file(rel)
        assert got["file"] == expected["file"] == rel
        assert _comparable(got) == _comparable(expected), rel
    # the oracle is not trivially empty: errors and targets of each kind were produced
    assert oracles["files/syntax-error.jsonc"]["error"]
    assert any(t["error"] for t in oracles["files/env-errors.jsonc"]["targets"])
    assert len(oracles["files/inheritance.jsonc"]["targets"]) == 4


def test_secret_values_are_redacted(generated: tuple[Path, dict[str, dict]],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    root, oracles = generated
    oracle = oracles["files/secret-vars.jsonc"]
    monkeypatch.chdir(root)
    got = inspect_file(oracle["file"])
    secrets = [v for t in oracle["targets"] for k, v in (t["vars"] or {}).items()
               if k.endswith("SECRET") and v]
    assert len(secrets) == 2
    text = json.dumps(got)
    assert all(s not in text for s in secrets)
    assert "<redacted: a value of a secret-named var" in text


def test_target_errors_name_the_field(generated: tuple[Path, dict[str, dict]]) -> None:
    """Where wrangler refuses a target, our error names the same field path."""
    root, oracles = generated
    oracle = oracles["files/env-errors.jsonc"]
    got = inspect_file(str(root / oracle["file"]))
    bad = [t for t in got["targets"] if t["error"]]
    assert [t["env"] for t in bad] == ["production"]
    assert "env.production.kv_namespaces[0]" in bad[0]["error"]
    theirs = [t for t in oracle["targets"] if t["error"]]
    assert "env.production.kv_namespaces[0]" in theirs[0]["error"]


@pytest.mark.skipif(not ORACLES, reason=NO_CORPUS)
def test_corpus_is_complete() -> None:
    assert len(ORACLES) >= 100, f"expected at least 100 oracle files in {CORPUS / 'oracle'}"


@pytest.mark.skipif(not ORACLES, reason=NO_CORPUS)
@pytest.mark.parametrize("oracle", ORACLES or [None], ids=lambda p: p.stem if p else "absent")
def test_inspect_matches_wrangler_real_world(oracle: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    expected = json.loads(oracle.read_text(encoding="utf-8"))
    monkeypatch.chdir(CORPUS)
    got = inspect_file(expected["file"])
    assert got["file"] == expected["file"]
    assert _comparable(got) == _comparable(expected)
