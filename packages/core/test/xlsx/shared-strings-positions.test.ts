import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SharedStrings } from "../../src/xlsx/shared-strings.ts";

/** A table of the given strings (in memory: spilling is the other suite's). */
function tableOf(strings: readonly string[]): SharedStrings {
  const table = new SharedStrings();
  for (const s of strings) {
    table.appendString(s);
    table.finish();
  }
  table.seal();
  return table;
}

// Positions are kept as byte lengths and a start per group of 16 strings, with wide slots for groups holding a
// string of 255 bytes or more: these cover groups with none, one, several, and a first or last long string.
describe("SharedStrings positions", () => {
  it("gives back every string and its byte length, whatever their lengths", () => {
    const length = fc.oneof(
      fc.integer({ min: 0, max: 3 }),
      fc.constantFrom(253, 254, 255, 256, 1000, 70_000),
      fc.integer({ min: 0, max: 600 }),
    );
    fc.assert(
      fc.property(fc.array(length, { minLength: 1, maxLength: 80 }), (lengths) => {
        const strings = lengths.map((n, i) => String.fromCharCode(97 + (i % 26)).repeat(n));
        const table = tableOf(strings);
        strings.forEach((s, i) => {
          expect(table.byteLength(i)).toBe(s.length);
          expect(table.get(i)).toBe(s);
        });
      }),
      { numRuns: 300 },
    );
  });

  it("keeps positions across pages of 65,536 strings and many wide groups", () => {
    // Every 37th string is long: most groups get a wide slot, more than one page of them.
    const text = (i: number) => (i % 37 === 0 ? `long ${i} ${"é".repeat(140)}` : `s${i}`);
    const strings = Array.from({ length: 140_000 }, (_, i) => text(i));
    const table = tableOf(strings);
    for (let i = 0; i < strings.length; i += 1 + (i % 5)) {
      expect(table.byteLength(i)).toBe(Buffer.byteLength(strings[i]!));
      expect(table.get(i)).toBe(strings[i]);
    }
    expect(table.get(strings.length - 1)).toBe(strings.at(-1));
  });
});
