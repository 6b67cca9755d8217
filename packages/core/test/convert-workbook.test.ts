import { ChunkSchema, chunkRows } from "@sluice/contract";
import { describe, expect, it } from "vitest";
import { bufferSource } from "../src/byte-source.ts";
import type { ChunkMeta } from "../src/chunk-writer.ts";
import { convertWorkbook } from "../src/convert-workbook.ts";

async function convert(text: string, options: Parameters<typeof convertWorkbook>[0]["options"] = {}) {
  const lines: string[] = [];
  const manifest = await convertWorkbook({
    source: bufferSource(Buffer.from(text), "input.csv"),
    uploadId: "u-1",
    sink: {
      async writeChunk(line: Buffer, _meta: ChunkMeta) {
        lines.push(line.toString("utf8"));
      },
    },
    options,
  });
  const chunks = lines.map((l) => ChunkSchema.parse(JSON.parse(l)));
  return { manifest, chunks, rows: chunks.flatMap((c) => chunkRows(c)), raw: lines.join("") };
}

describe("convertWorkbook", () => {
  it("keeps header names that are special in JavaScript as ordinary keys, renaming __proto__", async () => {
    const { rows, manifest } = await convert("__proto__,constructor,toString,hasOwnProperty\na,b,c,d\n");
    expect(manifest.header).toEqual(["__proto___2", "constructor", "toString", "hasOwnProperty"]);
    expect(rows[0]!.data).toEqual({ __proto___2: "a", constructor: "b", toString: "c", hasOwnProperty: "d" });
    expect(Object.keys(rows[0]!.data)).toEqual(["__proto___2", "constructor", "toString", "hasOwnProperty"]);
  });

  it("writes null for empty cells and for keys the row lacks", async () => {
    const { rows } = await convert("a,b,c\n1,,3\n4\n");
    expect(rows.map((r) => r.data)).toEqual([
      { a: "1", b: null, c: "3" },
      { a: "4", b: null, c: null },
    ]);
  });

  it("names a column first found in a data row, and later rows carry it", async () => {
    const { rows, manifest } = await convert("a,b\n1,2\n3,4,5\n6,7\n");
    expect(manifest.header).toEqual(["a", "b", "column_C"]);
    expect(rows.map((r) => r.data)).toEqual([
      { a: "1", b: "2" },
      { a: "3", b: "4", column_C: "5" },
      { a: "6", b: "7", column_C: null },
    ]);
  });

  it("reports a row larger than a chunk as a row error and keeps going", async () => {
    const big = "x".repeat(3000);
    const { manifest, rows } = await convert(`a,b\n1,small\n2,${big}\n3,small\n`, { chunkBytes: 2048 });
    expect(rows.map((r) => r.row)).toEqual([2, 4]);
    expect(manifest.totalRows).toBe(2);
    expect(manifest.rowErrors.count).toBe(1);
    expect(manifest.rowErrors.samples[0]).toMatchObject({ row: 3, code: "ROW_TOO_LARGE" });
  });

  it.each([
    [{ chunkRows: 0 }, /chunk rows must be a positive integer/],
    [{ chunkBytes: 100 }, /chunk bytes must be an integer from 1024 to 67108864/],
    [{ chunkBytes: 64 * 1024 * 1024 + 1 }, /chunk bytes must be an integer from 1024 to 67108864/],
  ])("rejects bounds %j", async (options, message) => {
    await expect(convert("a\n1\n", options)).rejects.toThrow(message);
  });

  it("says EMPTY_WORKBOOK for a csv of blank lines", async () => {
    await expect(convert("\n\n,,\n")).rejects.toMatchObject({ code: "EMPTY_WORKBOOK" });
  });
});
