"""Time for the halt state: UTC now, timestamps, `--expires` durations, durations for people.

Times are UTC, taken from the writer's clock. `--expires 2h` (m/h/d) sets `expires` on a halt.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from helm_guard.errors import UsageError

_DURATION_RE = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def utcnow() -> datetime:
    """Now, UTC, whole seconds."""
    return datetime.now(UTC).replace(microsecond=0)


def format_time(moment: datetime) -> str:
    """`2026-08-22T10:15:00Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_when(moment: datetime) -> str:
    """`2026-08-22 10:15 UTC`, for people."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def parse_time(value: object, where: str) -> datetime:
    """A stored timestamp (with a time zone) as UTC; ValueError says what is wrong and where."""
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a UTC timestamp string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{where} is not a timestamp: {value!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{where} has no time zone: {value!r}")
    return moment.astimezone(UTC)


def parse_duration(text: str) -> timedelta:
    """`30m`, `2h`, `3d` -> timedelta; anything else is a UsageError."""
    match = _DURATION_RE.match(text)
    if not match or int(match.group(1)) == 0:
        raise UsageError(
            f"--expires {text!r} is not a duration",
            hint="use a whole number of minutes, hours or days: 30m, 2h, 3d",
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def human_delta(delta: timedelta) -> str:
    """`2h`, `1h20m`, `3d4h`, `45s` for a positive duration."""
    secs = int(abs(delta.total_seconds()))
    days, rest = divmod(secs, 86400)
    hours, rest = divmod(rest, 3600)
    mins, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{mins}m" if mins else f"{hours}h"
    return f"{mins}m" if mins else f"{secs}s"
