import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { ByteSource } from "../../src/byte-source.ts";
import { bufferSource } from "../../src/byte-source.ts";
import { EmptyWorkbookError, SheetNotFoundError, SluiceError } from "../../src/errors.ts";
import { resolveLimits } from "../../src/limits.ts";
import { openXlsx } from "../../src/xlsx/open-xlsx.ts";
import {
  collect,
  errorCode,
  MAIN_NS,
  oneSheet,
  open,
  readCells,
  readRows,
  STRICT_REL_NS,
  sharedStringsXml,
  stylesXml,
  worksheet,
  xlsxPackage,
  zip,
} from "./ooxml-fixtures.ts";

const ROWS = `<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c><c r="B1" t="inlineStr"><is><t>n</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>kim</t></is></c><c r="B2"><v>7</v></c></row>`;
const EXPECTED = [
  ["name", "n"],
  ["kim", 7],
];

describe("package structure", () => {
  describe.each([
    ["transitional, relative targets", {}],
    ["strict namespaces", { relNs: STRICT_REL_NS }],
    ["absolute targets", { absoluteTargets: true }],
    ["parts at the zip root", { dir: "" }],
    ["strict, absolute, at the root", { relNs: STRICT_REL_NS, absoluteTargets: true, dir: "" }],
  ])("%s", (_label, extra) => {
    it("finds the workbook through _rels/.rels and reads the sheet", async () => {
      expect(await readCells(oneSheet(ROWS, extra))).toEqual(EXPECTED);
    });
  });

  it.each([
    ["garbage _rels/.rels", "CORRUPTED"],
    ["no officeDocument relationship", `<Relationships xmlns="x"/>`],
  ])("falls back to xl/workbook.xml when the package rels are unusable (%s)", async (_label, rootRels) => {
    expect(await readCells(oneSheet(ROWS, { rootRels }))).toEqual(EXPECTED);
  });

  it("falls back when _rels/.rels is missing", async () => {
    expect(await readCells(oneSheet(ROWS, { rootRels: null }))).toEqual(EXPECTED);
  });

  it("guesses worksheets/sheetN.xml and sibling parts when the workbook rels are missing", async () => {
    const bytes = oneSheet(`<row r="1"><c r="A1" t="s"><v>0</v></c></row>`, {
      workbookRels: null,
      sharedStrings: sharedStringsXml(["hello"]),
    });
    expect(await readCells(bytes)).toEqual([["hello"]]);
  });

  it("a zip without a workbook part is WORKBOOK_CORRUPT", async () => {
    const bytes = zip([{ name: "word/document.xml", data: "<w:document/>" }]);
    expect(await errorCode(() => open(bytes))).toBe("WORKBOOK_CORRUPT");
  });

  it.each([
    ["not a zip", Buffer.from("just some text, definitely not a zip file")],
    ["empty", Buffer.alloc(0)],
    ["truncated zip", oneSheet(ROWS).subarray(0, 200)],
  ])("bytes that do not open as a zip are WORKBOOK_CORRUPT (%s)", async (_label, bytes) => {
    expect(await errorCode(() => open(bytes))).toBe("WORKBOOK_CORRUPT");
  });

  it("an ODS file is UNSUPPORTED_FORMAT with a save-as hint", async () => {
    const bytes = zip([
      { name: "mimetype", data: "application/vnd.oasis.opendocument.spreadsheet", store: true },
      { name: "content.xml", data: "<office:document-content/>" },
    ]);
    const error = await open(bytes).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SluiceError);
    expect((error as SluiceError).code).toBe("UNSUPPORTED_FORMAT");
    expect((error as SluiceError).message).toMatch(/save it as \.xlsx/);
  });

  it("an xlsb file is UNSUPPORTED_FORMAT with a save-as hint", async () => {
    const bytes = zip([
      {
        name: "_rels/.rels",
        data: `<Relationships><Relationship Id="r" Type="${STRICT_REL_NS}/officeDocument" Target="xl/workbook.bin"/></Relationships>`,
      },
      { name: "xl/workbook.bin", data: Buffer.from([1, 2, 3]) },
    ]);
    const error = (await open(bytes).catch((e: unknown) => e)) as SluiceError;
    expect(error.code).toBe("UNSUPPORTED_FORMAT");
    expect(error.message).toMatch(/xlsb.*save it as \.xlsx/);
  });

  it("reads stored (uncompressed) entries", async () => {
    const bytes = zip([
      {
        name: "_rels/.rels",
        data: `<Relationships><Relationship Id="r" Type="${STRICT_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
        store: true,
      },
      {
        name: "xl/workbook.xml",
        data: `<workbook xmlns="${MAIN_NS}" xmlns:r="r"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`,
        store: true,
      },
      {
        name: "xl/_rels/workbook.xml.rels",
        data: `<Relationships><Relationship Id="rId1" Type="${STRICT_REL_NS}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`,
        store: true,
      },
      { name: "xl/worksheets/sheet1.xml", data: worksheet(ROWS), store: true },
    ]);
    expect(await readCells(bytes)).toEqual(EXPECTED);
  });
});

