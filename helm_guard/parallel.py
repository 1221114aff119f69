"""Forked maps: the one place helm-guard runs work in several processes.

`forked_map(task, count)` runs `task(0)` in this process and `task(1)` … `task(count - 1)` in
forked children, each of which sends its result back pickled through a pipe and ends with
`os._exit` (nothing to tear down). Forking (rather than a spawned pool) lets a child start from
the parent's memory: the fleet, the owner index and compiled schemas are built once, and the
task is a plain closure. A child that fails or dies fails the map (`WorkerFailed`: an internal
error, so the deploy stays blocked); if this process fails, its children are killed and
reaped.

Isolation: whatever `task(0)` changes in this process stays visible to the caller, while a
child's changes vanish with it. Tasks must therefore keep their state in objects of their
own (the check gives every chunk a fresh `Context` and a copy of the prepared cache): a run
must give the same answer whichever chunk ran where (`tests/test_parallel.py`).
"""

from __future__ import annotations

import os
import pickle
import signal
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - an item

MAX_WORKERS = 8


class WorkerFailed(RuntimeError):
    """A forked worker raised, died, or sent no result."""


def can_fork() -> bool:
    return hasattr(os, "fork")


def worker_count() -> int:
    """How many processes a forked map uses here (1: run serially)."""
    return min(os.cpu_count() or 1, MAX_WORKERS) if can_fork() else 1


def deal(items: Sequence[I], n: int) -> list[list[I]]:
    """`items` dealt round-robin into `n` chunks (neighbours land in different chunks)."""
    return [list(items[i::n]) for i in range(n)]


def forked_map(task: Callable[[int], T], count: int) -> list[T]:
    """`[task(0), …, task(count - 1)]`, index 0 run here and the others in forked children."""
    if count > 1 and not can_fork():
        raise RuntimeError("forked_map needs os.fork")
    children: list[tuple[int, int]] = []
    try:
        for index in range(1, count):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: never returns
                os.close(read_end)
                _child_main(task, index, write_end)
            os.close(write_end)
            children.append((pid, read_end))
        results = [task(0)]
        while children:
            pid, read_end = children.pop(0)
            results.append(_collect(pid, read_end))
        return results
    finally:
        for pid, read_end in children:  # only after a failure here
            try:
                os.close(read_end)
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass


def _child_main(task: Callable[[int], object], index: int, write_end: int) -> NoReturn:
    code = 0
    try:
        try:
            payload = pickle.dumps(("ok", task(index)), pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails
            code = 1
            payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
    finally:
        os._exit(code)


def _collect(pid: int, read_end: int) -> Any:
    with os.fdopen(read_end, "rb") as inp:
        payload = inp.read()
    _, status = os.waitpid(pid, 0)
    try:
        kind, value = pickle.loads(payload)  # noqa: S301 - our own child's result
    except Exception:  # noqa: BLE001 - a child that died mid-write sent a torn pickle
        kind, value = "error", f"no result (exit status {status})"
    if kind != "ok" or status != 0:
        raise WorkerFailed(f"a worker process failed: {value}")
    return value
