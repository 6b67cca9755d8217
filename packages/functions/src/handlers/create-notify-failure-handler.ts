import type { S3Client } from "@aws-sdk/client-s3";
import type { SSMClient } from "@aws-sdk/client-ssm";
import { CONTRACT_VERSION, type DeadLetterRecord } from "@sluice/core";
import type { DeadLetterQueue } from "../adapters/dead-letter-queue.ts";
import { firstFailedChild } from "../adapters/map-run-failures.ts";
import { buildFailureAlert } from "../alerts/failure-alert.ts";
import { createWebhookUrlResolver, SlackNotifier, type SlackOutcome } from "../alerts/slack-notifier.ts";
import { type NotifyFailureInput, NotifyFailureInputSchema, parseInput } from "../execution-input.ts";
import { parseCause } from "../failure-cause.ts";
import { type Logger, logUpload } from "../logger.ts";

export interface NotifyFailureDeps {
  deadLetterQueue: DeadLetterQueue;
  /** Reads the Map Run's results to name the chunk behind a Map failure; without it the record says less. */
  s3?: S3Client | undefined;
  stage: string;
  region: string;
  slackWebhookUrl?: string | undefined;
  slackWebhookParameter?: string | undefined;
  ssm?: SSMClient | undefined;
  logger: Logger;
  now?: () => Date;
  slackTimeoutMs?: number;
}

export interface NotifyFailureOutput {
  record: DeadLetterRecord;
  slack: SlackOutcome;
}

/** The dead-letter record for a failed execution, from the state at its Catch. */
export function deadLetterRecordFor(input: NotifyFailureInput, failedAt: Date): DeadLetterRecord {
  const cause = parseCause(input.error?.Cause);
  const processed = input.convert?.processed;
  return {
    v: CONTRACT_VERSION,
    kind: "upload-failure",
    uploadId: input.uploadId,
    ...(input.execution?.arn || input.executionArn
      ? { executionArn: input.execution?.arn ?? input.executionArn }
      : {}),
    source: input.source,
    ...(processed?.bucket ? { processed: { bucket: processed.bucket, prefix: processed.prefix ?? "" } } : {}),
    ...(cause.chunkIndex !== undefined ? { chunkIndex: cause.chunkIndex } : {}),
    error: { code: input.error?.Error?.trim() || cause.errorType || "UNKNOWN", cause: cause.message },
    failedAt: failedAt.toISOString(),
  };
}

const MAP_FAILED = "States.ExceedToleratedFailureThreshold";

/**
 * A Map failure's own error names no chunk; the Map Run's results do. Replaces the error with the failed
 * chunk's (code and cause with its chunk index), keeping the input as it was when nothing can be found.
 */
async function withFailedChunk(
  input: NotifyFailureInput,
  deps: NotifyFailureDeps,
): Promise<NotifyFailureInput> {
  const processed = input.convert?.processed;
  if (input.error?.Error !== MAP_FAILED || !deps.s3 || !processed?.bucket || !processed.prefix) return input;
  try {
    const child = await firstFailedChild(deps.s3, processed.bucket, processed.prefix);
    if (!child) return input;
    return { ...input, error: { Error: child.error, Cause: child.cause } };
  } catch (error) {
    deps.logger.warn("Could not read the Map Run's failed results", { error: (error as Error).message });
    return input;
  }
}

/** DLQ record first (a failure to send throws, so Step Functions retries), then the Slack alert if configured. */
export function createHandler(deps: NotifyFailureDeps) {
  const now = deps.now ?? (() => new Date());
  const webhookUrl = createWebhookUrlResolver({
    url: deps.slackWebhookUrl,
    parameterName: deps.slackWebhookParameter,
    ssm: deps.ssm,
    logger: deps.logger,
  });
  return async (event: unknown): Promise<NotifyFailureOutput> => {
    let input = parseInput(NotifyFailureInputSchema, event, "notify-failure");
    logUpload(deps.logger, input.uploadId);
    input = await withFailedChunk(input, deps);
    const record = deadLetterRecordFor(input, now());
    const messageId = await deps.deadLetterQueue.send(record);
    deps.logger.error("Upload failed; dead-letter record sent", { messageId, error: record.error });

    const found = await webhookUrl();
    if (found.url === undefined)
      return { record, slack: found.reason === "not-configured" ? "skipped" : "failed" };
    const alert = buildFailureAlert({
      uploadId: record.uploadId,
      sourceKey: record.source.key,
      stage: deps.stage,
      errorCode: record.error.code,
      errorMessage: record.error.cause,
      totalRows: input.convert?.totalRows,
      chunkIndex: record.chunkIndex,
      deadLetterQueue: deps.deadLetterQueue.name,
      executionArn: record.executionArn,
      region: deps.region,
    });
    const notifier = new SlackNotifier({
      webhookUrl: found.url,
      logger: deps.logger,
      timeoutMs: deps.slackTimeoutMs,
    });
    return { record, slack: await notifier.post(alert) };
  };
}
