/**
 * The naive baseline of the benchmark: what an admin server does without sluice. It receives the uploaded xlsx
 * and reads it in-process with exceljs (full read, `workbook.xlsx.readFile`), then imports the rows through the
 * same validation and the same transaction per 500 rows as the sluice consumer (src/import-chunk.ts), so the
 * only difference is how the rows reach it.
 * Run: node --max-old-space-size=256 --import tsx naive-import.ts <file.xlsx> <uploadId>   (DATABASE_URL set)
 */
import { type ChunkRow, CONTRACT_VERSION, chunkIdFor } from "@sluice/contract";
import ExcelJS from "exceljs";
import { createPool, migrate } from "../src/db.ts";
import { importChunk } from "../src/import-chunk.ts";

const [file, uploadId] = process.argv.slice(2);
if (!file || !uploadId || !process.env.DATABASE_URL) {
  console.error("usage: DATABASE_URL=... naive-import.ts <file.xlsx> <uploadId>");
  process.exit(2);
}
const pool = createPool(process.env.DATABASE_URL, 2);
await migrate(pool);
// The server is up: from here on it is handling the upload (the benchmark's clock starts at this line).
console.log(JSON.stringify({ msg: "ready" }));

const workbook = new ExcelJS.Workbook();
await workbook.xlsx.readFile(file);
const sheet = workbook.worksheets[0];
if (!sheet) throw new Error("no sheet");
const header = (sheet.getRow(1).values as unknown[]).map((v) => (v == null ? "" : String(v)));
// The chunk's columns, as a KeyedChunk (what the consumer SDK hands the handler) carries them.
const columns = [...new Set(header.filter((name) => name !== ""))];

const pad = (n: number) => String(n).padStart(2, "0");
function cell(value: ExcelJS.CellValue, name: string): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) {
    const d = `${value.getUTCFullYear()}-${pad(value.getUTCMonth() + 1)}-${pad(value.getUTCDate())}`;
    return name === "Delivery Date"
      ? d
      : `${d}T${pad(value.getUTCHours())}:${pad(value.getUTCMinutes())}:${pad(value.getUTCSeconds())}`;
  }
  if (typeof value === "object") {
    if ("result" in value) return cell(value.result as ExcelJS.CellValue, name);
    if ("richText" in value) return value.richText.map((r) => r.text).join("");
    if ("text" in value) return String(value.text);
    return null;
  }
  return value as string | number | boolean;
}

let batch: ChunkRow[] = [];
let index = 0;
let accepted = 0;
let rejected = 0;
const flush = async () => {
  if (batch.length === 0) return;
  const result = await importChunk(
    { pool },
    {
      v: CONTRACT_VERSION,
      uploadId,
      index,
      chunkId: chunkIdFor(uploadId, index),
      firstRow: batch[0]!.row,
      lastRow: batch[batch.length - 1]!.row,
      columns,
      rows: batch,
    },
  );
  accepted += result.accepted;
  rejected += result.rejected.length;
  index++;
  batch = [];
};
const rows: { number: number; values: unknown[] }[] = [];
sheet.eachRow((row, number) => {
  if (number > 1) rows.push({ number, values: row.values as unknown[] });
});
for (const { number, values } of rows) {
  const data: Record<string, string | number | boolean | null> = {};
  header.forEach((name, i) => {
    if (name) data[name] = cell(values[i] as ExcelJS.CellValue, name);
  });
  batch.push({ row: number, data });
  if (batch.length === 500) await flush();
}
await flush();
await pool.end();
console.log(JSON.stringify({ msg: "naive_import_done", accepted, rejected, chunks: index }));
