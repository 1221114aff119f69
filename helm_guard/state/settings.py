"""Where the commands find the state: the fleet repository, the remote, whether it must exist.

Callers compute `must_exist` from the fleet file: a `"state"` section there means "required"
(the gate and `status` do this; `fleet_settings` reads it leniently), and `state.remote` picks
the remote. Once a fleet file has a `"state"` section, callers pass `must_exist=True`, which
closes the gap left by refs that vanished on the remote when read from a fresh CI clone.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NamedTuple

from helm_guard import gitio
from helm_guard.errors import UsageError


def resolve_repo(path: str | Path | None) -> Path:
    """The fleet repository: `path` or the git toplevel of the working directory."""
    try:
        return gitio.toplevel(Path(path) if path else Path.cwd())
    except gitio.GitError as exc:
        raise UsageError(
            f"not a git repository: {path or Path.cwd()} ({exc.detail})",
            hint="run inside the fleet repository, or pass --repo DIR",
        ) from None



def add_location_arguments(parser: argparse.ArgumentParser) -> None:
    """`--repo DIR` and `--remote NAME`, shared by halt, resume and status."""
    parser.add_argument(
        "--repo", metavar="DIR", help="the fleet repository (default: git toplevel of the cwd)"
    )
    parser.add_argument(
        "--remote",
        metavar="NAME",
        help="the git remote that holds the halt state "
        '(default: the fleet file\'s "state.remote", else origin)',
    )


class FleetSettings(NamedTuple):
    """What the fleet file says about the state, read leniently (None/False when unknown)."""

    remote: str | None = None
    must_exist: bool = False
    shops: frozenset[str] | None = None
    note: str | None = None


def fleet_settings(repo: Path) -> FleetSettings:
    """The fleet file's `state` section and shop list, if the fleet file can be read.

    A `state` section means the fleet has opted in to required halt state (`must_exist`), as
    the gate does. Never raises: a halt must work even when the fleet file is the incident, so a
    broken fleet file only yields a note.
    """
    try:
        from helm_guard.fleet import find_fleet_file, load_fleet
    except Exception as exc:  # noqa: BLE001 - halting must not depend on the fleet code
        return FleetSettings(note=f"could not load the fleet code ({exc})")
    try:
        path = find_fleet_file(None, start=repo)
    except Exception:  # noqa: BLE001 - no fleet file: plain git defaults
        return FleetSettings()
    try:
        fleet = load_fleet(path)
    except Exception as exc:  # noqa: BLE001
        return FleetSettings(note=f"could not read {path.name} ({exc})")
    section = fleet.data.get("state")
    remote = section.get("remote") if isinstance(section, dict) else None
    return FleetSettings(
        remote=remote if isinstance(remote, str) and remote else None,
        must_exist=isinstance(section, dict),
        shops=frozenset(fleet.shops),
    )


def pick_remote(explicit: str | None, settings: FleetSettings) -> str:
    """`--remote`, else the fleet file's `state.remote`, else `origin`."""
    return explicit or settings.remote or "origin"

