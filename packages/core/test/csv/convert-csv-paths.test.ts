import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { bufferSource } from "../../src/byte-source.ts";
import type { ChunkMeta } from "../../src/chunk-writer.ts";
import { convertWorkbook } from "../../src/convert-workbook.ts";
import { SluiceError } from "../../src/errors.ts";

type Convert = typeof convertWorkbook;

/** convertWorkbook with the csv reader's byte records hidden: it converts the papaparse rows (`rows()`). */
async function stringPathConvert(): Promise<Convert> {
  vi.resetModules();
  vi.doMock("../../src/csv/open-csv.ts", async (importOriginal) => {
    const original = await importOriginal<typeof import("../../src/csv/open-csv.ts")>();
    return {
      ...original,
      openCsv: async (...args: Parameters<typeof original.openCsv>) => {
        const { visitRecords: _, ...sheet } = await original.openCsv(...args);
        return sheet;
      },
    };
  });
  const module = await import("../../src/convert-workbook.ts");
  vi.doUnmock("../../src/csv/open-csv.ts");
  return module.convertWorkbook;
}

async function run(convert: Convert, bytes: Buffer, chunkRows: number) {
  const lines: Buffer[] = [];
  const metas: ChunkMeta[] = [];
  try {
    const manifest = await convert({
      source: bufferSource(bytes, "generated.csv"),
      uploadId: "up-1",
      sink: {
        async writeChunk(line, meta) {
          lines.push(Buffer.from(line)); // lent: copied to keep
          metas.push(meta);
        },
      },
      options: { chunkRows, chunkBytes: 2048, limits: { maxColumns: 12, maxCellLength: 300 } },
    });
    return { manifest, metas, bytes: Buffer.concat(lines) };
  } catch (error) {
    // The string path's modules are a second copy (vi.resetModules): its errors are of that copy's classes.
    const code = (error as SluiceError)?.code;
    if (!(error instanceof SluiceError) && typeof code !== "string") throw error;
    return { code, message: (error as Error).message };
  }
}

const field = fc.oneof(
  fc.constant(""),
  fc.constantFrom(
    "1",
    "10",
    "007",
    "name",
    "name",
    "__proto__",
    " ",
    "가나다",
    'say "hi"',
    "a\nb",
    "x,y",
    "\\",
  ),
  fc.string({ unit: "grapheme", maxLength: 6 }),
  fc.string({ unit: fc.constantFrom("a", '"', ",", "\r", "\n", "\t", "\u0001", "😀"), maxLength: 8 }),
);

describe("csv conversion: the byte records path gives what the papaparse rows path gives", () => {
  it("the same chunk bytes, pointers and manifest (ragged rows, growing and odd headers, limits)", async () => {
    const viaStrings = await stringPathConvert();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(field, { minLength: 1, maxLength: 14 }), { minLength: 1, maxLength: 25 }),
        fc.constantFrom("\n", "\r\n"),
        fc.integer({ min: 1, max: 6 }),
        async (records, newline, chunkRows) => {
          const quote = (v: string) => (/["\r\n,]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
          const bytes = Buffer.from(records.map((r) => r.map(quote).join(",")).join(newline), "utf8");
          const expected = await run(viaStrings, bytes, chunkRows);
          expect(await run(convertWorkbook, bytes, chunkRows)).toEqual(expected);
        },
      ),
      { seed: 14, numRuns: 300 },
    );
  });
});
