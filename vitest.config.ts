import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * Packages that ship built JavaScript (`@sluice/contract`) are used from their TypeScript sources in the
 * repository, through tsconfig.json's `paths` (which tsc, tsx and esbuild read); here they become aliases.
 */
const tsconfig = JSON.parse(
  readFileSync(new URL("./tsconfig.json", import.meta.url), "utf8").replace(/^\s*\/\/.*$/gm, ""),
) as { compilerOptions: { paths: Record<string, string[]> } };
const alias = Object.entries(tsconfig.compilerOptions.paths).map(([name, [target]]) => ({
  find: new RegExp(`^${name}$`),
  replacement: fileURLToPath(new URL(target!, import.meta.url)),
}));

export default defineConfig({
  resolve: { alias },
  test: {
    include: [
      "packages/*/test/**/*.test.ts",
      "stacks/test/**/*.test.ts",
      "examples/*/test/**/*.test.ts",
      "bench/test/**/*.test.ts",
    ],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ["default", "./vitest-summary-reporter.ts"],
    // Node 20 is supported here (Lambda runs 22); the SDK's notice about its 2027 releases is noise in test output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
