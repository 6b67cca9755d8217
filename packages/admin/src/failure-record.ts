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

/** What was found at processed/<uploadId>/failure.json. */
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
 * never fails for it. `attempt` is the execution as Step Functions shows it: a record written for an earlier
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
