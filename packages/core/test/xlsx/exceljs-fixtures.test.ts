import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ExcelJS from "exceljs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openFileSource } from "../../src/byte-source.ts";
import { resolveLimits } from "../../src/limits.ts";
import type { RawRow } from "../../src/workbook-reader.ts";
import { openXlsx } from "../../src/xlsx/open-xlsx.ts";

/** Workbooks written by exceljs's streaming writer, with shared strings and with inline strings. */

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-xlsx-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const HEADER = ["번호", "이름", "금액", "주문일", "처리시각", "승인", "메모"];

async function writeTable(file: string, useSharedStrings: boolean, rows: number): Promise<void> {
  const writer = new ExcelJS.stream.xlsx.WorkbookWriter({
    filename: file,
    useSharedStrings,
    useStyles: true,
  });
  writer.addWorksheet("숨김").state = "hidden";
  const sheet = writer.addWorksheet("주문 목록");
  sheet.getColumn(5).numFmt = "yyyy-mm-dd hh:mm:ss";
  sheet.addRow(HEADER).commit();
  for (let i = 1; i <= rows; i++) {
    sheet
      .addRow([
        i,
        `김민준 ${i % 50}`,
        i * 1.25,
        new Date(Date.UTC(2024, 0, 1 + (i % 365))),
        new Date(Date.UTC(2024, 5, 1, 9, 30, i % 60)),
        i % 2 === 0,
        i % 3 === 0 ? null : `메모 <${i}> & "따옴표"`,
      ])
      .commit();
  }
  sheet.commit();
  writer.addWorksheet("Extra").addRow(["x"]).commit();
  await writer.commit();
}

async function readAll(file: string, sheet?: string) {
  const source = await openFileSource(file);
  try {
    const opened = await openXlsx(source, { limits: resolveLimits(), ...(sheet ? { sheet } : {}) });
    const rows: RawRow[] = [];
    for await (const batch of opened.rows()) rows.push(...batch);
    return { opened, rows };
  } finally {
    await source.close();
  }
}

describe.each([
  ["shared strings", true],
  ["inline strings", false],
])("exceljs streaming writer, %s", (_label, shared) => {
  it("reads every value back", async () => {
    const file = join(dir, `small-${shared}.xlsx`);
    await writeTable(file, shared, 30);
    const { opened, rows } = await readAll(file);
    expect(opened.sheets).toEqual([
      { name: "숨김", visible: false },
      { name: "주문 목록", visible: true },
      { name: "Extra", visible: true },
    ]);
    expect(opened.sheet).toBe("주문 목록");
    expect(opened.details.dateSystem).toBe(1900);
    if (shared) expect(opened.details.sharedStrings).toBeGreaterThan(0);
    else expect(opened.details.sharedStrings).toBe(0);
    expect(rows).toHaveLength(31);
    expect(rows[0]).toEqual({ row: 1, cells: HEADER });
    expect(rows[1]).toEqual({
      row: 2,
      cells: [1, "김민준 1", 1.25, "2024-01-02", "2024-06-01T09:30:01", false, '메모 <1> & "따옴표"'],
    });
    expect(rows[3]).toEqual({
      row: 4,
      cells: [3, "김민준 3", 3.75, "2024-01-04", "2024-06-01T09:30:03", false],
    });
    expect(rows[30]!.cells).toEqual([30, "김민준 30", 37.5, "2024-01-31", "2024-06-01T09:30:30", true]);
    expect((await readAll(file, "Extra")).rows).toEqual([{ row: 1, cells: ["x"] }]);
  });

  it("streams 200k rows in batches with modest memory growth", async () => {
    const file = join(dir, `big-${shared}.xlsx`);
    await writeTable(file, shared, 200_000);
    const source = await openFileSource(file);
    try {
      const before = process.memoryUsage().rss;
      let peak = before;
      const opened = await openXlsx(source, { limits: resolveLimits() });
      let count = 0;
      let expectedId = 0;
      let batches = 0;
      for await (const batch of opened.rows()) {
        batches++;
        for (const row of batch) {
          if (count > 0) expect(row.cells[0]).toBe(expectedId);
          expectedId++;
          count++;
        }
        if (batches % 50 === 0) peak = Math.max(peak, process.memoryUsage().rss);
      }
      expect(count).toBe(200_001);
      expect(batches).toBeGreaterThan(100);
      // A behaviour check, not a benchmark: the sheet is never held (it inflates to ~70 MB of XML).
      expect(peak - before).toBeLessThan(150 * 1024 * 1024);
    } finally {
      await source.close();
    }
  });
});
