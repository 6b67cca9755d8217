import { REJECTED_ROWS_CSV, REJECTED_ROWS_XLSX } from "@sluice/contract";
import ExcelJS from "exceljs";
import { beforeEach, describe, expect, it } from "vitest";
import { RejectedRowCollector } from "../../src/adapters/map-run-results.ts";
import {
  chunkIndexOfLine,
  type RejectedRowsReportInput,
  rejectedRowsReportKeys,
  writeRejectedRowsReport,
} from "../../src/reports/rejected-rows-report.ts";
import { BUCKET, silentLogger } from "../factories.ts";
import { parseCsv, s3Store } from "../s3-store.ts";
import { chunkLine, chunksJsonl, HEADER, manifest, PREFIX, rowsOf, UPLOAD_ID } from "./fixtures.ts";

const store = s3Store();
const CSV_KEY = `${PREFIX}rejected-rows.csv`;
const XLSX_KEY = `${PREFIX}rejected-rows.xlsx`;

function input(rejected: RejectedRowCollector, overrides: Partial<RejectedRowsReportInput> = {}) {
  return {
    s3: store.client(),
    bucket: BUCKET,
    prefix: PREFIX,
    chunksKey: `${PREFIX}chunks.jsonl`,
    manifestKey: `${PREFIX}manifest.json`,
    uploadId: UPLOAD_ID,
    rejected,
    logger: silentLogger(),
    ...overrides,
  };
}

const reason = (row: number, code = "INVALID_EMAIL") => ({ row, code, message: `Row ${row}: not valid` });

function csvRows(): string[][] {
  const text = store.get(BUCKET, CSV_KEY)!.toString("utf8");
  expect(text.startsWith("\uFEFF")).toBe(true);
  return parseCsv(text.slice(1));
}

async function xlsxRows(): Promise<unknown[][]> {
  const workbook = new ExcelJS.Workbook();
  await workbook.xlsx.load(store.get(BUCKET, XLSX_KEY)! as never);
  const sheet = workbook.getWorksheet("Rejected rows")!;
  const rows: unknown[][] = [];
  sheet.eachRow({ includeEmpty: false }, (row) => {
    rows.push((row.values as unknown[]).slice(1));
  });
  return rows;
}

