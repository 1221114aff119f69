"""The one place in helm-guard that runs wrangler.

Why one module: every wrangler invocation is a side effect on production (or a read that a
decision rests on), so all of them go through the same validation, environment, timeout and
error handling. Nothing else in the package may start a wrangler process.

Rules this module enforces:
- nothing from the repository runs with the token, and no repository setting reaches wrangler:
  the pinned package only (verified), an environment built from scratch, a neutral cwd, an
  empty `--env-file`, an explicit absolute `--config` (`helm_guard.cloudflare.sandbox`);
- argument lists only (never a shell, never a shell string); option values are passed as
  `--flag=value`, so a value starting with `-` can never be read as another flag;
- worker names, version ids, percentages and messages are validated *before* any process
  starts; every call passes an explicit `--name`, and `--config`/`--env` when a config is given;
  without a config, wrangler gets an empty config in its private folder, so no stray
  `wrangler.json(c)` above the cwd (whose `account_id` would beat `CLOUDFLARE_ACCOUNT_ID`) is
  ever read;
- `--json` wherever wrangler offers it; output that does not parse is an error;
- non-interactive, always: stdin is /dev/null and `CI=true`, so no prompt can wait;
- `versions upload` runs with `--x-provision=false --x-auto-create=false`: wrangler 4.86
  otherwise looks up and may *create* D1/R2 resources for bindings lacking ids;
- a timeout (default 120 s) kills wrangler's whole process group (`bin/wrangler.js` spawns a
  second node process that holds the pipes);
- failures raise `WranglerError` (a `Blocked`: exit 1) with wrangler's `✘ [ERROR]` text and
  the Cloudflare API error code when there is one.

Environment given to wrangler: built from scratch (`sandbox.wrangler_environment`): PATH to
node and the system, a private HOME, `CLOUDFLARE_API_TOKEN`/`CLOUDFLARE_ACCOUNT_ID`/
`CLOUDFLARE_API_BASE_URL` from the caller or `extra_env` (validated), and `FORCED_ENV`; nothing
else is inherited. Environment values are never logged or put into errors.

Rollback and error 10220 ("The following secrets have changed: A, B"): wrangler 4.86's
`rollback` catches 10220, asks `confirm()`, and retries `POST .../deployments?force=true`. In a
non-interactive run `confirm()` returns its fallback value, `true`, so `wrangler rollback`
in CI *always* forces through changed secrets (there is no flag or environment variable to
make that confirm answer "no"; `--yes` is declared but never read). We must never force
silently, so `rollback(..., force_secrets=False)` does not run `wrangler rollback` at all: it
runs `wrangler versions deploy <id>@100 -y`, which sends the identical deployment request
(same body, no `force`) but has no 10220 handler, so the API's refusal surfaces as a
`WranglerError` with `code == 10220` and `changed_secrets`. Only `force_secrets=True` runs
`wrangler rollback <id>`, which then forces exactly when the API asks.

Why over 400 lines: the one door to wrangler: finding and verifying the pinned package, the
environment built from scratch, and one method per wrangler command with its output parsing;
splitting it would open a second door.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from helm_guard.cloudflare.sandbox import (
    FORCED_ENV,
    WranglerPackage,
    credentials,
    neutral_folder,
    pinned_package,
    wrangler_environment,
)
from helm_guard.errors import Blocked

if TYPE_CHECKING:
    from helm_guard.cloudflare.api import Settings

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 120.0
__all__ = ["FORCED_ENV", "Wrangler", "WranglerError", "WranglerResult", "bindings_of"]

WORKER_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\Z")
VERSION_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
ENV_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{0,64}\Z")
#: wrangler's own rollback prompt says "(120 characters max)"; used for messages and tags.
MAX_MESSAGE_LEN = 120
SECRETS_CHANGED_CODE = 10220

INSTALL_HINT = (
    "install the pinned wrangler: `npm ci --prefix tests/node` (helm-guard's tests) or "
    "`npm install --save-exact --ignore-scripts wrangler@4.86.0` in the fleet root, or set "
    "HELM_GUARD_WRANGLER to the wrangler executable"
)

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_ERROR_LINE_RE = re.compile(r"^\s*(?:✘|X) \[ERROR\] ?(.*)$")
_CODE_RE = re.compile(r"\[code: (\d+)\]")
_VERSION_ID_OUT_RE = re.compile(r"Worker Version ID: ([0-9a-f-]{36})")
_SECRETS_CHANGED_RE = re.compile(r"The following secrets have changed: ([^\[\n]*)")


class WranglerError(Blocked):
    """wrangler could not be run, failed, timed out, or printed something unparseable.

    `code` is the Cloudflare API error code wrangler reported (e.g. 10220), else None.
    `stdout`/`stderr` are wrangler's output (never the environment). For 10220,
    `changed_secrets` lists the secrets the API named.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        stdout: str = "",
        stderr: str = "",
        hint: str | None = None,
        changed_secrets: Sequence[str] = (),
    ) -> None:
        super().__init__(message, hint=hint)
        self.code = code
        self.stdout = stdout
        self.stderr = stderr
        self.changed_secrets = list(changed_secrets)


