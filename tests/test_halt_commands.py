"""`helm-guard halt | resume | status` through `helm_guard.cli.main`, against real git."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from helm_guard import state
from helm_guard.cli import main
from tests.gitrepos import Fleet, git, head, make_fleet, porcelain, push_to_state


@pytest.fixture
def fleet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Fleet:
    return make_fleet(monkeypatch, tmp_path)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def status_json(capsys: pytest.CaptureFixture[str], repo: Path) -> tuple[int, dict]:
    code, out, _ = cli(capsys, "status", "--repo", str(repo), "--format", "json")
    return code, json.loads(out)


def test_halt_status_resume_round_trip(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    before = head(fleet.a)
    code, out, err = cli(capsys, "halt", "--repo", str(fleet.a), "--reason", "binding swap")
    assert code == 0, err
    assert out.startswith("halted fleet (every shop): recorded on origin helm-guard/state")
    assert "by Ana <ana@example.invalid>, until resumed" in out
    assert "reason: binding swap" in out and "in force now (1):" in out
    assert "helm-guard resume --reason TEXT" in out
    assert head(fleet.a) == before and porcelain(fleet.a) == ""

    code, doc = status_json(capsys, fleet.b)
    assert code == 0 and doc["readable"] and doc["initialised"]
    assert [h["scope"] for h in doc["halts"]] == ["fleet"] and doc["halts"][0]["active"]
    assert doc["active"] == [doc["halts"][0]["id"]]

    code, out, _ = cli(capsys, "status", "--repo", str(fleet.b))
    assert code == 0
    assert "halted (1):" in out and "fleet" in out and "binding swap" in out
    assert "history (1 events, oldest first):" in out

    code, out, err = cli(capsys, "resume", "--repo", str(fleet.b), "--reason", "fixed")
    assert code == 0, err
    assert "lifted fleet halt by Ana <ana@example.invalid>" in out
    assert "nothing is halted now: deploys may proceed" in out
    assert head(fleet.b) == git(fleet.b, "rev-parse", "origin/main") and porcelain(fleet.b) == ""


def test_shop_halts_and_fleet_resume(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(
        capsys,
        "halt",
        "--repo",
        str(fleet.a),
        "--reason",
        "acme leaks",
        "--shop",
        "acme",
        "--shop",
        "bravo",
        "--expires",
        "2h",
    )
    assert code == 0
    assert out.startswith("halted shop acme, bravo:")
    assert "expires " in out and "in force now (2):" in out
    assert "helm-guard resume --shop acme --shop bravo --reason TEXT" in out
    cli(capsys, "halt", "--repo", str(fleet.b), "--reason", "all stop")

    code, out, _ = cli(capsys, "resume", "--repo", str(fleet.b), "--reason", "fleet ok")
    assert code == 0
    assert "lifted fleet halt" in out and "still in force (2):" in out
    assert "shop halts stay until lifted" in out

    code, out, _ = cli(capsys, "resume", "--repo", str(fleet.b), "--reason", "again")
    assert code == 0 and "nothing to lift: the fleet has no halt of its own" in out

    cli(capsys, "halt", "--repo", str(fleet.a), "--reason", "all stop again")
    code, out, _ = cli(
        capsys, "resume", "--repo", str(fleet.a), "--reason", "acme ok", "--shop", "acme"
    )
    assert code == 0 and "lifted shop acme halt" in out
    assert "shop acme stays blocked by the fleet halt" in out


def test_history_in_json_shows_every_event_in_order(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = [
        (fleet.a, "halt", "one", []),
        (fleet.b, "halt", "two", ["--shop", "acme"]),
        (fleet.a, "resume", "three", []),
        (fleet.b, "resume", "four", ["--shop", "acme"]),
        (fleet.a, "halt", "five", ["--shop", "bravo", "--expires", "30m"]),
    ]
    for repo, cmd, reason, extra in steps:
        assert cli(capsys, cmd, "--repo", str(repo), "--reason", reason, *extra)[0] == 0
    code, doc = status_json(capsys, fleet.a)
    assert code == 0
    hist = doc["history"]
    assert [(e["action"], e["reason"]) for e in hist] == [
        ("halt", "one"),
        ("halt", "two"),
        ("resume", "three"),
        ("resume", "four"),
        ("halt", "five"),
    ]
    assert [e["by"].split()[0] for e in hist] == ["Ana", "Bo", "Ana", "Bo", "Ana"]
    assert hist[1]["scope"] == "shop" and hist[1]["shops"] == ["acme"]
    assert hist[2]["lifted_ids"] == hist[0]["halt_ids"]
    assert hist[4]["expires"] is not None
    assert all(len(e["commit"]) == 40 for e in hist)
    assert [h["shop"] for h in doc["halts"]] == ["bravo"]


def test_expired_halt_in_status(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    past = state.utcnow() - timedelta(hours=5)
    state.halt(fleet.a, "origin", reason="freeze", expires=timedelta(hours=1), now=past)
    code, out, _ = cli(capsys, "status", "--repo", str(fleet.b))
    assert code == 0
    assert "halted: nothing; deploys may proceed" in out
    assert "expired, no longer blocking (1)" in out and "EXPIRED 4h ago" in out
    code, doc = status_json(capsys, fleet.b)
    assert doc["active"] == [] and doc["halts"][0]["expired"] is True
    code, out, _ = cli(capsys, "resume", "--repo", str(fleet.b), "--reason", "clear")
    assert code == 0 and "(had expired)" in out


def test_status_of_a_new_fleet(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "status", "--repo", str(fleet.a))
    assert code == 0 and "never initialised" in out
    code, doc = status_json(capsys, fleet.a)
    assert doc["readable"] and not doc["initialised"] and doc["history"] == []
    # resume on a new fleet initialises the state without halting anything
    code, out, _ = cli(capsys, "resume", "--repo", str(fleet.a), "--reason", "initialise")
    assert code == 0 and out.startswith("initialised halt state on origin")
    st = state.read_state(fleet.b, "origin", must_exist=True)
    assert st.initialised and st.halts == ()


def test_usage_errors_exit_2(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "halt", "--repo", str(fleet.a))[0] == 2  # --reason is required
    code, _, err = cli(capsys, "halt", "--repo", str(fleet.a), "--reason", "x", "--expires", "2w")
    assert code == 2 and "30m, 2h, 3d" in err
    code, _, err = cli(capsys, "halt", "--repo", str(fleet.a), "--reason", " ")
    assert code == 2 and "must not be empty" in err
    code, _, err = cli(capsys, "halt", "--repo", str(fleet.a), "--reason", "x", "--shop", "acmee")
    assert code == 2 and "unknown shop acmee" in err and "acme, bravo" in err
    code, _, err = cli(capsys, "halt", "--repo", str(fleet.a), "--reason", "x", "--shop", "A/B")
    assert code == 2 and "not a shop slug" in err
    code, _, err = cli(capsys, "status", "--repo", str(fleet.tmp))
    assert code == 2 and "not a git repository" in err and "--repo DIR" in err
    # nothing was written by any of these
    assert "helm-guard/state" not in git(fleet.origin, "for-each-ref")


def test_no_identity_is_a_usage_error(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    git(fleet.a, "config", "--unset", "user.name")
    git(fleet.a, "config", "--unset", "user.email")
    git(fleet.a, "config", "user.useConfigOnly", "true")
    code, _, err = cli(capsys, "halt", "--repo", str(fleet.a), "--reason", "x")
    assert code == 2 and "git config --global user.name" in err


def test_unreachable_remote_blocks(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    cli(capsys, "halt", "--repo", str(fleet.a), "--reason", "x")
    shutil.rmtree(fleet.origin)
    code, out, _ = cli(capsys, "status", "--repo", str(fleet.b))
    assert code == 1
    assert "UNREADABLE (remote-unreachable)" in out and "every deploy is blocked" in out
    assert "git ls-remote origin" in out
    code, doc = status_json(capsys, fleet.b)
    assert code == 1 and not doc["readable"]
    assert doc["error"]["kind"] == "remote-unreachable"
    code, _, err = cli(capsys, "halt", "--repo", str(fleet.a), "--reason", "y")
    assert code == 1 and "was not recorded" in err and "what to do:" in err


def test_corrupt_state_status_and_refused_halt(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "halt", "--repo", str(fleet.a), "--reason", "x")
    push_to_state(fleet.b, {"halt.json": "{"}, "broke it")
    code, doc = status_json(capsys, fleet.a)
    assert code == 1 and doc["error"]["kind"] == "malformed"
    assert [e["action"] for e in doc["history"]] == ["halt", "manual"]  # who broke it
    assert doc["history"][1]["reason"] == "broke it"
    code, _, err = cli(capsys, "halt", "--repo", str(fleet.a), "--reason", "y")
    assert code == 1 and "the halt was NOT recorded" in err and "git log -p" in err
    code, _, err = cli(capsys, "resume", "--repo", str(fleet.a), "--reason", "y")
    assert code == 1 and "nothing was resumed" in err


def test_deleted_branch_still_blocks_in_status(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "halt", "--repo", str(fleet.a), "--reason", "x")
    git(fleet.b, "push", "--quiet", "origin", "--delete", state.STATE_BRANCH)
    code, out, _ = cli(capsys, "status", "--repo", str(fleet.fresh_clone()))
    assert code == 1 and "UNREADABLE (branch-deleted)" in out
    assert "git push origin FETCH_HEAD:refs/heads/helm-guard/state" in out


def test_default_repo_is_the_cwd_toplevel(
    fleet: Fleet, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fleet.a / "shops" / "acme")
    code, out, _ = cli(capsys, "halt", "--reason", "from a subdirectory", "--shop", "acme")
    assert code == 0 and "halted shop acme" in out
    assert porcelain(fleet.a) == ""


def test_other_remote_name(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    git(fleet.a, "remote", "add", "fleet", str(fleet.origin))
    code, out, _ = cli(capsys, "halt", "--repo", str(fleet.a), "--remote", "fleet", "--reason", "x")
    assert code == 0 and "recorded on fleet helm-guard/state" in out
    code, _, err = cli(capsys, "status", "--repo", str(fleet.a), "--remote", "nope")
    assert code == 1


def test_fleet_file_state_section(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    git(fleet.a, "remote", "add", "fleet", str(fleet.origin))
    path = fleet.a / "helm-fleet.jsonc"
    text = path.read_text()
    path.write_text(text.replace('"stages": [', '"state": {"remote": "fleet"},\n  "stages": ['))
    # the state section makes the state required: status blocks like the gate would
    code, doc = status_json(capsys, fleet.a)
    assert code == 1 and doc["must_exist"] and doc["error"]["kind"] == "state-missing"
    assert doc["remote"] == "fleet"
    # halt defaults to the fleet file's remote, and initialises the state
    code, out, _ = cli(capsys, "halt", "--repo", str(fleet.a), "--reason", "x")
    assert code == 0 and "recorded on fleet helm-guard/state" in out
    code, doc = status_json(capsys, fleet.a)
    assert code == 0 and len(doc["active"]) == 1


def test_broken_fleet_file_does_not_stop_a_halt(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    (fleet.a / "helm-fleet.jsonc").write_text("{ this is not json")
    code, out, err = cli(capsys, "halt", "--repo", str(fleet.a), "--reason", "x", "--shop", "acme")
    assert code == 0 and "halted shop acme" in out
    assert "shop names not checked" in err
