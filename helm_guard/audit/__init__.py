"""The live audit: what runs on Cloudflare against what the registry says (`helm-guard audit`).

For every registered tenant (shop and stage) the audit reads the live deployment, each of its
versions' bindings and the routes and custom domains that reach the tenant's Worker, and judges
them with the one definition of "the tenant's own" that deploy and rollback use
(`truth.py`). Verdicts (`model.py`): DRIFT (a foreign or unmodelled resource; names the other
shop), OUT-OF-BAND (a live deployment the ledger did not record), MISSING (no Worker, or
nothing deployed), UNKNOWN (Cloudflare or the ledger could not be read: blocks, never "in
sync"), UNKNOWN WORKER (a Worker of the account that belongs to no tenant), IN SYNC.

Fleet scale (`engine.py`): the account's Workers are listed once (`modified_on` each), custom
domains once, zones and each zone's routes once; only Workers whose `modified_on` moved since
the cursor (`helm_guard/state/audit_cursor.py`, on the state branch) are re-read (2 requests:
deployments, then each unseen version), version verdicts are cached by version id with the
digest of the expected resources they were judged against, a drift verdict is never served
from the cache. Reads run on a small thread pool behind the client's token bucket; the cursor
is saved as progress is made.

Modules: `model` records, `truth` the one call site of the tenant's-own definition,
`provenance` whether the ledger recorded a deployment, `cursor` the cursor in memory,
`engine` the run, `render` text / JSON / Markdown.
"""