# ---------------------------------------------------------------------- validation
def validate_worker_name(name: object) -> str:
    """Return `name` if it is a fleet Worker name (`^[a-z0-9][a-z0-9-]{0,62}$`)."""
    if not isinstance(name, str) or not WORKER_NAME_RE.fullmatch(name):
        raise WranglerError(
            f"refusing to run wrangler: invalid Worker name {name!r}",
            hint="Worker names are 1-63 of a-z, 0-9 and '-', starting with a letter or digit",
        )
    return name


def validate_version_id(version_id: object) -> str:
    """Return `version_id` if it is a lowercase UUID, as the Workers API issues them."""
    if not isinstance(version_id, str) or not VERSION_ID_RE.fullmatch(version_id):
        raise WranglerError(
            f"refusing to run wrangler: invalid version id {version_id!r}",
            hint="a version id is a lowercase UUID such as 1a2b3c4d-0000-4000-8000-123456789abc",
        )
    return version_id


def validate_percentage(percentage: object) -> float:
    """Return `percentage` as a float if it is a finite number in (0, 100]."""
    if isinstance(percentage, bool) or not isinstance(percentage, int | float):
        raise WranglerError(f"refusing to run wrangler: percentage {percentage!r} is not a number")
    value = float(percentage)
    if not math.isfinite(value) or not 0 < value <= 100:
        raise WranglerError(
            f"refusing to run wrangler: percentage {percentage!r} must be > 0 and <= 100"
        )
    return round(value, 3)


def validate_message(message: object, what: str = "message") -> str:
    """Return `message` if it is a one-line string of at most MAX_MESSAGE_LEN characters."""
    if not isinstance(message, str):
        raise WranglerError(f"refusing to run wrangler: {what} must be a string")
    if len(message) > MAX_MESSAGE_LEN:
        raise WranglerError(
            f"refusing to run wrangler: {what} is {len(message)} characters "
            f"(at most {MAX_MESSAGE_LEN})"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in message):
        raise WranglerError(f"refusing to run wrangler: {what} contains control characters")
    return message


def _validate_env_name(env: object) -> str:
    if not isinstance(env, str) or not ENV_NAME_RE.fullmatch(env):
        raise WranglerError(f"refusing to run wrangler: invalid environment name {env!r}")
    return env


