import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as constants from "../src/constants.ts";
import * as everything from "../src/index.ts";

/** Every module `entry` loads, following relative imports (type-only imports load nothing). */
function loaded(entry: URL, seen = new Map<string, string[]>()): Map<string, string[]> {
  if (seen.has(entry.href)) return seen;
  const source = readFileSync(entry, "utf8");
  const specifiers = [...source.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+"([^"]+)";/gms)].map(
    (m) => m[1]!,
  );
  seen.set(entry.href, specifiers);
  for (const specifier of specifiers) if (specifier.startsWith(".")) loaded(new URL(specifier, entry), seen);
  return seen;
}

describe("@sluice/contract/constants", () => {
  it("loads no zod: the converter and the CLI's convert import it to stay without the schemas", () => {
    const modules = loaded(new URL("../src/constants.ts", import.meta.url));
    const external = [...modules.values()].flat().filter((specifier) => !specifier.startsWith("."));
    expect(external).toEqual([]);
    // The walk does see zod where it is: the main entry loads it.
    const main = loaded(new URL("../src/index.ts", import.meta.url));
    expect([...main.values()].flat()).toContain("zod");
  });

  it("is a part of the main entry: the same names, the same values", () => {
    for (const [name, value] of Object.entries(constants))
      expect((everything as Record<string, unknown>)[name], name).toBe(value);
  });
});