describe("rejected-rows report", () => {
  it("is written under the names the contract's bucket layout gives (what the admin policy and links use)", () => {
    expect(rejectedRowsReportKeys(PREFIX)).toEqual({
      csvKey: `${PREFIX}${REJECTED_ROWS_CSV}`,
      xlsxKey: `${PREFIX}${REJECTED_ROWS_XLSX}`,
    });
    // Renaming them would orphan the reports already written and the links already sent.
    expect([REJECTED_ROWS_CSV, REJECTED_ROWS_XLSX]).toEqual(["rejected-rows.csv", "rejected-rows.xlsx"]);
  });

  beforeEach(() => {
    store.reset();
    store.put(BUCKET, `${PREFIX}manifest.json`, manifest({ totalRows: 40, totalChunks: 4 }));
    store.put(BUCKET, `${PREFIX}chunks.jsonl`, chunksJsonl(4, 10));
  });

  it("lists each rejected row with its original row number, values and reason, in csv and xlsx", async () => {
    const rejected = new RejectedRowCollector();
    // Result files come in any order; the report is in row order.
    rejected.add(2, [reason(25, "QUANTITY_LIMIT"), reason(22)]);
    rejected.add(0, [reason(3)]);
    const report = await writeRejectedRowsReport(input(rejected));
    expect(report).toEqual({ bucket: BUCKET, csvKey: CSV_KEY, xlsxKey: XLSX_KEY, rows: 3, capped: false });

    const expected = [
      ["Row", ...HEADER, "Error code", "Error message"],
      ["3", "ORD-3", "buyer3@example.com", "3", "", "INVALID_EMAIL", "Row 3: not valid"],
      ["22", "ORD-22", "buyer22@example.com", "1", "", "INVALID_EMAIL", "Row 22: not valid"],
      ["25", "ORD-25", "buyer25@example.com", "4", "", "QUANTITY_LIMIT", "Row 25: not valid"],
    ];
    expect(csvRows()).toEqual(expected);
    const xlsx = await xlsxRows();
    expect(xlsx[0]).toEqual(expected[0]);
    // Typed values survive in the workbook: numbers stay numbers, an empty cell stays empty.
    expect(xlsx.slice(1)).toEqual([
      [3, "ORD-3", "buyer3@example.com", 3, undefined, "INVALID_EMAIL", "Row 3: not valid"],
      [22, "ORD-22", "buyer22@example.com", 1, undefined, "INVALID_EMAIL", "Row 22: not valid"],
      [25, "ORD-25", "buyer25@example.com", 4, undefined, "QUANTITY_LIMIT", "Row 25: not valid"],
    ]);
  });

  it("parses only the chunks that have rejected rows, and stops reading after the last of them", async () => {
    // Chunk 1 is not valid JSON: it must never be parsed. Chunk 3 neither: reading stops after chunk 2.
    const lines = [
      chunkLine(0, rowsOf(2, 10)),
      `{"v":1,"uploadId":"${UPLOAD_ID}","index":1,"chunkId":"x", this is not json`,
      chunkLine(2, rowsOf(22, 10)),
      `{"v":1,"uploadId":"${UPLOAD_ID}","index":3, neither is this`,
    ];
    store.put(BUCKET, `${PREFIX}chunks.jsonl`, `${lines.join("\n")}\n`);
    const rejected = new RejectedRowCollector();
    rejected.add(0, [reason(2)]);
    rejected.add(2, [reason(31)]);
    await expect(writeRejectedRowsReport(input(rejected))).resolves.toMatchObject({ rows: 2 });
    expect(csvRows().map((r) => r.slice(0, 2))).toEqual([
      ["Row", "Order"],
      ["2", "ORD-2"],
      ["31", "ORD-31"],
    ]);
  });

  it("places each value under its header name by the chunk's own columns (a chunk before the header grew has fewer)", async () => {
    // Chunk 0 was written before "Note" joined the header, its columns in another order than the manifest's.
    const lines = [chunkLine(0, rowsOf(2, 10), ["Quantity", "Order", "Email"]), chunkLine(1, rowsOf(12, 10))];
    store.put(BUCKET, `${PREFIX}chunks.jsonl`, `${lines.join("\n")}\n`);
    const rejected = new RejectedRowCollector();
    rejected.add(0, [reason(4)]);
    rejected.add(1, [reason(12)]);
    await writeRejectedRowsReport(input(rejected));
    expect(csvRows()).toEqual([
      ["Row", ...HEADER, "Error code", "Error message"],
      ["4", "ORD-4", "buyer4@example.com", "4", "", "INVALID_EMAIL", "Row 4: not valid"],
      ["12", "ORD-12", "buyer12@example.com", "5", "", "INVALID_EMAIL", "Row 12: not valid"],
    ]);
  });

  it("reads a chunk's index from the line head without parsing it", () => {
    expect(chunkIndexOfLine(chunkLine(17, rowsOf(2, 1)))).toBe(17);
    expect(chunkIndexOfLine('{"index":4,"v":1}')).toBe(4);
    expect(chunkIndexOfLine("garbage")).toBeUndefined();
  });

  it("caps the report and says so in both files", async () => {
    const rejected = new RejectedRowCollector(3);
    rejected.add(3, [reason(32), reason(33)]);
    rejected.add(1, [reason(12), reason(13)]);
    rejected.add(0, [reason(5)]);
    const report = await writeRejectedRowsReport(input(rejected));
    expect(report).toMatchObject({ rows: 3, capped: true });
    const csv = csvRows();
    expect(csv.slice(1, 4).map((r) => r[0])).toEqual(["5", "12", "13"]);
    expect(csv.at(-1)?.[0]).toBe("Capped: this report lists the first 3 of 5 rejected rows.");
    const xlsx = await xlsxRows();
    expect(xlsx).toHaveLength(5);
    expect(xlsx.at(-1)?.[0]).toBe("Capped: this report lists the first 3 of 5 rejected rows.");
  });

  it("neutralizes formulas in the csv (and keeps them as plain text in the xlsx)", async () => {
    const evil = rowsOf(2, 3);
    evil[0]!.data.Order = '=HYPERLINK("http://evil.example","click")';
    evil[1]!.data.Email = "@SUM(1+1)";
    evil[2]!.data.Note = "-2+3";
    store.put(BUCKET, `${PREFIX}chunks.jsonl`, `${chunkLine(0, evil)}\n`);
    const rejected = new RejectedRowCollector();
    rejected.add(0, [reason(2), reason(3), { row: 4, code: "BAD", message: "+cmd|' /C calc'!A0" }]);
    await writeRejectedRowsReport(input(rejected));
    const csv = csvRows();
    expect(csv[1]?.[1]).toBe(`'=HYPERLINK("http://evil.example","click")`);
    expect(csv[2]?.[2]).toBe("'@SUM(1+1)");
    expect(csv[3]?.[4]).toBe("'-2+3");
    expect(csv[3]?.[6]).toBe("'+cmd|' /C calc'!A0");

    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(store.get(BUCKET, XLSX_KEY)! as never);
    const cell = workbook.getWorksheet("Rejected rows")!.getRow(2).getCell(2);
    expect(cell.type).toBe(ExcelJS.ValueType.String);
    expect(cell.value).toBe('=HYPERLINK("http://evil.example","click")');
  });

  it("writes rows whose chunk is missing from chunks.jsonl with empty values, and says so", async () => {
    const rejected = new RejectedRowCollector();
    rejected.add(9, [reason(500)]);
    await writeRejectedRowsReport(input(rejected));
    const csv = csvRows();
    expect(csv[1]).toEqual(["500", "", "", "", "", "INVALID_EMAIL", "Row 500: not valid"]);
    expect(csv[2]?.[0]).toMatch(/^1 rejected rows are not in chunks\.jsonl/);
  });

  it("writes nothing when no row was rejected", async () => {
    const report = await writeRejectedRowsReport(input(new RejectedRowCollector()));
    expect(report).toBeNull();
    expect(store.get(BUCKET, CSV_KEY)).toBeUndefined();
    expect(store.get(BUCKET, XLSX_KEY)).toBeUndefined();
    expect(store.reads).toEqual([]);
  });

  it("stops and leaves no report when its time is up", async () => {
    const rejected = new RejectedRowCollector();
    rejected.add(0, [reason(2)]);
    const controller = new AbortController();
    controller.abort(new Error("out of time"));
    await expect(writeRejectedRowsReport(input(rejected, { signal: controller.signal }))).rejects.toThrow(
      "out of time",
    );
    expect(store.get(BUCKET, CSV_KEY)).toBeUndefined();
  });
});

describe("RejectedRowCollector", () => {
  it("keeps the first rows of the upload in row order, whatever order they are added in", () => {
    const collector = new RejectedRowCollector(4);
    for (const index of [5, 2, 9, 0, 7, 1]) {
      collector.add(index, [reason(index * 10 + 3), reason(index * 10 + 2)]);
    }
    expect(collector.total).toBe(12);
    expect(collector.capped).toBe(true);
    expect(collector.samples(10).map((s) => [s.chunkIndex, s.row])).toEqual([
      [0, 2],
      [0, 3],
      [1, 12],
      [1, 13],
    ]);
  });

  it("keeps nothing with a cap of 0 but still counts", () => {
    const collector = new RejectedRowCollector(0);
    collector.add(0, [reason(2)]);
    expect(collector.total).toBe(1);
    expect(collector.chunks()).toEqual([]);
  });
});
