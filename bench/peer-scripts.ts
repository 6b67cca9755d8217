import { mkdirSync } from "node:fs";
import path from "node:path";
import { buildSync } from "esbuild";

/**
 * A peer of `peers/` as plain JavaScript, so that it runs on bare `node` like the CLI bundle sluice is measured
 * with: run through tsx, every peer paid the loader's start-up (about 0.15 s here), which sluice did not, and that
 * flattered sluice's ratios (most against the floor and papaparse, whose own runs take one to two seconds).
 * Transpiled only (no bundling): the peer loads its library from node_modules as a user's script would, so
 * `outDir` must be inside the repository.
 */
export function peerScript(
  benchDir: string,
  name: string,
  outDir = path.join(benchDir, ".data", "peers"),
): string {
  mkdirSync(outDir, { recursive: true });
  const outfile = path.join(outDir, `${name}.mjs`);
  buildSync({
    entryPoints: [path.join(benchDir, "peers", `${name}.ts`)],
    outfile,
    bundle: false,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
  });
  return outfile;
}
