import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import type { ByteSource } from "../../src/byte-source.ts";
import type { ChunkMeta } from "../../src/chunk-writer.ts";
import { convertWorkbook } from "../../src/convert-workbook.ts";
import { SluiceError } from "../../src/errors.ts";
import type { ReadLimits } from "../../src/limits.ts";
import { piecewiseSource } from "../piecewise-source.ts";
import { MAIN_NS, stylesXml, xlsxPackage } from "./ooxml-fixtures.ts";

/**
 * xlsx rows reach the chunk writer as JSON text made from the XML bytes (`visitJsonRecords`): numbers copied
 * when their text is already their JSON, text and shared strings escaped straight from UTF-8. The rows path
 * (`rows()`: JS values, then JSON) is the reference: both must give the same chunks, manifest and errors.
 */

type Convert = typeof convertWorkbook;

/** convertWorkbook with the xlsx reader's JSON records hidden: it converts the value rows (`rows()`). */
async function valuePathConvert(): Promise<Convert> {
  vi.resetModules();
  vi.doMock("../../src/xlsx/open-xlsx.ts", async (importOriginal) => {
    const original = await importOriginal<typeof import("../../src/xlsx/open-xlsx.ts")>();
    return {
      ...original,
      openXlsx: async (...args: Parameters<typeof original.openXlsx>) => {
        const { visitJsonRecords: _, ...sheet } = await original.openXlsx(...args);
        return sheet;
      },
    };
  });
  const module = await import("../../src/convert-workbook.ts");
  vi.doUnmock("../../src/xlsx/open-xlsx.ts");
  return module.convertWorkbook;
}

async function run(
  convert: Convert,
  source: ByteSource,
  options: { chunkRows: number; limits?: Partial<ReadLimits> },
) {
  const lines: Buffer[] = [];
  const metas: ChunkMeta[] = [];
  try {
    const manifest = await convert({
      source,
      uploadId: "up-1",
      sink: {
        async writeChunk(line, meta) {
          lines.push(Buffer.from(line)); // lent: copied to keep
          metas.push(meta);
        },
      },
      options: { chunkRows: options.chunkRows, chunkBytes: 1024, limits: options.limits ?? {} },
    });
    return { manifest, metas, bytes: Buffer.concat(lines).toString("utf8") };
  } catch (error) {
    // The value path's modules are a second copy (vi.resetModules): its errors are of that copy's classes.
    const code = (error as SluiceError)?.code;
    if (!(error instanceof SluiceError) && typeof code !== "string") throw error;
    return { code, message: (error as Error).message };
  }
}

// Text as XML bytes: some need decoding (entities, CR, _xHHHH_), some need JSON escapes, some are not UTF-8.
const TEXTS: (string | Buffer)[] = [
  "plain",
  "한국어 주소 123-4",
  "emoji 😀 and 𠜎",
  'say "hi"',
  "back\\slash",
  "tab\there",
  "line\nfeed",
  "a &amp; b &lt;c&gt; &quot;q&quot;",
  "&#13;&#x1F600;&#0;",
  "R&amp;D &apos;x&apos; &nbsp; &AMP; &amp &; a&b &lt",
  "&#; &#x; &#65;",
  "&quot;&quot;&lt;&gt;",
  "&amp;#13; &amp;amp;",
  "cr\r\nlf",
  "under_x000D_score _x005F_x0041_ _x0001_",
  "  spaced  ",
  "0123",
  "true",
  "x".repeat(30),
  Buffer.from([0x62, 0x61, 0x64, 0xff, 0x21]),
  Buffer.from([0xc3]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xe2, 0x82]),
  Buffer.from("é", "latin1"),
];

