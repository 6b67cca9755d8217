import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import iconv from "iconv-lite";
import Papa from "papaparse";
import { describe, expect, it } from "vitest";
import type { ByteSource } from "../../src/byte-source.ts";
import { DELIMITER_CANDIDATES, type LineEnding } from "../../src/csv/detect-delimiter.ts";
import { openCsv } from "../../src/csv/open-csv.ts";
import { CsvRecordScanner } from "../../src/csv/scan-csv.ts";
import { SluiceError } from "../../src/errors.ts";
import { type ReadLimits, resolveLimits } from "../../src/limits.ts";
import type { CellValue, OpenedSheet } from "../../src/workbook-reader.ts";
import { piecewiseSource } from "../piecewise-source.ts";

const chunkedSource = (bytes: Buffer, size: number, name = "chunked.csv") =>
  piecewiseSource(bytes, size, name);

const corpus = fileURLToPath(new URL("../../../../../shared/corpus/", import.meta.url));
const NEWLINES: LineEnding[] = ["\r\n", "\n", "\r"];

/** papaparse's records for the whole text: the reference. */
function papaRecords(text: string, delimiter: string, newline: LineEnding): string[][] {
  return new Papa.Parser({ delimiter, newline, quoteChar: '"' }).parse(text, 0, false).data as string[][];
}

/**
 * The scanner's records for the same text, fed in pieces of `piece` bytes as a stream feeds it (a record cut by
 * the end of a piece is scanned again with more bytes). papaparse ends a text that ends with a line break with
 * one more, empty, record; the scanner is never asked for it (the reader skips empty records anyway), so it is
 * added here where papaparse has it.
 */
function scannerRecords(bytes: Buffer, delimiter: string, newline: LineEnding, piece: number): string[][] {
  const scanner = new CsvRecordScanner(delimiter.charCodeAt(0), newline);
  const out: string[][] = [];
  let pending = Buffer.alloc(0);
  const take = (buf: Buffer, eof: boolean): number => {
    let at = 0;
    while (at < buf.length) {
      const end = scanner.scan(buf, at, buf.length, eof);
      if (end < 0) break;
      const fields: string[] = [];
      for (let i = 0; i < scanner.count; i++) fields.push(scanner.text(buf, i));
      out.push(fields);
      at = end;
    }
    return at;
  };
  let endedAtBreak = false;
  for (let p = 0; p < bytes.length; p += piece) {
    const buf = Buffer.concat([pending, bytes.subarray(p, p + piece)]);
    const at = take(buf, false);
    pending = buf.subarray(at);
    endedAtBreak = pending.length === 0;
  }
  if (pending.length > 0) take(pending, true);
  else if (bytes.length > 0 && endedAtBreak) out.push([""]);
  return out;
}

/** Text made of the pieces that make csv hard: quotes, delimiters, every line break, spaces, non-ASCII. */
const csvText = fc
  .array(
    fc.constantFrom(
      '"',
      '""',
      ",",
      ";",
      "\t",
      "|",
      "\r",
      "\n",
      "\r\n",
      " ",
      "  ",
      "a",
      "bc",
      "가나",
      "😀",
      "\u00a0",
      "\u3000",
      "\ufeff",
      "\\",
      "\u0001",
      "\u007f",
      "\u2028",
    ),
    { maxLength: 60 },
  )
  .map((parts) => parts.join(""));

describe("CsvRecordScanner: the same records as papaparse", () => {
  it("on generated text: quotes, embedded line breaks and delimiters, CRLF/LF/CR, spaces, ragged rows", () => {
    fc.assert(
      fc.property(
        csvText,
        fc.constantFrom(...DELIMITER_CANDIDATES),
        fc.constantFrom(...NEWLINES),
        fc.integer({ min: 1, max: 16 }),
        (text, delimiter, newline, piece) => {
          const bytes = Buffer.from(text, "utf8");
          const expected = papaRecords(text, delimiter, newline);
          expect(scannerRecords(bytes, delimiter, newline, bytes.length || 1)).toEqual(expected);
          expect(scannerRecords(bytes, delimiter, newline, piece)).toEqual(expected);
        },
      ),
      { seed: 14, numRuns: 3000 },
    );
  });

  it.each([
    ["closing quote, spaces, delimiter", '"a"  ,b\n'],
    ["closing quote, spaces, line break", '"a" \t\r\nb'],
    ["closing quote, no-break space, delimiter", '"a"\u00a0,b\n'],
    ["text after a closing quote", '"x"y,z\n2,3\n'],
    ["an escaped quote before the end", '"ab""'],
    ["a lone quote at the end", 'a,"'],
    ["three quotes", '"""",x\n'],
    ["a quoted line break of the other kind", '"a\nb"\r\nc\r\n'],
    ["CR inside an unquoted field of a CRLF file", "a\rb,c\r\nd"],
    ["a delimiter only after the line break", '"a" x\n,'],
  ])("on %s", (_, text) => {
    for (const newline of NEWLINES) {
      const expected = papaRecords(text, ",", newline);
      for (const piece of [1, 2, 3, 100]) {
        expect(scannerRecords(Buffer.from(text), ",", newline, piece)).toEqual(expected);
      }
    }
  });
});

async function readBoth(source: ByteSource, limits: Partial<ReadLimits> = {}) {
  const sheet = await openCsv(source, { limits: resolveLimits(limits) });
  return { sheet, viaPapa: await papaRows(sheet), viaScanner: await scannerRows(sheet) };
}

