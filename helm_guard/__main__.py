from __future__ import annotations

from helm_guard.cli import main

raise SystemExit(main())
