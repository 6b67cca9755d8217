import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { bufferSource } from "../../src/byte-source.ts";
import { convertWorkbook } from "../../src/convert-workbook.ts";
import type { SluiceError } from "../../src/errors.ts";
import {
  entryLayout,
  oneSheet,
  type PackageSpec,
  readCells,
  sharedStringsXml,
  worksheet,
  xlsxPackage,
} from "./ooxml-fixtures.ts";

/**
 * Every zip entry is checked against the CRC-32 and uncompressed size its central directory records, as it
 * streams: a damaged byte fails the upload as WORKBOOK_CORRUPT naming the part, never a quietly mangled row.
 */
const SHEET = "xl/worksheets/sheet1.xml";
const ROWS = `<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c><c r="B1" t="inlineStr"><is><t>qty</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>kimchi</t></is></c><c r="B2"><v>7</v></c></row>`;
const EXPECTED = [
  ["name", "qty"],
  ["kimchi", 7],
];

function rejection(work: () => Promise<unknown>): Promise<SluiceError> {
  return work().then(
    (value) => {
      throw new Error(`expected an error, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error as SluiceError,
  );
}

/** Whole conversion, as the CLI and the Lambda run it. */
async function convert(bytes: Buffer) {
  const lines: string[] = [];
  await convertWorkbook({
    source: bufferSource(bytes, "damaged.xlsx"),
    uploadId: "u-1",
    sink: {
      async writeChunk(line: Buffer) {
        lines.push(line.toString("utf8"));
      },
    },
  });
  return lines;
}

/** Replaces the first occurrence of `from` by `to` (same length) in the zip's bytes. */
function patch(bytes: Buffer, from: string, to: string): Buffer {
  const at = bytes.indexOf(from);
  expect(at).toBeGreaterThan(0);
  const copy = Buffer.from(bytes);
  copy.write(to, at, "latin1");
  return copy;
}

describe("zip entry integrity (CRC-32 and size)", () => {
  it("a flipped byte in a STORED sheet fails WORKBOOK_CORRUPT with the part and both CRCs", async () => {
    const bytes = oneSheet(ROWS, { entries: { store: true } });
    expect(await readCells(bytes)).toEqual(EXPECTED);
    const damaged = patch(bytes, "kimchi", "kimcha");
    const error = await rejection(() => readCells(damaged));
    expect(error.code).toBe("WORKBOOK_CORRUPT");
    expect(error.details).toMatchObject({ part: SHEET, check: "crc32" });
    expect(error.message).toMatch(/xl\/worksheets\/sheet1\.xml fails its CRC-32 check \(the zip says 0x/);
    // The same through the whole conversion: no manifest, the typed error.
    expect((await rejection(() => convert(damaged))).code).toBe("WORKBOOK_CORRUPT");
  });

  it("a flipped byte in a stored header cell is caught too (the mangled header never reaches a chunk)", async () => {
    const damaged = patch(oneSheet(ROWS, { entries: { store: true } }), "qty", "qtz");
    const error = await rejection(() => convert(damaged));
    expect(error.code).toBe("WORKBOOK_CORRUPT");
    expect(error.details).toMatchObject({ part: SHEET, check: "crc32" });
  });

  it("a flipped byte in the stored shared strings part fails it, before the sheet is read", async () => {
    const rows = `<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" t="s"><v>1</v></c></row>`;
    const bytes = oneSheet(rows, {
      sharedStrings: sharedStringsXml(["name", "kimchi"]),
      entries: { store: true },
    });
    expect(await readCells(bytes)).toEqual([["name"], ["kimchi"]]);
    const error = await rejection(() => readCells(patch(bytes, "kimchi", "kimchj")));
    expect(error.details).toMatchObject({ part: "xl/sharedStrings.xml", check: "crc32" });
  });

  it("a flipped byte in a DEFLATED entry that still inflates fails its CRC", async () => {
    // Deflate level 0 writes stored deflate blocks: the flip inflates cleanly to different bytes.
    const bytes = oneSheet(ROWS, { entries: { level: 0 } });
    expect(await readCells(bytes)).toEqual(EXPECTED);
    const error = await rejection(() => readCells(patch(bytes, "kimchi", "kimchy")));
    expect(error.code).toBe("WORKBOOK_CORRUPT");
    expect(error.details).toMatchObject({ part: SHEET, check: "crc32" });
  });

  it("any single flipped byte in compressed sheet data is WORKBOOK_CORRUPT or changes nothing", async () => {
    const many = Array.from(
      { length: 40 },
      (_, i) =>
        `<row r="${i + 2}"><c r="A${i + 2}" t="inlineStr"><is><t>item ${i}</t></is></c><c r="B${i + 2}"><v>${i * 3}</v></c></row>`,
    ).join("");
    const bytes = oneSheet(ROWS.slice(0, ROWS.indexOf('<row r="2">')) + many);
    const good = await readCells(bytes);
    const { dataStart, compressedSize } = entryLayout(bytes, SHEET);
    let corrupt = 0;
    for (let at = dataStart; at < dataStart + compressedSize; at++) {
      const damaged = Buffer.from(bytes);
      damaged[at] = damaged[at]! ^ 0x10;
      const outcome = await readCells(damaged).then(
        (cells) => ({ cells }),
        (error: SluiceError) => ({ code: error.code }),
      );
      // A flip in padding bits may leave the inflated bytes as they were; otherwise it never passes silently.
      if ("cells" in outcome) expect(outcome.cells).toEqual(good);
      else {
        expect(outcome.code).toBe("WORKBOOK_CORRUPT");
        corrupt++;
      }
    }
    expect(corrupt).toBeGreaterThan(compressedSize / 2);
  });

  it("an entry shorter than its recorded size (truncated data) fails the size check", async () => {
    const bytes = oneSheet(ROWS, { entries: { store: true } });
    const { central } = entryLayout(bytes, SHEET);
    const damaged = Buffer.from(bytes);
    // The central directory now stores 8 bytes fewer than the part's recorded uncompressed size.
    damaged.writeUInt32LE(damaged.readUInt32LE(central + 20) - 8, central + 20);
    const error = await rejection(() => readCells(damaged));
    expect(error.code).toBe("WORKBOOK_CORRUPT");
    expect(error.details).toMatchObject({ part: SHEET, check: "size" });
    expect(error.message).toMatch(/inflates to \d+ bytes but the zip says \d+/);
  });

  it("an entry that inflates past its recorded size stops there", async () => {
    const bytes = oneSheet(ROWS);
    const { central } = entryLayout(bytes, SHEET);
    const damaged = Buffer.from(bytes);
    damaged.writeUInt32LE(damaged.readUInt32LE(central + 24) - 5, central + 24);
    const error = await rejection(() => readCells(damaged));
    expect(error.details).toMatchObject({ part: SHEET, check: "size" });
    expect(error.message).toMatch(/inflates to more than \d+ bytes/);
  });

  it("a file cut short is WORKBOOK_CORRUPT", async () => {
    const bytes = oneSheet(ROWS);
    for (const keep of [bytes.length - 1, Math.floor(bytes.length / 2), 40]) {
      expect((await rejection(() => convert(bytes.subarray(0, keep)))).code).toBe("WORKBOOK_CORRUPT");
    }
  });

  const layouts: [string, PackageSpec["entries"]][] = [
    ["data descriptors (deflated)", { descriptor: true }],
    ["data descriptors (stored)", { descriptor: true, store: true }],
    ["zip64 sizes", { zip64: true }],
    ["zip64 sizes with data descriptors", { zip64: true, descriptor: true, store: true }],
  ];
  for (const [label, entries] of layouts) {
    it(`${label}: sizes and CRC come from the central directory; valid reads, damaged fails`, async () => {
      const bytes = xlsxPackage({ sheets: [{ name: "Sheet1", xml: worksheet(ROWS) }], entries });
      expect(await readCells(bytes)).toEqual(EXPECTED);
      const { central } = entryLayout(bytes, SHEET);
      const damaged = Buffer.from(bytes);
      damaged.writeUInt32LE((damaged.readUInt32LE(central + 16) ^ 1) >>> 0, central + 16);
      const error = await rejection(() => readCells(damaged));
      expect(error.code).toBe("WORKBOOK_CORRUPT");
      expect(error.details).toMatchObject({ part: SHEET, check: "crc32" });
    });
  }

  it("the repository's example workbook still converts, and fails when one of its bytes is damaged", async () => {
    const bytes = readFileSync(new URL("../../../../examples/orders-with-errors.xlsx", import.meta.url));
    expect((await convert(bytes)).length).toBeGreaterThan(0);
    const { central } = entryLayout(bytes, SHEET);
    const damaged = Buffer.from(bytes);
    damaged.writeUInt32LE((damaged.readUInt32LE(central + 16) ^ 0x80000000) >>> 0, central + 16);
    const error = await rejection(() => convert(damaged));
    expect(error.details).toMatchObject({ part: SHEET, check: "crc32" });
  });
});