def _format_pct(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------------- location
def locate_wrangler(
    explicit: str | os.PathLike[str] | None = None,
    *,
    fleet_root: str | os.PathLike[str] | None = None,
) -> Path:
    """Find the wrangler executable: `explicit`, else `$HELM_GUARD_WRANGLER`, else
    `<fleet_root>/node_modules/.bin/wrangler` (fleet_root defaults to the cwd).
    Never falls back to a global wrangler on PATH: its version is unknown."""
    candidates: list[tuple[str, Path]] = []
    if explicit is not None:
        candidates.append(("the path given", Path(explicit)))
    elif os.environ.get("HELM_GUARD_WRANGLER"):
        candidates.append(("HELM_GUARD_WRANGLER", Path(os.environ["HELM_GUARD_WRANGLER"])))
    else:
        root = Path(fleet_root) if fleet_root is not None else Path.cwd()
        candidates.append(("the fleet root", root / "node_modules" / ".bin" / "wrangler"))
    source, path = candidates[0]
    if path.is_file() and os.access(path, os.X_OK):
        return path.resolve()
    raise WranglerError(
        f"wrangler not found: {path} (from {source}) is not an executable file",
        hint=INSTALL_HINT,
    )


# ---------------------------------------------------------------------- output parsing
def strip_ansi(text: str) -> str:
    """Remove terminal colour codes (wrangler colours its errors even into a pipe)."""
    return _ANSI_RE.sub("", text)


def extract_error(stdout: str, stderr: str) -> tuple[str | None, int | None]:
    """Return (wrangler's `✘ [ERROR]` text flattened to one line, API error code or None).

    The error block is the `✘ [ERROR] <title>` line plus its indented notes, up to wrangler's
    "If you think this is a bug" trailer.
    """
    blocks: list[str] = []
    for text in (stderr, stdout):
        lines = strip_ansi(text).splitlines()
        i = 0
        while i < len(lines):
            m = _ERROR_LINE_RE.match(lines[i])
            if m is None:
                i += 1
                continue
            parts = [m.group(1).strip()]
            i += 1
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("  ")):
                note = lines[i].strip()
                if note.startswith("If you think this is a bug"):
                    break
                if note:
                    parts.append(note)
                i += 1
            blocks.append(" ".join(p for p in parts if p))
    if not blocks:
        return None, None
    message = " | ".join(blocks)
    m = _CODE_RE.search(message)
    return message, int(m.group(1)) if m else None


def parse_json_output(stdout: str) -> Any:
    """Parse the JSON document wrangler printed for `--json` (tolerating text around it)."""
    text = strip_ansi(stdout).strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    for m in re.finditer(r"^[\[{]", text, flags=re.MULTILINE):
        try:
            value, _ = decoder.raw_decode(text, m.start())
        except ValueError:
            continue
        return value
    raise ValueError("no JSON document in wrangler's output")


