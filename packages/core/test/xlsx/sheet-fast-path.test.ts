import { describe, expect, it } from "vitest";
import { resolveLimits } from "../../src/limits.ts";
import { openXlsx } from "../../src/xlsx/open-xlsx.ts";
import { piecewiseSource } from "../piecewise-source.ts";
import {
  collect,
  MAIN_NS,
  oneSheet,
  readRows,
  sharedStringsXml,
  stylesXml,
  worksheet,
  xlsxPackage,
} from "./ooxml-fixtures.ts";

/**
 * The sheet scanner reads plain `<row>`/`<c>` markup in a byte loop of its own and leaves everything else to the
 * tokenizer's general path. A namespace prefix on every element sends the same sheet down the general path
 * only, so the two readings must agree, whatever shapes are mixed and wherever the stream is cut.
 */

const ROWS = [
  `<row r="1" spans="1:5"><c r="A1" t="str"><v>plain</v></c><c r="B1" t="str"><v>한국어 텍스트</v></c>` +
    `<c r="C1" t="str"><v>a &amp; b &lt;c&gt;</v></c><c r="D1" t="str"><v>line_x000D_end</v></c>` +
    `<c r="E1" t="str"><v>cr\r\nlf</v></c><c r="F1" t="inlineStr"><v>as v</v></c></row>`,
  `<row r="2"><c r = "A2" t='s'><v>0</v></c><c r="B2" t="s" ><v> 1 </v></c><c r="C2" t="s"><v>0</v></c>` +
    `<c r="D2" s="1"><v>43990.5</v></c><c r="E2"/><c r="F2"></c><c r="G2"><v></v></c><c r="H2" t="s"><v>1</v></c ></row>`,
  `<row><c><v>7</v></c><c><v>-1.5e3</v></c><c t="b"><v>true</v></c><c t="e"><v>#DIV/0!</v></c><c t="d"><v>2024-02-29T10:00:00</v></c></row>`,
  `<row r="5" />`,
  `<row r="6">\n  <c r="A6" t="inlineStr"><is><t>inline 인라인</t></is></c>\n  <!-- between cells -->\n` +
    `  <c r="C6" t="inlineStr"><is><r><t>ri</t></r><r><t>ch</t></r></is></c>\n  <c r="D6" t="n"><v>12</v></c>\n` +
    `  <c r="E6" t="str"><f>A1</f><v>formula</v></c>\n</row>\n`,
  `<row r="7" x14ac:dyDescent="0.25" xmlns:x14ac="urn:x14ac"><c r="A7" t="s"><v>1</v></c><c r="B7" t="s"><v>1</v></c>` +
    `<c r="C7" s="1"><v>44000</v></c><c r="D7" t="str"><v><![CDATA[<cdata>]]></v></c><c r="E7"><v>1<!-- split -->2</v></c></row>`,
  `<row r="8"><c r="B8" t="s"><v>0</v></c><c r="AA8"><v>0.1</v></c></row>`,
].join("");

const ELEMENTS = /<(\/?)(row|c|v|is|t|r|f)(?=[\s/>])/g;

function prefixed(rows: string): string {
  return rows.replace(ELEMENTS, "<$1x:$2");
}

function workbook(sheetXml: string, store = false): Buffer {
  return xlsxPackage({
    sheets: [{ name: "S", xml: sheetXml }],
    sharedStrings: sharedStringsXml(["첫째", "둘째 & more"]),
    styles: stylesXml([0, 14]),
    ...(store ? { entries: { store: true } } : {}),
  });
}

describe("the sheet scanner's byte loop", () => {
  it("reads every cell shape as the general path does", async () => {
    const fast = await readRows(workbook(worksheet(ROWS)));
    const general = await readRows(workbook(worksheet(prefixed(ROWS), "x")));
    expect(fast).toEqual(general);
    expect(fast.map((row) => row.row)).toEqual([1, 2, 3, 6, 7, 8]);
    expect(fast[0]!.cells).toEqual(["plain", "한국어 텍스트", "a & b <c>", "line\rend", "cr\nlf", "as v"]);
    expect(fast[1]!.cells).toEqual([
      "첫째",
      "둘째 & more",
      "첫째",
      "2020-06-08T12:00:00",
      null,
      null,
      null,
      "둘째 & more",
    ]);
    expect(fast[4]!.cells).toEqual(["둘째 & more", "둘째 & more", "2020-06-18", "<cdata>", 12]);
    expect(fast[5]!.cells).toEqual([null, "첫째", ...Array(24).fill(null), 0.1]);
  });

  it.each(Array.from({ length: 48 }, (_, i) => i + 1))("reads the same in %s-byte pieces", async (size) => {
    const whole = await readRows(workbook(worksheet(ROWS)));
    const opened = await openXlsx(piecewiseSource(workbook(worksheet(ROWS), true), size, "pieces.xlsx"), {
      limits: resolveLimits(),
    });
    expect(await collect(opened)).toEqual(whole);
  });

  it("never consumes the end tag of a part whose root is a <row>", async () => {
    const rows = await readRows(workbook(`<row xmlns="${MAIN_NS}" r="1"><c r="A1"><v>1</v></c></row>`));
    expect(rows).toEqual([{ row: 1, cells: [1] }]);
  });

  it("keeps the order checks: a row going back and a column going back are corrupt", async () => {
    const back = oneSheet(`<row r="2"><c r="A2"><v>1</v></c></row><row r="1"><c r="A1"><v>1</v></c></row>`);
    await expect(readRows(back)).rejects.toMatchObject({ code: "WORKBOOK_CORRUPT" });
    const left = oneSheet(`<row r="1"><c r="B1"><v>1</v></c><c r="A1"><v>2</v></c></row>`);
    await expect(readRows(left)).rejects.toMatchObject({ code: "WORKBOOK_CORRUPT" });
  });
});
