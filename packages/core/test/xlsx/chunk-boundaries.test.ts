import { describe, expect, it } from "vitest";
import { resolveLimits } from "../../src/limits.ts";
import { openXlsx } from "../../src/xlsx/open-xlsx.ts";
import { type XmlHandler, XmlTokenizer } from "../../src/xlsx/xml-tokenizer.ts";
import { piecewiseSource } from "../piecewise-source.ts";
import { collect, MAIN_NS, STRICT_REL_NS, zip } from "./ooxml-fixtures.ts";

/** Every token must read the same whichever byte a chunk ends on. */

class Recorder implements XmlHandler {
  wantText = true;
  events: string[] = [];
  tokenizer!: XmlTokenizer;
  open(name: number, selfClosing: boolean): number {
    const attrs: string[] = [];
    for (let i = 0; i < this.tokenizer.attrCount; i++) {
      const a = this.tokenizer.attrs;
      const buf = this.tokenizer.buf;
      attrs.push(
        `${buf.toString("utf8", a[i * 4]!, a[i * 4 + 1]!)}=${buf.toString("utf8", a[i * 4 + 2]!, a[i * 4 + 3]!)}`,
      );
    }
    this.events.push(`<${name}:${this.tokenizer.localName()} ${attrs.join(" ")}${selfClosing ? "/" : ""}>`);
    return 0;
  }
  close(name: number): void {
    this.events.push(`</${name}:${this.tokenizer.localName()}>`);
  }
  text(buf: Buffer, start: number, end: number, cdata: boolean): void {
    this.events.push(`${cdata ? "CDATA" : "T"}(${buf.toString("utf8", start, end)})`);
  }
}

function tokenize(pieces: Buffer[]): string[] {
  const recorder = new Recorder();
  const tokenizer = new XmlTokenizer("test.xml", recorder, ["row", "c", "v"]);
  recorder.tokenizer = tokenizer;
  for (const piece of pieces) tokenizer.push(piece);
  tokenizer.end();
  // Adjacent text runs may be delivered split; join them for comparison.
  const joined: string[] = [];
  for (const event of recorder.events) {
    const last = joined[joined.length - 1];
    if (last?.startsWith("T(") && event.startsWith("T("))
      joined[joined.length - 1] = `${last.slice(0, -1)}${event.slice(2)}`;
    else joined.push(event);
  }
  return joined;
}

const XML = Buffer.from(
  `\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<!-- lead -->\n<x:root xmlns:x="urn:x" a='1>2' b = "q'q">` +
    `<x:row r="1"><c r="A1" t="s"><v>12</v></c><c><v>한국어 &amp; 텍스트</v></c></x:row>` +
    `<v><![CDATA[<not a tag> ]] ]]></v><empty/><v>a<!-- in -->b</v><?pi data?>` +
    `</x:root>\n`,
  "utf8",
);

describe("XmlTokenizer", () => {
  const whole = tokenize([XML]);

  it("reads names, prefixes, attributes, text, CDATA and skips comments and PIs", () => {
    expect(whole).toContain(`<0:root x=urn:x a=1>2 b=q'q>`);
    expect(whole).toContain(`<1:row r=1>`);
    expect(whole).toContain(`<2:c r=A1 t=s>`);
    expect(whole).toContain(`T(한국어 &amp; 텍스트)`);
    expect(whole).toContain(`CDATA(<not a tag> ]] )`);
    expect(whole).toContain("<0:empty />");
    expect(whole).toContain(`T(ab)`);
    expect(whole.some((e) => e.includes("lead") || e.includes("pi"))).toBe(false);
  });

  it("gives the same tokens for every two-way split", () => {
    for (let i = 1; i < XML.length; i++) {
      expect([i, tokenize([XML.subarray(0, i), XML.subarray(i)])]).toEqual([i, whole]);
    }
  });

  it("gives the same tokens when fed one byte at a time", () => {
    const bytes = Array.from({ length: XML.length }, (_, i) => XML.subarray(i, i + 1));
    expect(tokenize(bytes)).toEqual(whole);
  });
});

describe("sheet scanning across chunk boundaries", () => {
  const sheetXml =
    `<?xml version="1.0"?><worksheet xmlns="${MAIN_NS}"><sheetData>` +
    `<row r="1"><c r="A1" t="s"><v>1</v></c><c r="B1" t="inlineStr"><is><t>인라인 &lt;텍스트&gt;</t></is></c><c r="C1"><v>3.25</v></c></row>` +
    `<row r="2"><c r="A2" t="inlineStr"><is><r><t>ri</t></r><r><t>ch</t></r><rPh><t>x</t></rPh></is></c><c r="B2" t="b"><v>1</v></c><c r="C2" t="e"><v>#N/A</v></c><c r="D2" t="str"><f>A1</f><v>f&amp;g</v></c></row>` +
    `<row r="3"><c r="A3"><v><![CDATA[42]]></v></c><c r="B3" s="1"><v>43990</v></c><c r="C3" t="s"><v>0</v></c></row>` +
    `</sheetData></worksheet>`;
  const sst = `<sst xmlns="${MAIN_NS}"><si><t>첫째</t></si><si><r><t>둘</t></r><r><t>째</t></r></si></sst>`;
  const styles = `<styleSheet xmlns="${MAIN_NS}"><cellXfs><xf numFmtId="0"/><xf numFmtId="14"/></cellXfs></styleSheet>`;
  const rel = (id: string, type: string, target: string) =>
    `<Relationship Id="${id}" Type="${STRICT_REL_NS}/${type}" Target="${target}"/>`;
  const bytes = zip(
    [
      {
        name: "_rels/.rels",
        data: `<Relationships>${rel("r1", "officeDocument", "xl/workbook.xml")}</Relationships>`,
      },
      {
        name: "xl/workbook.xml",
        data: `<workbook xmlns="${MAIN_NS}" xmlns:r="r"><sheets><sheet name="S" sheetId="1" r:id="w"/></sheets></workbook>`,
      },
      {
        name: "xl/_rels/workbook.xml.rels",
        data: `<Relationships>${rel("w", "worksheet", "worksheets/sheet1.xml")}${rel("s", "sharedStrings", "sharedStrings.xml")}${rel("y", "styles", "styles.xml")}</Relationships>`,
      },
      { name: "xl/worksheets/sheet1.xml", data: sheetXml },
      { name: "xl/sharedStrings.xml", data: sst },
      { name: "xl/styles.xml", data: styles },
    ].map((f) => ({ ...f, store: true })),
  );
  const expected = [
    { row: 1, cells: ["둘째", "인라인 <텍스트>", 3.25] },
    {
      row: 2,
      cells: ["rich", true, null, "f&g"],
      warnings: [{ column: 2, code: "CELL_ERROR", message: "#N/A" }],
    },
    { row: 3, cells: [42, "2020-06-08", "첫째"] },
  ];

  it.each(Array.from({ length: 40 }, (_, i) => i + 1))("in %s-byte pieces", async (size) => {
    const opened = await openXlsx(piecewiseSource(bytes, size, "pieces.xlsx"), { limits: resolveLimits() });
    expect(await collect(opened)).toEqual(expected);
  });
});
