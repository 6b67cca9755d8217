import { readdirSync } from "node:fs";
import { type ChunkRow, ChunkSchema, chunkRows, type Manifest, ManifestSchema } from "@sluice/contract";
import { corpusDir, corpusFile, hasCorpus } from "@sluice/test-support/shared-corpus";
import { describe, expect, it } from "vitest";
import { openFileSource } from "../src/byte-source.ts";
import type { ChunkMeta } from "../src/chunk-writer.ts";
import { convertWorkbook } from "../src/convert-workbook.ts";
import { type ErrorCode, SluiceError } from "../src/errors.ts";

/**
 * Every workbook in the shared corpus, through the whole conversion: it converts to the values a person sees in
 * Excel, or fails with the typed error that says why. Values checked here were read off each file by hand.
 */
type Expectation =
  | { error: ErrorCode }
  | {
      sheet: string;
      header: string[] | { startsWith: string[] };
      rows: number;
      warnings?: number;
      row?: ChunkRow;
      check?: (rows: ChunkRow[], manifest: Manifest) => void;
    };

const byRow = (rows: ChunkRow[], row: number) => rows.find((r) => r.row === row)?.data;

const EXPECTED: Record<string, Expectation> = {
  "apache-poi__1_NoIden.xlsx": {
    sheet: "시트_테스트(1)",
    header: { startsWith: ["가나다"] },
    rows: 7,
    check: (rows) => expect(rows[0]!.data).toMatchObject({ 가나다: "하천관리과" }),
  },
  "apache-poi__59021.xlsx": {
    sheet: "ERIS Rates & Codes",
    header: [
      "Destination",
      "Dial Code",
      "Rate (USD)",
      "Changes",
      "Effective Date (GMT)",
      "End Date (GMT)",
      "Initial Interval",
      "Recurring Interval",
    ],
    rows: 1,
    check: (rows) =>
      expect(rows[0]!.data).toMatchObject({
        Destination: "Abkhazia - Fixed",
        "Dial Code": "7840",
        "Rate (USD)": 0.1345,
      }),
  },
  "apache-poi__59746_NoRowNums.xlsx": {
    sheet: "Features",
    header: { startsWith: ["Checked", "Ion", "Charge"] },
    rows: 70,
    check: (rows) => {
      // Rows without r= attributes still get consecutive row numbers.
      expect(rows.map((r) => r.row)).toEqual(Array.from({ length: 70 }, (_, i) => i + 2));
      expect(rows[0]!.data).toMatchObject({
        Checked: true,
        Ion: "[M+Na]+1",
        Charge: 1,
        "Molecular Weight": 644.24222,
      });
    },
  },
  "apache-poi__64508.xlsx": {
    sheet: "sheet1",
    header: { startsWith: ["Partner ID ( ID za DDV )", "Document number", "Date of document"] },
    rows: 4,
    check: (rows) =>
      expect(rows[0]!.data).toMatchObject({ "Date of document": "2020-06-08", Barcode: "0630996510285" }),
  },
  "apache-poi__DateFormatTests.xlsx": {
    sheet: "Flags",
    header: ["Flag Name", "Value", "Description"],
    rows: 3,
  },
  "apache-poi__InlineStrings.xlsx": {
    sheet: "Sheet1",
    header: ["Numbers", "Strings", "Inline Strings", "Formulas"],
    rows: 6,
    row: { row: 2, data: { Numbers: 12, Strings: "A", "Inline Strings": "1st Inline String", Formulas: 12 } },
  },
  "apache-poi__MalformedSSTCount.xlsx": {
    sheet: "Sheet1",
    header: ["sdgf", "fdsag", "dsafv", "asdf"],
    rows: 2,
    row: { row: 2, data: { sdgf: "asdc", fdsag: "sadc", dsafv: "asdfXZc", asdf: "sadf" } },
  },
  "apache-poi__SampleSS.strict.xlsx": {
    sheet: "First Sheet",
    header: ["Test spreadsheet", "column_B"],
    rows: 2,
  },
  // The first sheet is hidden: the default is the first visible one.
  "apache-poi__TwoSheetsOneHidden.xlsx": { sheet: "Sheet2", header: ["Sheet2A1"], rows: 0 },
  "apache-poi__noSharedStringTable.xlsx": { sheet: "Sheet1", header: ["2006-04-12", "123"], rows: 0 },
  "apache-poi__poc-xmlbomb.xlsx": { error: "XML_DTD_FORBIDDEN" },
  "apache-poi__protected_passtika.xlsx": { error: "WORKBOOK_ENCRYPTED" },
  "apache-poi__right-to-left.xlsx": {
    sheet: "English",
    header: ["text"],
    rows: 3,
    row: { row: 2, data: { text: 123 } },
  },
  "apache-poi__simple-monthly-budget.xlsx": {
    sheet: "Simple Monthly Budget",
    header: { startsWith: ["SIMPLE MONTHLY BUDGET", "column_B", "column_C"] },
    rows: 21,
    check: (rows) => expect(byRow(rows, 3)).toMatchObject({ column_B: "MONTHLY INCOME" }),
  },
  // Lenient on a garbage _rels/.rels: the workbook part is found where it always is.
  "apache-poi__xlsx-corrupted.xlsx": {
    sheet: "Sheet1",
    header: ["test", "DOCTYPE", "XXE", "injection"],
    rows: 2,
    row: { row: 2, data: { test: "second", DOCTYPE: "row", XXE: "data", injection: "foo" } },
  },
  "calamine__any_sheets.xlsx": {
    sheet: "Visible",
    header: ["1", "2"],
    rows: 3,
    row: { row: 2, data: { "1": 3, "2": 4 } },
  },
  "calamine__date_iso.xlsx": {
    sheet: "Sheet",
    header: ["2021-01-01"],
    rows: 5,
    check: (rows) => {
      const values = rows.map((r) => r.data["2021-01-01"]);
      expect(values).toContain("2021-01-01T10:10:10");
      expect(values).toContain("10:10:10");
    },
  },
  "calamine__empty_sheet.xlsx": { error: "EMPTY_WORKBOOK" },
  "calamine__has_x000D_.xlsx": { sheet: "Sheet1", header: ["ABC\r\nDEF"], rows: 0 },
  "calamine__header-row.xlsx": {
    sheet: "Sheet1",
    header: ["column_A", "column_B", "Note 1", "column_D"],
    rows: 2,
    row: {
      row: 9,
      data: { column_A: "Columns", column_B: "Column A", "Note 1": "Column B", column_D: "Column C" },
    },
  },
  "calamine__inlineStr_cdata.xlsx": {
    sheet: "Sheet1",
    header: ["Hello CDATA", "World"],
    rows: 1,
    row: { row: 2, data: { "Hello CDATA": "12345", World: "NormalText" } },
  },
  // Merges are not expanded: the value stays in the top-left cell.
  "calamine__merged_range.xlsx": {
    sheet: "Sheet1",
    header: ["A1", "B1", "C1", "column_D", "E1", "F1", "G1", "H1"],
    rows: 2,
    check: (rows) => expect(byRow(rows, 3)).toMatchObject({ A1: "A3", B1: "B3", column_D: null, E1: "E3" }),
  },
  "calamine__minimal_package.xlsx": {
    sheet: "Sheet1",
    header: { startsWith: ["ARREST BOOKINGS for 01/30/17"] },
    rows: 195,
  },
  "calamine__nonstandard-xml-ns-prefix.xlsx": {
    sheet: "Sheet1",
    header: ["a", "b"],
    rows: 2,
    row: { row: 2, data: { a: 1, b: 3 } },
  },
  "calamine__pass_protected.xlsx": { error: "WORKBOOK_ENCRYPTED" },
  "calamine__richtext-namespaced.xlsx": {
    sheet: "Sheet1",
    header: { startsWith: ["inline string\nLine 2\nLine 3"] },
    rows: 0,
    check: (_rows, manifest) => expect(manifest.header.at(-1)).toBe("shared string\nLine 2\nLine 3"),
  },
  // Phonetic runs are not part of the text.
  "calamine__rph.xlsx": { sheet: "Sheet1", header: ["課きく　毛こ"], rows: 0 },
  "calamine__strict_iso_paths.xlsx": {
    sheet: "ml_out",
    header: { startsWith: ["Item", "Thickness", "Number Off Bends"] },
    rows: 75,
    check: (rows) =>
      expect(rows[0]!.data).toMatchObject({
        Item: "150-031260-001_B",
        Thickness: 1.5,
        "Number Off Bends": 7,
      }),
  },
  // A 19-digit number stored as text keeps every digit.
  "calamine__string-ref.xlsx": {
    sheet: "Sheet1",
    header: ["col1"],
    rows: 1,
    row: { row: 2, data: { col1: "-8086931554011838357" } },
  },
  "calamine__temperature-in-middle.xlsx": {
    sheet: "Sheet1",
    header: ["label", "value"],
    rows: 2,
    row: { row: 5, data: { label: "celsius", value: 22.2222 } },
  },
  "calamine__whitespace_trim.xlsx": {
    sheet: "inlineStr",
    header: ["trimmed value", "value with tabs", "column_C", "clean text"],
    rows: 2,
    check: (rows) => expect(rows[0]!.data["trimmed value"]).toBe("  line1\nline2  "),
  },
  "excelize__BadWorkbook.xlsx": { error: "EMPTY_WORKBOOK" },
  "excelize__encryptAES.xlsx": { error: "WORKBOOK_ENCRYPTED" },
  "exceljs__test-issue-1669.xlsx": {
    sheet: "Sheet1",
    header: ["Column1", "Column2"],
    rows: 5,
    row: { row: 2, data: { Column1: 1, Column2: "a" } },
  },
  // Header names are trimmed.
  "exceljs__test-pr-567.xlsx": { sheet: "foo", header: ["leading", "trailing", "both"], rows: 0 },
  "roo__blank_children.xlsx": {
    sheet: "Insurance Plans",
    header: {
      startsWith: ["User ID", "Consumer First Name", "Consumer last Name", "Consumer Middle Initial"],
    },
    rows: 2,
    check: (rows) =>
      expect(rows[0]!.data).toMatchObject({
        "User ID": "797",
        "Consumer First Name": "Jon",
        "Consumer Middle Initial": null,
      }),
  },
  "roo__boolean-from-google-sheets.xlsx": {
    sheet: "Sheet1",
    header: ["TRUE"],
    rows: 1,
    row: { row: 2, data: { TRUE: false } },
  },
  "roo__datetime_timezone_ist_offset_change.xlsx": {
    sheet: "Sheet1",
    header: ["1941-09-30", "1942-08-31", "1905-12-31"],
    rows: 863,
    row: {
      row: 2,
      data: {
        "1941-09-30": "1941-09-30T00:05:00",
        "1942-08-31": "1942-08-31T00:05:00",
        "1905-12-31": "1905-12-31T00:05:00",
      },
    },
  },
  "roo__expand_merged_ranges_issue_506.xlsx": {
    sheet: "Sheet1",
    header: ["One", "Two"],
    rows: 3,
    check: (rows) => expect(rows.map((r) => r.data.Two)).toEqual(["Johnson", null, null]),
  },
  "roo__hidden_sheets.xlsx": { sheet: "VisibleSheet1", header: ["visible sheet 1"], rows: 0 },
  "roo__implicit_coordinates.xlsx": {
    sheet: "Sheet1",
    header: ["Test", "column_B", "column_C"],
    rows: 1,
    row: { row: 2, data: { Test: "A2", column_B: "B2", column_C: "C2" } },
  },
  // Valid UTF-8 holding mojibake: passed through untouched, not "repaired".
  "roo__iso_8859_1.csv": {
    sheet: "roo__iso_8859_1",
    header: [
      "sic_reference",
      "category_fr",
      "category_de",
      "brand",
      "title_fr",
      "title_de",
      "description_fr",
      "description_de",
    ],
    rows: 1,
    check: (rows) => {
      expect(rows[0]!.data).toMatchObject({ sic_reference: "MI-12005WC", title_fr: "Miramar; cuir blanc" });
      expect(rows[0]!.data.description_fr).toContain("L'ͩlͩgance");
    },
  },
  // Zero-padded numeric literals are still numbers.
  "roo__number_with_zero_prefix.xlsx": {
    sheet: "Sheet1",
    header: Array.from({ length: 20 }, (_, i) => String(i + 1)),
    rows: 49,
    check: (rows) => expect(rows[0]!.data).toMatchObject({ "1": 21, "20": 40 }),
  },
  "sheetjs-test_files__1900.xlsx": {
    sheet: "Sheet1",
    header: ["1", "1900-01-01", "1900-01-01_2", "1900-01-01_3"],
    rows: 4,
    row: {
      row: 2,
      data: {
        "1": 11,
        "1900-01-01": "1900-01-11",
        "1900-01-01_2": "1900-01-11",
        "1900-01-01_3": "1900-01-11",
      },
    },
  },
  "sheetjs-test_files__1904.xlsx": {
    sheet: "Sheet1",
    header: ["1", "1904-01-02", "1904-01-02_2", "1904-01-02_3"],
    rows: 4,
    row: {
      row: 2,
      data: {
        "1": 11,
        "1904-01-02": "1904-01-12",
        "1904-01-02_2": "1904-01-12",
        "1904-01-02_3": "1904-01-12",
      },
    },
  },
  // Raw CRLF in the XML is a line end (LF); CHAR(13)&CHAR(10) from a formula stays CRLF.
  "sheetjs-test_files__crlf.xlsx": {
    sheet: "Sheet1",
    header: ["Normal", "abc\ndef"],
    rows: 2,
    row: { row: 2, data: { Normal: "Formula", "abc\ndef": "abc\r\ndef" } },
  },
  "sheetjs-test_files__issue2717.xlsx": {
    sheet: "precision",
    header: ["value", "date1904", "val1900", "format", "formula", "expected", "correct", "desc"],
    rows: 36,
  },
  // A formula without a cached value is null, and its error cell a warning.
  "sheetjs-test_files__wps_fn.xlsx": {
    sheet: "Sheet1",
    header: ["Name", "Example", "Result"],
    rows: 2,
    warnings: 1,
    row: { row: 2, data: { Name: "EVALUATE", Example: '=EVALUATE("1+1")', Result: 2 } },
  },
  "xlsx2csv__empty_row.xlsx": {
    sheet: "Sheet1",
    header: { startsWith: ["Date", "Agency", "Customer"] },
    rows: 1,
    check: (rows) =>
      expect(rows[0]).toMatchObject({
        row: 3,
        data: { Date: "At the moment no data for report", Agency: null },
      }),
  },
  "xlsx2csv__last-column-empty.xlsx": {
    sheet: "Sheet1",
    header: ["A", "B", "C"],
    rows: 5,
    row: { row: 2, data: { A: "stuff", B: "more stuff", C: null } },
  },
  "xlsx2csv__sheets.xlsx": {
    sheet: "Реестр",
    header: ["№", "URL", "Название", "Вер.", "Сост.", "Аналитик", "Заказчик"],
    rows: 5,
    check: (rows) => expect(rows[0]!.data).toMatchObject({ "№": 1, Аналитик: "Фамилия " }),
  },
  "xlsx2csv__skip_empty_lines.xlsx": {
    sheet: "Реестр",
    header: ["№", "URL", "Название", "Вер.", "Сост.", "Аналитик", "Заказчик"],
    rows: 2,
  },
  "xlsx2csv__timeformat.xlsx": {
    sheet: "Sheet2",
    header: ["2017-08-03T14:35:00", "14:40:30"],
    rows: 2,
    check: (rows) => expect(rows.map((r) => r.data["14:40:30"])).toContain("00:01:59"),
  },
  "xlsx2csv__twolettercolumns.xlsx": {
    sheet: "Sheet1",
    header: { startsWith: ["1", "2", "3", "4", "5", "6", "7", "8", "9", "column_J"] },
    rows: 1,
    check: (rows) =>
      expect(rows[0]!.data).toMatchObject({ "1": "a", "7": "g", "8": null, "10": "h", "12": "j" }),
  },
  "xlsx2csv__xlsx2csv-test-file.xlsx": { sheet: "Sheet1", header: ["A", "B", "C"], rows: 43 },
};

