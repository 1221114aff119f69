"""Shared by the deploy tests: parse `helm-guard deploy` arguments, and a fleet repository
(bare origin + clone) with no GitHub actor in the environment."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from helm_guard.commands import deploy
from tests.gitrepos import make_fleet


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    deploy.add_arguments(p)
    return p.parse_args(argv)


@pytest.fixture
def fleet_repo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("GITHUB_ACTOR", raising=False)
    return make_fleet(monkeypatch, tmp_path).a
