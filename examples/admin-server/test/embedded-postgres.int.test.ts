import { existsSync } from "node:fs";
import { mkdtemp, readlink, rm, symlink } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { linkDependencies } from "../src/embedded-postgres.ts";

describe("the embedded PostgreSQL copy (used as root when the postgres user cannot enter the checkout)", () => {
  it("points links that outlived the checkout that made them at this checkout's packages", async () => {
    const packageDir = dirname(dirname(createRequire(import.meta.url).resolve("embedded-postgres")));
    const modules = await mkdtemp(join(tmpdir(), "sluice-pg-links-"));
    try {
      // What a deleted scratch clone leaves behind: links into a folder that is gone.
      await symlink("/nonexistent/clone/node_modules/pg", join(modules, "pg"), "dir");
      await linkDependencies(packageDir, modules);
      for (const dependency of ["pg", "async-exit-hook"]) {
        expect(existsSync(join(modules, dependency, "package.json")), dependency).toBe(true);
      }
      const target = await readlink(join(modules, "pg"));
      await linkDependencies(packageDir, modules);
      expect(await readlink(join(modules, "pg"))).toBe(target);
    } finally {
      await rm(modules, { recursive: true, force: true });
    }
  });
});
