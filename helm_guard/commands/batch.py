"""`helm-guard batch --plan FILE --index N`: one batch of the gate's deploy plan as a matrix.

Validates the whole plan (nothing in it is trusted: it travelled as a workflow artifact), then
prints batch N's matrix (`{"include": [...]}`, at most 256 entries) and writes it to
`$GITHUB_OUTPUT` as `matrix` (plus `count`, the number of entries), for a deploy job's
`strategy.matrix: ${{ fromJSON(needs.<job>.outputs.matrix) }}`.
"""

from __future__ import annotations

import argparse
import sys

from helm_guard.errors import EXIT_OK, UsageError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plan", required=True, metavar="FILE",
                   help="the plan written by `helm-guard gate --plan FILE`")
    p.add_argument("--index", required=True, metavar="N",
                   help="which batch (0-based; the gate's `batches` output lists them)")


def run(args: argparse.Namespace) -> int:
    from helm_guard import plan as plans

    if not args.index.isdigit() or len(args.index) > 6:
        raise UsageError(f"--index must be a batch number (0, 1, ...), got {args.index!r}")
    index = int(args.index)
    plan = plans.load_plan(args.plan)
    count = plans.batch_count(plan)
    if index >= count:
        raise UsageError(f"--index {index} is out of range: the plan has "
                         f"{count} batch{'es' if count != 1 else ''} (0..{count - 1})"
                         if count else f"--index {index}: the plan has no entries")
    matrix = plans.batch_matrix(plan, index)
    text = plans.compact(matrix)
    plans.append_github_file("GITHUB_OUTPUT", plans.format_outputs(
        {"matrix": text, "count": str(len(matrix["include"])), "commit": plan["commit"]}))
    sys.stdout.write(text + "\n")
    return EXIT_OK
