import { type Chunk, type ChunkRow, CONTRACT_VERSION, chunkIdFor, type Manifest } from "@sluice/contract";
import { chunkPointer, jsonl } from "../factories.ts";

export const UPLOAD_ID = "orders-0123456789ab";
export const PREFIX = `processed/${UPLOAD_ID}/`;
export const HEADER = ["Order", "Email", "Quantity", "Note"];

export function manifest(overrides: Partial<Manifest> = {}): Manifest {
  return {
    v: CONTRACT_VERSION,
    uploadId: UPLOAD_ID,
    source: { name: "orders.xlsx", bytes: 1234 },
    format: "xlsx",
    sheet: "Orders",
    sheets: [{ name: "Orders", visible: true }],
    header: HEADER,
    headerRow: 1,
    totalRows: 0,
    totalChunks: 0,
    bytes: 0,
    chunking: { rows: 500, bytes: 240 * 1024 },
    details: {},
    warnings: { count: 0, samples: [] },
    rowErrors: { count: 0, samples: [] },
    fileWarnings: [],
    ...overrides,
  };
}

/** Rows 2.. of a sheet, `perChunk` to a chunk, values derived from the row number. */
export function rowsOf(first: number, count: number): ChunkRow[] {
  return Array.from({ length: count }, (_, i) => {
    const row = first + i;
    return {
      row,
      data: { Order: `ORD-${row}`, Email: `buyer${row}@example.com`, Quantity: row % 7, Note: null },
    };
  });
}

/**
 * A chunks.jsonl line as core's chunk writer lays it out (v, uploadId, index first): the keyed rows made compact,
 * `columns` the sheet's HEADER and each row `[row, value per column]`.
 */
export function chunkLine(index: number, rows: ChunkRow[], columns: string[] = HEADER): string {
  const chunk: Chunk = {
    v: CONTRACT_VERSION,
    uploadId: UPLOAD_ID,
    index,
    chunkId: chunkIdFor(UPLOAD_ID, index),
    firstRow: rows[0]!.row,
    lastRow: rows[rows.length - 1]!.row,
    columns,
    rows: rows.map(({ row, data }) => [row, ...columns.map((name) => data[name] ?? null)]),
  };
  return JSON.stringify(chunk);
}

/** `chunks` chunks of `perChunk` rows each, from row 2; returns the jsonl text. */
export function chunksJsonl(chunks: number, perChunk: number): string {
  return `${Array.from({ length: chunks }, (_, i) => chunkLine(i, rowsOf(2 + i * perChunk, perChunk))).join("\n")}\n`;
}

/** items.jsonl for `chunksJsonl(chunks, perChunk)`: one pointer per chunk, as convert writes them. */
export function itemsJsonl(chunks: number, perChunk: number): string {
  return jsonl(Array.from({ length: chunks }, (_, i) => chunkPointer(i, 2 + i * perChunk, perChunk)));
}
