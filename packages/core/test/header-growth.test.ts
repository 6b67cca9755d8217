import { ChunkSchema, chunkRows } from "@sluice/contract";
import { describe, expect, it } from "vitest";
import { bufferSource } from "../src/byte-source.ts";
import { convertWorkbook } from "../src/convert-workbook.ts";
import { columnLetter } from "../src/header.ts";
import { oneSheet } from "./xlsx/ooxml-fixtures.ts";

/**
 * A header that grows on every row (each value one column further, a hostile or broken sheet): every later row
 * carries a value for every column, and each growth closes the chunk being filled (a chunk's rows all have its
 * columns), so the output is rows x columns, and the work must stay in proportion to that output.
 * Compiling a row factory per growth made it quadratic in the header's width on top (a 35 KB file took 12.7 s,
 * now about 2 s); past a few growths rows are built without compiling, and this holds that path to the same
 * records. Its speed is a benchmark's business, not this test's.
 */
describe("a header that grows on every row", () => {
  it("converts a 4,000-row diagonal sheet: every row keeps its value under its own column, every other key null", async () => {
    const n = 4000;
    let rows = `<row r="1"><c r="A1" t="inlineStr"><is><t>h</t></is></c></row>`;
    for (let r = 2; r <= n; r++)
      rows += `<row r="${r}"><c r="${columnLetter(r - 1)}${r}"><v>${r}</v></c></row>`;
    const bytes = oneSheet(rows);
    let out = 0;
    let last = "";
    const manifest = await convertWorkbook({
      source: bufferSource(bytes, "diagonal.xlsx"),
      uploadId: "u",
      sink: {
        async writeChunk(line: Buffer) {
          out += line.length;
          last = line.toString("utf8");
        },
      },
    });
    expect(manifest.totalRows).toBe(n - 1);
    expect(manifest.header).toHaveLength(n);
    // Every row but the first grew the header, so closed the chunk before it: one row per chunk.
    expect(manifest.totalChunks).toBe(n - 1);
    // The last row holds its value under its own column, and every other key as null.
    const lastRow = chunkRows(ChunkSchema.parse(JSON.parse(last))).at(-1)!;
    expect(lastRow.data[`column_${columnLetter(n - 1)}`]).toBe(n);
    expect(Object.values(lastRow.data).filter((v) => v !== null)).toEqual([n]);
    expect(out).toBeGreaterThan(100_000_000);
  }, 60_000);
});