describe("namespace prefixes", () => {
  it("matches local names of prefixed elements", async () => {
    const rows = `<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>a</x:t></x:is></x:c><x:c r="B1" t="s"><x:v>0</x:v></x:c><x:c r="C1"><x:v>2.5</x:v></x:c></x:row>`;
    const sst = `<x:sst xmlns:x="${MAIN_NS}"><x:si><x:r><x:t>rich</x:t></x:r><x:r><x:t xml:space="preserve"> text</x:t></x:r></x:si></x:sst>`;
    const bytes = xlsxPackage({ sheets: [{ name: "S", xml: worksheet(rows, "x") }], sharedStrings: sst });
    expect(await readCells(bytes)).toEqual([["a", "rich text", 2.5]]);
  });
});

describe("sheets", () => {
  const sheet = (text: string) =>
    worksheet(`<row r="1"><c r="A1" t="inlineStr"><is><t>${text}</t></is></c></row>`);

  it("lists worksheets in order with visibility, skips chart and dialog sheets, defaults to the first visible", async () => {
    const bytes = xlsxPackage({
      sheets: [
        { name: "Hidden", xml: sheet("h"), state: "hidden" },
        { name: "Chart", kind: "chartsheet", xml: "<chartsheet/>" },
        { name: "Very", xml: sheet("v"), state: "veryHidden" },
        { name: "Shown", xml: sheet("s") },
        { name: "Dialog", kind: "dialogsheet", xml: "<dialogsheet/>" },
        { name: "Later", xml: sheet("l") },
      ],
    });
    const opened = await open(bytes);
    expect(opened.format).toBe("xlsx");
    expect(opened.sheets).toEqual([
      { name: "Hidden", visible: false },
      { name: "Very", visible: false },
      { name: "Shown", visible: true },
      { name: "Later", visible: true },
    ]);
    expect(opened.sheet).toBe("Shown");
    expect((await collect(opened)).map((r) => r.cells)).toEqual([["s"]]);
    expect(await readCells(bytes, { sheet: "Hidden" })).toEqual([["h"]]);
    expect(await readCells(bytes, { sheet: "Later" })).toEqual([["l"]]);
  });

  it("falls back to the first worksheet when none is visible", async () => {
    const bytes = xlsxPackage({ sheets: [{ name: "A", xml: sheet("a"), state: "hidden" }] });
    expect((await open(bytes)).sheet).toBe("A");
  });

  it("a missing sheet name is SHEET_NOT_FOUND listing the worksheets", async () => {
    const bytes = xlsxPackage({
      sheets: [
        { name: "One", xml: sheet("1") },
        { name: "Two", xml: sheet("2") },
      ],
    });
    const error = await open(bytes, { sheet: "one" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SheetNotFoundError);
    expect((error as SheetNotFoundError).sheets).toEqual(["One", "Two"]);
    expect((error as SheetNotFoundError).message).toContain('"One", "Two"');
  });

  it("zero worksheets is EMPTY_WORKBOOK saying so", async () => {
    const bytes = xlsxPackage({ sheets: [{ name: "Chart", kind: "chartsheet", xml: "<chartsheet/>" }] });
    const error = await open(bytes).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmptyWorkbookError);
    expect((error as Error).message).toMatch(/no worksheets/);
  });

  it("a worksheet whose part is missing is WORKBOOK_CORRUPT", async () => {
    const bytes = xlsxPackage({
      sheets: [{ name: "S" }],
      workbookRels: `<Relationships><Relationship Id="rId1" Type="${STRICT_REL_NS}/worksheet" Target="worksheets/nope.xml"/></Relationships>`,
    });
    expect(await errorCode(() => open(bytes))).toBe("WORKBOOK_CORRUPT");
  });

  it("reports details and reads the sheet again on a second rows() call", async () => {
    const bytes = oneSheet(`<row r="1"><c r="A1" t="s"><v>1</v></c></row>`, {
      sharedStrings: sharedStringsXml(["a", "b"]),
      date1904: "true",
    });
    const opened = await open(bytes);
    expect(opened.details).toEqual({ dateSystem: 1904, sharedStrings: 2 });
    expect((await collect(opened)).map((r) => r.cells)).toEqual([["b"]]);
    expect((await collect(opened)).map((r) => r.cells)).toEqual([["b"]]);
  });
});

