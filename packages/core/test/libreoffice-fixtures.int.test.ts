// Runs the real converter (`sluice convert`, one node process) on the workbooks LibreOffice wrote, and checks
// every converted value against fixtures/libreoffice/README.md.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ChunkSchema, chunkRows } from "@sluice/contract";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const FIXTURES = path.join(ROOT, "packages/core/test/fixtures/libreoffice");
const CLI = path.join(ROOT, "packages/cli/bin/sluice.js");

type Value = string | number | boolean | null;
interface ConvertedRow {
  row: number;
  data: Record<string, Value>;
  warnings?: { column: string; code: string; message: string }[];
}
interface Converted {
  summary: { rows: number; sheet: string; header: string[]; format: string };
  rows: ConvertedRow[];
}

const outDirs: string[] = [];
afterAll(() => {
  for (const dir of outDirs) rmSync(dir, { recursive: true, force: true });
});

async function convert(file: string, ...args: string[]): Promise<Converted> {
  const out = mkdtempSync(path.join(os.tmpdir(), "sluice-lo-fixture-"));
  outDirs.push(out);
  const { stdout } = await run(
    process.execPath,
    [CLI, "convert", path.join(FIXTURES, file), "--out", out, ...args],
    {
      cwd: ROOT,
    },
  );
  const summary = JSON.parse(stdout.trim().split("\n").at(-1)!) as Converted["summary"];
  const rows = readFileSync(path.join(out, "chunks.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .flatMap((line) => chunkRows(ChunkSchema.parse(JSON.parse(line))) as ConvertedRow[]);
  return { summary, rows };
}

/** Every header key of every row, an absent key read as null (as the contract says). */
function table(converted: Converted): Record<number, Record<string, Value>> {
  const result: Record<number, Record<string, Value>> = {};
  for (const r of converted.rows) {
    for (const key of Object.keys(r.data)) expect(converted.summary.header).toContain(key);
    result[r.row] = Object.fromEntries(converted.summary.header.map((h) => [h, r.data[h] ?? null]));
  }
  return result;
}

describe("LibreOffice fixtures through sluice convert", () => {
  it("orders.xlsx: types, formulas, merge, error, empty row, blank and duplicate headers", async () => {
    const converted = await convert("orders.xlsx");
    expect(converted.summary.format).toBe("xlsx");
    expect(converted.summary.sheet).toBe("Orders");
    expect(converted.summary.rows).toBe(3);
    expect(converted.summary.header).toEqual([
      "order_id",
      "customer",
      "qty",
      "unit_price",
      "amount",
      "order_date",
      "shipped_at",
      "pickup_time",
      "paid",
      "code",
      "ratio",
      "column_L",
      "customer_2",
    ]);
    expect(converted.rows.map((r) => r.row)).toEqual([2, 3, 5]);
    const rows = table(converted);
    // Checked on its own below: the converter drops the time part of a date-time at exactly midnight.
    delete rows[5]!.shipped_at;
    expect(rows).toEqual({
      2: {
        order_id: "ORD-001",
        customer: "김민준",
        qty: 3,
        unit_price: 12.5,
        amount: 37.5,
        order_date: "2024-03-15",
        shipped_at: "2024-03-15T09:30:00",
        pickup_time: "14:05:30",
        paid: true,
        code: "00123",
        ratio: null,
        column_L: "빠른 배송",
        customer_2: "서울특별시 강남구",
      },
      3: {
        order_id: "ORD-002",
        customer: "이서연",
        qty: 10,
        unit_price: 1234.56,
        amount: 12345.6,
        order_date: "2024-12-31",
        shipped_at: "2024-12-31T23:59:59",
        pickup_time: "08:00:00",
        paid: false,
        code: "00456",
        ratio: 1,
        column_L: "병합된 메모",
        customer_2: null,
      },
      5: {
        order_id: "ORD-003",
        customer: "박지훈 (Park)",
        qty: 2,
        unit_price: -7.25,
        amount: -14.5,
        order_date: "2000-02-29",
        pickup_time: "23:59:59",
        paid: true,
        code: "007",
        ratio: null,
        column_L: null,
        customer_2: "부산광역시 해운대구",
      },
    });
    const warnings = Object.fromEntries(converted.rows.map((r) => [r.row, r.warnings ?? []]));
    expect(warnings[2]).toHaveLength(1);
    expect(warnings[2]![0]!.column).toBe("ratio");
    expect(warnings[2]![0]!.code).not.toBe("");
    expect(warnings[3]).toEqual([]);
    expect(warnings[5]).toEqual([]);
  });

  // The rule: `YYYY-MM-DD` when the time part is zero, whatever the cell's format, so a date-time-formatted
  // cell at exactly midnight gives the date alone.
  it("orders.xlsx row 5: a date-time-formatted cell at midnight gives the date alone", async () => {
    const converted = await convert("orders.xlsx");
    expect(table(converted)[5]!.shipped_at).toBe("1999-12-31");
  });

  it("hidden-first-sheet.xlsx: the first visible sheet by default, header on the first non-empty row", async () => {
    const converted = await convert("hidden-first-sheet.xlsx");
    expect(converted.summary.sheet).toBe("Data");
    expect(converted.summary.header).toEqual(["product", "stock", "price", "restocked", "active"]);
    expect(table(converted)).toEqual({
      3: { product: "무선 키보드", stock: 42, price: 39900.5, restocked: "2025-01-02", active: true },
      4: { product: "USB-C 케이블 1m", stock: 0, price: 0.99, restocked: "1900-03-01", active: false },
    });
  });

  it("hidden-first-sheet.xlsx: the hidden sheet when asked for by name", async () => {
    const converted = await convert("hidden-first-sheet.xlsx", "--sheet", "Notes");
    expect(converted.summary.sheet).toBe("Notes");
    expect(table(converted)).toEqual({ 2: { memo: "숨김 시트입니다", value: 999 } });
  });

  it("date1904.xlsx: dates and date-times in the 1904 date system, plain numbers unshifted", async () => {
    const converted = await convert("date1904.xlsx");
    expect(converted.summary.header).toEqual(["event", "day", "starts_at", "seats"]);
    expect(table(converted)).toEqual({
      2: { event: "신년 세일", day: "2024-02-29", starts_at: "2024-02-29T10:15:00", seats: 1462 },
      3: { event: "epoch day", day: "1904-01-02", starts_at: "1904-01-01T12:00:00", seats: 0 },
    });
  });
});