async function papaRows(sheet: OpenedSheet): Promise<[number, CellValue[]][]> {
  const rows: [number, CellValue[]][] = [];
  for await (const batch of sheet.rows()) for (const r of batch) rows.push([r.row, r.cells]);
  return rows;
}

async function scannerRows(sheet: OpenedSheet): Promise<[number, CellValue[]][]> {
  const rows: [number, CellValue[]][] = [];
  expect(sheet.visitRecords).toBeDefined();
  await sheet.visitRecords!({
    record(r) {
      const cells: CellValue[] = [];
      for (let i = 0; i < r.count; i++) cells.push(r.starts[i] === r.ends[i] ? null : r.text(i));
      rows.push([r.row, cells]);
    },
    drain: () => undefined,
  });
  return rows;
}

async function outcome(read: Promise<[number, CellValue[]][]>) {
  try {
    return { rows: await read };
  } catch (error) {
    if (!(error instanceof SluiceError)) throw error;
    return { code: error.code, details: error.details };
  }
}

describe("the csv reader's byte records: the same rows as its papaparse rows", () => {
  it("on generated files: BOM, encodings, sep= lines, empty fields, ragged rows, any chunking", async () => {
    const record = fc.array(fc.oneof(fc.constant(""), csvText), { minLength: 1, maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(record, { minLength: 1, maxLength: 12 }),
        fc.constantFrom(...DELIMITER_CANDIDATES),
        fc.constantFrom(...NEWLINES),
        fc.constantFrom("utf-8", "utf-8-bom", "utf-16le", "cp949"),
        fc.boolean(),
        fc.integer({ min: 1, max: 64 }),
        async (records, delimiter, newline, encoding, sepLine, piece) => {
          const quote = (v: string) =>
            /["\r\n,;\t|]/.test(v) || v.startsWith(" ") ? `"${v.replaceAll('"', '""')}"` : v;
          let text = records.map((r) => r.map(quote).join(delimiter)).join(newline);
          if (sepLine) text = `sep=${delimiter}${newline}${text}`;
          const bytes =
            encoding === "utf-8"
              ? Buffer.from(text, "utf8")
              : encoding === "utf-8-bom"
                ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, "utf8")])
                : encoding === "utf-16le"
                  ? Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")])
                  : iconv.encode(text, "cp949");
          const sheet = await openCsv(chunkedSource(bytes, piece), { limits: resolveLimits() });
          const expected = await outcome(papaRows(sheet));
          expect(await outcome(scannerRows(sheet))).toEqual(expected);
        },
      ),
      { seed: 14, numRuns: 400 },
    );
  });

  it("on raw generated text (malformed quotes included), with the same limit errors", async () => {
    await fc.assert(
      fc.asyncProperty(csvText, fc.integer({ min: 1, max: 8 }), async (text, limit) => {
        const bytes = Buffer.from(`h1,h2\n${text}`, "utf8");
        const limits = resolveLimits({ maxCellLength: limit, maxColumns: limit, maxRows: limit });
        const sheet = await openCsv(chunkedSource(bytes, 5), { limits });
        const expected = await outcome(papaRows(sheet));
        expect(await outcome(scannerRows(sheet))).toEqual(expected);
      }),
      { seed: 14, numRuns: 1000 },
    );
  });

  it("on invalid UTF-8 and UTF-8 that turns out to be CP949 after the sniffed head", async () => {
    const ascii = `id,name\n${"1,abc\n".repeat(20_000)}`;
    for (const tail of [
      iconv.encode("2,김민준\n", "cp949"),
      Buffer.from([0x32, 0x2c, 0xff, 0x0a]),
      Buffer.from([0x32, 0x2c, 0xe0, 0x80, 0x0a]),
      Buffer.from("2,가", "utf8").subarray(0, -1),
    ]) {
      for (const piece of [7, 4096]) {
        const source = chunkedSource(Buffer.concat([Buffer.from(ascii), tail]), piece);
        const sheet = await openCsv(source, { limits: resolveLimits() });
        const expected = await outcome(papaRows(sheet));
        expect(await outcome(scannerRows(sheet))).toEqual(expected);
      }
    }
  });

  it("on an unclosed quote in a large file: CELL_TOO_LONG, as papaparse's reading gives", async () => {
    const text = `a,b\n1,"${"x".repeat(200_000)}\n2,3\n`;
    const sheet = await openCsv(chunkedSource(Buffer.from(text), 4096), { limits: resolveLimits() });
    const viaPapa = await outcome(papaRows(sheet));
    const viaScanner = await outcome(scannerRows(sheet));
    expect(viaPapa).toMatchObject({ code: "CELL_TOO_LONG" });
    expect(viaScanner).toMatchObject({ code: "CELL_TOO_LONG" });
  });

  it.skipIf(!existsSync(corpus))("on every csv file of the shared corpus", async () => {
    const files = (await import("node:fs")).readdirSync(corpus).filter((f) => /\.(csv|tsv|txt)$/i.test(f));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const bytes = readFileSync(corpus + file);
      for (const piece of [3, 64 * 1024]) {
        const { viaPapa, viaScanner } = await readBoth(chunkedSource(bytes, piece, file));
        expect(viaScanner).toEqual(viaPapa);
        expect(viaPapa.length).toBeGreaterThan(0);
      }
    }
  });
});