describe("rows and columns", () => {
  it("uses r of <row> and the column letters of <c r>", async () => {
    const rows = await readRows(
      oneSheet(
        `<row r="3"><c r="B3"><v>1</v></c><c r="Z3"><v>2</v></c><c r="AA3"><v>3</v></c><c r="AB3"><v>4</v></c></row>`,
      ),
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.row).toBe(3);
    const cells = rows[0]!.cells;
    expect(cells.length).toBe(28);
    expect([cells[0], cells[1], cells[25], cells[26], cells[27]]).toEqual([null, 1, 2, 3, 4]);
  });

  it("implicit positions: rows count on from the previous row, cells from the previous cell", async () => {
    const rows = await readRows(
      oneSheet(
        `<row r="2"><c><v>1</v></c><c><v>2</v></c></row><row><c r="C3"><v>3</v></c><c><v>4</v></c></row><row><c><v>5</v></c></row>`,
      ),
    );
    expect(rows.map((r) => [r.row, r.cells])).toEqual([
      [2, [1, 2]],
      [3, [null, null, 3, 4]],
      [4, [5]],
    ]);
  });

  it("skips rows with no non-empty cell (empty strings count as empty)", async () => {
    const rows = await readRows(
      oneSheet(
        `<row r="1"><c r="A1" s="0"/><c r="B1" t="inlineStr"><is><t></t></is></c><c r="C1" t="s"><v>0</v></c><c r="D1" t="str"><f>""</f><v></v></c></row><row r="2"/><row r="3"><c r="A3"><v>1</v></c></row>`,
        { sharedStrings: sharedStringsXml([""]) },
      ),
    );
    expect(rows.map((r) => [r.row, r.cells])).toEqual([[3, [1]]]);
  });

  it("empty strings inside a kept row are empty cells", async () => {
    expect(
      await readCells(
        oneSheet(`<row r="1"><c r="A1" t="inlineStr"><is><t/></is></c><c r="B1"><v>1</v></c></row>`),
      ),
    ).toEqual([[null, 1]]);
  });

  it("yields rows in batches without holding the sheet", async () => {
    const body = Array.from(
      { length: 3000 },
      (_, i) => `<row r="${i + 1}"><c r="A${i + 1}"><v>${i}</v></c></row>`,
    );
    const opened = await open(oneSheet(body.join("")));
    const sizes: number[] = [];
    let total = 0;
    for await (const batch of opened.rows()) {
      sizes.push(batch.length);
      total += batch.length;
    }
    expect(total).toBe(3000);
    expect(sizes.length).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1024);
  });
});

