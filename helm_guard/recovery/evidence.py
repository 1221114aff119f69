"""Evidence the recovery commands leave in the fleet repository: a section appended to the
incident file (`docs/incidents/<date>-<slug>.md`, written by `rollback`), once per run (a
re-run of the same run id replaces nothing and adds nothing), and data files beside it."""

from __future__ import annotations

from pathlib import Path

from helm_guard.errors import UsageError
from helm_guard.incident import INCIDENT_DIR


def resolve_incident(repo: Path, slug: str, explicit: str | None, *, create: str) -> Path:
    """`--incident FILE` (must exist, inside the repository), else the newest incident file
    of the shop, else a new `docs/incidents/<create>` (created by `append`)."""
    if explicit:
        path = Path(explicit)
        if not path.is_absolute():
            path = (Path.cwd() / path)
        path = path.resolve()
        if not path.is_file():
            raise UsageError(f"incident file not found: {explicit}",
                             hint="pass the docs/incidents/<date>-<slug>.md the rollback wrote")
        return path
    folder = repo / INCIDENT_DIR
    found = sorted(folder.glob(f"*-{slug}.md")) + sorted(folder.glob(f"*-{slug}-[0-9]*.md"))
    found = [p for p in found if p.is_file()]
    if found:
        return max(found, key=lambda p: (p.stat().st_mtime, p.name))
    return folder / create


def append(path: Path, marker: str, section: str, *, title: str) -> bool:
    """Append `section` unless `marker` is already in the file; create the file with `title`
    if needed. Atomic rename. Returns whether anything was written."""
    old = path.read_text(encoding="utf-8") if path.exists() else f"# {title}\n"
    if marker in old:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(old.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n", encoding="utf-8")
    tmp.replace(path)
    return True


def rel(repo: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        return str(path)
