"""Audit-chain verification (`helm-guard audit-chain`), streaming in id order.

Each row links to the one before it: `prev_chain_hash` must equal the previous row's
`chain_hash` (a **link** break: a row was deleted, inserted or re-hashed). When the fleet file
describes the hash (`audit.chain`, see `helm_guard.recovery.settings`), each row's
`chain_hash` is also recomputed (a **hash** break: a row's content was edited in place). The
first row checked links to its predecessor (read separately with `--from-id`); the table's
very first row has no predecessor and its `prev_chain_hash` is the genesis value, not checked.

Memory is bounded: one page of rows, the previous row, the first break's neighbours, the
current month's archive, and at most `MAX_LISTED` breaks/differences (all are counted).

From the first break on, every row is compared with the monthly archive in the shop's bucket
(`audit.archive_key`, default `audit_archive/{yyyy}-{mm}.jsonl`: one JSON object per line, the
row as it was archived). A row differs when any archived column differs; an archived row the
database no longer has is "missing from the database"; a row newer than the newest archive is
"not archived yet" (counted, not a difference).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from helm_guard.recovery.rows import Row, month_of
from helm_guard.recovery.settings import AuditSettings, ChainSpec

MAX_LISTED = 200
#: archive loader: (yyyy, mm) -> (key, rows by id) or (key, None) when there is no archive
ArchiveLoader = Callable[[str, str], tuple[str, dict[int, Row] | None]]


class Break(NamedTuple):
    id: int
    kind: str  # "link" | "hash"
    expected: str
    found: str


class RowDiff(NamedTuple):
    id: int
    kind: str  # "changed" | "missing from the database"
    fields: tuple[str, ...] = ()


class ChainReport(NamedTuple):
    rows: int
    first_id: int | None
    last_id: int | None
    breaks: list[Break]
    break_count: int
    neighbours: list[Row]  # the first break's row with up to 2 rows before and after
    diffs: list[RowDiff]
    diff_count: int
    archives: list[str]  # archive keys read
    missing_archives: list[str]  # archive keys that do not exist
    unarchived: int  # rows after the first break that no archive covers
    hash_checked: bool
    seconds: float

    @property
    def intact(self) -> bool:
        return self.break_count == 0


def chain_hash(row: Row, spec: ChainSpec) -> str:
    """The hash `spec` describes, of `row` (see `helm_guard.recovery.settings`)."""
    parts = []
    for f in spec.fields:
        v = row.get(f)
        parts.append("" if v is None else str(v))
    return hashlib.new(spec.algorithm, spec.separator.join(parts).encode()).hexdigest()


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def verify(rows: Iterable[Row], s: AuditSettings, *, predecessor: Row | None = None,
           archive: ArchiveLoader | None = None) -> ChainReport:
    """Check every link (and hash) of `rows` (id order); compare from the first break on
    with the archive when `archive` is given."""
    start = time.perf_counter()
    prev = predecessor
    before: deque[Row] = deque(maxlen=2)
    neighbours: list[Row] = []
    after_needed = 0
    breaks: list[Break] = []
    count = n = 0
    first_id = last_id = None
    cmp = _ArchiveCompare(s, archive) if archive is not None else None
    for row in rows:
        n += 1
        rid = row.get(s.id)
        if not isinstance(rid, int):
            raise ValueError(f"a row of {s.table} has no integer {s.id!r}: {rid!r}")
        if first_id is None:
            first_id = rid
        last_id = rid
        found: list[Break] = []
        if prev is not None and _s(row.get(s.prev_hash)) != _s(prev.get(s.hash)):
            found.append(Break(rid, "link", _s(prev.get(s.hash)), _s(row.get(s.prev_hash))))
        if s.chain is not None:
            want = chain_hash(row, s.chain)
            if want != _s(row.get(s.hash)):
                found.append(Break(rid, "hash", want, _s(row.get(s.hash))))
        first = False
        if found:
            count += 1
            if len(breaks) < MAX_LISTED:
                breaks.extend(found)
            if count == 1:
                first = True
                neighbours = [*before, row]
                after_needed = 2
                if cmp is not None:
                    cmp.start(prev.get(s.id) if prev is not None else None)
        if after_needed and not first:
            neighbours.append(row)
            after_needed -= 1
        if cmp is not None:
            cmp.row(row)
        before.append(row)
        prev = row
    if cmp is not None:
        cmp.finish()
    return ChainReport(
        rows=n, first_id=first_id, last_id=last_id, breaks=breaks, break_count=count,
        neighbours=neighbours,
        diffs=cmp.diffs if cmp else [], diff_count=cmp.count if cmp else 0,
        archives=cmp.read if cmp else [], missing_archives=cmp.missing if cmp else [],
        unarchived=cmp.unarchived if cmp else 0, hash_checked=s.chain is not None,
        seconds=time.perf_counter() - start)


class _ArchiveCompare:
    """Row-by-row comparison with the monthly archive, one month in memory at a time."""

    def __init__(self, s: AuditSettings, load: ArchiveLoader) -> None:
        self.s, self.load = s, load
        self.active = False
        self.month: tuple[str, str] | None = None
        self.current: dict[int, Row] | None = None
        self.seen: set[int] = set()
        self.from_id: int | None = None
        self.diffs: list[RowDiff] = []
        self.count = 0
        self.read: list[str] = []
        self.missing: list[str] = []
        self.unarchived = 0

    def start(self, prev_id: Any) -> None:
        """Compare from here on; archived rows after `prev_id` (the last good row) that the
        database lacks are reported missing."""
        self.active = True
        if isinstance(prev_id, int):
            self.from_id = prev_id + 1

    def _diff(self, d: RowDiff) -> None:
        self.count += 1
        if len(self.diffs) < MAX_LISTED:
            self.diffs.append(d)

    def _close_month(self) -> None:
        if self.current is not None and self.from_id is not None:
            for rid in sorted(self.current):
                if rid >= self.from_id and rid not in self.seen:
                    self._diff(RowDiff(rid, "missing from the database"))
        self.current, self.seen = None, set()

    def row(self, row: Row) -> None:
        if not self.active:
            return
        rid = row.get(self.s.id)
        if self.from_id is None and isinstance(rid, int):
            self.from_id = rid
        month = month_of(row.get(self.s.at))
        if month != self.month:
            self._close_month()
            self.month = month
            if month is not None:
                key, rows = self.load(*month)
                (self.read if rows is not None else self.missing).append(key)
                self.current = rows
        if self.current is None or not isinstance(rid, int):
            self.unarchived += 1
            return
        self.seen.add(rid)
        archived = self.current.get(rid)
        if archived is None:
            self.unarchived += 1
            return
        fields = tuple(k for k in archived if _norm(archived[k]) != _norm(row.get(k)))
        if fields:
            self._diff(RowDiff(rid, "changed", fields))

    def finish(self) -> None:
        self._close_month()


def _norm(v: Any) -> str:
    return json.dumps(v, sort_keys=True)


def parse_archive(data: bytes, s: AuditSettings) -> dict[int, Row]:
    """A JSONL archive as rows by id; a line that is not a row object is an error."""
    out: dict[int, Row] = {}
    for n, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"line {n} is not JSON ({exc})") from None
        if not isinstance(row, dict) or not isinstance(row.get(s.id), int):
            raise ValueError(f"line {n} has no integer {s.id!r}")
        out[row[s.id]] = row
    return out
