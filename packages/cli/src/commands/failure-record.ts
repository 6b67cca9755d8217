import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  FAILURE_OBJECT,
  FailedStatusSchema,
  type FailureRecord,
  FailureRecordSchema,
  processedPrefixOf,
} from "@sluice/contract";

/** The execution statuses after which NotifyFailure writes the failure record (the contract's). */
export const FAILED_STATUSES: ReadonlySet<string> = new Set(FailedStatusSchema.options);

/** What `sluice status` found at processed/<uploadId>/failure.json. */
export type FailureRecordLookup =
  | { found: true; bucket: string; key: string; record: FailureRecord }
  | { found: false; bucket?: string; key: string; reason: string };

/** `processed/<uploadId>/failure.json`: where NotifyFailure writes an upload's failure record. */
export function failureRecordKey(uploadId: string): string {
  return `${processedPrefixOf(uploadId)}${FAILURE_OBJECT}`;
}

/** A failure record is a few KiB; anything much larger is not one. */
const MAX_RECORD_BYTES = 1024 * 1024;

/**
 * Reads an upload's failure record. Never throws: whatever goes wrong (no object, no permission, no network, not
 * a failure record, the record of an earlier attempt) comes back as `found: false` with the reason, so a status
 * never fails for it. `attempt` is the execution as DescribeExecution shows it: a record written for an earlier
 * run (before a redrive) is not this failure's.
 */
export async function readFailureRecord(
  s3: S3Client,
  bucket: string,
  uploadId: string,
  attempt?: { executionArn: string; redriveCount: number },
  timeoutMs = 10_000,
): Promise<FailureRecordLookup> {
  const key = failureRecordKey(uploadId);
  const notFound = (reason: string): FailureRecordLookup => ({ found: false, bucket, key, reason });
  let text: string;
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), {
      abortSignal: AbortSignal.timeout(timeoutMs),
    });
    if ((object.ContentLength ?? 0) > MAX_RECORD_BYTES) {
      await object.Body?.transformToByteArray().catch(() => undefined);
      return notFound(`the object is ${object.ContentLength} bytes: not a failure record`);
    }
    text = (await object.Body?.transformToString("utf8")) ?? "";
  } catch (error) {
    const { name, message } = error as Error;
    if (name === "NoSuchKey" || name === "NotFound") return notFound("NoSuchKey: not written (yet)");
    return notFound(message && message !== name ? `${name}: ${message}` : String(name ?? error));
  }
  let parsed: ReturnType<typeof FailureRecordSchema.safeParse>;
  try {
    parsed = FailureRecordSchema.safeParse(JSON.parse(text));
  } catch {
    return notFound("not JSON");
  }
  if (!parsed.success)
    return notFound(`not a failure record: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  const record = parsed.data;
  if (attempt && (record.executionArn !== attempt.executionArn || record.redriveCount < attempt.redriveCount))
    return notFound(
      `the record there is of an earlier attempt (redrive count ${record.redriveCount}, failed ${record.failedAt}); this attempt's is not written yet`,
    );
  return { found: true, bucket, key, record };
}

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
