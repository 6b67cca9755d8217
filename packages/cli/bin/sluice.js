#!/usr/bin/env node
// Runs the bundled CLI (dist/, built by `npm ci` / `npm install`, and by `npm pack`) when it is newer than every
// source it was built from; otherwise the TypeScript sources through tsx, in this same process either way.
// An installed package (from `npm pack`) ships the bundle and no sources: it always runs the bundle.
import { existsSync, readFileSync, statSync } from "node:fs";

const dist = new URL("../dist/", import.meta.url);
const installed = !existsSync(new URL("../src/cli.ts", import.meta.url));

function bundleIsFresh() {
  try {
    const built = statSync(new URL("cli.mjs", dist)).mtimeMs;
    const sources = JSON.parse(readFileSync(new URL("sources.json", dist), "utf8"));
    return sources.every((source) => statSync(source).mtimeMs <= built);
  } catch {
    return false;
  }
}

if (installed || (process.env.SLUICE_FROM_SOURCE !== "1" && bundleIsFresh())) {
  await import(new URL("cli.mjs", dist).href);
} else {
  const { register } = await import("tsx/esm/api");
  // The repository's tsconfig maps the packages that ship built JavaScript to their sources, whatever the cwd.
  register({ tsconfig: new URL("../../../tsconfig.json", import.meta.url).pathname });
  await import("../src/cli.ts");
}
