import { FAILED_STATUSES, failureRecordKey, readFailureRecord } from "@sluice/admin";
import { InvalidOptionError } from "@sluice/core";
import { BUCKET_OPTIONS, BUCKET_USAGE, bucketTarget, s3ClientFor } from "./bucket-options.ts";
import {
  parseCommandArgs,
  STEP_FUNCTIONS_OPTIONS,
  STEP_FUNCTIONS_USAGE,
  sfnClientFor,
  stepFunctionsTarget,
} from "./step-functions-options.ts";
import { describeStatus, fetchUploadStatus, type UploadStatus } from "./upload-status.ts";

export const STATUS_USAGE = `usage: sluice status <upload-id> [--state-machine-arn ARN] [--endpoint URL] [--region REGION]
                           [--bucket NAME] [--s3-endpoint URL] [--json]

Where an upload stands: totals (known once converted), chunks done, in flight and failed, rate and ETA, from
DescribeExecution, GetExecutionHistory, ListMapRuns and DescribeMapRun. When the execution FAILED, TIMED_OUT or
was ABORTED it also reads the failure record, processed/<upload-id>/failure.json in the uploads bucket (the
failed chunk, its rows and error), and says "failure record not found" when it cannot. The last line on stdout
is JSON.
${STEP_FUNCTIONS_USAGE}
${BUCKET_USAGE}`;

/** `sluice status`: human lines go to `say` (unless --json); returns the status for the JSON line. */
export async function runStatus(
  argv: string[],
  say: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<UploadStatus> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { ...STEP_FUNCTIONS_OPTIONS, ...BUCKET_OPTIONS },
    STATUS_USAGE,
  );
  if (positionals.length !== 1) throw new InvalidOptionError(`expected one upload id\n${STATUS_USAGE}`);
  const uploadId = positionals[0]!;
  const target = stepFunctionsTarget(values, STATUS_USAGE, env);
  const bucketOptions = bucketTarget(values, target.region, env);
  const sfn = sfnClientFor(target, env);
  let status: UploadStatus;
  try {
    status = await fetchUploadStatus(sfn, target.stateMachineArn, uploadId);
  } finally {
    sfn.destroy();
  }
  if (FAILED_STATUSES.has(status.status)) {
    const bucket = bucketOptions.bucket ?? status.source?.bucket;
    if (bucket === undefined) {
      status.failureRecord = {
        found: false,
        key: failureRecordKey(uploadId),
        reason: "no bucket known: pass --bucket or set SLUICE_BUCKET",
      };
    } else {
      const s3 = s3ClientFor(bucketOptions, env);
      try {
        status.failureRecord = await readFailureRecord(s3, bucket, uploadId, status);
      } finally {
        s3.destroy();
      }
    }
  }
  if (!values.json) for (const line of describeStatus(status)) say(line);
  return status;
}