describe("values", () => {
  const sst = sharedStringsXml(["shared", "-8086931554011838357", "0001"]);

  it("reads every cell type", async () => {
    const rows = await readRows(
      oneSheet(
        `<row r="1">` +
          `<c r="A1" t="s"><v>0</v></c>` +
          `<c r="B1" t="inlineStr"><is><t>inline</t></is></c>` +
          `<c r="C1" t="inlineStr"><is><r><t>ri</t></r><r><rPr><b/></rPr><t>ch</t></r></is></c>` +
          `<c r="D1" t="str"><f>A1&amp;"x"</f><v>sharedx</v></c>` +
          `<c r="E1" t="b"><v>1</v></c>` +
          `<c r="F1" t="b"><v>0</v></c>` +
          `<c r="G1" t="e"><v>#DIV/0!</v></c>` +
          `<c r="H1"><v>0001</v></c>` +
          `<c r="I1" t="n"><v>-12.5e3</v></c>` +
          `<c r="J1"><f>1/0</f></c>` +
          `<c r="K1"><f>SUM(1,2)</f><v>3</v></c>` +
          `<c r="L1" t="s"><v>1</v></c>` +
          `<c r="M1" t="s"><v>2</v></c>` +
          `<c r="N1" t="d"><v>2021-01-01T10:10:10</v></c>` +
          `<c r="O1"><v>0.1</v></c>` +
          `<c r="P1"><v>123456789012345678</v></c>` +
          `</row>`,
        { sharedStrings: sst },
      ),
    );
    expect(rows).toEqual([
      {
        row: 1,
        cells: [
          "shared",
          "inline",
          "rich",
          "sharedx",
          true,
          false,
          null,
          1,
          -12500,
          null,
          3,
          "-8086931554011838357",
          "0001",
          "2021-01-01T10:10:10",
          0.1,
          Number("123456789012345678"),
        ],
        warnings: [{ column: 6, code: "CELL_ERROR", message: "#DIV/0!" }],
      },
    ]);
  });

  it("parses decimals exactly like Number()", async () => {
    const values = [
      "0.1",
      "1.7976931348623157",
      "-0.000123",
      "123456.789012345",
      "3.14159265358979",
      "1e-7",
      "12.",
    ];
    const cells = values.map((v, i) => `<c r="${String.fromCharCode(65 + i)}1"><v>${v}</v></c>`).join("");
    expect(await readCells(oneSheet(`<row r="1">${cells}</row>`))).toEqual([values.map(Number)]);
  });

  it("skips <rPh> phonetic runs in shared and inline strings", async () => {
    const sstXml = `<sst xmlns="${MAIN_NS}"><si><r><t>課</t></r><rPh sb="0" eb="1"><t>カ</t></rPh><r><t>毛</t></r><phoneticPr fontId="1"/></si></sst>`;
    const rows = `<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>漢</t><rPh sb="0" eb="1"><t>かん</t></rPh></is></c></row>`;
    expect(await readCells(oneSheet(rows, { sharedStrings: sstXml }))).toEqual([["課毛", "漢"]]);
  });

  it("decodes entities, _xHHHH_ escapes, CDATA, line ends, and keeps whitespace", async () => {
    const sstXml = `<sst xmlns="${MAIN_NS}"><si><t>ABC_x000D_\r\nDEF</t></si><si><t xml:space="preserve">  pad  </t></si><si><t><![CDATA[<b>&amp;</b>]]></t></si></sst>`;
    const rows =
      `<row r="1">` +
      `<c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c>` +
      `<c r="D1" t="inlineStr"><is><t>&lt;&amp;&gt;&quot;&apos;&#65;&#x42;</t></is></c>` +
      `<c r="E1" t="inlineStr"><is><t>_x005F_x000D_ a\rb</t></is></c>` +
      `<c r="F1" t="inlineStr"><is><t><![CDATA[12345]]></t></is></c>` +
      `<c r="G1" t="str"><v>a&#13;&#10;b</v></c>` +
      `</row>`;
    expect(await readCells(oneSheet(rows, { sharedStrings: sstXml }))).toEqual([
      ["ABC\r\nDEF", "  pad  ", "<b>&amp;</b>", "<&>\"'AB", "_x000D_ a\nb", "12345", "a\r\nb"],
    ]);
  });

  it("ignores comments and processing instructions between and inside cells", async () => {
    const rows = `<!-- a comment --><?pi x?><row r="1"><c r="A1"><!--x--><v>4<!-- y -->2</v></c><c r="B1" t="inlineStr"><is><t>a<!--z-->b</t></is></c></row>`;
    expect(await readCells(oneSheet(rows))).toEqual([[42, "ab"]]);
  });

  it("handles attributes with single quotes, '>' inside values, and whitespace around '='", async () => {
    const rows = `<row r = '1' x="a>b"><c r='A1' t = 'inlineStr' y="1>0"><is><t>ok</t></is></c></row>`;
    expect(await readCells(oneSheet(rows))).toEqual([["ok"]]);
  });

  it("works without a shared-strings part, and with wrong count attributes", async () => {
    expect(await readCells(oneSheet(`<row r="1"><c r="A1"><v>1</v></c></row>`))).toEqual([[1]]);
    const wrongCounts = `<sst xmlns="${MAIN_NS}" count="1" uniqueCount="1"><si><t>a</t></si><si><t>b</t></si><si><t>c</t></si></sst>`;
    expect(
      await readCells(
        oneSheet(`<row r="1"><c r="A1" t="s"><v>2</v></c></row>`, { sharedStrings: wrongCounts }),
      ),
    ).toEqual([["c"]]);
  });

  it("a shared-string index past the table is WORKBOOK_CORRUPT", async () => {
    const bytes = oneSheet(`<row r="1"><c r="A1" t="s"><v>5</v></c></row>`, {
      sharedStrings: sharedStringsXml(["a"]),
    });
    expect(await errorCode(() => readRows(bytes))).toBe("WORKBOOK_CORRUPT");
  });
});

