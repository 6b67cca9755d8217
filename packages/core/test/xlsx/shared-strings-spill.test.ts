import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ExcelJS from "exceljs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { openFileSource } from "../../src/byte-source.ts";
import { resolveLimits } from "../../src/limits.ts";
import { openXlsx } from "../../src/xlsx/open-xlsx.ts";
import { SharedStrings } from "../../src/xlsx/shared-strings.ts";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-sst-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const text = (i: number) => `${i % 7 === 0 ? "서울특별시 강남구 " : "item "}${i}${"·".repeat(i % 13)}`;

describe("SharedStrings spilling to a temp file", () => {
  it.each([
    ["in memory", 0],
    ["spilled after 4 KiB", 4096],
  ])("gives back every string %s, in any order, across block boundaries", (_, memoryBytes) => {
    const table = new SharedStrings(0, { memoryBytes, dir, blockBytes: 256, cacheBlocks: 3 });
    const strings = Array.from({ length: 3000 }, (_, i) => text(i));
    strings.push("x".repeat(1000)); // longer than a block
    for (const s of strings) {
      table.appendString(s);
      table.finish();
    }
    table.seal();
    expect(table.spilled).toBe(memoryBytes > 0);
    expect(table.count).toBe(strings.length);
    const order = [...strings.keys()].sort((a, b) => ((a * 7919) % 3001) - ((b * 7919) % 3001));
    for (const i of order) expect(table.get(i)).toBe(strings[i]);
    table.close();
  });

  it("reads a spilled table end to end with no more block buffers than its cache holds", () => {
    const blockBytes = 4096;
    const table = new SharedStrings(0, { memoryBytes: 4096, dir, blockBytes, cacheBlocks: 3 });
    const strings = Array.from({ length: 20_000 }, (_, i) => `order-${i}`);
    for (const s of strings) {
      table.appendString(s);
      table.finish();
    }
    table.seal();
    const allocUnsafe = vi.spyOn(Buffer, "allocUnsafe");
    try {
      // Unique ids are read once, in order: a new buffer per block would be garbage for the GC to find.
      for (let i = 0; i < strings.length; i++) expect(table.get(i)).toBe(strings[i]);
      const blockBuffers = allocUnsafe.mock.calls.filter(([size]) => size === blockBytes).length;
      expect(table.bytes / blockBytes).toBeGreaterThan(20);
      expect(blockBuffers).toBeLessThanOrEqual(3);
    } finally {
      allocUnsafe.mockRestore();
      table.close();
    }
  });

  it("gives back the right string on every repeated use, past its cache of decoded strings", () => {
    // More strings than the cache has slots, so repeats collide; tiny blocks, so repeats jump around the file.
    const table = new SharedStrings(0, { memoryBytes: 4096, dir, blockBytes: 512, cacheBlocks: 2 });
    const count = 70_000;
    for (let i = 0; i < count; i++) {
      table.appendString(text(i));
      table.finish();
    }
    table.seal();
    expect(table.spilled).toBe(true);
    const uses = [0, 1, 65_536, 1, 0, 65_537, 69_999, 65_536, 2, 65_538, 2];
    for (let i = 0; i < 30_000; i++) uses.push((i * 7919) % count, i % 50, count - 1 - (i % 1000));
    for (const i of uses) expect(table.get(i)).toBe(text(i));
    table.close();
  });

  it("leaves no file behind, even before it is closed", async () => {
    const table = new SharedStrings(0, { memoryBytes: 1024, dir });
    for (let i = 0; i < 500; i++) {
      table.appendString(text(i));
      table.finish();
    }
    table.seal();
    expect(table.spilled).toBe(true);
    expect((await readdir(dir)).filter((f) => f.startsWith("sluice-sst-"))).toEqual([]);
    expect(table.get(499)).toBe(text(499));
    table.close();
  });

  it("stays in memory when no temp file can be made", () => {
    const table = new SharedStrings(0, { memoryBytes: 1024, dir: join(dir, "missing", "dir") });
    for (let i = 0; i < 500; i++) {
      table.appendString(text(i));
      table.finish();
    }
    table.seal();
    expect(table.spilled).toBe(false);
    expect(table.get(123)).toBe(text(123));
  });

  it("reads a workbook the same whether its shared strings are spilled or not", async () => {
    const file = join(dir, "unique.xlsx");
    const writer = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: file, useSharedStrings: true });
    const sheet = writer.addWorksheet("Data");
    sheet.addRow(["id", "name", "city"]).commit();
    for (let i = 1; i <= 4000; i++)
      sheet.addRow([i, `고객 ${i}`, i % 3 === 0 ? "부산" : `city ${i % 97}`]).commit();
    sheet.commit();
    await writer.commit();

    const read = async (sharedStringsMemoryBytes: number) => {
      const source = await openFileSource(file);
      const opened = await openXlsx(source, { limits: resolveLimits({ sharedStringsMemoryBytes }) });
      const rows: unknown[] = [];
      for await (const batch of opened.rows()) rows.push(...batch);
      await opened.close?.();
      await source.close();
      return rows;
    };
    const inMemory = await read(0);
    const spilled = await read(2048);
    expect(inMemory).toHaveLength(4001);
    expect(spilled).toEqual(inMemory);
  });
});
