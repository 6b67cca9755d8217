import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Real-world workbooks from other projects' test suites live in `shared/corpus/` beside the repository; they are
 * read from there, never copied in. Where the folder is absent (a plain public clone) the corpus tests are
 * skipped, except on CI, where a missing corpus is a failure.
 */
export const corpusDir = fileURLToPath(new URL("../../../../shared/corpus/", import.meta.url));
export const hasCorpus = existsSync(corpusDir);

if (!hasCorpus && process.env.CI === "true") {
  throw new Error(`the shared corpus is missing at ${corpusDir}`);
}

export function corpusFile(name: string): string {
  return `${corpusDir}${name}`;
}
