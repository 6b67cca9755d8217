/**
 * `npm run schemas:write`: writes the contract's JSON Schemas (`jsonSchemas()` of @sluice/contract, draft 2020-12)
 * into packages/contract/schemas/<name>.json, one file each, and removes any other .json file there, so the
 * directory holds exactly what `jsonSchemas()` returns. An admin server written in another language reads these
 * (docs/protocol.md); packages/contract/test/json-schemas.test.ts fails when the files and the zod schemas
 * disagree. The files are then formatted by the repository's biome, so `npm run lint` accepts them as written.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { jsonSchemas } from "@sluice/contract";

const directory = new URL("../packages/contract/schemas/", import.meta.url);
mkdirSync(directory, { recursive: true });

const schemas = jsonSchemas();
const names = new Set(Object.keys(schemas).map((name) => `${name}.json`));
for (const file of readdirSync(directory)) {
  if (file.endsWith(".json") && !names.has(file)) {
    rmSync(new URL(file, directory));
    process.stdout.write(`removed ${new URL(file, directory).pathname}\n`);
  }
}
const written: string[] = [];
for (const [name, schema] of Object.entries(schemas)) {
  const target = fileURLToPath(new URL(`${name}.json`, directory));
  writeFileSync(target, `${JSON.stringify(schema, null, 2)}\n`);
  written.push(target);
}
execFileSync(
  fileURLToPath(new URL("../node_modules/.bin/biome", import.meta.url)),
  ["format", "--write", ...written],
  {
    stdio: ["ignore", "ignore", "inherit"],
  },
);
for (const target of written) process.stdout.write(`wrote ${target}\n`);
