import type { SSMClient } from "@aws-sdk/client-ssm";
import { CONTRACT_VERSION, type DeadLetterRecord } from "@sluice/core";
import type { DeadLetterQueue } from "../adapters/dead-letter-queue.ts";
import { buildFailureAlert } from "../alerts/failure-alert.ts";
import { createWebhookUrlResolver, SlackNotifier, type SlackOutcome } from "../alerts/slack-notifier.ts";
import { type NotifyFailureInput, NotifyFailureInputSchema, parseInput } from "../execution-input.ts";
import { parseCause } from "../failure-cause.ts";
import { type Logger, logUpload } from "../logger.ts";

export interface NotifyFailureDeps {
  deadLetterQueue: DeadLetterQueue;
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
    const input = parseInput(NotifyFailureInputSchema, event, "notify-failure");
    logUpload(deps.logger, input.uploadId);
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
