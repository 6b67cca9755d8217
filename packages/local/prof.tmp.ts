import { convertWorkbook, openFileSource, openWorkbook } from "@sluice/core";

const file = process.argv[2]!;
const mode = process.argv[3];
const t0 = performance.now();
const source = await openFileSource(file);
let rows = 0;
if (mode === "read") {
  const sheet = await openWorkbook(source);
  for await (const batch of sheet.rows()) rows += batch.length;
} else {
  const m = await convertWorkbook({ source, uploadId: "u", sink: { async writeChunk() {} } });
  rows = m.totalRows;
}
const s = (performance.now() - t0) / 1000;
console.log(
  mode,
  rows,
  (rows / s).toFixed(0),
  "rows/s",
  (process.resourceUsage().maxRSS / 1024).toFixed(0),
  "MB",
);
