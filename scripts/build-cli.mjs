// Bundles the sluice CLI with esbuild into packages/cli/dist, the way Lambda runs our code (SST bundles with
// esbuild too): no TypeScript loader at run time, so the CLI starts faster and smaller. Run by `npm ci` /
// `npm install` (the root `prepare` script); bin/sluice.js falls back to running the sources through tsx when
// the bundle is missing or older than any source it was built from.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "packages/cli/dist");

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
const result = await build({
  entryPoints: [join(root, "packages/cli/src/cli.ts")],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  splitting: true,
  outdir,
  outExtension: { ".js": ".mjs" },
  // Large libraries the demo loads stay in node_modules rather than in the bundle.
  external: ["aws-cdk-lib", "constructs", "aws-local-stepfunctions", "fauxqs", "exceljs"],
  banner: {
    js: "import { createRequire as __sluiceRequire } from 'node:module'; const require = __sluiceRequire(import.meta.url);",
  },
  metafile: true,
  logLevel: "warning",
});
// The sources the bundle was made from, for the bin's freshness check.
const sources = Object.keys(result.metafile.inputs).filter((input) => !input.includes("node_modules"));
await writeFile(
  join(outdir, "sources.json"),
  `${JSON.stringify(sources.map((s) => resolve(process.cwd(), s)))}\n`,
);
