"""The halt state and deploy ledger against real git: a bare origin and operators' clones."""

from __future__ import annotations

import json
import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from helm_guard import gitio, schemas, state
from helm_guard.errors import Blocked
from helm_guard.state import StateUnreadable
from tests.gitrepos import (
    Fleet,
    git,
    head,
    make_fleet,
    porcelain,
    push_to_state,
    remote_refs,
)


@pytest.fixture
def fleet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Fleet:
    return make_fleet(monkeypatch, tmp_path)


def read(repo: Path, must_exist: bool = False) -> state.HaltState:
    return state.read_state(repo, "origin", must_exist=must_exist)


def unreadable(repo: Path, kind: str, must_exist: bool = False) -> StateUnreadable:
    with pytest.raises(StateUnreadable) as info:
        read(repo, must_exist)
    assert info.value.kind == kind, str(info.value)
    assert isinstance(info.value, Blocked)
    return info.value


# --------------------------------------------------------------------------- basics


def test_new_fleet_is_uninitialised_and_deployable(fleet: Fleet) -> None:
    st = read(fleet.a)
    assert not st.initialised and st.halts == ()
    assert state.check_deploy_allowed(st, "acme").allowed
    err = unreadable(fleet.a, StateUnreadable.STATE_MISSING, must_exist=True)
    assert "helm-guard resume --reason" in err.hint


def test_halt_blocks_and_resume_lifts(fleet: Fleet) -> None:
    before_head, before_status = head(fleet.a), porcelain(fleet.a)
    res = state.halt(fleet.a, "origin", reason="binding swap on acme")
    assert res.changed and res.attempts == 1
    # the user's clone is untouched: same HEAD, clean tree and index, still on main
    assert head(fleet.a) == before_head and porcelain(fleet.a) == before_status == ""
    assert git(fleet.a, "symbolic-ref", "HEAD") == "refs/heads/main"

    st = read(fleet.b)  # the other operator sees it
    assert [h.scope for h in st.active()] == ["fleet"]
    halt = st.halts[0]
    assert halt.by == "Ana <ana@example.invalid>" and halt.reason == "binding swap on acme"
    decision = state.check_deploy_allowed(st, "acme")
    assert not decision.allowed and "blocked" in decision.message()
    with pytest.raises(Blocked):
        decision.raise_if_blocked()
    with pytest.raises(Blocked):
        state.enforce(fleet.b, "origin", "bravo", must_exist=True)

    # branch and anchor both point at the halt commit; the commit is by Ana
    refs = remote_refs(fleet.origin)
    assert refs[state.STATE_REF] == refs[state.ANCHOR_REF] == res.commit
    assert git(fleet.origin, "log", "-1", "--format=%an|%s", state.STATE_REF) == (
        "Ana|halt fleet: binding swap on acme"
    )

    res2 = state.resume(fleet.b, "origin", reason="bindings fixed")
    assert [h.id for h in res2.lifted] == [halt.id]
    st = read(fleet.a)
    assert st.halts == () and state.check_deploy_allowed(st, "acme").allowed
    assert st.last_event is not None and st.last_event.action == "resume"
    assert st.last_event.by == "Bo <bo@example.invalid>"


