import type { S3Client } from "@aws-sdk/client-s3";
import type { SSMClient } from "@aws-sdk/client-ssm";
import { CONTRACT_VERSION, type DeadLetterRecord } from "@sluice/core";
import type { DeadLetterQueue } from "../adapters/dead-letter-queue.ts";
import {
  findMapRunManifest,
  type MapRunTally,
  REJECTED_ROWS_CAP,
  tallyMapRun,
} from "../adapters/map-run-results.ts";
import type { ReportLink } from "../adapters/s3-report-link.ts";
import { ALERT_SAMPLE_LIMIT, buildFailureAlert } from "../alerts/failure-alert.ts";
import { type AlertSink, createAlertSender, type SlackOutcome } from "../alerts/slack-notifier.ts";
import { type NotifyFailureInput, NotifyFailureInputSchema, parseInput } from "../execution-input.ts";
import { parseCause } from "../failure-cause.ts";
import { type Logger, logUpload } from "../logger.ts";
import { referenceTo, tryWriteRejectedRowsReport } from "../reports/rejected-rows-report.ts";
import type { RejectedRowsReport } from "../summary.ts";

export interface NotifyFailureDeps {
  deadLetterQueue: DeadLetterQueue;
  /**
   * Reads the Map Run's results (to name the chunk behind a Map failure and count the rows answered so far)
   * and writes the rejected-rows report; without it the record and the alert say less.
   */
  s3?: S3Client | undefined;
  stage: string;
  region: string;
  slackWebhookUrl?: string | undefined;
  slackWebhookParameter?: string | undefined;
  ssm?: SSMClient | undefined;
  logger: Logger;
  now?: () => Date;
  slackTimeoutMs?: number;
  /** Links the rejected-rows report in the alert; without it the alert names its location. */
  reportLink?: ReportLink | undefined;
  /** Most rejected rows a report lists (100,000 by default). */
  rejectedRowCap?: number | undefined;
  /**
   * Longest the report may take (30 s by default), and never closer than 10 s to the Lambda timeout: the
   * dead-letter record is already sent, and a timeout would retry the state and send it again.
   */
  reportTimeoutMs?: number | undefined;
  /** Receives the alert instead of the webhook (the local runtime saves it). */
  alertSink?: AlertSink | undefined;
}

export interface NotifyFailureOutput {
  record: DeadLetterRecord;
  slack: SlackOutcome;
  /** The rejected rows answered before the failure, when there were any. */
  report: RejectedRowsReport | null;
}

/** The part of the Lambda context the handler uses. */
export interface InvocationContext {
  getRemainingTimeInMillis?: () => number;
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
const REPORT_TIMEOUT_MS = 30_000;
const TIMEOUT_MARGIN_MS = 10_000;

/**
 * DLQ record first (a failure to send throws, so Step Functions retries), then the rejected-rows report and
 * the Slack alert. Reading the Map Run's results, the report and Slack are best effort: logged, never thrown.
 */
export function createHandler(deps: NotifyFailureDeps) {
  const now = deps.now ?? (() => new Date());
  const sendAlert = createAlertSender({
    url: deps.slackWebhookUrl,
    parameterName: deps.slackWebhookParameter,
    ssm: deps.ssm,
    logger: deps.logger,
    sink: deps.alertSink,
    timeoutMs: deps.slackTimeoutMs,
  });

  /** What the Map answered before the failure; undefined when there is no Map Run or it cannot be read. */
  async function readTally(input: NotifyFailureInput): Promise<MapRunTally | undefined> {
    const processed = input.convert?.processed;
    if (!deps.s3 || !processed?.bucket || !processed.prefix) return undefined;
    try {
      const manifestAt = input.delivery
        ? { bucket: input.delivery.ResultWriterDetails.Bucket, key: input.delivery.ResultWriterDetails.Key }
        : await findMapRunManifest(deps.s3, processed.bucket, processed.prefix);
      if (!manifestAt) return undefined;
      return await tallyMapRun(deps.s3, manifestAt, {
        uploadId: input.uploadId,
        strict: false,
        rejectedRowCap: deps.rejectedRowCap ?? REJECTED_ROWS_CAP,
      });
    } catch (error) {
      deps.logger.warn("Could not read the Map Run's results", { error: (error as Error).message });
      return undefined;
    }
  }

  async function writeReport(
    input: NotifyFailureInput,
    tally: MapRunTally | undefined,
    context: InvocationContext | undefined,
  ): Promise<RejectedRowsReport | null> {
    const processed = input.convert?.processed;
    if (!deps.s3 || !tally || tally.rejected === 0 || !processed?.bucket || !processed.prefix) return null;
    const remaining = context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY;
    const budget = Math.min(deps.reportTimeoutMs ?? REPORT_TIMEOUT_MS, remaining - TIMEOUT_MARGIN_MS);
    if (budget <= 0) {
      deps.logger.warn("No time left for the rejected-rows report", { remaining });
      return null;
    }
    return tryWriteRejectedRowsReport({
      s3: deps.s3,
      bucket: processed.bucket,
      prefix: processed.prefix,
      chunksKey: processed.chunksKey ?? `${processed.prefix}chunks.jsonl`,
      manifestKey: processed.manifestKey ?? `${processed.prefix}manifest.json`,
      uploadId: input.uploadId,
      rejected: tally.rejectedRows,
      logger: deps.logger,
      signal: AbortSignal.timeout(budget),
    });
  }

  return async (event: unknown, context?: InvocationContext): Promise<NotifyFailureOutput> => {
    let input = parseInput(NotifyFailureInputSchema, event, "notify-failure");
    logUpload(deps.logger, input.uploadId);
    const tally = await readTally(input);
    // A Map failure's own error names no chunk; the first failed child's error does.
    if (input.error?.Error === MAP_FAILED && tally?.firstFailure) {
      input = { ...input, error: { Error: tally.firstFailure.error, Cause: tally.firstFailure.cause } };
    }
    const record = deadLetterRecordFor(input, now());
    const messageId = await deps.deadLetterQueue.send(record);
    deps.logger.error("Upload failed; dead-letter record sent", { messageId, error: record.error });

    const report = await writeReport(input, tally, context);
    const slack = await sendAlert(async () =>
      buildFailureAlert({
        uploadId: record.uploadId,
        sourceKey: record.source.key,
        stage: deps.stage,
        errorCode: record.error.code,
        errorMessage: record.error.cause,
        totalRows: input.convert?.totalRows,
        chunkIndex: record.chunkIndex,
        accepted: tally?.accepted,
        rejected: tally?.rejected,
        rejectedSamples: tally?.rejectedRows.samples(ALERT_SAMPLE_LIMIT),
        rejectedRowsReport: report ? await referenceTo(report, deps.reportLink, deps.logger) : undefined,
        deadLetterQueue: deps.deadLetterQueue.name,
        executionArn: record.executionArn,
        region: deps.region,
      }),
    );
    return { record, slack, report };
  };
}
