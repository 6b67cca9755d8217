import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root, found from this module whether it runs from src/ or from the dist/ bundle. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, "utf8")).name === "@sluice/cli") {
      return join(dir, "..", "..");
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the @sluice/cli package above this module");
    dir = parent;
  }
}

/** The bundled example workbooks. */
export const EXAMPLES_DIR = join(repoRoot(), "examples");
