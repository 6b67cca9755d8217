import {
  type CellValue,
  type Chunk,
  ChunkSchema,
  CONTRACT_VERSION,
  chunkIdFor,
  type KeyedChunk,
  keyedChunk,
} from "@sluice/contract";
import { ORDER_HEADERS } from "../../src/order-row.ts";

/** Orders rows shaped like examples/orders.xlsx, deterministic by index. */
const CUSTOMERS = ["김민준", "이서연", "박지호", "최수아", "정예준", "강하은"];
const ITEMS: [string, number][] = [
  ["즉석밥 12개입", 14900],
  ["계란 30구", 8900],
  ["커피 원두 1kg", 32000],
  ["우유 1L", 2800],
  ["라면 5개입", 5900],
];

export function orderId(n: number, year = 2026): string {
  return `ORD-${year}-${String(n).padStart(6, "0")}`;
}

export function orderData(n: number, overrides: Record<string, string | number | boolean | null> = {}) {
  const [item, price] = ITEMS[n % ITEMS.length]!;
  const quantity = (n % 5) + 1;
  const day = String((n % 28) + 1).padStart(2, "0");
  return {
    "Order ID": orderId(n),
    "Ordered At": `2026-10-${day}T${String(n % 24).padStart(2, "0")}:15:30`,
    Customer: CUSTOMERS[n % CUSTOMERS.length]!,
    Phone: `010-${String(1000 + (n % 9000)).padStart(4, "0")}-${String(n % 10000).padStart(4, "0")}`,
    Address: `서울특별시 강남구 테헤란로 ${(n % 400) + 1}`,
    Item: item,
    Quantity: quantity,
    "Unit Price": price,
    Total: quantity * price,
    Paid: n % 3 !== 0,
    "Delivery Date": n % 7 === 0 ? null : `2026-11-${day}`,
    Memo: n % 4 === 0 ? "배송 전 연락 바랍니다" : null,
    ...overrides,
  };
}

/**
 * A chunk as the converter cuts it (contract 3, compact): rows numbered from `firstRow` (row 1 is the header), the
 * columns every key of `data` in first-seen order (null where a row lacks one), `warnings` by row number.
 */
export function compactChunkOf(
  uploadId: string,
  index: number,
  data: Record<string, CellValue>[],
  firstRow = 2 + index * 100,
  warnings?: Chunk["warnings"],
): Chunk {
  const columns = [...new Set(data.flatMap((d) => Object.keys(d)))];
  return ChunkSchema.parse({
    v: CONTRACT_VERSION,
    uploadId,
    index,
    chunkId: chunkIdFor(uploadId, index),
    firstRow,
    lastRow: firstRow + data.length - 1,
    columns,
    rows: data.map((d, i) => [firstRow + i, ...columns.map((c) => d[c] ?? null)]),
    ...(warnings?.length ? { warnings } : {}),
  });
}

/** That chunk as the consumer SDK hands it to the handler: rows keyed by column name (`keyedChunk`). */
export function chunkOf(
  uploadId: string,
  index: number,
  data: Record<string, CellValue>[],
  firstRow = 2 + index * 100,
  warnings?: Chunk["warnings"],
): KeyedChunk {
  return keyedChunk(compactChunkOf(uploadId, index, data, firstRow, warnings));
}

function csvCell(value: string | number | boolean | null): string {
  if (value === null) return "";
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** An orders csv of `rows` valid orders (ids 1..rows), plus `bad` extra rows that the admin server rejects. */
export function ordersCsv(
  rows: number,
  extra: Record<string, string | number | boolean | null>[] = [],
): Buffer {
  const lines = [ORDER_HEADERS.join(",")];
  const all = [...Array.from({ length: rows }, (_, i) => orderData(i + 1)), ...extra];
  for (const d of all)
    lines.push(
      ORDER_HEADERS.map((h) =>
        csvCell((d as Record<string, string | number | boolean | null>)[h] ?? null),
      ).join(","),
    );
  return Buffer.from(`${lines.join("\n")}\n`);
}
