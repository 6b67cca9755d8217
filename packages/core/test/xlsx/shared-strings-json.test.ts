import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

describe("SharedStrings JSON cache", () => {
  it("keeps up to four short strings used again whose indices share a cache slot, without going back to disk", () => {
    // 270,000 strings, 64k JSON slots: 7 + k × 65,536 (k = 0..3) fall on the same slot and the same set of 4.
    const dir = mkdtempSync(join(tmpdir(), "sluice-sst-json-"));
    const table = new SharedStrings(0, { memoryBytes: 4096, dir, blockBytes: 512, cacheBlocks: 2 });
    try {
      const count = 270_000;
      for (let i = 0; i < count; i++) {
        // Plain: JSON needs no escape in them, as the table's reader marks such text.
        const bytes = Buffer.from(`n${i}`);
        table.appendBytes(bytes, 0, bytes.length, true);
        table.finish();
      }
      table.seal();
      expect(table.spilled).toBe(true);
      const sharing = [7, 7 + 65_536, 7 + 131_072, 7 + 196_608];
      const uses = [...sharing, ...sharing];
      expect(jsonOf(table, uses)).toEqual(uses.map((i) => JSON.stringify(`n${i}`)));
      const reads = table.diskReads;
      const repeats = Array.from({ length: 400 }, (_, k) => sharing[k % 4]!);
      expect(jsonOf(table, repeats)).toEqual(repeats.map((i) => JSON.stringify(`n${i}`)));
      expect(table.diskReads).toBe(reads);
      // A fifth takes a way, and the one it evicted is read again: still right.
      const more = [7 + 16_384, ...sharing, 7 + 16_384, 7 + 16_384];
      expect(jsonOf(table, more)).toEqual(more.map((i) => JSON.stringify(`n${i}`)));
    } finally {
      table.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
