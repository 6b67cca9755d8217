import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { openFileSource } from "../../src/byte-source.ts";
import { resolveLimits } from "../../src/limits.ts";
import type { OpenedSheet, RawRow } from "../../src/workbook-reader.ts";
import { DATE, serialToIso } from "../../src/xlsx/excel-dates.ts";
import { openXlsx } from "../../src/xlsx/open-xlsx.ts";
import { collect, errorCode } from "./ooxml-fixtures.ts";

/**
 * Real-world workbooks from other projects' test suites (/work/shared/corpus, never copied into the repo).
 * Every .xlsx there must have an entry here: values read from the files, or the typed error they must give.
 */
const CORPUS = fileURLToPath(new URL("../../../../../shared/corpus/", import.meta.url));
const present = existsSync(CORPUS);
if (!present) console.warn(`[xlsx corpus] ${CORPUS} not found: skipping the corpus suite`);

interface Read {
  opened: OpenedSheet;
  rows: RawRow[];
}

async function read(file: string, sheet?: string): Promise<Read> {
  const source = await openFileSource(CORPUS + file, file);
  try {
    const opened = await openXlsx(source, {
      limits: resolveLimits(),
      ...(sheet === undefined ? {} : { sheet }),
    });
    return { opened, rows: await collect(opened) };
  } finally {
    await source.close();
  }
}

const cells = (r: Read) => r.rows.map((row) => row.cells);
const byRow = (r: Read, n: number) => r.rows.find((row) => row.row === n)?.cells;
const names = (r: Read) => r.opened.sheets.map((s) => s.name);

type Check = (file: string) => Promise<void>;

/** Encrypted OOXML is an OLE2 container, not a zip: format detection reports it; to this reader it is no zip. */
const notAZip: Check = async (file) => {
  const error = (await read(file).catch((e: unknown) => e)) as { code: string; message: string };
  expect(error.code).toBe("WORKBOOK_CORRUPT");
  expect(error.message).toMatch(/OLE2.*password-protected/);
};

