#!/usr/bin/env node
// Oracle: resolve every deploy target of a wrangler config with WRANGLER'S OWN reader.
// (A copy of the fleet repo's shared tools/wrangler-oracle/resolve.mjs, kept here so that the
// tests can build their own oracle with the pinned wrangler of tests/node: see
// tests/test_inspect_oracle.py.)
//
//   node resolve.mjs <config-path>                 -> JSON on stdout
//   node resolve.mjs --batch <manifest.json> <outdir>
//        manifest: JSON list (or {"files": [...]}) of entries with "file" (path relative
//        to the manifest's directory); writes <outdir>/<basename-without-ext>.json.
//        In batch mode the process chdir()s to the manifest's directory so wrangler's
//        diagnostics name files as "files/NNN.jsonc" (deterministic across machines).
//
// Wrangler API used (wrangler 4.x, package "wrangler", CJS main wrangler-dist/cli.js):
//   experimental_readRawConfig({config})            -> {rawConfig}   (parse only; throws on parse error)
//   unstable_readConfig({config, env}, {hideWarnings:false})  -> Config (= internal readConfig used
//        by the CLI: experimental_readRawConfig + normalizeAndValidateConfig; throws UserError when
//        diagnostics have errors; prints diagnostics warnings through wrangler's logger -> console.warn)
//
// Offline: http/https/net/tls/fetch are stubbed to throw before wrangler is loaded (wrangler's only
// network path here is the npm "update-check" it runs when a config has unexpected fields).
// Wrangler location: $WRANGLER_DIR, else ./node_modules/wrangler next to this script, else
// ./node_modules/wrangler in the current directory.

import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import util from "node:util";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

// ---------- hard offline guard (installed before wrangler is required) ----------
const netBlocked = [];
function blocker(name) {
  return function () {
    netBlocked.push(name);
    throw new Error(`network disabled by resolve.mjs oracle (${name})`);
  };
}
for (const mod of ["http", "https"]) {
  const m = require(mod);
  m.request = blocker(`${mod}.request`);
  m.get = blocker(`${mod}.get`);
}
{
  const net = require("net");
  net.connect = blocker("net.connect");
  net.createConnection = blocker("net.createConnection");
  const tls = require("tls");
  tls.connect = blocker("tls.connect");
  globalThis.fetch = async () => {
    netBlocked.push("fetch");
    throw new Error("network disabled by resolve.mjs oracle (fetch)");
  };
}

// ---------- environment: no metrics, no prompts, no CLOUDFLARE_ENV leaking into top level ----------
delete process.env.CLOUDFLARE_ENV;
process.env.WRANGLER_SEND_METRICS = "false";
process.env.CI = process.env.CI ?? "true";
process.env.WRANGLER_LOG = "log"; // default level: warn/log are emitted (and captured below)
process.env.WRANGLER_LOG_PATH =
  process.env.WRANGLER_LOG_PATH ?? path.join(require("os").tmpdir(), "resolve-mjs-wrangler-logs");
process.env.NO_COLOR = "1";
process.env.FORCE_COLOR = "0";

function findWrangler() {
  const cands = [
    process.env.WRANGLER_DIR,
    path.join(here, "node_modules", "wrangler"),
    path.join(process.cwd(), "node_modules", "wrangler"),
  ].filter(Boolean);
  for (const c of cands) {
    if (fs.existsSync(path.join(c, "package.json"))) return c;
  }
  throw new Error("wrangler not found; set WRANGLER_DIR");
}

// ---------- console capture ----------
const realConsole = {};
const LEVELS = ["log", "info", "warn", "error", "debug"];
for (const l of LEVELS) realConsole[l] = console[l].bind(console);
let sink = null;
for (const l of LEVELS) {
  console[l] = (...args) => {
    const text = util.stripVTControlCharacters(util.format(...args));
    if (sink) sink.push({ level: l, text });
    // outside a capture window wrangler chatter is dropped (stdout must stay pure JSON)
  };
}
function capture(fn) {
  const prev = sink;
  sink = [];
  const out = { value: undefined, error: null, logs: null };
  try {
    out.value = fn();
  } catch (e) {
    out.error = e;
  } finally {
    out.logs = sink;
    sink = prev;
  }
  return out;
}

const wranglerDir = findWrangler();
const wranglerPkg = JSON.parse(fs.readFileSync(path.join(wranglerDir, "package.json"), "utf8"));
const loaded = capture(() => require(wranglerDir));
if (loaded.error) throw loaded.error;
const wrangler = loaded.value;
const readConfig = wrangler.unstable_readConfig;
const readRawConfig = wrangler.experimental_readRawConfig;
if (typeof readConfig !== "function" || typeof readRawConfig !== "function") {
  throw new Error("this wrangler does not export unstable_readConfig / experimental_readRawConfig");
}

// ---------- filesystem assumption for container images ----------
// wrangler validates `containers[].image` against the disk (isDockerfile -> fs.existsSync relative to
// the config file). A corpus file copied out of its repo loses its Dockerfile, so by default the oracle
// answers "exists" for Dockerfile-looking paths while wrangler reads a config, and reports each such
// assumption in the target's "assumed_files". Pass --strict-fs to disable.
const STRICT_FS = process.argv.includes("--strict-fs");
const realExistsSync = fs.existsSync;
let assumed = null;
let assumeBase = null;
fs.existsSync = function (p, ...rest) {
  const r = realExistsSync.call(fs, p, ...rest);
  if (!r && assumed && !STRICT_FS && typeof p === "string" && /dockerfile/i.test(path.basename(p))) {
    assumed.push(path.relative(assumeBase, p).split(path.sep).join("/"));
    return true;
  }
  return r;
};

