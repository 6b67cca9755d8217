import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Builds the CLI bundle before a benchmark runs `bin/sluice.js`: it runs the TypeScript sources through tsx when any
 * source is newer than the bundle, and that (slower, bigger) path is not what users run, so a stale bundle would
 * measure the wrong thing.
 */
export function buildCliBundle(): void {
  const built = spawnSync(process.execPath, [path.join(ROOT, "scripts/build-cli.mjs")], { stdio: "inherit" });
  if (built.status !== 0)
    throw new Error("building the CLI bundle failed: fix the build before benchmarking");
}
