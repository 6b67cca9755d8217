import { spawnSync } from "node:child_process";
import path from "node:path";

/**
 * Builds the CLI bundle before a benchmark runs `bin/sluice.js`: it runs the TypeScript sources through tsx when any
 * source is newer than the bundle, and that (slower, bigger) path is not what users run, so a stale bundle would
 * measure the wrong thing. `root`: the repository's root, as the caller finds it (a bundled benchmark is not
 * where its sources are).
 */
export function buildCliBundle(root: string): void {
  const built = spawnSync(process.execPath, [path.join(root, "scripts/build-cli.mjs")], { stdio: "inherit" });
  if (built.status !== 0)
    throw new Error("building the CLI bundle failed: fix the build before benchmarking");
}