// ---------- helpers ----------
const nn = (v) => (v === undefined ? null : v);
function errMessage(e) {
  if (!e) return null;
  let msg = util.stripVTControlCharacters(String(e.message ?? e));
  // wrangler's ParseError carries the location separately
  if (e.location && e.location.file !== undefined) {
    const l = e.location;
    msg += ` (${l.file}:${l.line}:${l.column})`;
  }
  if (Array.isArray(e.notes) && e.notes.length) {
    msg += "\n" + e.notes.map((n) => util.stripVTControlCharacters(String(n.text))).join("\n");
  }
  return msg;
}
function pick(list, keys) {
  if (list === undefined || list === null) return null;
  if (!Array.isArray(list)) return list; // should not happen after validation
  return list.map((b) => {
    const o = {};
    for (const k of keys) o[k] = nn(b?.[k]);
    return o;
  });
}
function isPlainObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function target(configPath, envName) {
  const args = { config: configPath };
  if (envName !== null) args.env = envName;
  assumed = [];
  assumeBase = path.dirname(path.resolve(configPath));
  const r = capture(() => readConfig(args, { hideWarnings: false }));
  const assumedFiles = [...new Set(assumed)];
  assumed = null;
  const warnings = r.logs.filter((x) => x.level === "warn").map((x) => x.text);
  const logs = r.logs.filter((x) => x.level !== "warn" && x.level !== "debug").map((x) => `${x.level}: ${x.text}`);
  const t = { env: envName };
  if (r.error) {
    Object.assign(t, {
      error: errMessage(r.error),
      worker: null, account_id: null, d1_databases: null, r2_buckets: null,
      kv_namespaces: null, services: null, route: null, routes: null, vars: null,
    });
  } else {
    const c = r.value;
    // what `wrangler deploy` uses: routes ?? (route ? [route] : [])
    const routes = c.routes !== undefined ? c.routes : c.route !== undefined ? [c.route] : null;
    Object.assign(t, {
      error: null,
      worker: nn(c.name),
      account_id: nn(c.account_id),
      d1_databases: pick(c.d1_databases, ["binding", "database_name", "database_id", "preview_database_id"]),
      r2_buckets: pick(c.r2_buckets, ["binding", "bucket_name", "preview_bucket_name", "jurisdiction"]),
      kv_namespaces: pick(c.kv_namespaces, ["binding", "id", "preview_id"]),
      services: pick(c.services, ["binding", "service", "environment", "entrypoint"]),
      route: nn(c.route),
      routes,
      vars: nn(c.vars),
    });
  }
  t.warnings = warnings;
  if (logs.length) t.logs = logs;
  if (assumedFiles.length) t.assumed_files = assumedFiles;
  return t;
}

export function resolveFile(configPath, displayName = configPath) {
  const t0 = process.hrtime.bigint();
  const out = { file: displayName, wrangler_version: wranglerPkg.version, error: null, targets: [] };
  const raw = capture(() => readRawConfig({ config: configPath }));
  if (raw.error) {
    out.error = errMessage(raw.error);
  } else {
    const rawConfig = raw.value.rawConfig ?? {};
    // wrangler: definedEnvironments = Object.keys(rawConfig.env ?? {})
    const envNames = isPlainObject(rawConfig.env) ? Object.keys(rawConfig.env) : [];
    out.targets.push(target(configPath, null));
    for (const e of envNames) out.targets.push(target(configPath, e));
  }

  return out;
}

process.on("exit", () => {
  if (netBlocked.length && process.env.RESOLVE_DEBUG_NET) {
    process.stderr.write(`resolve.mjs: blocked network attempts: ${netBlocked.join(", ")}\n`);
  }
});

// ---------- CLI ----------
const argv = process.argv.slice(2).filter((a) => a !== "--strict-fs");
if (argv[0] === "--batch") {
  const [manifestPath, outdir] = [argv[1], argv[2]];
  if (!manifestPath || !outdir) {
    process.stderr.write("usage: node resolve.mjs --batch manifest.json outdir\n");
    process.exit(2);
  }
  const absOut = path.resolve(outdir);
  const mdir = path.dirname(path.resolve(manifestPath));
  let m = JSON.parse(fs.readFileSync(manifestPath, "utf8"));
  if (!Array.isArray(m)) m = m.files;
  fs.mkdirSync(absOut, { recursive: true });
  process.chdir(mdir);
  const t0 = Date.now();
  let nErr = 0, nEnv = 0, nTargets = 0, nTargetErr = 0;
  for (const entry of m) {
    const rel = entry.path_in_corpus ?? entry.file;
    const res = resolveFile(rel, rel);
    if (res.error) nErr++;
    if (res.targets.length > 1) nEnv++;
    nTargets += res.targets.length;
    nTargetErr += res.targets.filter((t) => t.error).length;
    const base = path.basename(rel).replace(/\.(jsonc?|toml)$/, "");
    fs.writeFileSync(path.join(absOut, base + ".json"), JSON.stringify(res, null, 2) + "\n");
  }
  const secs = (Date.now() - t0) / 1000;
  process.stdout.write(
    JSON.stringify({
      files: m.length, file_errors: nErr, files_with_envs: nEnv, targets: nTargets,
      target_errors: nTargetErr, seconds: secs, ms_per_file: (secs * 1000) / Math.max(1, m.length),
      network_attempts_blocked: netBlocked.length, wrangler_version: wranglerPkg.version,
    }) + "\n",
  );
} else if (argv.length === 1) {
  const res = resolveFile(argv[0], argv[0]);
  res.network_attempts_blocked = netBlocked.length;
  process.stdout.write(JSON.stringify(res, null, 2) + "\n");
} else {
  process.stderr.write("usage: node resolve.mjs <config-path> | --batch manifest.json outdir\n");
  process.exit(2);
}
