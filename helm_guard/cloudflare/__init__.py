"""The one door to Cloudflare.

- `wrangler.py`: the only module that runs wrangler (uploads, deploys, rollbacks): argument
  lists, explicit `--config`/`--name`/`--env`, a timeout, errors that block.
- `api.py`: the only module that talks to the Cloudflare API directly, through the official
  `cloudflare` Python SDK (reads: versions, deployments, scripts, secrets; D1 and R2). It costs
  ~0.5 s to import, so only the commands that need it import it (`check` never does).

Both honour `CLOUDFLARE_API_BASE_URL` (wrangler's own variable), so one setting points wrangler
and the SDK at the local emulator (`helm_guard.emulator`).
"""
