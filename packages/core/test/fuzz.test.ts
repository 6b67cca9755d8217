import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { caseArbitrary, checkCase, loadSeeds, materialize } from "./fuzz/harness.ts";

/**
 * The converter fuzzer at a fixed seed (see fuzz/harness.ts for the property and what is compared with what);
 * `npm run fuzz -- --runs N [--seed S]` runs it for longer, with larger hostile sheets, in a watched child
 * process (here a case that never yields to the event loop would be caught only by the test's own timeout).
 * Every failure it ever found is a file in fixtures/fuzz/, replayed here with the outcome it must have now.
 */
const FIXTURES = new URL("./fixtures/fuzz/", import.meta.url);

interface FixtureNote {
  /** The error code the file must give, or "rows" when it must convert. */
  expect: string;
  found: string;
}

describe("converter fuzzing", () => {
  const notes = JSON.parse(readFileSync(new URL("fixtures.json", FIXTURES), "utf8")) as Record<
    string,
    FixtureNote
  >;

  it("every committed fixture is listed, and every listed one exists", () => {
    const files = readdirSync(FIXTURES).filter((f) => f !== "fixtures.json");
    expect(files.sort()).toEqual(Object.keys(notes).sort());
  });

  for (const [file, note] of Object.entries(notes)) {
    it(`replays ${file}: ${note.expect}`, async () => {
      const outcome = await checkCase({ name: file, bytes: readFileSync(new URL(file, FIXTURES)) });
      expect(outcome.ok ? "rows" : outcome.code).toBe(note.expect);
    });
  }

  it("300 mutated and generated workbooks: rows that match, or a typed error; no crash, hang or blow-up", async () => {
    const seeds = loadSeeds();
    await fc.assert(
      fc.asyncProperty(caseArbitrary(seeds, { maxDiagonalRows: 1_000 }), async (c) => {
        await checkCase(await materialize(c, seeds));
      }),
      { seed: 20261130, numRuns: 300 },
    );
  }, 180_000);
});
