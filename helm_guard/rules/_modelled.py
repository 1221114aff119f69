"""The allow-list: every wrangler config key helm-guard models, and why each is safe (not a
rule). Deny by default: a key of wrangler 4.86's config that is not listed here is reported by
HG206 (`unmodelled-key`), or by the rule named in `JUDGED_ELSEWHERE` (which refuses it with a
more specific message). A key wrangler does not know at all is HG201's (schema).

To model a new key: write the rule that attributes what it reaches to one tenant, then list
the key here with that rule, and in `clean_shape.PLAIN_KEYS` only if a clean target may carry
it without any covered rule firing.
"""

from __future__ import annotations

from helm_guard.resolve import NON_INHERITABLE

# key -> why it is safe, or which rule judges what it reaches
MODELLED: dict[str, str] = {
    # --- identity and account ---
    "$schema": "an editor hint; wrangler never uploads it",
    "name": "the Worker name: HG301 (the tenant's own), HG601 (one target per name)",
    "account_id": "HG604 (the fleet's pinned account)",
    "env": "each env is resolved as wrangler does (resolve.py) and checked as its own target",
    # --- the Worker's own code and runtime, no other tenant's data ---
    "main": "the Worker's entry module (code reviewed in the fleet repository)",
    "compatibility_date": "runtime behaviour of the Worker itself",
    "compatibility_flags": "runtime behaviour of the Worker itself",
    "workers_dev": "the Worker's own <name>.<account>.workers.dev URL",
    "preview_urls": "the Worker's own preview URLs, derived from its name",
    "triggers": "cron schedules that invoke this Worker only",
    "limits": "CPU / subrequest limits of this Worker only",
    "observability": "this Worker's own logs and traces",
    "logpush": "whether this Worker's logs go to the account's Logpush jobs",
    "placement": "where this Worker runs (Smart Placement)",
    "minify": "bundling of the Worker's own code",
    "keep_names": "bundling of the Worker's own code",
    "upload_source_maps": "source maps of the Worker's own code",
    "send_metrics": "wrangler's own telemetry; nothing is deployed",
    "dev": "wrangler dev only; never deployed",
    # --- routes ---
    "routes": "HG804 (hosts registered to the tenant, no wildcard hosts), HG601, HG702",
    "route": "HG804 (hosts registered to the tenant, no wildcard hosts), HG601, HG702",
    # --- bindings attributed to one tenant ---
    "vars": "HG901 (no secrets), HG801 (no other shop's identity)",
    "secrets": "names of the secrets the Worker requires; values are never in a config",
    "d1_databases": "HG401-HG404 (name, registry id, preview id), HG601",
    "r2_buckets": "HG501, HG502 (the tenant's bucket), HG601",
    "kv_namespaces": "HG503 (ids registered to the tenant or shared), HG601",
    "services": "HG802 (the tenant's Worker or shared.services, exact names)",
    "durable_objects": "HG803 (script_name: the tenant's Worker; else the Worker's own class)",
    "workflows": "HG805 (names registered to the tenant), HG803 (script_name), HG601",
    "queues": "HG805 (producer, consumer and dead-letter queues registered to the tenant), HG601",
    "tail_consumers": "HG803 (the tenant's Worker or shared.services)",
    "streaming_tail_consumers": "HG803 (the tenant's Worker or shared.services)",
    "migrations": "HG806 (Durable Object migrations of the Worker's own classes only)",
    # --- bindings that carry no tenant's data (bindings.HARMLESS_TYPES on the live side) ---
    "version_metadata": "the Worker's own version id and tag",
    "ai": "Workers AI inference: no stored data",
    "analytics_engine_datasets": "write-only telemetry (bindings.py: revisit if that changes)",
    "browser": "a headless browser: no stored data",
    "images": "image transformation: no stored data",
}

# keys refused by a more specific rule than HG206
JUDGED_ELSEWHERE: dict[str, str] = {
    "build": "HG207",  # a custom build runs with the deploy token in its environment
    "unsafe": "HG802",  # raw metadata passed straight to the API
}

# specific advice for some unmodelled keys (HG206's message); the rest get the generic one
ADVICE: dict[str, str] = {
    "previews": "its own D1/R2/KV/service bindings and vars, applied by `wrangler preview "
                "settings update`, are not checked",
    "hyperdrive": "a Hyperdrive config reaches a database helm-guard cannot attribute",
    "dispatch_namespaces": "a dispatch namespace runs other Workers (and its outbound Worker)",
    "unsafe_hello_world": "an experimental binding",
    "alias": "module aliases can swap the Worker's code for other files at bundle time",
    "define": "build-time constants are compiled into the code, unchecked",
    "legacy_env": "service environments change how Worker names resolve",
    "site": "Workers Sites upload a directory into a KV namespace",
    "wasm_modules": "inline modules are read from arbitrary paths",
    "text_blobs": "inline blobs are read from arbitrary paths",
    "data_blobs": "inline blobs are read from arbitrary paths",
    "keep_vars": "vars set in the dashboard survive the deploy, unchecked",
    "assets": "the static assets directory is uploaded as this Worker's, unchecked",
    "secrets_store_secrets": "a secrets-store secret is account-wide",
    "mtls_certificates": "a client certificate is account-wide",
    "containers": "a container image and its Durable Object class",
    "pipelines": "a pipeline is an account-wide stream",
    "logfwdr": "log forwarding to arbitrary destinations",
}

# every key wrangler 4.86 knows (top level and env): the rest is HG201's
INHERITABLE: tuple[str, ...] = (
    "name", "account_id", "compatibility_date", "compatibility_flags", "main",
    "find_additional_modules", "preserve_file_names", "base_dir", "workers_dev", "preview_urls",
    "routes", "route", "tsconfig", "jsx_factory", "jsx_fragment", "migrations", "triggers",
    "limits", "rules", "build", "no_bundle", "minify", "keep_names", "first_party_worker",
    "logfwdr", "logpush", "upload_source_maps", "placement", "assets", "observability", "cache",
    "compliance_region", "python_modules", "previews", "exports", "access",
)
TOP_LEVEL_ONLY: tuple[str, ...] = (
    "$schema", "env", "legacy_env", "send_metrics", "dev", "site", "wasm_modules", "text_blobs",
    "data_blobs", "alias", "keep_vars", "pages_build_output_dir",
)
WRANGLER_KEYS = frozenset(INHERITABLE + NON_INHERITABLE + TOP_LEVEL_ONLY)
MODELLED_KEYS = frozenset(MODELLED)
# keys HG206 reports: known to wrangler, not modelled, not refused by another rule
UNMODELLED_KEYS = WRANGLER_KEYS - MODELLED_KEYS - frozenset(JUDGED_ELSEWHERE)