describe("dates", () => {
  // cellXfs: 0 General, 1 built-in 14 (date), 2 built-in 22 (date-time), 3 custom date, 4 custom time,
  // 5 elapsed, 6 number, 7 built-in 21 (time), 8 Korean locale id 31, 9 quoted text that only looks like a date
  const styles = stylesXml([0, 14, 22, 164, 165, 166, 2, 21, 31, 167], {
    164: "[$-409]yyyy/mm/dd;@",
    165: "hh:mm:ss AM/PM",
    166: "[h]:mm",
    167: '"day"0',
  });
  const row =
    `<row r="1"><c r="A1" s="1"><v>43990</v></c><c r="B1" s="2"><v>44197.5</v></c><c r="C1" s="3"><v>60</v></c>` +
    `<c r="D1" s="4"><v>0.75</v></c><c r="E1" s="5"><v>1.25</v></c><c r="F1" s="6"><v>43990</v></c>` +
    `<c r="G1" s="7"><v>44197.000011574</v></c><c r="H1" s="8"><v>44197</v></c><c r="I1" s="9"><v>5</v></c>` +
    `<c r="J1" s="1"><v>-1</v></c><c r="K1" s="1"><v>4018.99999998843</v></c><c r="L1"><v>43990</v></c>` +
    `<c r="M1" s="1" t="str"><v>43990</v></c></row>`;

  it("1900 system", async () => {
    expect(await readCells(oneSheet(row, { styles }))).toEqual([
      [
        "2020-06-08",
        "2021-01-01T12:00:00",
        "1900-02-29",
        "18:00:00",
        "30:00:00",
        43990,
        "00:00:01",
        "2021-01-01",
        5,
        -1,
        "1911-01-01",
        43990,
        "43990",
      ],
    ]);
  });

  it.each(["1", "true"])('1904 system (date1904="%s")', async (flag) => {
    const cells = (await readCells(oneSheet(row, { styles, date1904: flag })))[0]!;
    expect(cells[0]).toBe("2024-06-09");
    expect(cells[2]).toBe("1904-03-01");
    expect(cells[3]).toBe("18:00:00");
  });

  it('date1904="0" and "false" are the 1900 system', async () => {
    for (const flag of ["0", "false"]) {
      expect((await readCells(oneSheet(row, { styles, date1904: flag })))[0]![0]).toBe("2020-06-08");
    }
  });
});