def bindings_of(version: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The bindings of a version (from `versions view --json` / the API), normalized.

    Returns a new list of dicts sorted by name, each with at least `name` and `type`
    (str; `""` when missing). Accepts `resources.bindings` (API shape) or a top-level
    `bindings` list; a version without bindings gives []. Raises WranglerError when the
    shape is not a list of objects, since a guard must not treat garbage as "no bindings".
    """
    resources = version.get("resources")
    raw: Any
    if isinstance(resources, Mapping) and "bindings" in resources:
        raw = resources["bindings"]
    else:
        raw = version.get("bindings", [])
    if raw is None:
        raw = []
    if not isinstance(raw, list) or not all(isinstance(b, Mapping) for b in raw):
        raise WranglerError(
            f"version {version.get('id', '?')}: bindings are not a list of objects: {raw!r:.200}"
        )
    out = []
    for b in raw:
        d = dict(b)
        d["name"] = str(d.get("name", ""))
        d["type"] = str(d.get("type", ""))
        out.append(d)
    return sorted(out, key=lambda d: (d["name"], d["type"]))


# ---------------------------------------------------------------------- runner
class WranglerResult(NamedTuple):
    """What one wrangler run printed, with how long it took."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


class Wrangler:
    """A located, verified wrangler plus the credentials and timeout to run it with.

    `executable`: explicit path (else `$HELM_GUARD_WRANGLER`, else
    `<fleet_root>/node_modules/.bin/wrangler`), located and verified as the pinned package
    (`sandbox.pinned_package`) lazily at the first run (and again before every later run),
    so that argument validation errors come first. `extra_env` may set only
    `CLOUDFLARE_API_TOKEN`, `CLOUDFLARE_ACCOUNT_ID` and `CLOUDFLARE_API_BASE_URL` (over the
    caller's values); everything else wrangler sees is helm-guard's own
    (`sandbox.wrangler_environment`).
    """

    def __init__(
        self,
        executable: str | os.PathLike[str] | None = None,
        *,
        fleet_root: str | os.PathLike[str] | None = None,
        extra_env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not (isinstance(timeout, int | float) and timeout > 0 and math.isfinite(timeout)):
            raise WranglerError(f"invalid wrangler timeout {timeout!r}")
        self._explicit = executable
        self._fleet_root = fleet_root
        self._package: WranglerPackage | None = None
        self._located: tuple[Path, str] | None = None
        self.extra_env: dict[str, str] = dict(extra_env or {})
        self.timeout = float(timeout)

    @property
    def package(self) -> WranglerPackage:
        """The verified wrangler package (located on first use; WranglerError if missing,
        SandboxError if it is not the pinned one)."""
        if self._package is None:
            path = locate_wrangler(self._explicit, fleet_root=self._fleet_root)
            source = (
                "the path given" if self._explicit is not None
                else "HELM_GUARD_WRANGLER" if os.environ.get("HELM_GUARD_WRANGLER")
                else "the fleet root's node_modules"
            )
            self._located = (path, source)
            self._package = pinned_package(path, source=source)
        return self._package

    def _verified_again(self) -> WranglerPackage:
        """The package, verified again right before a run (entry files and the whole
        dependency closure: `sandbox.pinned_package`), so a tree changed between two runs of
        one `Wrangler` is refused too; unchanged files are not hashed twice in one process
        (`tree.verify_tree`'s memo)."""
        if self._package is None or self._located is None:
            return self.package
        path, source = self._located
        self._package = pinned_package(path, source=source)
        return self._package

    @property
    def executable(self) -> Path:
        """wrangler's `bin/wrangler.js` (located and verified on first use)."""
        return self.package.bin_js

    def credentials(self) -> dict[str, str]:
        """The allow-listed Cloudflare settings wrangler gets (contains the token)."""
        return credentials(self.extra_env)

    def api_settings(self) -> Settings:
        """The same settings for `helm_guard.cloudflare.api.Client` (one source for both)."""
        from helm_guard.cloudflare.api import CloudflareError, settings_from_env

        try:
            return settings_from_env(self.credentials())
        except CloudflareError as exc:
            raise WranglerError(exc.message, hint=exc.hint) from None

    def environment(self, folder: Path | None = None) -> dict[str, str]:
        """The environment wrangler runs with in `folder` (contains credentials: never log
        it). Built from scratch; see `helm_guard.cloudflare.sandbox`."""
        node = self.package.node if self._package is not None else None
        if node is None:
            from helm_guard.cloudflare.sandbox import find_node

            node = find_node()
        return wrangler_environment(node, folder or Path("/nonexistent"), self.credentials())

    # -------------------------------------------------------------- process
    def run(
        self,
        args: Sequence[str],
        *,
        timeout: float | None = None,
    ) -> WranglerResult:
        """Run `wrangler <args>` in a fresh neutral folder; return its output, raise
        WranglerError on failure. `--env-file=<empty file>` is always added.

        Low level: callers in helm-guard use the typed methods below, which validate first.
        """
        if any(not isinstance(a, str) for a in args):
            raise WranglerError("refusing to run wrangler: every argument must be a string")
        limit = self.timeout if timeout is None else float(timeout)
        pkg = self._verified_again()
        creds = self.credentials()
        what = "wrangler " + " ".join(a for a in args[:2] if not a.startswith("-"))
        with neutral_folder() as folder:
            argv = (str(pkg.node), str(pkg.bin_js), *args, f"--env-file={folder / 'empty.env'}")
            log.debug("running %s (timeout=%ss)", argv, limit)
            env = wrangler_environment(pkg.node, folder, creds)
            return self._spawn(argv, what, folder, env, limit)

    def _spawn(self, argv: tuple[str, ...], what: str, folder: Path, env: dict[str, str],
               limit: float) -> WranglerResult:
        start = time.monotonic()
        try:
            proc = subprocess.Popen(  # noqa: S603 - argument list, no shell
                argv,
                cwd=folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                start_new_session=True,
            )
        except OSError as exc:
            raise WranglerError(
                f"could not start {argv[0]}: {exc.strerror or exc}", hint=INSTALL_HINT
            ) from exc
        try:
            stdout, stderr = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            stdout, stderr = _kill_group(proc)
            raise WranglerError(
                f"{what} timed out after {limit:g} s and was killed",
                stdout=stdout,
                stderr=stderr,
                hint="the Cloudflare API did not answer in time; nothing is known about whether "
                "the request took effect: check `deployments status` before retrying",
            ) from None
        except BaseException:
            _kill_group(proc)
            raise
        seconds = time.monotonic() - start
        log.debug("%s exited %s after %.2fs", what, proc.returncode, seconds)
        if proc.returncode != 0:
            detail, code = extract_error(stdout, stderr)
            if detail is None:
                tail = strip_ansi(stderr or stdout).strip().splitlines()[-3:]
                detail = " ".join(line.strip() for line in tail) or "no error message"
            secrets: list[str] = []
            if code == SECRETS_CHANGED_CODE:
                m = _SECRETS_CHANGED_RE.search(detail)
                if m:
                    secrets = [s.strip() for s in m.group(1).split(",") if s.strip()]
            raise WranglerError(
                f"{what} failed (exit {proc.returncode}): {detail}",
                code=code,
                stdout=stdout,
                stderr=stderr,
                changed_secrets=secrets,
            )
        return WranglerResult(argv, proc.returncode, stdout, stderr, seconds)

    def _worker_json(
        self,
        args: list[str],
        *,
        name: str,
        config: str | os.PathLike[str] | None,
        env: str | None,
        expect: type,
    ) -> Any:
        """`wrangler <args> --name=<name> --json` for one Worker: its output parsed as JSON of
        type `expect` (WranglerError otherwise). The Worker name is validated first."""
        validate_worker_name(name)
        args = [*args, f"--name={name}", "--json"]
        result = self.run_with_config(args, config=config, env=env)
        try:
            data = parse_json_output(result.stdout)
        except ValueError:
            raise WranglerError(
                f"wrangler {' '.join(args[:2])} printed no parseable JSON",
                stdout=result.stdout,
                stderr=result.stderr,
            ) from None
        if not isinstance(data, expect):
            raise WranglerError(
                f"wrangler {' '.join(args[:2])} printed JSON of type {type(data).__name__}, "
                f"expected {expect.__name__}",
                stdout=result.stdout,
                stderr=result.stderr,
            )
        return data

    def run_with_config(
        self,
        args: Sequence[str],
        *,
        config: str | os.PathLike[str] | None = None,
        env: str | None = None,
    ) -> WranglerResult:
        """Run `wrangler <args>` with an explicit absolute `--config` (and `--env`) when a
        config is given; otherwise with an empty config in wrangler's private folder, so no
        ambient wrangler config (and its `account_id`) is read. A relative `config` is
        refused: wrangler's cwd is never the repository. Low level, like `run`: it validates
        nothing in `args`."""
        if env is not None:
            _validate_env_name(env)
            if config is None:
                raise WranglerError("refusing to run wrangler: --env needs a config file")
        if config is not None:
            cfg = Path(config)
            if not cfg.is_absolute():
                raise WranglerError(f"refusing to run wrangler: config {cfg} is not absolute")
            if not cfg.is_file():
                raise WranglerError(f"wrangler config not found: {cfg}")
            extra = [f"--config={cfg}"] + ([f"--env={env}"] if env is not None else [])
            return self.run([*args, *extra])
        self.package  # noqa: B018 - locate before creating anything
        with tempfile.TemporaryDirectory(prefix="helm-guard-empty-config-") as tmp:
            empty = Path(tmp, "wrangler.json")
            empty.write_text("{}\n", encoding="utf-8")
            return self.run([*args, f"--config={empty}"])

    # -------------------------------------------------------------- commands
    def versions_upload(
        self,
        config: str | os.PathLike[str],
        *,
        name: str,
        env: str | None = None,
        message: str | None = None,
        tag: str | None = None,
    ) -> str:
        """`wrangler versions upload`: upload a new version (deploys nothing); return its id.

        Auto-provisioning is off: a binding without an id fails instead of creating or
        adopting a resource by name."""
        validate_worker_name(name)
        refuse_code_in_config(config, name, env)
        args = ["versions", "upload", f"--name={name}"]
        args += ["--x-provision=false", "--x-auto-create=false"]
        if message is not None:
            args.append(f"--message={validate_message(message)}")
        if tag is not None:
            args.append(f"--tag={validate_message(tag, 'tag')}")
        result = self.run_with_config(args, config=config, env=env)
        m = _VERSION_ID_OUT_RE.search(strip_ansi(result.stdout))
        if m is None or not VERSION_ID_RE.fullmatch(m.group(1)):
            raise WranglerError(
                "wrangler versions upload succeeded but printed no `Worker Version ID: <id>`",
                stdout=result.stdout,
                stderr=result.stderr,
            )
        return m.group(1)

    def versions_view(
        self,
        version_id: str,
        *,
        name: str,
        config: str | os.PathLike[str] | None = None,
        env: str | None = None,
    ) -> dict[str, Any]:
        """`wrangler versions view <id> --json`: the version as the API returns it."""
        validate_version_id(version_id)
        data: dict[str, Any] = self._worker_json(
            ["versions", "view", version_id], name=name, config=config, env=env, expect=dict
        )
        return data

    def versions_list(
        self,
        *,
        name: str,
        config: str | os.PathLike[str] | None = None,
        env: str | None = None,
    ) -> list[dict[str, Any]]:
        """`wrangler versions list --json`: the deployable versions, oldest first."""
        data: list[dict[str, Any]] = self._worker_json(
            ["versions", "list"], name=name, config=config, env=env, expect=list
        )
        return data

    def deployments_list(
        self,
        *,
        name: str,
        config: str | os.PathLike[str] | None = None,
        env: str | None = None,
    ) -> list[dict[str, Any]]:
        """`wrangler deployments list --json`: deployments, oldest first (wrangler sorts)."""
        data: list[dict[str, Any]] = self._worker_json(
            ["deployments", "list"], name=name, config=config, env=env, expect=list
        )
        return data

    def deployments_status(
        self,
        *,
        name: str,
        config: str | os.PathLike[str] | None = None,
        env: str | None = None,
    ) -> dict[str, Any]:
        """`wrangler deployments status --json`: the latest deployment. A Worker without
        deployments is a WranglerError ("The Worker X has no deployments.")."""
        data: dict[str, Any] = self._worker_json(
            ["deployments", "status"], name=name, config=config, env=env, expect=dict
        )
        return data

    def versions_deploy(
        self,
        version_id: str,
        *,
        name: str,
        message: str,
        percentage: float = 100,
        remainder_version_id: str | None = None,
        config: str | os.PathLike[str] | None = None,
        env: str | None = None,
    ) -> None:
        """`wrangler versions deploy <id>@<pct> [<other>@<rest>] -y`: make versions live.

        With percentage < 100, `remainder_version_id` gets the rest (a gradual deploy).
        Never forces: an API refusal (e.g. 10220) is a WranglerError. With a config,
        wrangler also syncs the config's non-versioned settings (logpush, observability,
        tail consumers), as `wrangler versions deploy` always does."""
        validate_version_id(version_id)
        validate_worker_name(name)
        pct = validate_percentage(percentage)
        validate_message(message)
        specs = [f"{version_id}@{_format_pct(pct)}"]
        if pct < 100:
            if remainder_version_id is None:
                raise WranglerError(
                    f"refusing to run wrangler: {_format_pct(pct)}% leaves traffic unassigned; "
                    "pass remainder_version_id"
                )
            validate_version_id(remainder_version_id)
            if remainder_version_id == version_id:
                raise WranglerError("refusing to run wrangler: the two versions are the same")
            specs.append(f"{remainder_version_id}@{_format_pct(round(100 - pct, 3))}")
        elif remainder_version_id is not None:
            raise WranglerError("refusing to run wrangler: 100% leaves nothing for a remainder")
        self.run_with_config(
            ["versions", "deploy", *specs, f"--name={name}", "--yes", f"--message={message}"],
            config=config,
            env=env,
        )

    def rollback(
        self,
        version_id: str,
        *,
        name: str,
        message: str,
        force_secrets: bool = False,
        config: str | os.PathLike[str] | None = None,
        env: str | None = None,
    ) -> None:
        """Make `version_id` live at 100% again.

        `force_secrets=False` (default): runs `wrangler versions deploy <id>@100 -y`, which
        never sends `?force=true`; if secrets changed since the version was created the
        API's 10220 becomes WranglerError(code=10220, changed_secrets=[...]).
        `force_secrets=True`: runs `wrangler rollback <id>`, which on 10220 retries with
        `?force=true` (non-interactive wrangler always confirms). See the module docstring.
        """
        validate_version_id(version_id)
        validate_worker_name(name)
        validate_message(message)
        if not isinstance(force_secrets, bool):
            raise WranglerError("refusing to run wrangler: force_secrets must be a bool")
        if not force_secrets:
            try:
                self.versions_deploy(version_id, name=name, message=message, config=config, env=env)
            except WranglerError as exc:
                if exc.code == SECRETS_CHANGED_CODE:
                    names = ", ".join(exc.changed_secrets) or "(not named)"
                    raise WranglerError(
                        f"rollback of {name} to {version_id} refused: secrets changed since "
                        f"that version was created: {names} [code: {SECRETS_CHANGED_CODE}]",
                        code=SECRETS_CHANGED_CODE,
                        stdout=exc.stdout,
                        stderr=exc.stderr,
                        changed_secrets=exc.changed_secrets,
                        hint="the old code would run with the current secret values; roll back "
                        "anyway only on purpose (force_secrets=True)",
                    ) from None
                raise
            return
        self.run_with_config(
            ["rollback", version_id, f"--name={name}", f"--message={message}", "--yes"],
            config=config,
            env=env,
        )


def refuse_code_in_config(config: str | os.PathLike[str], worker: str | None = None,
                          env: str | None = None) -> None:
    """The door's own refusal (whatever the caller checked): a config with a custom build
    (`build.command` runs through a shell during the upload, with the token) or a cross-Worker
    migration is never handed to wrangler; neither is one helm-guard cannot parse."""
    from helm_guard.jsonc import parse_text
    from helm_guard.preflight import config_refusals

    path = Path(config)
    try:
        doc = parse_text(path.read_bytes(), str(path))
    except FileNotFoundError:
        raise WranglerError(f"wrangler config not found: {path}") from None
    except OSError as exc:
        raise WranglerError(f"wrangler config {path} is unreadable: {exc.strerror or exc}"
                            ) from None
    if doc.error is not None:
        raise WranglerError(f"refusing to run wrangler: {path} does not parse ({doc.error.message}"
                            f" at {doc.error.line}:{doc.error.col})")
    problems = config_refusals(doc.value, str(path), worker, env)
    if problems:
        raise WranglerError("refusing to run wrangler with the Cloudflare token:\n"
                            + "\n".join(f"  - {p}" for p in problems),
                            hint="custom builds run repository code; build in a step without "
                            "credentials and point `main` at the result")


def _kill_group(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Kill wrangler's process group (SIGTERM, then SIGKILL) and collect what it printed."""
    for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            out, err = proc.communicate(timeout=grace)
            return out or "", err or ""
        except subprocess.TimeoutExpired:
            continue
    return "", ""
