"""Exit codes and the exceptions that map onto them.

| code | meaning |
|---|---|
| 0 | clean: nothing found, the deploy may proceed |
| 1 | blocked: findings, a halt in force, a mismatch |
| 2 | usage or configuration error (bad flags, no fleet file, invalid fleet file) |
| 3 | internal error (a bug in helm-guard; the message says where the log is) |

Commands raise `UsageError` / `Blocked`; only `cli.main` turns exceptions into exit codes, so
no command ever prints a traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_BLOCKED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class HelmGuardError(Exception):
    """An expected failure with a message meant for a person; `exit_code` says how it ends."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  what to do: {self.hint}"
        return self.message


class UsageError(HelmGuardError):
    """Bad command line or configuration (exit 2)."""

    exit_code = EXIT_USAGE


class Blocked(HelmGuardError):
    """The deploy must not proceed (exit 1)."""

    exit_code = EXIT_BLOCKED
