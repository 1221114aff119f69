"""Benchmark helm_guard.jsonc against the parse floor: `python benchmarks/bench_parse.py [-n N]`.

Generates N synthetic ~90-line wrangler.jsonc texts in memory (`fleetgen.shops`, the configs of
`bench_check.py`'s fleet: comments, a multi-line block comment, `//` and `/*` inside strings,
trailing commas, an env block in half of them, trailing comment lines), then times, in
interleaved rounds, per file:

* `json.loads` of the pre-stripped text: the floor anchor (see shared/notes/perf.md);
* `parse_text`: our fast path (RapidJSON with a duplicate-key hook, see helm_guard/jsonc.py);
* `_stdlib_value`: the stdlib fast path it falls back to (strip + `json.loads` with hooks);
* `parse_tree`: our positional parser (what positions and errors cost);
* `pyjson5.decode` (JSON5 semantics, no duplicate detection) and `json5.loads` (on a sample),
  if installed.

Prints the median µs/file of each method and the median of per-round ratios to the anchor.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import fleetgen  # noqa: E402

from helm_guard.jsonc import _stdlib_value, _strip, parse_text  # noqa: E402
from helm_guard.jsonc_tree import parse_tree  # noqa: E402


def time_per_file(fn: Callable[[str], object], texts: list[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        fn(text)
    return (time.perf_counter() - start) / len(texts) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="number of files (default 1000)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json5-sample", type=int, default=50)
    args = parser.parse_args()

    texts = [text for *_, text in fleetgen.shops(args.n)]
    stripped = [_strip(t) for t in texts]
    for text in texts[:200]:  # the figures mean nothing if the parsers disagree
        assert parse_text(text).value == parse_tree(text).value == json.loads(_strip(text))
    size = sum(len(t.encode()) for t in texts) / len(texts)
    lines = sum(t.count("\n") for t in texts) / len(texts)
    print(f"{args.n} files, mean {size / 1024:.2f} KiB, {lines:.0f} lines; {args.rounds} rounds")

    methods: dict[str, tuple[Callable[[str], object], list[str]]] = {
        "json.loads(pre-stripped) [anchor]": (json.loads, stripped),
        "jsonc.parse_text (fast path)": (parse_text, texts),
        "jsonc._stdlib_value (stdlib path)": (_stdlib_value, texts),
        "jsonc_tree.parse_tree (positional)": (parse_tree, texts),
    }
    try:
        import pyjson5

        methods["pyjson5.decode"] = (pyjson5.decode, texts)
    except ImportError:
        print("pyjson5 not installed: skipped")
    try:
        import json5

        methods["json5.loads (sample)"] = (json5.loads, texts[: args.json5_sample])
    except ImportError:
        print("json5 not installed: skipped")

    times: dict[str, list[float]] = {name: [] for name in methods}
    ratios: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(args.rounds):
        anchor = 0.0
        for name, (fn, inputs) in methods.items():
            t = time_per_file(fn, inputs)
            anchor = anchor or t
            times[name].append(t)
            ratios[name].append(t / anchor)
    print(f"{'method':<38} {'µs/file':>10} {'x anchor':>9}")
    for name in methods:
        med, ratio = statistics.median(times[name]), statistics.median(ratios[name])
        print(f"{name:<38} {med:>10.1f} {ratio:>9.2f}")
    floor = statistics.median(times["json.loads(pre-stripped) [anchor]"])
    fast = statistics.median(times["jsonc.parse_text (fast path)"])
    print(f"projected for 10,000 files: {fast / 100:.2f} s of parsing (floor {floor / 100:.2f} s)")


if __name__ == "__main__":
    main()
