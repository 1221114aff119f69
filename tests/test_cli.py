"""The command line as users meet it: exit codes, messages, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helm_guard.cli import main
from tests.fleets import ACME, ACME_ID, BRAVO, BRAVO_ID, copy_example, edit

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "helm_guard", *args], cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=60, check=False)


def test_example_fleet_checks_clean_from_a_fresh_process() -> None:
    proc = run("check", "--fleet", "examples/fleet/helm-fleet.jsonc")
    assert proc.returncode == 0, proc.stderr
    assert "no findings (3 files, 6 targets, 4 shops checked)" in proc.stdout


def test_finds_fleet_file_upwards(tmp_path: Path) -> None:
    copy_example(tmp_path)
    proc = run("check", cwd=tmp_path / "shops" / "acme")
    assert proc.returncode == 0, proc.stderr


def test_swap_exits_1_with_file_line_col(tmp_path: Path) -> None:
    copy_example(tmp_path)
    edit(tmp_path / ACME, ACME_ID, BRAVO_ID)
    proc = run("check", "--format", "text", cwd=tmp_path)
    assert proc.returncode == 1
    assert f"{ACME}:17:22: HG403" in proc.stdout


def test_paths_narrow_the_report_but_not_the_check(tmp_path: Path) -> None:
    copy_example(tmp_path)
    kv = '"kv_namespaces": [{"binding": "K", "id": "0f2ac74b498b48028cb68387c421e279"}],'
    for shop in (ACME, BRAVO):  # one namespace, two shops, registered to neither
        edit(tmp_path / shop, '"vars": {', kv + ' "vars": {')
    proc = run("check", "shops/bravo/wrangler.jsonc", cwd=tmp_path)
    assert proc.returncode == 1
    assert all(line.startswith("shops/bravo/") for line in proc.stdout.splitlines()[:-1])
    # the fleet-wide rule still saw acme's file
    assert "HG601 KV namespace is also used by shops/acme/wrangler.jsonc" in proc.stdout


def test_no_fleet_file_is_exit_2(tmp_path: Path) -> None:
    proc = run("check", cwd=tmp_path)
    assert proc.returncode == 2
    assert "no helm-fleet.jsonc found" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("content,fragment", [
    ("{", "CloseBraceExpected"),
    ('{"configs": ["shops/*/wrangler.jsonc"], "shops": {"Acme": {"database_id": "x"}}}',
     "$.shops"),
    ('{"configs": ["nothing/*/wrangler.jsonc"], "shops": {}}', "matches no file"),
    ('{"configs": ["a"], "shops": {}, "configs": ["b"]}', "duplicate key"),
])
def test_bad_fleet_file_is_exit_2(tmp_path: Path, content: str, fragment: str) -> None:
    (tmp_path / "helm-fleet.jsonc").write_text(content)
    proc = run("check", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout
    assert fragment in proc.stderr
    assert "Traceback" not in proc.stderr


def test_symlink_outside_the_repository_is_a_finding(tmp_path: Path) -> None:
    fleet = copy_example(tmp_path / "fleet")
    outside = tmp_path / "outside.jsonc"
    outside.write_text((fleet / ACME).read_text())
    (fleet / ACME).unlink()
    os.symlink(outside, fleet / ACME)
    proc = run("check", cwd=fleet)
    assert proc.returncode == 1
    assert "HG103" in proc.stdout and "outside the fleet repository" in proc.stdout


@pytest.mark.parametrize("content,rule", [(b"", "HG101"), (b"\xef\xbb\xbf", "HG101"),
                                          (b"{\"name\": \"\xc3\x28\"}", "HG103"),
                                          (b"\x00\x00\xfe\xff{}", "HG103")])
def test_empty_and_undecodable_files_are_findings(tmp_path: Path, content: bytes,
                                                  rule: str) -> None:
    copy_example(tmp_path)
    (tmp_path / ACME).write_bytes(content)
    proc = run("check", cwd=tmp_path)
    assert proc.returncode == 1
    assert f"{ACME}:1:" in proc.stdout and rule in proc.stdout


def test_json_format_is_machine_readable(tmp_path: Path) -> None:
    copy_example(tmp_path)
    edit(tmp_path / ACME, ACME_ID, BRAVO_ID)
    proc = run("check", "--format", "json", cwd=tmp_path)
    doc = json.loads(proc.stdout)
    assert doc["summary"]["errors"] == len(doc["findings"]) >= 2
    f = next(f for f in doc["findings"] if f["rule"] == "HG403")
    assert f["json_path"] == "$.d1_databases[0].database_id" and f["shop"] == "acme"


def test_internal_error_is_exit_3_without_traceback(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import helm_guard.commands.check as check_cmd

    def boom(**_: object) -> int:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(check_cmd, "check", boom)
    assert main(["check"]) == 3
    err = capsys.readouterr().err
    assert "internal error" in err and "Traceback" not in err


def test_usage_errors_are_exit_2() -> None:
    assert main([]) == 2
    assert main(["check", "--format", "xml"]) == 2
    assert main(["no-such-command"]) == 2


def test_inspect_reports_what_wrangler_uses_for_duplicates(tmp_path: Path) -> None:
    copy_example(tmp_path)
    edit(tmp_path / ACME, f'"database_id": "{ACME_ID}",',
         f'"database_id": "{ACME_ID}", "database_id": "{BRAVO_ID}",')
    proc = run("inspect", str(tmp_path / ACME))
    out = json.loads(proc.stdout)
    assert out["targets"][0]["d1_databases"][0]["database_id"] == BRAVO_ID
    assert any("duplicate key" in w for w in out["targets"][0]["warnings"])


def test_check_does_not_import_git_or_wrangler_modules() -> None:
    code = ("import sys; from helm_guard.cli import main; main(['check', '--fleet', "
            "'examples/fleet/helm-fleet.jsonc']); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('git', 'jsonschema', 'helm_guard') and m.split('.')[-1] in "
            "('git', 'gitio', 'wrangler', 'jsonschema', 'state')))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout


def test_output_to_a_device_writes_in_place_and_never_replaces_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading

    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    proc = run("check", "--fleet", "examples/fleet/helm-fleet.jsonc", "--output", str(fifo))
    reader.join(timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "no findings" in got[0]
    assert fifo.is_fifo()  # not replaced by a regular file


def test_output_file_is_written(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    proc = run("check", "--fleet", "examples/fleet/helm-fleet.jsonc", "--format", "json",
               "--output", str(out))
    assert proc.returncode == 0
    assert json.loads(out.read_text())["findings"] == []
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temp file left


def test_paths_are_relative_to_the_repository(tmp_path: Path) -> None:
    """A fleet in a subfolder of a git repository reports repository-relative paths (what
    GitHub annotations, SARIF and pre-commit users expect)."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    fleet = copy_example(tmp_path / "ops" / "fleet")
    edit(fleet / ACME, ACME_ID, BRAVO_ID)
    proc = run("check", "--fleet", "ops/fleet/helm-fleet.jsonc", cwd=tmp_path)
    assert proc.returncode == 1
    assert f"ops/fleet/{ACME}:17:22: HG403" in proc.stdout
    narrowed = run("check", "--fleet", "ops/fleet/helm-fleet.jsonc", f"ops/fleet/{ACME}",
                   cwd=tmp_path)
    assert narrowed.stdout.splitlines()[0].startswith(f"ops/fleet/{ACME}:")