async function convert(file: string) {
  const source = await openFileSource(corpusFile(file), file);
  const lines: string[] = [];
  const sink = {
    async writeChunk(line: Buffer, _meta: ChunkMeta) {
      lines.push(line.toString("utf8"));
    },
  };
  try {
    const manifest = await convertWorkbook({ source, uploadId: "corpus", sink });
    return {
      manifest: ManifestSchema.parse(manifest),
      rows: lines.flatMap((l) => chunkRows(ChunkSchema.parse(JSON.parse(l)))),
    };
  } finally {
    await source.close();
  }
}

describe.skipIf(!hasCorpus)("the shared corpus, converted", () => {
  it("has an expectation for every file in it", () => {
    const files = readdirSync(corpusDir).filter((f) => f !== "README.md");
    expect(files.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(Object.entries(EXPECTED))("%s", { timeout: 20_000 }, async (file, expected) => {
    if ("error" in expected) {
      const error = await convert(file).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SluiceError);
      expect((error as SluiceError).code).toBe(expected.error);
      expect((error as SluiceError).retryable).toBe(false);
      return;
    }
    const { manifest, rows } = await convert(file);
    expect(manifest.sheet).toBe(expected.sheet);
    if (Array.isArray(expected.header)) expect(manifest.header).toEqual(expected.header);
    else
      expect(manifest.header.slice(0, expected.header.startsWith.length)).toEqual(expected.header.startsWith);
    expect(manifest.totalRows).toBe(expected.rows);
    expect(rows).toHaveLength(expected.rows);
    expect(manifest.warnings.count).toBe(expected.warnings ?? 0);
    if (expected.row) expect(rows.find((r) => r.row === expected.row!.row)).toEqual(expected.row);
    expected.check?.(rows, manifest);
    // Row numbers only grow, and every key in a row is a header name.
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.row).toBeGreaterThan(rows[i - 1]!.row);
    for (const r of rows) for (const key of Object.keys(r.data)) expect(manifest.header).toContain(key);
  });
});
