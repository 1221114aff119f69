"""Cost of verifying wrangler's dependency closure: `python benchmarks/bench_wrangler_tree.py`.

Runs `helm_guard.cloudflare.tree.verify_tree` on an installed tree (default
`tests/node/node_modules`, from `npm ci --prefix tests/node`): the first call in a process
(every file hashed; the page cache is warm after the first round, so this is the CPU cost, not
a cold disk read), then the memoized call (same process: files whose device, inode, size,
mtime and ctime are unchanged are not hashed again). Prints packages, files, bytes, unique
bytes hashed and the median wall time of each over `-n` rounds (each "first" round in a fresh
interpreter, so the memo starts empty).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_ONE = """
import json, os, sys, time
from pathlib import Path
from helm_guard.cloudflare import tree
from helm_guard.cloudflare.sandbox import find_node
root, node = Path(sys.argv[1]).resolve(), find_node()
t0 = time.perf_counter(); got = tree.verify_tree(root, node); t1 = time.perf_counter()
tree.verify_tree(root, node); t2 = time.perf_counter()
unique = sum(int(k[2]) for k in tree._MEMO)
print(json.dumps({"packages": got.packages, "files": got.files, "bytes": got.bytes,
                  "unique_bytes": unique, "first": t1 - t0, "memo": t2 - t1}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node-modules", type=Path, default=ROOT / "tests/node/node_modules")
    parser.add_argument("-n", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for _ in range(args.n):
        out = subprocess.run(  # noqa: S603 - argument list
            [sys.executable, "-c", _ONE, str(args.node_modules / "wrangler")],
            capture_output=True, text=True, check=True, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        rows.append(json.loads(out.stdout))
    r = rows[0]
    print(f"packages {r['packages']}, files {r['files']}, bytes {r['bytes'] / 1e6:.1f} MB "
          f"({r['unique_bytes'] / 1e6:.1f} MB unique inodes hashed)")
    first = [x["first"] for x in rows]
    memo = [x["memo"] for x in rows]
    print(f"first verification in a process: median {statistics.median(first):.3f} s "
          f"(min {min(first):.3f})")
    print(f"memoized (same process):         median {statistics.median(memo):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
