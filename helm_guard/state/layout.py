"""Where the state lives: the branch, the refs, the files in it and their format versions.

Branch `helm-guard/state` on the remote (default `origin`) is an orphan branch holding
`halt.json` (schema: `schemas/helm-state.schema.json`), `ledger/<slug>.jsonl` (one
deploy-ledger file per shop) and a README. Every write also fast-forwards
`refs/helm-guard/state-anchor`, a ref outside `refs/heads`, and each clone remembers the last
state it saw in `refs/helm-guard/seen/<remote>` (see `refs`). The branch name is fixed; a
different `state.branch` in the fleet file is not honoured.
"""

from __future__ import annotations

STATE_BRANCH = "helm-guard/state"
STATE_REF = f"refs/heads/{STATE_BRANCH}"
ANCHOR_REF = "refs/helm-guard/state-anchor"
SEEN_REF_PREFIX = "refs/helm-guard/seen/"
STATE_REFS = (STATE_REF, ANCHOR_REF)
HALT_FILE = "halt.json"
LEDGER_DIR = "ledger"
README_FILE = "README.md"
SCHEMA_VERSION = 1
LEDGER_VERSION = 1
EVENT_TRAILER = "Helm-Guard-Event:"

BRANCH_README = f"""# helm-guard state

This branch is helm-guard's halt state (`{HALT_FILE}`) and deploy ledger (`{LEDGER_DIR}/`).
Every commit is an audit record: who halted or resumed what, when, and why.

- Change it only with `helm-guard halt`, `helm-guard resume` and recorded deploys.
- Never delete, rebase or force-push it. Deleting it does **not** lift a halt: deploys stay
  blocked until it is restored from `{ANCHOR_REF}`.
- Never merge it into another branch (it shares no history with them).
"""
