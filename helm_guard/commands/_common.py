"""Options and helpers shared by several commands."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from helm_guard.errors import UsageError


def add_fleet_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fleet", metavar="FILE",
                   help="the fleet file (default: helm-fleet.jsonc here or in a parent directory)")


def write_output(text: str, output: str | None) -> None:
    """Print `text`, or write it to `output` atomically (write a temp file, then rename)."""
    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(output)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from exc