describe("security and limits", () => {
  it("a DOCTYPE in any part read is XML_DTD_FORBIDDEN", async () => {
    const dtd = `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>`;
    const cases: [string, Buffer][] = [
      ["sheet", oneSheet("").subarray(0, 0)],
      [
        "sharedStrings",
        oneSheet("", { sharedStrings: `${dtd}<sst xmlns="${MAIN_NS}"><si><t>&b;</t></si></sst>` }),
      ],
      ["styles", oneSheet("", { styles: `${dtd}<styleSheet/>` })],
      ["root rels", oneSheet("", { rootRels: `${dtd}<Relationships/>` })],
    ];
    cases[0] = [
      "sheet",
      xlsxPackage({ sheets: [{ name: "S", xml: `${dtd}<worksheet><sheetData/></worksheet>` }] }),
    ];
    for (const [part, bytes] of cases) {
      const code = await errorCode(() => readRows(bytes));
      expect([part, code]).toEqual([part, "XML_DTD_FORBIDDEN"]);
    }
  });

  it("malformed XML is WORKBOOK_CORRUPT, never a TypeError", async () => {
    const broken = [
      `<row r="1"><c r="A1"><v>1</v></c></row><row r="2"><c r="A2" t=inlineStr>`,
      `<row r="1"><c r="A1" t="inlineStr"><is><t>unterminated`,
      `<row r="1"><c r="A1"><v>1</v></c></row>< row>`,
      `<row r="1"><c r="A1" t="s"><v>x</v></c></row>`,
    ];
    for (const rows of broken) {
      expect(
        await errorCode(() => readRows(oneSheet(rows, { sharedStrings: sharedStringsXml(["a"]) }))),
      ).toBe("WORKBOOK_CORRUPT");
    }
  });

  it("a part that does not inflate is WORKBOOK_CORRUPT", async () => {
    const good = oneSheet(ROWS);
    const bytes = Buffer.from(good);
    // Scribble over the first entry's compressed data (the sheet part is written first).
    for (let i = 60; i < 90; i++) bytes[i] = 0xff;
    expect(await errorCode(() => readRows(bytes))).toBe("WORKBOOK_CORRUPT");
  });

  it("counts inflated bytes across parts (INFLATED_SIZE_EXCEEDED)", async () => {
    const body = Array.from(
      { length: 2000 },
      (_, i) => `<row r="${i + 1}"><c r="A${i + 1}"><v>${i}</v></c></row>`,
    );
    const bytes = oneSheet(body.join(""));
    expect(await errorCode(() => readRows(bytes, { limits: { maxInflatedBytes: 20_000 } }))).toBe(
      "INFLATED_SIZE_EXCEEDED",
    );
  });

  it("stops a zip bomb by its inflation ratio, in bounded memory (INFLATION_RATIO_EXCEEDED)", async () => {
    // 200 MB of empty rows deflates to ~200 KB; reading must stop long before it is all inflated.
    const rowXml = Buffer.from(`<row/>`);
    const big = Buffer.alloc(200 * 1024 * 1024);
    for (let i = 0; i + rowXml.length <= big.length; i += rowXml.length) rowXml.copy(big, i);
    const prefix = `<worksheet xmlns="${MAIN_NS}"><sheetData>`;
    big.write(prefix.padEnd(rowXml.length * 4, " "), 0);
    const bytes = xlsxPackage({ sheets: [{ name: "S", xml: big as unknown as string }] });
    expect(bytes.length).toBeLessThan(2 * 1024 * 1024);
    const before = process.memoryUsage().rss;
    const code = await errorCode(() => readRows(bytes, { limits: { ratioGraceBytes: 1024 * 1024 } }));
    expect(code).toBe("INFLATION_RATIO_EXCEEDED");
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
  });

  it("a package list with implausibly many entries is WORKBOOK_CORRUPT, not an out-of-memory", async () => {
    const many = Array.from({ length: 100_001 }, (_, i) => `<xf numFmtId="${i % 50}"/>`).join("");
    const bytes = oneSheet(ROWS, {
      styles: `<styleSheet xmlns="${MAIN_NS}"><cellXfs>${many}</cellXfs></styleSheet>`,
    });
    // This part compresses past the ratio limit too; lift it to reach the list cap.
    const error = (await open(bytes, { limits: { maxInflationRatio: 1e6 } }).catch(
      (e: unknown) => e,
    )) as SluiceError;
    expect(error.code).toBe("WORKBOOK_CORRUPT");
    expect(error.message).toMatch(/more than 100000 formats/);
  });

  it("TOO_MANY_COLUMNS when a value sits past maxColumns (styled empty cells there are fine)", async () => {
    const ok = `<row r="1"><c r="A1"><v>1</v></c><c r="XFD1" s="0"/></row>`;
    expect(await readCells(oneSheet(ok), { limits: { maxColumns: 10 } })).toEqual([[1]]);
    const bad = `<row r="1"><c r="A1"><v>1</v></c><c r="K1"><v>2</v></c></row>`;
    expect(await errorCode(() => readRows(oneSheet(bad), { limits: { maxColumns: 10 } }))).toBe(
      "TOO_MANY_COLUMNS",
    );
  });

  it("TOO_MANY_ROWS counts emitted data rows only", async () => {
    const rows = `<row r="1"><c r="A1"><v>1</v></c></row><row r="2"/><row r="3"><c r="A3"><v>3</v></c></row>`;
    expect(await readCells(oneSheet(rows), { limits: { maxRows: 2 } })).toEqual([[1], [3]]);
    expect(await errorCode(() => readRows(oneSheet(rows), { limits: { maxRows: 1 } }))).toBe("TOO_MANY_ROWS");
  });

  it.each([
    ["inline", `<c r="A1" t="inlineStr"><is><t>${"x".repeat(50)}</t></is></c>`, undefined],
    ["shared", `<c r="A1" t="s"><v>0</v></c>`, sharedStringsXml(["y".repeat(50)])],
    ["formula string", `<c r="A1" t="str"><v>${"z".repeat(50)}</v></c>`, undefined],
  ])("CELL_TOO_LONG for a %s string past maxCellLength", async (_label, cell, sharedStrings) => {
    const bytes = oneSheet(`<row r="1">${cell}</row>`, sharedStrings === undefined ? {} : { sharedStrings });
    expect(await errorCode(() => readRows(bytes, { limits: { maxCellLength: 49 } }))).toBe("CELL_TOO_LONG");
    expect(await readCells(bytes, { limits: { maxCellLength: 50 } })).toHaveLength(1);
  });

  it("counts characters, not UTF-8 bytes, for maxCellLength", async () => {
    const bytes = oneSheet(`<row r="1"><c r="A1" t="s"><v>0</v></c></row>`, {
      sharedStrings: sharedStringsXml(["한".repeat(10)]),
    });
    expect(await readCells(bytes, { limits: { maxCellLength: 10 } })).toEqual([["한".repeat(10)]]);
  });
});