const CASES: Record<string, Check> = {
  "apache-poi__1_NoIden.xlsx": async (f) => {
    const r = await read(f);
    expect(r.opened.sheet).toBe("시트_테스트(1)");
    expect(r.rows[0]).toEqual({ row: 2, cells: [null, "가나다"] });
    expect(byRow(r, 3)).toEqual([null, "하천관리과", "서울 재난 체험관 운영", "치수관리"]);
    expect(byRow(r, 8)).toEqual([
      null,
      "하천관리과",
      "하천사용료징수포상금",
      "청계천관리",
      "123456.0",
      "abcedfgh",
    ]);
    expect(r.rows).toHaveLength(8);
  },
  "apache-poi__59021.xlsx": async (f) => {
    const r = await read(f);
    expect(cells(r)).toEqual([
      [
        "Destination",
        "Dial Code",
        "Rate (USD)",
        "Changes",
        "Effective Date (GMT)",
        "End Date (GMT)",
        "Initial Interval",
        "Recurring Interval",
      ],
      ["Abkhazia - Fixed", "7840", 0.1345, "Increase", "10/02/2016", null, "1", "1"],
    ]);
  },
  "apache-poi__59746_NoRowNums.xlsx": async (f) => {
    const r = await read(f);
    expect(r.rows.map((row) => row.row)).toEqual(Array.from({ length: 71 }, (_, i) => i + 1));
    expect(r.rows[0]!.cells.slice(0, 3)).toEqual(["Checked", "Ion", "Charge"]);
    expect(r.rows[1]!.cells).toEqual([
      true,
      "[M+Na]+1",
      1,
      644.24222,
      667.23145,
      8.346,
      0.177,
      3,
      259103.248642121,
      98.495,
      "F1",
    ]);
    expect(r.rows[2]!.cells[1]).toBe("Checked");
  },
  "apache-poi__64508.xlsx": async (f) => {
    const r = await read(f);
    expect(r.rows).toHaveLength(5);
    expect(byRow(r, 2)).toEqual(["SI33738548", "04656-2020", "2020-06-08", 1, null, "0630996510285", 2]);
    expect(byRow(r, 5)?.[5]).toBe("0630996415818");
  },
  "apache-poi__DateFormatTests.xlsx": async (f) => {
    const flags = await read(f);
    expect(flags.opened.details.dateSystem).toBe(1904);
    expect(names(flags)).toEqual(["Flags", "Tests"]);
    const r = await read(f, "Tests");
    expect(byRow(r, 1)).toEqual(["Result (expected)", "Format", "Value", "Categories"]);
    expect(byRow(r, 2)).toEqual(["11-10-52", "d-m-y", "1952-10-11T14:35:27", "Date"]);
    expect(byRow(r, 21)?.[2]).toBe("2003-02-01T04:05:06");
    expect(byRow(r, 41)?.[2]).toBe("2025-01-01");
  },
  "apache-poi__InlineStrings.xlsx": async (f) => {
    const r = await read(f);
    expect(cells(r).slice(0, 3)).toEqual([
      ["Numbers", "Strings", "Inline Strings", "Formulas"],
      [12, "A", "1st Inline String", 12],
      [32, "B", "2nd Inline String", 44],
    ]);
  },
  "apache-poi__MalformedSSTCount.xlsx": async (f) => {
    expect(cells(await read(f))).toEqual([
      ["sdgf", "fdsag", "dsafv", "asdf"],
      ["asdc", "sadc", "asdfXZc", "sadf"],
      [23, 24, 2, 1],
    ]);
  },
  "apache-poi__SampleSS.strict.xlsx": async (f) => {
    const r = await read(f);
    expect(names(r)).toEqual(["First Sheet", "Sheet Number 2", "Sheet3"]);
    expect(r.rows.map((row) => row.row)).toEqual([1, 2, 4]);
    expect(byRow(r, 1)).toEqual(["Test spreadsheet"]);
    const two = await read(f, "Sheet Number 2");
    expect(byRow(two, 6)).toEqual(["cb=1", "cb=10", "cb=2", "cb=sum"]);
    expect(byRow(two, 7)).toEqual([1, 10, 2, 13]);
  },
  "apache-poi__TwoSheetsOneHidden.xlsx": async (f) => {
    const r = await read(f);
    expect(r.opened.sheets).toEqual([
      { name: "Sheet1", visible: false },
      { name: "Sheet2", visible: true },
    ]);
    expect(r.opened.sheet).toBe("Sheet2");
    expect(cells(r)).toEqual([["Sheet2A1"]]);
  },
  "apache-poi__noSharedStringTable.xlsx": async (f) => {
    const r = await read(f);
    expect(r.opened.details.sharedStrings).toBe(0);
    expect(cells(r)).toEqual([["2006-04-12", 123]]);
  },
  "apache-poi__poc-xmlbomb.xlsx": async (f) => {
    const before = process.memoryUsage().rss;
    const started = Date.now();
    expect(await errorCode(() => read(f))).toBe("XML_DTD_FORBIDDEN");
    expect(Date.now() - started).toBeLessThan(2000);
    expect(process.memoryUsage().rss - before).toBeLessThan(50 * 1024 * 1024);
  },
  "apache-poi__protected_passtika.xlsx": notAZip,
  "apache-poi__right-to-left.xlsx": async (f) => {
    const r = await read(f);
    expect(names(r)).toEqual(["English", "عربى"]);
    expect(cells(r)).toEqual([["text"], [123], ["cell with comment"], ["Hebrew and Arabic"]]);
    const arabic = await read(f, "عربى");
    expect(cells(arabic)).toEqual([["نص"], [123], ["text with comment"], [" עִבְרִית and اَلْعَرَبِيَّةُ"]]);
  },
  "apache-poi__simple-monthly-budget.xlsx": async (f) => {
    const r = await read(f);
    expect(r.rows).toHaveLength(22);
    expect(byRow(r, 1)).toEqual(["SIMPLE MONTHLY BUDGET"]);
    expect(byRow(r, 4)).toEqual([null, "Item", "Amount", null, 2336, null, null, 0.6229333333333333]);
    expect(byRow(r, 5)).toEqual([null, "Income 1", 2500]);
  },
  "apache-poi__xlsx-corrupted.xlsx": async (f) => {
    const r = await read(f);
    expect(names(r)).toEqual(["Sheet1", "Sheet2"]);
    expect(cells(r)).toEqual([
      ["test", "DOCTYPE", "XXE", "injection"],
      ["second", "row", "data", "foo"],
      ["third", "row", "data"],
    ]);
  },
  "calamine__any_sheets.xlsx": async (f) => {
    const r = await read(f);
    expect(r.opened.sheets).toEqual([
      { name: "Visible", visible: true },
      { name: "Hidden", visible: false },
      { name: "VeryHidden", visible: false },
    ]);
    expect(r.rows.map((row) => [row.row, row.cells])).toEqual([
      [1, [1, 2]],
      [2, [3, 4]],
      [3, [5, 6]],
      [5, ["This workbook contains 4 sheets: Visible, Hidden, VeryHidden and Chart"]],
    ]);
    expect(await errorCode(() => read(f, "Chart"))).toBe("SHEET_NOT_FOUND");
  },
  "calamine__date_iso.xlsx": async (f) => {
    expect(cells(await read(f)).slice(0, 3)).toEqual([["2021-01-01"], ["2021-01-01T10:10:10"], ["10:10:10"]]);
  },
  "calamine__empty_sheet.xlsx": async (f) => {
    const r = await read(f);
    expect(r.opened.sheet).toBe("Sheet1");
    expect(r.rows).toEqual([]);
  },
  "calamine__has_x000D_.xlsx": async (f) => {
    expect(cells(await read(f))).toEqual([["ABC\r\nDEF"]]);
  },
  "calamine__header-row.xlsx": async (f) => {
    expect((await read(f)).rows).toEqual([
      { row: 3, cells: [null, null, "Note 1"] },
      { row: 9, cells: ["Columns", "Column A", "Column B", "Column C"] },
      { row: 10, cells: ["put data here", 1, 2, 3] },
    ]);
  },
  "calamine__inlineStr_cdata.xlsx": async (f) => {
    expect(cells(await read(f))).toEqual([
      ["Hello CDATA", "World"],
      ["12345", "NormalText"],
    ]);
  },
  "calamine__merged_range.xlsx": async (f) => {
    const r = await read(f);
    expect(r.rows.map((row) => row.row)).toEqual([1, 3, 4]);
    expect(byRow(r, 1)).toEqual(["A1", "B1", "C1", null, "E1", "F1", "G1", "H1"]);
  },
  "calamine__minimal_package.xlsx": async (f) => {
    const r = await read(f);
    expect(r.rows).toHaveLength(196);
    expect(byRow(r, 1)).toEqual(["ARREST BOOKINGS for 01/30/17"]);
    expect(byRow(r, 2)).toEqual(["  "]);
    expect(byRow(r, 3)?.slice(0, 3)).toEqual(["BKG_NUM", "BKG_DT", "BKG_TM"]);
    expect(byRow(r, 4)?.slice(0, 4)).toEqual(["4894831", "01/30/17", "00:05", "4210"]);
  },
  "calamine__nonstandard-xml-ns-prefix.xlsx": async (f) => {
    expect(cells(await read(f))).toEqual([
      ["a", "b"],
      [1, 3],
      [2, 4],
    ]);
  },
  "calamine__pass_protected.xlsx": notAZip,
  "calamine__richtext-namespaced.xlsx": async (f) => {
    const row = cells(await read(f))[0]!;
    expect(row[0]).toBe("inline string\nLine 2\nLine 3");
    expect(row[7]).toBe("shared string\nLine 2\nLine 3");
  },
  "calamine__rph.xlsx": async (f) => {
    expect(cells(await read(f))).toEqual([["課きく　毛こ"]]);
  },
  "calamine__strict_iso_paths.xlsx": async (f) => {
    const r = await read(f);
    expect(r.opened.sheet).toBe("ml_out");
    expect(r.rows).toHaveLength(76);
    expect(r.rows[0]!.cells.slice(0, 3)).toEqual(["Item", "Thickness", "Number Off Bends"]);
    expect(r.rows[1]!.cells.slice(0, 4)).toEqual(["150-031260-001_B", 1.5, 7, 4]);
  },
  "calamine__string-ref.xlsx": async (f) => {
    expect(cells(await read(f))).toEqual([["col1"], ["-8086931554011838357"]]);
    expect(cells(await read(f, "Sheet2"))).toEqual([["col1"], ["-8086931554011838357"]]);
  },
  "calamine__temperature-in-middle.xlsx": async (f) => {
    expect((await read(f)).rows).toEqual([
      { row: 4, cells: [null, "label", "value"] },
      { row: 5, cells: [null, "celsius", 22.2222] },
      { row: 6, cells: [null, "fahrenheit", 72] },
    ]);
  },
  "calamine__whitespace_trim.xlsx": async (f) => {
    expect(cells(await read(f))).toEqual([
      ["  trimmed value  ", "\t\n value with tabs \n", " \t\n", "clean text"],
      ["  line1\nline2  ", "  line1\nline2  "],
      ["日期 时间"],
    ]);
    expect(cells(await read(f, "SharedStrings"))[0]).toEqual([
      "  trimmed value",
      "  preserved value  ",
      " \t\n",
      "clean text",
    ]);
  },
  "excelize__BadWorkbook.xlsx": async (f) => {
    const error = await read(f).catch((e: unknown) => e);
    expect((error as { code: string }).code).toBe("EMPTY_WORKBOOK");
    expect((error as Error).message).toMatch(/no worksheets/);
  },
  "excelize__encryptAES.xlsx": notAZip,
  "exceljs__test-issue-1669.xlsx": async (f) => {
    const r = await read(f, "Sheet2");
    expect(cells(r).slice(0, 2)).toEqual([
      ["DK", "Name"],
      ["T123456789", "Test 89"],
    ]);
    expect(cells(await read(f)).slice(0, 2)).toEqual([
      ["Column1", "Column2"],
      [1, "a"],
    ]);
  },
  "exceljs__test-pr-567.xlsx": async (f) => {
    expect(cells(await read(f))).toEqual([[" leading", "trailing ", " both "]]);
  },
  "roo__blank_children.xlsx": async (f) => {
    const r = await read(f);
    expect(r.rows).toHaveLength(3);
    const row2 = r.rows[1]!.cells;
    expect(row2.slice(0, 6)).toEqual(["797", "Jon", "Patiente", null, "1985-04-11", null]);
    expect(row2.every((v) => v === null || typeof v !== "object")).toBe(true);
    expect(row2.some((v) => v === "undefined" || v === "[object Object]")).toBe(false);
  },
  "roo__boolean-from-google-sheets.xlsx": async (f) => {
    expect(cells(await read(f))).toEqual([[true], [false]]);
  },
  "roo__datetime_timezone_ist_offset_change.xlsx": async (f) => {
    const r = await read(f);
    expect(r.rows).toHaveLength(864);
    expect(byRow(r, 1)).toEqual(["1941-09-30", "1942-08-31", "1905-12-31"]);
    expect(byRow(r, 2)).toEqual(["1941-09-30T00:05:00", "1942-08-31T00:05:00", "1905-12-31T00:05:00"]);
    expect(byRow(r, 864)).toEqual(["1941-10-02T23:55:00", "1942-09-02T23:55:00", "1906-01-02T23:55:00"]);
  },
  "roo__expand_merged_ranges_issue_506.xlsx": async (f) => {
    expect(cells(await read(f))).toEqual([["One", "Two"], ["John", "Johnson"], ["Sam"], ["Dave"]]);
  },
  "roo__hidden_sheets.xlsx": async (f) => {
    const r = await read(f);
    expect(r.opened.sheet).toBe("VisibleSheet1");
    expect(r.opened.sheets.map((s) => s.visible)).toEqual([false, true, false]);
    expect(cells(r)).toEqual([["visible sheet 1"]]);
  },
  "roo__implicit_coordinates.xlsx": async (f) => {
    expect(cells(await read(f))).toEqual([["Test"], ["A2", "B2", "C2"]]);
  },
  "roo__number_with_zero_prefix.xlsx": async (f) => {
    const r = await read(f);
    expect(r.rows).toHaveLength(50);
    expect(r.rows[0]!.cells).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(r.rows[1]!.cells[0]).toBe(21);
  },
  "sheetjs-test_files__1900.xlsx": async (f) => {
    const r = await read(f);
    expect(r.opened.details.dateSystem).toBe(1900);
    expect(cells(r).map((row) => row.slice(0, 2))).toEqual([
      [1, "1900-01-01"],
      [11, "1900-01-11"],
      [111, "1900-04-20"],
      [1111, "1903-01-15"],
      [11111, "1930-06-02"],
    ]);
    // Column C holds Excel's own TEXT(B, "YYYY-MM-DD"): the reader must agree with it.
    for (const row of cells(r)) expect(row[1]).toBe(row[2]);
  },
  "sheetjs-test_files__1904.xlsx": async (f) => {
    const r = await read(f);
    expect(r.opened.details.dateSystem).toBe(1904);
    expect(cells(r)[0]).toEqual([1, "1904-01-02", "1904-01-02", "1904-01-02"]);
    for (const row of cells(r)) expect(row[1]).toBe(row[2]);
  },
  "sheetjs-test_files__crlf.xlsx": async (f) => {
    expect(cells(await read(f))).toEqual([["Normal", "abc\ndef"], ["Formula", "abc\r\ndef"], ["Test"]]);
  },
  "sheetjs-test_files__issue2717.xlsx": async (f) => {
    const r = await read(f);
    expect(r.rows).toHaveLength(37);
    expect(byRow(r, 2)?.slice(0, 4)).toEqual([
      4018.99999998843,
      false,
      4018.99999998843,
      "mm/dd/yyyy hh:mm:ss.000",
    ]);
    // The table holds serials and Excel's rendering of them: compare our rounding with Excel's, where the
    // rendering is a real calendar date (Excel shows serials below 1 as day "00").
    const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let compared = 0;
    for (const row of r.rows.slice(1)) {
      const [value, date1904, , format, , expected] = row.cells as [
        number,
        boolean,
        number,
        string,
        string,
        string,
      ];
      const m = /^(\d{4}) (\w{3}) \w{3} (\d{2}) (\d{2}:\d{2}:\d{2})$/.exec(expected);
      if (format !== "yyyy mmm ddd dd hh:mm:ss" || !m || m[3] === "00") continue;
      const month = String(months.indexOf(m[2]!) + 1).padStart(2, "0");
      const iso = m[4] === "00:00:00" ? `${m[1]}-${month}-${m[3]}` : `${m[1]}-${month}-${m[3]}T${m[4]}`;
      expect([value, serialToIso(value, date1904, DATE)]).toEqual([value, iso]);
      compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(15);
  },
  "sheetjs-test_files__wps_fn.xlsx": async (f) => {
    expect((await read(f)).rows).toEqual([
      { row: 1, cells: ["Name", "Example", "Result"] },
      { row: 2, cells: ["EVALUATE", '=EVALUATE("1+1")', 2] },
      {
        row: 3,
        cells: ["FIELDVALUE", '=FIELDVALUE(A2,"Result")'],
        warnings: [{ column: 2, code: "CELL_ERROR", message: "#VALUE!" }],
      },
    ]);
  },
  "xlsx2csv__empty_row.xlsx": async (f) => {
    const r = await read(f);
    expect(r.rows.map((row) => row.row)).toEqual([2, 3]);
    expect(byRow(r, 2)?.slice(0, 3)).toEqual(["Date", "Agency", "Customer"]);
    expect(byRow(r, 3)).toEqual(["At the moment no data for report"]);
  },
  "xlsx2csv__last-column-empty.xlsx": async (f) => {
    const r = await read(f);
    expect(r.opened.details.dateSystem).toBe(1904);
    expect(cells(r)).toEqual([
      ["A", "B", "C"],
      ["stuff", "more stuff"],
      ["things", "more things", "even more things"],
      ["a", "b"],
      ["one", "two"],
      [1, 2, 3],
    ]);
  },
  "xlsx2csv__sheets.xlsx": async (f) => {
    const r = await read(f);
    expect(names(r)).toEqual(["Реестр", "Вариант использования"]);
    expect(byRow(r, 2)).toEqual([1, "url", "<<Шаблон сценария>>", "1.0", "Подп.", "Фамилия ", "Фамилия"]);
    const second = await read(f, "Вариант использования");
    expect(second.rows).toHaveLength(20);
    expect(second.rows[0]!.cells).toEqual(["№", "Элемент", "Описание", "Результат шага (Выход)", "Ссылки"]);
  },
  "xlsx2csv__skip_empty_lines.xlsx": async (f) => {
    expect((await read(f)).rows.map((row) => row.row)).toEqual([1, 2, 4]);
  },
  "xlsx2csv__timeformat.xlsx": async (f) => {
    expect(cells(await read(f))).toEqual([
      ["2017-08-03T14:35:00", "14:40:30"],
      ["2017-08-03", "11:30:00"],
      ["2017-08-03T15:40:00", "00:01:59"],
    ]);
  },
  "xlsx2csv__twolettercolumns.xlsx": async (f) => {
    const [first, second] = cells(await read(f));
    expect(first!.slice(0, 9)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(first!.slice(25)).toEqual([10, 11, 12]);
    expect(first!.slice(9, 25).every((v) => v === null)).toBe(true);
    expect(second!.slice(25)).toEqual(["h", "I", "j"]);
  },
  "xlsx2csv__xlsx2csv-test-file.xlsx": async (f) => {
    const r = await read(f);
    expect(r.opened.details.dateSystem).toBe(1904);
    expect(names(r)).toEqual(["Sheet1", "Sheet2", "Sheet3", "Sheet4", "Sheet5"]);
    expect(r.rows).toHaveLength(44);
    expect(cells(r).slice(0, 2)).toEqual([
      ["A", "B", "C"],
      [null, "MSP"],
    ]);
  },
};

describe.skipIf(!present)("xlsx corpus", () => {
  const files = present ? readdirSync(CORPUS).filter((f) => f.endsWith(".xlsx")) : [];

  it("has an expectation for every corpus workbook", () => {
    expect(files.filter((f) => !(f in CASES))).toEqual([]);
  });

  describe.each(files.filter((f) => f in CASES))("%s", (file) => {
    it("reads the expected values or fails with the expected code", async () => {
      await CASES[file]!(file);
    });
  });
});
