import { describe, expect, it } from "vitest";
import { DATE, ELAPSED, NOT_DATE, normaliseIsoDate, serialToIso, TIME } from "../../src/xlsx/excel-dates.ts";
import { classifyFormatCode } from "../../src/xlsx/styles.ts";
import { relsPathFor, resolveTarget } from "../../src/xlsx/workbook-parts.ts";
import { decodeCellText, decodeEntities, unescapeOoxml } from "../../src/xlsx/xml-text.ts";

describe("serialToIso (1900 system)", () => {
  it.each([
    [1, "1900-01-01"],
    [59, "1900-02-28"],
    [60, "1900-02-29"], // Excel's fictitious leap day
    [61, "1900-03-01"],
    [43990, "2020-06-08"],
    [44197.5, "2021-01-01T12:00:00"],
    [15249.003472222223, "1941-09-30T00:05:00"],
    [4018.99999998843, "1911-01-01"], // rounds to the nearest second, into the next day
    [0.25, "1899-12-31T06:00:00"],
    [2958465, "9999-12-31"],
  ])("%s -> %s", (serial, iso) => {
    expect(serialToIso(serial, false, DATE)).toBe(iso);
  });

  it("keeps negative and absurd serials as numbers", () => {
    expect(serialToIso(-1, false, DATE)).toBe(-1);
    expect(serialToIso(3_000_000, false, DATE)).toBe(3_000_000);
    expect(serialToIso(Number.NaN, false, DATE)).toBeNaN();
  });

  it("time-only and elapsed formats", () => {
    expect(serialToIso(0.5, false, TIME)).toBe("12:00:00");
    expect(serialToIso(44197.000081, false, TIME)).toBe("00:00:07");
    expect(serialToIso(1.5, false, ELAPSED)).toBe("36:00:00");
  });
});

describe("serialToIso (1904 system)", () => {
  it.each([
    [0, "1904-01-01"],
    [1, "1904-01-02"],
    [11111, "1934-06-03"],
    [1.75, "1904-01-02T18:00:00"],
  ])("%s -> %s", (serial, iso) => {
    expect(serialToIso(serial, true, DATE)).toBe(iso);
  });
});

describe('normaliseIsoDate (t="d" cells)', () => {
  it.each([
    ["2021-01-01", "2021-01-01"],
    ["2021-01-01T00:00:00", "2021-01-01"],
    ["2021-01-01T10:10:10", "2021-01-01T10:10:10"],
    ["2021-01-01T10:10:10.6Z", "2021-01-01T10:10:11"],
    ["2021-12-31T23:59:59.7", "2022-01-01"],
    ["10:10:10", "10:10:10"],
    ["not a date", "not a date"],
  ])("%s -> %s", (text, iso) => {
    expect(normaliseIsoDate(text)).toBe(iso);
  });
});

describe("classifyFormatCode", () => {
  it.each([
    ["General", NOT_DATE],
    ["0.00", NOT_DATE],
    ["#,##0", NOT_DATE],
    ["0.00E+00", NOT_DATE],
    ["@", NOT_DATE],
    ['0.0 "days"', NOT_DATE],
    ["[Red]#,##0;[Blue]-#,##0", NOT_DATE],
    ["[$$-409]#,##0.00", NOT_DATE],
    ["yyyy-mm-dd", DATE],
    ["dd.mm.yyyy", DATE],
    ["[$-409]mmmm d, yyyy;@", DATE],
    ["m/d/yy h:mm", DATE],
    ['yyyy"년" m"월" d"일"', DATE],
    ["mmm", DATE],
    ["h:mm:ss", TIME],
    ["hh:mm AM/PM", TIME],
    ["mm:ss", TIME],
    ["[h]:mm:ss", ELAPSED],
    ["[mm]:ss", ELAPSED],
    ['"Date:" 0', NOT_DATE],
    ["\\d\\a\\y 0", NOT_DATE],
  ])("%s -> %s", (code, kind) => {
    expect(classifyFormatCode(code)).toBe(kind);
  });
});

describe("xml text decoding", () => {
  const bytes = (s: string) => Buffer.from(s, "utf8");
  const decode = (s: string, cdata = false) => decodeCellText(bytes(s), 0, bytes(s).length, cdata);

  it("decodes the predefined entities and character references, never others", () => {
    expect(decodeEntities("&lt;a&gt; &amp; &quot;b&quot; &apos;c&apos; &#65;&#x42;&#x1F600;")).toBe(
      "<a> & \"b\" 'c' AB\u{1F600}",
    );
    expect(decodeEntities("&nbsp;&bogus;")).toBe("&nbsp;&bogus;");
    expect(decodeEntities("&#xD800;")).toBe("\uFFFD");
  });

  it("decodes _xHHHH_ escapes, with _x005F_ escaping the underscore", () => {
    expect(unescapeOoxml("ABC_x000D_")).toBe("ABC\r");
    expect(unescapeOoxml("_x005F_x000D_")).toBe("_x000D_");
    expect(unescapeOoxml("snake_case_x")).toBe("snake_case_x");
  });

  it("normalises raw line ends before entities, so &#13; stays a CR", () => {
    expect(decode("a\r\nb\rc")).toBe("a\nb\nc");
    expect(decode("a&#13;&#10;b")).toBe("a\r\nb");
    expect(decode("ABC_x000D_\r\nDEF")).toBe("ABC\r\nDEF");
  });

  it("CDATA text is literal but still has its line ends normalised", () => {
    expect(decode("a &amp; b", true)).toBe("a &amp; b");
    expect(decode("x\r\ny", true)).toBe("x\ny");
  });

  it("keeps whitespace and multi-byte text", () => {
    expect(decode("  한국어 텍스트 \t")).toBe("  한국어 텍스트 \t");
  });
});

describe("package paths", () => {
  it("finds the rels part of a part", () => {
    expect(relsPathFor("")).toBe("_rels/.rels");
    expect(relsPathFor("xl/workbook.xml")).toBe("xl/_rels/workbook.xml.rels");
    expect(relsPathFor("workbook.xml")).toBe("_rels/workbook.xml.rels");
  });

  it("resolves relative and absolute targets", () => {
    expect(resolveTarget("xl/", "worksheets/sheet1.xml")).toBe("xl/worksheets/sheet1.xml");
    expect(resolveTarget("xl/", "/xl/worksheets/sheet1.xml")).toBe("xl/worksheets/sheet1.xml");
    expect(resolveTarget("xl/", "../customXml/item1.xml")).toBe("customXml/item1.xml");
    expect(resolveTarget("", "sheet1.xml")).toBe("sheet1.xml");
    expect(resolveTarget("xl/", "worksheets/my%20sheet.xml")).toBe("xl/worksheets/my sheet.xml");
  });
});
