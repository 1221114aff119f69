"""After the rollback: audit both shops' data, verify the audit chain, restore safely.

The libraries behind `helm-guard data-audit`, `audit-chain` and `restore` (the commands in
`helm_guard.commands` only parse arguments). Every database and bucket is addressed by the
registry's identity (`settings.shop_data`), never by a binding resolved from a config.

- `settings`: the shop's database (registry id) and bucket (naming template); the fleet
  file's `"audit"` block (table, columns, chain-hash recipe, archive key, backup prefix)
- `rows`: `audit_events` in id order, page by page (bounded memory)
- `chain`: link + hash verification, the first break's neighbours, archive differences
- `audit_chain`: the audit-chain steps (also used by restore's verification)
- `window`: the swap window from the incident file or the command line
- `data_audit`: the data-audit steps and verdict
- `backup`: SQL backups: check by loading privately, the drop-and-reload procedure
- `restore`: the restore steps (undo point first, typed confirmation, verify, record)
- `evidence`: sections appended to the incident file, files beside it
- `seed`: a demo chained audit log for tests, drills and the benchmark (emulator only)
"""
