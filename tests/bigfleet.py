"""Large generated fleets for the tests that must run above the engine's thresholds: the
benchmarks' generator (`benchmarks/fleetgen.py`: comments, trailing commas, staging envs),
plus faults planted among the last shops, where every worker's chunk has some."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import fleetgen


def generate(root: Path, n: int) -> list[str]:
    """A clean fleet of `n` shops at `root`; the slugs, in file order."""
    return list(fleetgen.generate(root, n))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (old, path)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def edit_fleet(root: Path, change: dict[str, object]) -> None:
    """Merge `change` into the top level of the generated fleet file."""
    path = root / "helm-fleet.jsonc"
    data = json.loads(path.read_text(encoding="utf-8").split("\n", 1)[1])
    data.update(change)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def registry(root: Path) -> dict[str, dict[str, object]]:
    data = json.loads((root / "helm-fleet.jsonc").read_text(encoding="utf-8").split("\n", 1)[1])
    shops: dict[str, dict[str, object]] = data["shops"]
    return shops
