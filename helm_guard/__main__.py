from __future__ import annotations

from helm_guard.cli import console_main

console_main()