def test_check_keeps_only_its_latest_result_alive(tmp_path: Path) -> None:
    """`keep_until_exit` spares the process freeing a big check object by object before it
    ends; an in-process caller running check after check holds one result, not all."""
    from helm_guard.commands import _common

    copy_example(tmp_path)
    fleet = str(tmp_path / "helm-fleet.jsonc")
    assert main(["check", "--fleet", fleet, "--output", str(tmp_path / "a.txt")]) == 0
    first = _common._KEPT[0]
    assert main(["check", "--fleet", fleet, "--output", str(tmp_path / "b.txt")]) == 0
    assert len(_common._KEPT) == 1 and _common._KEPT[0] is not first
    assert (tmp_path / "a.txt").read_text() == (tmp_path / "b.txt").read_text()


# --- helm-guard emulator -------------------------------------------------------------------


def _start_emulator(*args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(  # noqa: S603 - argument list
        [sys.executable, "-m", "helm_guard", "emulator", *args], cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    exports: dict[str, str] = {}
    assert proc.stdout is not None
    while len(exports) < 3:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "no output"
        name, _, value = line.strip().removeprefix("export ").partition("=")
        exports[name] = value
    return proc, exports


def _api(exports: dict[str, str], path: str, token: str | None) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(exports["CLOUDFLARE_API_BASE_URL"] + path)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - 127.0.0.1
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_emulator_serves_a_seeded_fleet_until_interrupted() -> None:
    """What an operator rehearses on: the export lines, the fleet's Workers live, a token that is
    required, and Ctrl-C ends it cleanly (exit 0)."""
    import signal

    proc, exports = _start_emulator("--seed-fleet", "--fleet", "examples/fleet/helm-fleet.jsonc")
    try:
        assert set(exports) == {"CLOUDFLARE_API_BASE_URL", "CLOUDFLARE_API_TOKEN",
                                "CLOUDFLARE_ACCOUNT_ID"}
        assert exports["CLOUDFLARE_API_BASE_URL"].startswith("http://127.0.0.1:")
        assert exports["CLOUDFLARE_ACCOUNT_ID"] == "0123456789abcdef0123456789abcdef"
        path = (f"/accounts/{exports['CLOUDFLARE_ACCOUNT_ID']}/workers/scripts/helm-acme"
                "/deployments")
        status, body = _api(exports, path, exports["CLOUDFLARE_API_TOKEN"])
        assert status == 200 and body["success"]
        (deployment,) = body["result"]["deployments"]
        assert deployment["versions"][0]["percentage"] == 100
        status, _ = _api(exports, path, "some-other-token")
        assert status in (401, 403)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "seeded acme: Worker helm-acme" in err
    assert "seeded bravo (staging): Worker helm-bravo-staging" in err
    assert "Traceback" not in err


def test_emulator_port_in_use_is_exit_2() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = run("emulator", "--port", str(port))
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and "--port" in proc.stderr


# --- missing paths, messages ----------------------------------------------------------------

DIGEST = "sha256:" + "0" * 64


@pytest.mark.parametrize("args,fragment", [
    (["check", "nope.jsonc"], "no such file: nope.jsonc"),
    (["check", "--fleet", "nope.jsonc"], "fleet file not found: nope.jsonc"),
    (["check", "--wrangler-schema", "nope.json"], "--wrangler-schema: no such file"),
    (["inspect", "nope.jsonc"], "cannot read nope.jsonc"),
    (["inspect", "shops/acme/wrangler.jsonc", "nope.jsonc"], "cannot read nope.jsonc"),
    (["inspect", "shops"], "cannot read shops"),
    (["gate", "--fleet", "nope.jsonc"], "fleet file not found: nope.jsonc"),
    (["verify", "--shop", "acme", "--digest", DIGEST, "--fleet", "nope.jsonc"],
     "fleet file not found"),
    (["deploy", "--shop", "acme", "--fleet", "nope.jsonc"], "fleet file not found"),
    (["rollback", "--shop", "acme", "--fleet", "nope.jsonc"], "fleet file not found"),
    (["batch", "--plan", "nope.json", "--index", "0"], "cannot read the plan nope.json"),
    (["drill", "--fleet", "nope.jsonc"], "fleet file not found"),
    (["drill", "--report", "no-such-dir/report.json"], "its directory does not exist"),
    (["emulator", "--fleet", "nope.jsonc"], "fleet file not found"),
])
def test_missing_paths_are_exit_2(tmp_path: Path, args: list[str], fragment: str) -> None:
    """README: unreadable input is exit 2 for every command that takes a path."""
    copy_example(tmp_path)
    proc = run(*args, cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert fragment in proc.stderr
    assert "Traceback" not in proc.stderr


def test_inspect_text_without_a_worker_name(tmp_path: Path) -> None:
    (tmp_path / "w.jsonc").write_text('{"main": "x.js", "env": {"a": {"name": "helm-a"}}}')
    proc = run("inspect", "w.jsonc", "--format", "text", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "None" not in proc.stdout
    assert '[top level] worker (none: no "name" in the config)' in proc.stdout
    assert "[env a] worker helm-a" in proc.stdout


def test_root_file_in_the_per_file_layout_is_refused_with_the_fix(tmp_path: Path) -> None:
    """`"configs": ["wrangler.jsonc"]` (default layout shop-per-file) for a root file with an env
    per shop: there is no folder to name the shop; never a finding about shop ''."""
    copy_example(tmp_path)
    fleet = tmp_path / "helm-fleet.jsonc"
    regional = tmp_path / "regional" / "wrangler.jsonc"
    (tmp_path / "wrangler.jsonc").write_text(regional.read_text().replace("../src/", "src/"))
    regional.unlink()
    edit(fleet, '{"glob": "regional/wrangler.jsonc", "layout": "env-per-shop"}', '"wrangler.jsonc"')
    proc = run("check", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout
    assert "shop ''" not in proc.stdout + proc.stderr
    assert "configs entry 'wrangler.jsonc' matches wrangler.jsonc, a file at the fleet root" \
        in proc.stderr
    assert '{"glob": "wrangler.jsonc", "layout": "env-per-shop"}' in proc.stderr
    assert "helm-fleet.jsonc:8:" in proc.stderr  # the entry's position
    # the fix, applied as written, is clean
    edit(fleet, '"wrangler.jsonc"', '{"glob": "wrangler.jsonc", "layout": "env-per-shop"}')
    proc = run("check", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_gate_without_origin_head_names_set_head(tmp_path: Path) -> None:
    from tests.gate_fixtures import git, make_repo

    repo = make_repo(tmp_path)
    git(repo.work, "remote", "set-head", "origin", "--delete")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "GITHUB_")) and k != "HELM_GUARD_DEBUG"}
    proc = subprocess.run([sys.executable, "-m", "helm_guard", "gate"], cwd=repo.work,
                          capture_output=True, text=True, timeout=60, check=False, env=env)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout + proc.stderr
    assert "no base commit to compare with" in out
    assert "`git remote set-head origin --auto`" in out
    git(repo.work, "remote", "set-head", "origin", "--auto")
    proc = subprocess.run([sys.executable, "-m", "helm_guard", "gate"], cwd=repo.work,
                          capture_output=True, text=True, timeout=60, check=False, env=env)
    assert "no base commit" not in proc.stdout + proc.stderr


def test_gate_refusal_while_halted_gives_the_full_resume_command(tmp_path: Path) -> None:
    from tests.gate_fixtures import make_repo

    repo = make_repo(tmp_path)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "GITHUB_")) and k != "HELM_GUARD_DEBUG"}

    def helm(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "helm_guard", *args], cwd=repo.work,
                              capture_output=True, text=True, timeout=60, check=False, env=env)

    assert helm("halt", "--shop", "acme", "--reason", "drill").returncode == 0
    repo.edit(ACME, '"SHOP_SLUG": "acme"', '"SHOP_SLUG": "acme", "X": "1"')
    repo.commit("touch acme")
    proc = helm("gate", "--base", "HEAD~1")
    assert proc.returncode == 1
    text = proc.stdout + proc.stderr
    assert "lift it with `helm-guard resume --shop acme --reason TEXT`" in text


def test_readme_sample_shop_config_checks_clean(tmp_path: Path) -> None:
    """The README's sample per-shop wrangler.jsonc, in a fleet that registers it, is clean."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sample = readme.split("A shop's own file in the `shop-per-file` layout", 1)[1]
    sample = sample.split("```jsonc\n", 1)[1].split("```", 1)[0]
    stage_id = "9f9f9f9f-0000-4000-8000-000000000abc"
    (tmp_path / "shops" / "acme").mkdir(parents=True)
    (tmp_path / "shops" / "acme" / "wrangler.jsonc").write_text(sample.replace("…", stage_id))
    (tmp_path / "helm-fleet.jsonc").write_text(json.dumps({
        "version": 1, "configs": ["shops/*/wrangler.jsonc"],
        "account_id": "0123456789abcdef0123456789abcdef", "stages": ["staging"],
        "shops": {"acme": {"database_id": ACME_ID, "routes": ["acme.shops.example"],
                           "stages": {"staging": {"database_id": stage_id}}}}}))
    proc = run("check", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 targets, 1 shop checked" in proc.stdout
