"""The steps of `helm-guard rollback`; the command itself is `helm_guard.commands.rollback`.

- `session`: `Rollback`, one run: what it knows (the shop, its expected bindings, wrangler) and
  what the steps learn
- `ledger`: the ledger's view of earlier rollbacks (`ledger_state`, `Pending`), the
  `rollback-started` journal entry and the `rollback-failed` note
- `halt`: step 1, halt deploys
- `target`: step 2, choose the target version by correctness, not recency
- `plan`: steps 3 and 4, the side-by-side plan and the confirmation
- `apply`: steps 5 and 6, the rollback request (and changed secrets) and the verification
- `record`: step 7, the incident file and the ledger event, then the next steps
"""