describe("parts cut short inside a valid zip (CRC right)", () => {
  const rows = `<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row><row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" s="1"><v>46317</v></c></row>`;
  const spec = (parts: Record<string, (xml: string) => string> = {}): Buffer => {
    const edit = (name: string, xml: string) => (parts[name] ?? ((x: string) => x))(xml);
    return xlsxPackage({
      sheets: [{ name: "Sheet1", xml: edit("sheet", worksheet(rows)) }],
      sharedStrings: edit("sharedStrings", sharedStringsXml(["name", "when", "kimchi"])),
      styles: edit(
        "styles",
        `<styleSheet xmlns="${MAIN}"><cellXfs><xf numFmtId="0"/><xf numFmtId="14"/></cellXfs></styleSheet>`,
      ),
    });
  };
  const MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";

  it("reads the whole package, trailing whitespace and comments after the root included", async () => {
    expect(await readCells(spec())).toEqual([
      ["name", "when"],
      ["kimchi", "2026-10-22"],
    ]);
    const tail = (xml: string) => `${xml}\n<!-- written by hand -->\n`;
    expect(await readCells(spec({ sheet: tail, styles: tail, sharedStrings: tail }))).toEqual([
      ["name", "when"],
      ["kimchi", "2026-10-22"],
    ]);
  });

  for (const part of ["sheet", "sharedStrings", "styles"]) {
    it(`${part}: cut short, or emptied, is WORKBOOK_CORRUPT, not a silently shorter reading`, async () => {
      const cut = await rejection(() =>
        readCells(spec({ [part]: (xml) => xml.slice(0, xml.lastIndexOf("</")) })),
      );
      expect(cut.code).toBe("WORKBOOK_CORRUPT");
      expect(cut.message).toMatch(/ends before its root element <\w+> is closed|ends inside row/);
      const empty = await rejection(() => readCells(spec({ [part]: () => "" })));
      expect(empty.code).toBe("WORKBOOK_CORRUPT");
    });
  }

  it("a styles part the relationships name but the zip lacks is WORKBOOK_CORRUPT (dates would read as numbers)", async () => {
    const entries = spec();
    const { readEntries, writeEntries } = await import("../fuzz/harness.ts");
    const without = writeEntries(readEntries(entries)!.filter((e) => e.name !== "xl/styles.xml"));
    const error = await rejection(() => readCells(without));
    expect(error.code).toBe("WORKBOOK_CORRUPT");
    expect(error.message).toMatch(/name the part xl\/styles\.xml \(styles\), but the zip has no such entry/);
  });

  it("rows out of order or repeated are WORKBOOK_CORRUPT (two rows must never share a number)", async () => {
    const row = (r: number) => `<row r="${r}"><c r="A${r}"><v>${r}</v></c></row>`;
    expect(await readCells(oneSheet(row(1) + row(2) + row(5)))).toEqual([[1], [2], [5]]);
    for (const order of [
      [1, 3, 2],
      [1, 2, 2],
    ]) {
      const error = await rejection(() => readCells(oneSheet(order.map(row).join(""))));
      expect(error.code).toBe("WORKBOOK_CORRUPT");
      expect(error.message).toMatch(/lists row 2 after row [23]: rows must be in ascending order/);
    }
  });

  it("cells out of order or repeated in a row are WORKBOOK_CORRUPT (a value must never be replaced)", async () => {
    const cell = (ref: string, v: number) => `<c r="${ref}"><v>${v}</v></c>`;
    const ok = `<row r="1">${cell("A1", 1)}${cell("C1", 3)}<c><v>4</v></c></row>`;
    expect(await readCells(oneSheet(ok))).toEqual([[1, null, 3, 4]]);
    for (const cells of [cell("A1", 1) + cell("A1", 9), cell("B1", 2) + cell("A1", 1)]) {
      const error = await rejection(() => readCells(oneSheet(`<row r="1">${cells}</row>`)));
      expect(error.code).toBe("WORKBOOK_CORRUPT");
      expect(error.message).toMatch(
        /lists a cell in column 1 after column [12] in row 1: cells must be in ascending order/,
      );
    }
  });
});