const NUMBERS = [
  "0",
  "-0",
  "7",
  "-12",
  "0.1",
  "-0.5",
  "1.0",
  "01",
  "1e5",
  "1E-3",
  "0.000001",
  "0.0000001",
  "0.0000012",
  "123456789012345",
  "1234567890123456",
  "12345678901234567890123",
  "3.14159265358979",
  "3.141592653589793",
  "0.30000000000000004",
  " 5 ",
  "5.",
  ".5",
  "-",
  "abc",
  "",
  "1.5e300",
  "1e999",
  "-1e999",
  "45000.25",
  "45000",
  "60",
  "61",
  "59.5",
  "45071.13552083333",
  "2958465.99999",
  "2958466",
];

const text = fc.constantFrom(...TEXTS);
const number = fc.constantFrom(...NUMBERS);

type Piece = string | Buffer;

/**
 * One cell's XML (column letter given or left to position), of every value shape the reader knows. Shapes that
 * fail the whole sheet (a shared-string index past the table) are rare, or few cases would get past them.
 */
const shape = <K extends string, V>(kind: K, v: fc.Arbitrary<V>, weight = 20) => ({
  arbitrary: fc.record({ kind: fc.constant(kind), v }),
  weight,
});
const cell = fc.oneof(
  shape("str", text),
  shape("inline", text),
  shape("inline-v", text),
  shape("n", fc.record({ text: number, style: fc.constantFrom(-1, 0, 1, 2) }), 40),
  shape("s", fc.nat(50), 30),
  shape("s-bad", fc.constantFrom("-1", "99", "x", ""), 1),
  shape("b", fc.constantFrom("0", "1", "true", "")),
  shape("e", fc.constantFrom("#N/A", "#DIV/0!"), 3),
  shape("d", fc.constantFrom("2024-02-29T10:00:00", "2024-01-01", "")),
  shape("split", fc.constantFrom("1<!-- c -->2", "a<![CDATA[<b>]]>")),
  shape("empty", fc.constantFrom("<c/>", "<c></c>", "<c><v></v></c>")),
);
type CellSpec = typeof cell extends fc.Arbitrary<infer T> ? T : never;

function cellXml(spec: CellSpec, ref: string, tableSize: number): Piece[] {
  const r = ref === "" ? "" : ` r="${ref}"`;
  switch (spec.kind) {
    case "str":
      return [`<c${r} t="str"><v>`, spec.v, "</v></c>"];
    case "inline":
      return [`<c${r} t="inlineStr"><is><t>`, spec.v, "</t></is></c>"];
    case "inline-v":
      return [`<c${r} t="inlineStr"><v>`, spec.v, "</v></c>"];
    case "n": {
      const { text, style } = spec.v;
      return [`<c${r}${style < 0 ? "" : ` s="${style}"`}><v>${text}</v></c>`];
    }
    case "s":
      if (tableSize === 0) return [`<c${r}/>`];
      return [`<c${r} t="s"><v>${spec.v % tableSize}</v></c>`];
    case "s-bad":
      return [`<c${r} t="s"><v>${spec.v}</v></c>`];
    case "b":
      return [`<c${r} t="b"><v>${spec.v}</v></c>`];
    case "e":
      return [`<c${r} t="e"><v>${spec.v}</v></c>`];
    case "d":
      return [`<c${r} t="d"><v>${spec.v}</v></c>`];
    case "split":
      return [`<c${r} t="str"><v>${spec.v}</v></c>`];
    case "empty":
      return [spec.v.replace("<c", `<c${r}`)];
  }
}

function letters(index: number): string {
  let name = "";
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26))
    name = String.fromCharCode(65 + ((n - 1) % 26)) + name;
  return name;
}

const sheetArb = fc.record({
  rows: fc.array(
    fc.record({
      cells: fc.array(fc.record({ cell, skip: fc.integer({ min: 0, max: 2 }), ref: fc.boolean() }), {
        minLength: 1,
        maxLength: 8,
      }),
    }),
    { minLength: 1, maxLength: 30 },
  ),
  shared: fc.array(fc.oneof(text, fc.constant("<r><t>ri</t></r><r><t>ch</t></r>")), { maxLength: 10 }),
  prefixed: fc.boolean(),
  // Small pieces send many cells through the tokenizer's general path; whole parts through the byte loop.
  pieceSize: fc.oneof(
    fc.integer({ min: 1, max: 97 }),
    fc.constant(1 << 20),
    fc.integer({ min: 200, max: 3000 }),
  ),
  chunkRows: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constant(1000)),
  maxCellLength: fc.constantFrom(32_767, 32_767, 32_767, 25),
  spill: fc.boolean(),
  date1904: fc.boolean(),
});
type SheetCase = typeof sheetArb extends fc.Arbitrary<infer T> ? T : never;

