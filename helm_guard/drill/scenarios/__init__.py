"""The drill's scenarios, in the order they run. Each module defines NAME, TITLE, HYPOTHESIS,
FAULT, FRESH (True: it changes the sandbox remote or Cloudflare state, so it gets a workspace
of its own) and `run(ws, rec)`, which injects the fault, runs the real commands and records
expectations (see `helm_guard.drill.Record`)."""

from __future__ import annotations

from types import ModuleType

from helm_guard.drill.scenarios import (
    s01_d1_name_swap,
    s02_d1_id_swap,
    s03_r2_bucket_swap,
    s04_duplicate_key_swap,
    s05_env_lost_d1,
    s06_rebind_trailer,
    s07_secret_in_vars,
    s08_halted_deploy,
    s09_edit_after_gate,
    s10_live_swap_incident,
    s11_build_command_swap,
    s12_out_of_band_swap,
    s13_audit_chain_broken,
    s14_data_loss_restore,
    s15_stripe_secret_missing,
    s16_leaked_session,
)

SCENARIOS: tuple[ModuleType, ...] = (
    s01_d1_name_swap,
    s02_d1_id_swap,
    s03_r2_bucket_swap,
    s04_duplicate_key_swap,
    s05_env_lost_d1,
    s06_rebind_trailer,
    s07_secret_in_vars,
    s08_halted_deploy,
    s09_edit_after_gate,
    s10_live_swap_incident,
    s11_build_command_swap,
    s12_out_of_band_swap,
    s13_audit_chain_broken,
    s14_data_loss_restore,
    s15_stripe_secret_missing,
    s16_leaked_session,
)

BY_NAME: dict[str, ModuleType] = {m.NAME: m for m in SCENARIOS}
