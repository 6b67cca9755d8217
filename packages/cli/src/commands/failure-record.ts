import type { FailureRecordLookup } from "@sluice/admin";

// Reading the record is @sluice/admin's (uploadStatus reads it too); the CLI only prints it. The demo names its key.
export { failureRecordKey } from "@sluice/admin";

const n = (value: number) => value.toLocaleString("en");
const clip = (text: string, max = 300) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The lines `sluice status` prints for a failed upload's record. */
export function describeFailureRecord(lookup: FailureRecordLookup, uploadId: string): string[] {
  const where = lookup.bucket ? `s3://${lookup.bucket}/${lookup.key}` : lookup.key;
  if (!lookup.found) return [`failure record not found (${where}: ${lookup.reason})`];
  const { record } = lookup;
  const error = `${record.error.code}: ${clip(record.error.cause)}`;
  const lines = [`failure record: ${where}`];
  const chunk = record.failedChunk;
  lines.push(
    chunk
      ? `failed chunk: index ${chunk.index}, rows ${n(chunk.firstRow)}-${n(chunk.lastRow)} (${n(chunk.rows)} rows): ${error}`
      : `failed: ${error}`,
  );
  if (record.chunks)
    lines.push(
      `chunks when it failed: ${n(record.chunks.succeeded)} of ${n(record.chunks.total)} succeeded, ${n(record.chunks.failed)} failed, ${n(record.chunks.pending)} pending`,
    );
  if (record.rejectedRowsReport)
    lines.push(
      `rejected rows so far: s3://${record.rejectedRowsReport.bucket}/${record.rejectedRowsReport.xlsxKey} (and .csv)`,
    );
  lines.push(`run what failed again (no re-upload): sluice redrive ${uploadId}`);
  return lines;
}