def test_halt_ignores_git_env_from_hooks(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    # inside a pre-commit hook git exports GIT_INDEX_FILE / GIT_DIR; they must not leak in
    bogus_index = fleet.tmp / "bogus-index"
    monkeypatch.setenv("GIT_INDEX_FILE", str(bogus_index))
    monkeypatch.setenv("GIT_DIR", str(fleet.b / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(fleet.b))
    state.halt(fleet.a, "origin", reason="from a hook")
    assert not bogus_index.exists()
    assert "GIT_INDEX_FILE" not in gitio.clean_env()
    assert gitio.clean_env({"GIT_SSH_COMMAND": "ssh -v", "GIT_DIR": "x"})["GIT_SSH_COMMAND"]
    monkeypatch.delenv("GIT_INDEX_FILE")
    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_WORK_TREE")
    assert porcelain(fleet.a) == "" and porcelain(fleet.b) == ""
    assert read(fleet.b).halts[0].by.startswith("Ana")


def test_shop_halt_blocks_only_that_shop(fleet: Fleet) -> None:
    state.halt(fleet.a, "origin", reason="acme leaks", shops=["acme"])
    st = read(fleet.b)
    assert not state.check_deploy_allowed(st, "acme").allowed
    assert state.check_deploy_allowed(st, "bravo").allowed
    assert st.halts[0].target == "shop acme"


def test_fleet_resume_keeps_shop_halts_and_shop_resume_keeps_fleet(fleet: Fleet) -> None:
    state.halt(fleet.a, "origin", reason="acme leaks", shops=["acme"])
    state.halt(fleet.b, "origin", reason="everything stops")
    res = state.resume(fleet.a, "origin", reason="fleet is fine")
    assert [h.scope for h in res.lifted] == ["fleet"]
    st = read(fleet.b)
    assert [h.target for h in st.active()] == ["shop acme"]
    assert not state.check_deploy_allowed(st, "acme").allowed
    assert state.check_deploy_allowed(st, "bravo").allowed

    state.halt(fleet.b, "origin", reason="again")
    res = state.resume(fleet.a, "origin", reason="acme fixed", shops=["acme"])
    assert [h.target for h in res.lifted] == ["shop acme"]
    st = read(fleet.a)
    assert [h.target for h in st.active()] == ["fleet"]
    assert not state.check_deploy_allowed(st, "acme").allowed

    nothing = state.resume(fleet.a, "origin", reason="again", shops=["bravo"])
    assert not nothing.changed and nothing.lifted == ()


def test_rollback_allowed_while_halted(fleet: Fleet) -> None:
    state.halt(fleet.a, "origin", reason="swap", shops=["acme"])
    st = read(fleet.b)
    decision = state.check_deploy_allowed(st, "acme", "rollback")
    assert decision.allowed and decision.during_halt
    assert "allowed during halt" in decision.message()
    decision.raise_if_blocked()  # no exception
    assert state.enforce(fleet.b, "origin", "acme", must_exist=True, action="rollback").allowed
    with pytest.raises(ValueError):
        state.check_deploy_allowed(st, "acme", "redeploy")


def test_expired_halt_no_longer_blocks_but_stays_visible(fleet: Fleet) -> None:
    t0 = state.utcnow() - timedelta(hours=3)
    state.halt(fleet.a, "origin", reason="short freeze", expires=timedelta(hours=2), now=t0)
    st = read(fleet.b)
    assert st.halts[0].expires == t0 + timedelta(hours=2)
    # an hour in: blocking; after expiry: not blocking, listed as expired
    assert not state.check_deploy_allowed(st, "acme", now=t0 + timedelta(hours=1)).allowed
    assert state.check_deploy_allowed(st, "acme").allowed
    assert st.active() == () and len(st.expired()) == 1
    # a resume clears it, and the history keeps both events
    res = state.resume(fleet.b, "origin", reason="tidy up")
    assert len(res.lifted) == 1 and read(fleet.a).halts == ()
    actions = [e.event.action for e in state.read_history(fleet.a) if e.event]
    assert actions == ["halt", "resume"]


def test_duration_parsing() -> None:
    assert state.parse_duration("90m") == timedelta(minutes=90)
    assert state.parse_duration("2h") == timedelta(hours=2)
    assert state.parse_duration("3d") == timedelta(days=3)
    for bad in ("0h", "2", "2w", "1h30m", "-1h", ""):
        with pytest.raises(state.UsageError):
            state.parse_duration(bad)


# --------------------------------------------------------------------------- fail closed


def test_remote_unreachable(fleet: Fleet) -> None:
    state.halt(fleet.a, "origin", reason="x")
    shutil.rmtree(fleet.origin)
    err = unreadable(fleet.b, StateUnreadable.REMOTE_UNREACHABLE)
    assert "does not appear to be a git repository" in err.message
    assert "git ls-remote origin" in (err.hint or "")
    with pytest.raises(state.StateWriteFailed, match="not recorded"):
        state.halt(fleet.a, "origin", reason="y")
    err = unreadable(fleet.b, StateUnreadable.REMOTE_UNREACHABLE)
    with pytest.raises(StateUnreadable):
        state.read_state(fleet.b, "no-such-remote", must_exist=False)


def test_corrupted_halt_json_blocks(fleet: Fleet) -> None:
    state.halt(fleet.a, "origin", reason="x", shops=["acme"])
    push_to_state(fleet.b, {"halt.json": '{"schema_version": 1, "halts": [}'}, "oops")
    err = unreadable(fleet.a, StateUnreadable.MALFORMED)
    assert "not JSON" in err.message and "git log -p origin/helm-guard/state" in (err.hint or "")
    assert err.commit is not None
    # writers refuse to build on top of it: nothing is silently dropped
    with pytest.raises(StateUnreadable):
        state.halt(fleet.a, "origin", reason="y")
    with pytest.raises(StateUnreadable):
        state.resume(fleet.a, "origin", reason="y")


@pytest.mark.parametrize(
    "doc, detail",
    [
        ({"schema_version": 1}, "lacks halts"),
        ({"schema_version": "1", "halts": []}, "schema_version"),
        ({"schema_version": 1, "halts": [], "extra": 1}, "unknown field extra"),
        ({"schema_version": 1, "halts": [{"id": "h"}]}, "halts[0] lacks"),
        ([], "top level"),
    ],
)
def test_invalid_documents_are_malformed(doc: object, detail: str) -> None:
    with pytest.raises(StateUnreadable) as info:
        state.parse_halt_document(json.dumps(doc).encode())
    assert info.value.kind == StateUnreadable.MALFORMED and detail in info.value.message
    with pytest.raises(StateUnreadable, match="duplicate key"):
        state.parse_halt_document(b'{"schema_version": 1, "halts": [], "halts": []}')


def test_missing_halt_json_blocks(fleet: Fleet) -> None:
    state.halt(fleet.a, "origin", reason="x")
    work = fleet.tmp / "rm"
    git(fleet.tmp, "clone", "--quiet", "--branch", state.STATE_BRANCH, str(fleet.origin), str(work))
    git(work, "rm", "--quiet", "halt.json")
    git(work, "-c", "user.name=X", "-c", "user.email=x@x", "commit", "--quiet", "-m", "rm")
    git(work, "push", "--quiet", "origin", f"HEAD:{state.STATE_REF}")
    err = unreadable(fleet.b, StateUnreadable.MALFORMED)
    assert "missing" in err.message


def test_unknown_schema_version_blocks(fleet: Fleet) -> None:
    state.halt(fleet.a, "origin", reason="x")
    push_to_state(fleet.b, {"halt.json": json.dumps({"schema_version": 2, "halts": []})})
    err = unreadable(fleet.a, StateUnreadable.UNKNOWN_SCHEMA_VERSION)
    assert "schema_version 2" in err.message and "upgrade helm-guard" in (err.hint or "")


def test_deleting_the_state_branch_does_not_lift_a_halt(fleet: Fleet) -> None:
    state.halt(fleet.a, "origin", reason="swap")
    ci = fleet.fresh_clone()
    git(fleet.b, "push", "--quiet", "origin", "--delete", state.STATE_BRANCH)
    # a fresh CI clone with must_exist=False is still blocked, thanks to the anchor
    err = unreadable(ci, StateUnreadable.BRANCH_DELETED)
    assert state.ANCHOR_REF in err.message
    with pytest.raises(StateUnreadable):  # and nobody can write a fresh state over it
        state.halt(ci, "origin", reason="new")
    with pytest.raises(StateUnreadable):
        state.append_ledger(ci, "origin", "acme", {"action": "deploy"})

    # the anchor deleted too: a clone that saw the state still blocks and can restore it ...
    git(fleet.b, "push", "--quiet", "origin", "--delete", state.ANCHOR_REF)
    err = unreadable(fleet.a, StateUnreadable.BRANCH_DELETED)
    # ... a fresh clone blocks when the caller says the state must exist
    unreadable(fleet.fresh_clone(), StateUnreadable.STATE_MISSING, must_exist=True)

    # the repair in the hint works and brings the halt back
    cmd = err.hint.split("`")[1].split()
    assert cmd[:2] == ["git", "push"]
    git(fleet.a, *cmd[1:])
    st = read(ci, must_exist=True)
    assert not state.check_deploy_allowed(st, "acme").allowed


def test_restore_from_anchor_hint(fleet: Fleet) -> None:
    state.halt(fleet.a, "origin", reason="swap")
    git(fleet.b, "push", "--quiet", "origin", "--delete", state.STATE_BRANCH)
    err = unreadable(fleet.fresh_clone(), StateUnreadable.BRANCH_DELETED)
    fetch_cmd, push_cmd = err.hint.split("`")[1].split(" && ")
    git(fleet.b, *fetch_cmd.split()[1:])
    git(fleet.b, *push_cmd.split()[1:])
    assert not state.check_deploy_allowed(read(fleet.fresh_clone()), "acme").allowed


def test_rewritten_branch_blocks(fleet: Fleet) -> None:
    state.halt(fleet.a, "origin", reason="swap")
    # someone recreates the branch without the halt (force push of an unrelated commit)
    tree = git(fleet.b, "mktree", input=b"")
    orphan = git(fleet.b, "commit-tree", tree, "-m", "fresh start")
    git(fleet.b, "push", "--quiet", "--force", "origin", f"{orphan}:{state.STATE_REF}")
    ci = fleet.fresh_clone()
    err = unreadable(ci, StateUnreadable.BRANCH_REWRITTEN)
    assert "force-pushed or recreated" in err.message
    with pytest.raises(StateUnreadable):  # writers refuse too
        state.resume(fleet.a, "origin", reason="sneaky")
    # the repair in the hint brings the halt back
    fetch_cmd, push_cmd = err.hint.split("`")[1].split(" && ")
    git(fleet.b, *fetch_cmd.split()[1:])
    git(fleet.b, *push_cmd.split()[1:])
    assert not state.check_deploy_allowed(read(ci), "acme").allowed


def test_hand_edit_on_top_is_fine_and_anchor_catches_up(fleet: Fleet) -> None:
    state.halt(fleet.a, "origin", reason="x", shops=["acme"])
    doc = json.loads(git(fleet.origin, "show", f"{state.STATE_REF}:halt.json"))
    doc["halts"][0]["reason"] = "x (clarified)"
    push_to_state(fleet.b, {"halt.json": json.dumps(doc)}, "clarify reason")
    st = read(fleet.a)
    assert st.halts[0].reason == "x (clarified)"
    state.halt(fleet.a, "origin", reason="y")
    refs = remote_refs(fleet.origin)
    assert refs[state.STATE_REF] == refs[state.ANCHOR_REF]
    hist = state.read_history(fleet.b)
    assert [e.event.action if e.event else "manual" for e in hist] == ["halt", "manual", "halt"]


def test_written_documents_match_the_json_schema(fleet: Fleet) -> None:
    state.halt(fleet.a, "origin", reason="x", shops=["acme"], expires=timedelta(hours=1))
    state.halt(fleet.b, "origin", reason="y")
    state.append_ledger(fleet.a, "origin", "acme", {"action": "deploy", "version": "v1"})
    doc = json.loads(git(fleet.origin, "show", f"{state.STATE_REF}:halt.json"))
    assert schemas.validate("helm-state", doc) == []
    bad = {**doc, "schema_version": 2}
    assert schemas.validate("helm-state", bad) != []
    line = git(fleet.origin, "show", f"{state.STATE_REF}:ledger/acme.jsonl")
    schema = json.loads((Path(schemas.schema_dir()) / "helm-state.schema.json").read_text())
    ledger_schema = {"$defs": schema["$defs"], "$ref": "#/$defs/ledger_line"}
    import jsonschema_rs

    assert jsonschema_rs.validator_for(ledger_schema).is_valid(json.loads(line))


# --------------------------------------------------------------------------- history


def test_history_lists_every_event_in_order(fleet: Fleet) -> None:
    state.halt(fleet.a, "origin", reason="one")
    state.halt(fleet.b, "origin", reason="two", shops=["acme", "bravo"])
    state.append_ledger(fleet.a, "origin", "acme", {"action": "rollback"})  # not a halt event
    state.resume(fleet.b, "origin", reason="three")
    state.resume(fleet.a, "origin", reason="four", shops=["acme"])
    hist = state.read_history(fleet.a)
    events = [e.event for e in hist]
    assert all(events)
    assert [(e.action, e.reason) for e in events if e] == [
        ("halt", "one"),
        ("halt", "two"),
        ("resume", "three"),
        ("resume", "four"),
    ]
    assert [e.by for e in events if e][:2] == [
        "Ana <ana@example.invalid>",
        "Bo <bo@example.invalid>",
    ]
    assert hist[0].author == "Ana <ana@example.invalid>"


# --------------------------------------------------------------------------- races


def _race(fn_a, fn_b) -> list:
    barrier = threading.Barrier(2)
    results: list = [None, None]
    errors: list[BaseException] = []

    def go(i: int, fn) -> None:  # type: ignore[no-untyped-def]
        try:
            barrier.wait()
            results[i] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i, f)) for i, f in enumerate((fn_a, fn_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    return results


def _replay(history: list[state.HistoryEntry]) -> set[str]:
    """Halt ids in force according to the history alone."""
    ids: set[str] = set()
    for e in history:
        assert e.event is not None
        ids |= set(e.event.halt_ids)
        ids -= set(e.event.lifted_ids)
    return ids


@pytest.mark.slow
def test_concurrent_writers_lose_nothing(fleet: Fleet) -> None:
    start = time.monotonic()
    races = retries = attempts = survived = 0
    for i in range(10):  # two halts at once
        ra, rb = _race(
            lambda i=i: state.halt(fleet.a, "origin", reason=f"a{i}", shops=["acme"]),
            lambda i=i: state.halt(fleet.b, "origin", reason=f"b{i}", shops=["bravo"]),
        )
        races += 1
        retries += ra.retries + rb.retries
        attempts += ra.attempts + rb.attempts
        ids = {h.id for h in read(fleet.a).halts}
        assert ids == set(ra.event.halt_ids) | set(rb.event.halt_ids)
        state.resume(fleet.a, "origin", reason="reset", shops=["acme", "bravo"])
    for i in range(10):  # a halt while a resume is pushed
        state.halt(fleet.b, "origin", reason=f"pre{i}")
        ra, rb = _race(
            lambda i=i: state.halt(fleet.a, "origin", reason=f"during{i}"),
            lambda i=i: state.resume(fleet.b, "origin", reason=f"lift{i}"),
        )
        races += 1
        retries += ra.retries + rb.retries
        attempts += ra.attempts + rb.attempts
        history = state.read_history(fleet.a)
        events = [e.event for e in history]
        assert any(e and e.action == "halt" and e.reason == f"during{i}" for e in events)
        assert any(e and e.action == "resume" and e.reason == f"lift{i}" for e in events)
        new_halt = ra.event.halt_ids[0]
        in_force = {h.id for h in read(fleet.b).halts}
        # the halt survives unless the resume saw it on its first read (and then says so)
        assert (new_halt in in_force) != (new_halt in {h.id for h in rb.lifted})
        assert _replay(history) == in_force
        survived += new_halt in in_force
        if in_force:
            state.resume(fleet.a, "origin", reason="reset")
    elapsed = time.monotonic() - start
    print(
        f"\nrace figures: {races} races, {attempts} push attempts, {retries} retries, "
        f"halt-during-resume survived {survived}/10, {elapsed:.1f}s"
    )
    assert retries > 0  # the race was real
    assert elapsed < 20


# --------------------------------------------------------------------------- ledger


def test_ledger_append_and_read(fleet: Fleet) -> None:
    assert state.read_ledger(fleet.a, "origin", "acme") == []
    res = state.append_ledger(fleet.a, "origin", "acme", {"action": "deploy", "version": "v1"})
    assert res.entry.seq == 1 and res.entry.by == "Ana <ana@example.invalid>"
    # the first ledger record initialised the state: a halt file exists, nothing is halted
    st = read(fleet.b, must_exist=True)
    assert st.initialised and st.halts == ()
    state.halt(fleet.b, "origin", reason="swap", shops=["acme"])
    state.append_ledger(fleet.b, "origin", "acme", {"action": "rollback", "during_halt": True})
    entries = state.read_ledger(fleet.a, "origin", "acme")
    assert [(e.seq, e.record["action"]) for e in entries] == [(1, "deploy"), (2, "rollback")]
    assert state.read_ledger(fleet.a, "origin", "bravo") == []
    assert read(fleet.a).halts[0].shop == "acme"  # the halt is untouched by ledger writes
    with pytest.raises(ValueError):
        state.append_ledger(fleet.a, "origin", "acme", {"x": float("nan")})
    with pytest.raises(state.UsageError):
        state.append_ledger(fleet.a, "origin", "../evil", {})


def test_ledger_recordable_while_halt_json_is_corrupt(fleet: Fleet) -> None:
    state.halt(fleet.a, "origin", reason="x")
    push_to_state(fleet.b, {"halt.json": "garbage"})
    res = state.append_ledger(fleet.a, "origin", "acme", {"action": "rollback"})
    assert res.entry.seq == 1
    unreadable(fleet.a, StateUnreadable.MALFORMED)  # and the state is still blocking


@pytest.mark.slow
def test_concurrent_ledger_appends_lose_nothing(fleet: Fleet) -> None:
    per_writer = 5
    writers = [(fleet.a, "acme"), (fleet.b, "acme"), (fleet.a, "bravo"), (fleet.b, "acme")]
    barrier = threading.Barrier(len(writers))
    errors: list[BaseException] = []

    def write(w: int, repo: Path, shop: str) -> None:
        try:
            barrier.wait()
            for n in range(per_writer):
                state.append_ledger(repo, "origin", shop, {"action": "deploy", "w": w, "n": n})
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w, *x)) for w, x in enumerate(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    acme = state.read_ledger(fleet.a, "origin", "acme")
    bravo = state.read_ledger(fleet.b, "origin", "bravo")
    assert len(acme) == 3 * per_writer and len(bravo) == per_writer
    assert [e.seq for e in acme] == list(range(1, 3 * per_writer + 1))
    got = {(e.record["w"], e.record["n"]) for e in acme + bravo}
    assert got == {(w, n) for w in range(len(writers)) for n in range(per_writer)}


def test_malformed_ledger_line(fleet: Fleet) -> None:
    state.append_ledger(fleet.a, "origin", "acme", {"action": "deploy"})
    line = git(fleet.origin, "show", f"{state.STATE_REF}:ledger/acme.jsonl")
    push_to_state(fleet.b, {"ledger/acme.jsonl": line + "\n{broken\n"})
    with pytest.raises(StateUnreadable, match="line 2"):
        state.read_ledger(fleet.a, "origin", "acme")


# --------------------------------------------------------------------------- CAS edge cases


def test_push_that_landed_but_reported_failure_is_not_repeated(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_push = gitio.push
    calls = []

    def lost_report(repo, remote, updates):  # type: ignore[no-untyped-def]
        calls.append(updates)
        real_push(repo, remote, updates)  # lands on the remote ...
        if len(calls) == 1:  # ... but the first report is lost
            return gitio.PushOutcome(ok=False, contended=True, reasons=("connection reset",))
        return gitio.PushOutcome(ok=True, contended=False)

    monkeypatch.setattr(gitio, "push", lost_report)
    res = state.append_ledger(fleet.a, "origin", "acme", {"action": "deploy"})
    assert len(calls) == 1 and res.entry.seq == 1
    monkeypatch.setattr(gitio, "push", real_push)
    assert len(state.read_ledger(fleet.b, "origin", "acme")) == 1


def test_bounded_attempts(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        gitio,
        "push",
        lambda *a: gitio.PushOutcome(ok=False, contended=True, reasons=("fetch first",)),
    )
    start = time.monotonic()
    with pytest.raises(state.StateWriteFailed, match="gave up after 4 attempts"):
        state.halt(fleet.a, "origin", reason="x", max_attempts=4)
    assert time.monotonic() - start < 5
    monkeypatch.undo()
    assert "helm-guard" not in git(fleet.origin, "for-each-ref")


def test_remote_hook_refusal_is_reported(fleet: Fleet) -> None:
    hook = fleet.origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'state branch is protected' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(state.StateWriteFailed) as info:
        state.halt(fleet.a, "origin", reason="x")
    assert "refused the push" in str(info.value) and "hook declined" in str(info.value)
    assert "push rights" in (info.value.hint or "")