function workbookOf(c: SheetCase): Buffer {
  const pieces: Piece[] = [];
  c.rows.forEach((row, r) => {
    pieces.push(`<row r="${r + 1}">`);
    let column = 0;
    for (const { cell: spec, skip, ref } of row.cells) {
      column += skip;
      pieces.push(...cellXml(spec, ref || skip > 0 ? `${letters(column)}${r + 1}` : "", c.shared.length));
      column++;
    }
    pieces.push("</row>");
  });
  let rows = Buffer.concat(pieces.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : p)));
  if (c.prefixed) {
    // Every element prefixed: the tokenizer's general path reads the whole sheet.
    rows = Buffer.from(
      rows.toString("latin1").replace(/<(\/?)(row|c|v|is|t)(?=[\s/>])/g, "<$1x:$2"),
      "latin1",
    );
  }
  const p = c.prefixed ? "x:" : "";
  const ns = c.prefixed ? `xmlns:x="${MAIN_NS}"` : `xmlns="${MAIN_NS}"`;
  const sheet = Buffer.concat([
    Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><${p}worksheet ${ns}><${p}sheetData>`),
    rows,
    Buffer.from(`</${p}sheetData></${p}worksheet>`),
  ]);
  const si = c.shared.map((s) =>
    typeof s === "string" && s.startsWith("<r>")
      ? Buffer.from(`<si>${s}</si>`)
      : Buffer.concat([
          Buffer.from("<si><t>"),
          typeof s === "string" ? Buffer.from(s) : s,
          Buffer.from("</t></si>"),
        ]),
  );
  const sst = Buffer.concat([
    Buffer.from(`<?xml version="1.0"?><sst xmlns="${MAIN_NS}">`),
    ...si,
    Buffer.from("</sst>"),
  ]);
  // Parts with raw bytes (not UTF-8 on purpose): the package writer stores a Buffer as it is.
  return xlsxPackage({
    sheets: [{ name: "S", xml: sheet as unknown as string }],
    sharedStrings: sst as unknown as string,
    styles: stylesXml([0, 14, 22]),
    entries: { store: true },
    ...(c.date1904 ? { date1904: "1" } : {}),
  });
}

describe("xlsx conversion: the JSON records path gives what the value rows path gives", () => {
  it("the same chunk bytes, pointers, manifest and errors (every cell shape, cut anywhere, limits, spill)", async () => {
    const viaValues = await valuePathConvert();
    let converted = 0;
    let cases = 0;
    const codes: string[] = [];
    await fc.assert(
      fc.asyncProperty(sheetArb, async (c) => {
        const bytes = workbookOf(c);
        const limits: Partial<ReadLimits> = {
          maxCellLength: c.maxCellLength,
          ...(c.spill ? { sharedStringsMemoryBytes: 16 } : {}),
        };
        const expected = await run(viaValues, piecewiseSource(bytes, c.pieceSize, "generated.xlsx"), {
          chunkRows: c.chunkRows,
          limits,
        });
        const actual = await run(convertWorkbook, piecewiseSource(bytes, c.pieceSize, "generated.xlsx"), {
          chunkRows: c.chunkRows,
          limits,
        });
        expect(actual).toEqual(expected);
        cases++;
        if ("manifest" in expected) converted++;
        else codes.push(String(expected.code));
      }),
      { seed: 14, numRuns: 400 },
    );
    // Most cases must get past the first row, or the property says little about the JSON path.
    expect(converted / cases, codes.join()).toBeGreaterThan(0.6);
  });
});
