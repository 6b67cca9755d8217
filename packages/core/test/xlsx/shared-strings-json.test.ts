import { describe, expect, it } from "vitest";
import { JsonRow } from "../../src/json-row.ts";
import { SharedStrings } from "../../src/xlsx/shared-strings.ts";

/** What `putJson` wrote for each use, as text. */
function jsonOf(table: SharedStrings, uses: readonly number[]): string[] {
  const row = new JsonRow();
  return uses.map((index) => {
    row.reset(1);
    table.putJson(index, row, 0);
    return row.bytes.toString("utf8", row.starts[0], row.ends[0]);
  });
}

describe("SharedStrings.putJson", () => {
  it("writes each use as JSON.stringify would, first uses and repeats, colliding cache slots included", () => {
    // More strings than cache slots (65,536), so repeats of i and i + 65,536 take each other's slots; short plain
    // names (kept as JSON bytes), ones to escape, long ones and multibyte text (kept decoded).
    const text = (i: number) =>
      i % 5 === 0
        ? `이름${i % 997}`
        : i % 5 === 1
          ? `q"${i}\\`
          : i % 5 === 2
            ? `long ${"x".repeat(40)} ${i}`
            : `n${i}`;
    const count = 140_000;
    const table = new SharedStrings(0, { memoryBytes: 64 * 1024 });
    for (let i = 0; i < count; i++) {
      // As the table's reader appends them: bytes, marked plain when JSON needs no escape in them.
      const bytes = Buffer.from(text(i));
      table.appendBytes(bytes, 0, bytes.length, !/["\\\u0000-\u001f]/.test(text(i)));
      table.finish();
    }
    table.seal();
    const uses: number[] = [];
    for (let i = 0; i < 40_000; i++)
      uses.push(i, (i * 7919) % count, i % 30, (i % 30) + 65_536, count - 1 - (i % 500));
    expect(jsonOf(table, uses)).toEqual(uses.map((i) => JSON.stringify(text(i))));
    table.close();
  });
});