describe("source errors", () => {
  function failingSource(bytes: Buffer, failStream: boolean): ByteSource {
    const inner = bufferSource(bytes, "flaky.xlsx");
    return {
      name: inner.name,
      size: inner.size,
      read: failStream ? inner.read : () => Promise.reject(new Error("connection reset")),
      stream: failStream
        ? () =>
            new Readable({
              read() {
                this.destroy(new Error("socket hang up"));
              },
            })
        : inner.stream,
      close: inner.close,
    };
  }

  it.each([
    ["ranged read", false],
    ["stream", true],
  ])("a failing %s is SOURCE_READ_FAILED and retryable", async (_label, failStream) => {
    const error = await (async () => {
      const opened = await openXlsx(failingSource(oneSheet(ROWS), failStream), { limits: resolveLimits() });
      return collect(opened);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SluiceError);
    expect((error as SluiceError).code).toBe("SOURCE_READ_FAILED");
    expect((error as SluiceError).retryable).toBe(true);
  });

  it("stopping early releases the sheet stream", async () => {
    const body = Array.from(
      { length: 5000 },
      (_, i) => `<row r="${i + 1}"><c r="A${i + 1}"><v>${i}</v></c></row>`,
    );
    const opened = await open(oneSheet(body.join("")));
    for await (const batch of opened.rows()) {
      expect(batch.length).toBeGreaterThan(0);
      break;
    }
    expect((await collect(opened)).length).toBe(5000);
  });
});
