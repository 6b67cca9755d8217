import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  ListMapRunsCommand,
  type SFNClient,
} from "@aws-sdk/client-sfn";
import type { SSMClient } from "@aws-sdk/client-ssm";
import type { RejectedRowsReport } from "@sluice/contract";
import {
  CHUNKS_OBJECT,
  CONTRACT_VERSION,
  FAILURE_OBJECT,
  FailedStatusSchema,
  type FailureRecord,
  FailureRecordSchema,
  type FileWarning,
  FileWarningSchema,
  ITEMS_OBJECT,
  MANIFEST_OBJECT,
  ManifestSchema,
  processedPrefixOf,
  REJECTED_SAMPLE_LIMIT,
  SourceLocationSchema,
} from "@sluice/contract";
import { z } from "zod";
import {
  type ChunkTable,
  type FailedChild,
  findFirstFailedChild,
  findMapRunManifest,
  type MapRunResults,
  type MapRunTally,
  REJECTED_ROWS_CAP,
  readChunkTable,
  readJsonObject,
  readMapRunManifest,
  tallyMapRun,
} from "../adapters/map-run-results.ts";
import type { ReportLink } from "../adapters/s3-report-link.ts";
import {
  ALERT_SAMPLE_LIMIT,
  buildFailureAlert,
  buildFailureFollowUp,
  type FailedStatus,
} from "../alerts/failure-alert.ts";
import {
  type AlertSink,
  createAlertSender,
  type SlackOutcome,
  type SlackRetryOptions,
} from "../alerts/slack-notifier.ts";
import { parseCause } from "../failure-cause.ts";
import { withLambdaErrors } from "../lambda-error.ts";
import { type Logger, logUpload } from "../logger.ts";
import { parseInput } from "../parse-input.ts";
import { referenceTo, tryWriteRejectedRowsReport } from "../reports/rejected-rows-report.ts";

/**
 * The EventBridge event NotifyFailure receives: "Step Functions Execution Status Change" for one of the
 * workflow's executions that failed, timed out or was aborted. Only what the handler reads is checked; any other
 * field is ignored. The detail may lack input, error and cause (EventBridge drops a large input), so the handler
 * asks DescribeExecution for them.
 */
export const ExecutionStatusChangeEventSchema = z.object({
  "detail-type": z.literal("Step Functions Execution Status Change"),
  source: z.literal("aws.states"),
  time: z.string().optional(),
  detail: z.object({
    executionArn: z.string().min(1),
    stateMachineArn: z.string().min(1),
    name: z.string().optional(),
    status: z.string().min(1),
    /** Epoch milliseconds. */
    startDate: z.number().nullable().optional(),
    stopDate: z.number().nullable().optional(),
    input: z.string().nullable().optional(),
    error: z.string().nullable().optional(),
    cause: z.string().nullable().optional(),
    redriveCount: z.number().int().nonnegative().nullable().optional(),
  }),
});

export type ExecutionStatusChangeEvent = z.infer<typeof ExecutionStatusChangeEventSchema>;

/** The execution's input as the start handler builds it; only what the record needs is required. */
const FailedExecutionInputSchema = z.object({
  uploadId: z.string().min(1).max(80),
  source: SourceLocationSchema,
  receivedAt: z.string().optional(),
});

export interface NotifyFailureDeps {
  /** DescribeExecution, ListMapRuns, DescribeMapRun. */
  sfn: SFNClient;
  /** Reads the Map Run's results and manifest.json, writes failure.json and the rejected-rows report. */
  s3: S3Client;
  /** The uploads bucket, where `processed/<uploadId>/` is. */
  bucketName: string;
  /** Ends with "/", e.g. "processed/". */
  processedPrefix: string;
  stage: string;
  region: string;
  slackWebhookUrl?: string | undefined;
  slackWebhookParameter?: string | undefined;
  ssm?: SSMClient | undefined;
  logger: Logger;
  now?: () => Date;
  slackTimeoutMs?: number;
  /** How a failed post is retried (4 attempts within 20 s by default, never past the Lambda's time). */
  slackRetry?: SlackRetryOptions | undefined;
  /** Links the rejected-rows report in the follow-up message; without it the message names its location. */
  reportLink?: ReportLink | undefined;
  /** Most rejected rows a report lists (100,000 by default). */
  rejectedRowCap?: number | undefined;
  /**
   * Longest the large read (the Map Run's results, the report, the record's update) may take: 120 s by default,
   * and never closer than 15 s to the Lambda timeout, since a timeout retries the whole invocation.
   */
  reportTimeoutMs?: number | undefined;
  /** Longest the search for the failed chunk in the FAILED result files may take (30 s by default). */
  failedChunkTimeoutMs?: number | undefined;
  /** Receives the alerts instead of the webhook (the local runtime saves them). */
  alertSink?: AlertSink | undefined;
}

export interface NotifyFailureOutput {
  /** The failure record written; null when the execution had not failed any more, or named no upload. */
  record: FailureRecord | null;
  /** The alert. */
  slack: SlackOutcome;
  /** The rejected rows answered before the failure, when there were any. */
  report: RejectedRowsReport | null;
  /** The second message (rows answered before the failure, the report), sent only when rows were rejected. */
  followUp: SlackOutcome | "none";
}

/** The part of the Lambda context the handler uses. */
export interface InvocationContext {
  getRemainingTimeInMillis?: () => number;
}

export class FailureRecordWriteError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FAILURE_RECORD_WRITE_FAILED";
  }
}

/** What DescribeExecution (or, failing that, the event) says about the execution. */
interface ExecutionFacts {
  status: string;
  input: string | undefined;
  error: string | undefined;
  cause: string | undefined;
  redriveCount: number;
  stopDate: Date | undefined;
}

interface MapRunFacts {
  mapRunArn: string;
  chunks?: NonNullable<FailureRecord["chunks"]> | undefined;
}

export interface FailureRecordInput {
  uploadId: string;
  executionArn: string;
  status: FailedStatus;
  redriveCount: number;
  source: FailureRecord["source"];
  /** Where chunks.jsonl and manifest.json are, when conversion finished. */
  processed?: FailureRecord["processed"] | undefined;
  /** The execution's own error and cause. */
  error?: string | undefined;
  cause?: string | undefined;
  /** The failed chunk's child execution, when a chunk failed the Map. */
  failedChild?: FailedChild | undefined;
  chunks?: FailureRecord["chunks"] | undefined;
  failedAt: Date;
}

/** The error code when neither the chunk nor the execution names one. */
const STATUS_CODE: Record<FailedStatus, string> = {
  FAILED: "UNKNOWN",
  TIMED_OUT: "States.Timeout",
  ABORTED: "EXECUTION_ABORTED",
};

/**
 * The failure record: the failed chunk's own error when a chunk failed the Map (the Map's error,
 * States.ExceedToleratedFailureThreshold, names no chunk), else the execution's (a Lambda error's errorType).
 */
export function buildFailureRecord(input: FailureRecordInput): FailureRecord {
  const child = input.failedChild;
  const rawCode = child ? child.error : input.error;
  const cause = parseCause(child ? child.cause : input.cause);
  const code = rawCode?.trim() || cause.errorType || STATUS_CODE[input.status];
  return FailureRecordSchema.parse({
    v: CONTRACT_VERSION,
    kind: "upload-failure",
    uploadId: input.uploadId,
    executionArn: input.executionArn,
    status: input.status,
    redriveCount: input.redriveCount,
    source: input.source,
    ...(input.processed ? { processed: input.processed } : {}),
    error: { code, cause: cause.message },
    ...(child?.chunk ? { failedChunk: child.chunk } : {}),
    ...(input.chunks ? { chunks: input.chunks } : {}),
    failedAt: input.failedAt.toISOString(),
  } satisfies FailureRecord);
}

const REPORT_TIMEOUT_MS = 120_000;
const FAILED_CHUNK_TIMEOUT_MS = 30_000;
const TIMEOUT_MARGIN_MS = 15_000;

const message = (error: unknown) =>
  `${(error as Error)?.name ?? "Error"}: ${(error as Error)?.message ?? error}`;

/**
 * NotifyFailure, invoked asynchronously by the EventBridge rule on the workflow's failed, timed-out and aborted
 * executions. In this order:
 *  a. DescribeExecution: the input (upload id, source), status, error, cause and redrive count; an execution that
 *     is no longer failed (redriven meanwhile) is left alone;
 *  b. ListMapRuns / DescribeMapRun: the newest Map Run's item counts;
 *  c. the Map Run's ResultWriter manifest under processed/<uploadId>/ and, streamed from its FAILED files, the
 *     first failed chunk: which chunk and rows, and its real error;
 *  d. processed/<uploadId>/failure.json and the Slack alert, independent of each other;
 *  e. only then the large read: the Map Run's SUCCEEDED results tallied, the rejected-rows report, failure.json
 *     updated with the progress, the report and the first rejected rows, and a short second message when rows
 *     were rejected.
 * Everything but the record is best effort (logged). When the record could not be written the handler throws
 * last, after everything else was attempted, so Lambda's asynchronous retry tries again.
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
    retry: deps.slackRetry,
  });

  async function describeExecution(detail: ExecutionStatusChangeEvent["detail"]): Promise<ExecutionFacts> {
    try {
      const out = await deps.sfn.send(new DescribeExecutionCommand({ executionArn: detail.executionArn }));
      return {
        status: out.status ?? detail.status,
        input: out.input ?? detail.input ?? undefined,
        error: out.error ?? detail.error ?? undefined,
        cause: out.cause ?? detail.cause ?? undefined,
        redriveCount: out.redriveCount ?? detail.redriveCount ?? 0,
        stopDate: out.stopDate,
      };
    } catch (error) {
      // Without the input there is no upload to record: let Lambda retry.
      if (!detail.input) throw error;
      deps.logger.warn("DescribeExecution failed; the event's detail is used", { error: message(error) });
      return {
        status: detail.status,
        input: detail.input,
        error: detail.error ?? undefined,
        cause: detail.cause ?? undefined,
        redriveCount: detail.redriveCount ?? 0,
        stopDate: detail.stopDate ? new Date(detail.stopDate) : undefined,
      };
    }
  }

  /**
   * The newest Map Run of the execution and its item counts (absent when DescribeMapRun failed); null when the
   * execution has none, undefined when they cannot be listed.
   */
  async function newestMapRun(executionArn: string): Promise<MapRunFacts | null | undefined> {
    let mapRunArn: string | undefined;
    try {
      const { mapRuns = [] } = await deps.sfn.send(new ListMapRunsCommand({ executionArn, maxResults: 100 }));
      mapRunArn = [...mapRuns].sort(
        (a, b) => (b.startDate?.getTime() ?? 0) - (a.startDate?.getTime() ?? 0),
      )[0]?.mapRunArn;
    } catch (error) {
      deps.logger.warn("Could not list the execution's Map Runs", { error: message(error) });
      return undefined;
    }
    if (!mapRunArn) return null;
    try {
      const counts = (await deps.sfn.send(new DescribeMapRunCommand({ mapRunArn }))).itemCounts;
      return {
        mapRunArn,
        chunks: {
          total: counts?.total ?? 0,
          succeeded: counts?.succeeded ?? 0,
          failed: (counts?.failed ?? 0) + (counts?.timedOut ?? 0) + (counts?.aborted ?? 0),
          // Items not answered: not started, or still running when the Map Run stopped.
          pending: (counts?.pending ?? 0) + (counts?.running ?? 0),
        },
      };
    } catch (error) {
      deps.logger.warn("Could not describe the Map Run", { mapRunArn, error: message(error) });
      return { mapRunArn };
    }
  }

  /**
   * manifest.json's totals, file warnings and the file's original name; null when conversion did not finish (no
   * manifest), undefined when it cannot be read.
   */
  async function uploadTotals(
    prefix: string,
  ): Promise<
    { totalRows: number; fileWarnings: FileWarning[]; originalName?: string | undefined } | null | undefined
  > {
    try {
      const manifest = await readJsonObject(deps.s3, deps.bucketName, `${prefix}${MANIFEST_OBJECT}`);
      const parsed = z
        .object({
          totalRows: z.number().int().nonnegative(),
          // Best effort: warnings or a name that cannot be read do not cost the totals.
          fileWarnings: z.array(FileWarningSchema).catch([]).default([]),
          originalName: ManifestSchema.shape.originalName.catch(undefined),
        })
        .safeParse(manifest);
      return parsed.success ? parsed.data : undefined;
    } catch (error) {
      const cause = (error as Error & { cause?: { name?: string } }).cause;
      if (cause?.name === "NoSuchKey" || cause?.name === "NotFound") return null;
      deps.logger.warn("Could not read the upload's manifest.json", { error: message(error) });
      return undefined;
    }
  }

  async function mapRunResults(
    prefix: string,
    mapRunArn: string | undefined,
  ): Promise<MapRunResults | undefined> {
    try {
      const at = await findMapRunManifest(deps.s3, deps.bucketName, prefix, { mapRunArn });
      return at ? await readMapRunManifest(deps.s3, at) : undefined;
    } catch (error) {
      deps.logger.warn("Could not read the Map Run's result manifest", { error: message(error) });
      return undefined;
    }
  }

  async function failedChild(results: MapRunResults): Promise<FailedChild | undefined> {
    try {
      return await findFirstFailedChild(deps.s3, results, {
        signal: AbortSignal.timeout(deps.failedChunkTimeoutMs ?? FAILED_CHUNK_TIMEOUT_MS),
      });
    } catch (error) {
      deps.logger.warn("Could not read the Map Run's failed results", { error: message(error) });
      return undefined;
    }
  }

  async function writeRecord(record: FailureRecord, key: string): Promise<boolean> {
    try {
      await deps.s3.send(
        new PutObjectCommand({
          Bucket: deps.bucketName,
          Key: key,
          Body: `${JSON.stringify(FailureRecordSchema.parse(record), null, 2)}\n`,
          ContentType: "application/json",
        }),
      );
      return true;
    } catch (error) {
      deps.logger.error("Writing the failure record failed", { key, error: error as Error });
      return false;
    }
  }

  /** The large read's time: `reportTimeoutMs`, never closer than the margin to the Lambda timeout. */
  function largeReadBudget(context: InvocationContext | undefined): number {
    const remaining = context?.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY;
    return Math.min(deps.reportTimeoutMs ?? REPORT_TIMEOUT_MS, remaining - TIMEOUT_MARGIN_MS);
  }

  return (event: unknown, context?: InvocationContext): Promise<NotifyFailureOutput> =>
    withLambdaErrors(() => notify(event, context));

  async function notify(
    event: unknown,
    context: InvocationContext | undefined,
  ): Promise<NotifyFailureOutput> {
    const { detail } = parseInput(ExecutionStatusChangeEventSchema, event, "notify-failure");
    // Slack's retries stop short of the Lambda's timeout: the handler must still return (or throw) itself.
    const remaining = context?.getRemainingTimeInMillis?.bind(context);
    deps.logger.resetKeys();
    deps.logger.appendKeys({ executionArn: detail.executionArn });

    // a. The execution, as it is now.
    const execution = await describeExecution(detail);
    const status = FailedStatusSchema.safeParse(execution.status);
    if (!status.success) {
      deps.logger.info("The execution is no longer failed (redriven?); nothing to notify", {
        status: execution.status,
        eventStatus: detail.status,
      });
      return { record: null, slack: "skipped", report: null, followUp: "none" };
    }
    let parsedInput: z.infer<typeof FailedExecutionInputSchema> | undefined;
    try {
      parsedInput = FailedExecutionInputSchema.parse(JSON.parse(execution.input ?? "null"));
    } catch {
      parsedInput = undefined;
    }
    const cause = parseCause(execution.cause);
    if (!parsedInput) {
      deps.logger.error("The failed execution's input names no upload; no failure record is written", {
        input: (execution.input ?? "").slice(0, 1000),
        error: execution.error,
      });
      const slack = await sendAlert(
        () =>
          buildFailureAlert({
            uploadId: detail.name ?? detail.executionArn.slice(detail.executionArn.lastIndexOf(":") + 1),
            sourceKey: "(unknown file)",
            stage: deps.stage,
            status: status.data,
            errorCode: execution.error || cause.errorType || STATUS_CODE[status.data],
            errorMessage: cause.message,
            redriveCount: execution.redriveCount,
            executionArn: detail.executionArn,
            region: deps.region,
          }),
        remaining,
      );
      return { record: null, slack, report: null, followUp: "none" };
    }
    const input = parsedInput;
    logUpload(deps.logger, input.uploadId);
    deps.logger.appendKeys({ executionArn: detail.executionArn });
    const prefix = processedPrefixOf(input.uploadId, deps.processedPrefix);
    const recordKey = `${prefix}${FAILURE_OBJECT}`;

    // b. The Map Run's counts, c. the failed chunk (from the results the Map Run wrote before it failed).
    const mapRun = await newestMapRun(detail.executionArn);
    const totals = await uploadTotals(prefix);
    const results =
      mapRun || (mapRun === undefined && totals) ? await mapRunResults(prefix, mapRun?.mapRunArn) : undefined;
    const child = results ? await failedChild(results) : undefined;

    // d. The record and the alert, each attempted whatever became of the other.
    const record = buildFailureRecord({
      uploadId: input.uploadId,
      executionArn: detail.executionArn,
      status: status.data,
      redriveCount: execution.redriveCount,
      source: input.source,
      // Conversion finished when its manifest is there, or when the Map ran on its items.
      ...(totals || mapRun ? { processed: { bucket: deps.bucketName, prefix } } : {}),
      error: execution.error,
      cause: execution.cause,
      failedChild: child,
      chunks: mapRun?.chunks,
      failedAt: execution.stopDate ?? now(),
    });
    let recordWritten = await writeRecord(record, recordKey);
    deps.logger.error("Upload failed", {
      status: record.status,
      error: record.error,
      failedChunk: record.failedChunk,
      chunks: record.chunks,
      recordWritten,
    });
    const slack = await sendAlert(
      () =>
        buildFailureAlert({
          uploadId: record.uploadId,
          sourceKey: record.source.key,
          originalName: totals?.originalName,
          stage: deps.stage,
          status: record.status,
          errorCode: record.error.code,
          errorMessage: record.error.cause,
          totalRows: totals?.totalRows,
          fileWarnings: totals?.fileWarnings,
          failedChunk: record.failedChunk,
          chunks: record.chunks,
          redriveCount: record.redriveCount,
          failureRecord: { bucket: deps.bucketName, key: recordKey, written: recordWritten },
          executionArn: record.executionArn,
          region: deps.region,
        }),
      remaining,
    );

    // e. The large read: what was answered before the failure.
    let report: RejectedRowsReport | null = null;
    let followUp: NotifyFailureOutput["followUp"] = "none";
    const budget = results ? largeReadBudget(context) : 0;
    if (results && budget <= 0) deps.logger.warn("No time left to read the Map Run's results", { budget });
    if (results && budget > 0) {
      const signal = AbortSignal.timeout(budget);
      let tally: MapRunTally | undefined;
      // The chunks the Map handed out, to check each answer against (best effort: without them only repeated
      // rows are caught); an impossible answer is skipped, never added to the progress.
      let chunks: ChunkTable | undefined;
      try {
        chunks = await readChunkTable(
          deps.s3,
          { bucket: deps.bucketName, key: `${prefix}${ITEMS_OBJECT}` },
          { signal },
        );
      } catch (error) {
        deps.logger.warn("Could not read the upload's chunk list (items.jsonl)", { error: message(error) });
      }
      try {
        tally = await tallyMapRun(deps.s3, results, {
          uploadId: input.uploadId,
          strict: false,
          statuses: ["SUCCEEDED"],
          rejectedRowCap: deps.rejectedRowCap ?? REJECTED_ROWS_CAP,
          signal,
          chunks,
        });
      } catch (error) {
        deps.logger.warn("Could not read the Map Run's succeeded results", { error: message(error) });
      }
      if (tally && tally.unreadable > 0) {
        deps.logger.error("Results that are not a possible TaskResult of this upload were left out", {
          unreadable: tally.unreadable,
          first: tally.firstUnreadable?.slice(0, 1000),
        });
      }
      if (tally) {
        if (tally.rejected > 0) {
          report = await tryWriteRejectedRowsReport({
            s3: deps.s3,
            bucket: deps.bucketName,
            prefix,
            chunksKey: `${prefix}${CHUNKS_OBJECT}`,
            manifestKey: `${prefix}${MANIFEST_OBJECT}`,
            uploadId: input.uploadId,
            rejected: tally.rejectedRows,
            logger: deps.logger,
            signal,
          });
        }
        record.progress = { accepted: tally.accepted, rejected: tally.rejected };
        if (report) record.rejectedRowsReport = report;
        // The first rejected rows as the summary keeps them: a status page shows them without the report.
        const sample = tally.rejectedRows.samples(REJECTED_SAMPLE_LIMIT);
        if (sample.length > 0) record.rejectedSample = sample;
        recordWritten = (await writeRecord(record, recordKey)) || recordWritten;
        if (tally.rejected > 0) {
          const rejectedRows = tally.rejectedRows;
          const accepted = tally.accepted;
          const rejected = tally.rejected;
          followUp = await sendAlert(
            async () =>
              buildFailureFollowUp({
                uploadId: input.uploadId,
                sourceKey: input.source.key,
                originalName: totals?.originalName,
                stage: deps.stage,
                accepted,
                rejected,
                rejectedSamples: rejectedRows.samples(ALERT_SAMPLE_LIMIT),
                rejectedRowsReport: report
                  ? await referenceTo(report, deps.reportLink, deps.logger)
                  : undefined,
                region: deps.region,
              }),
            remaining,
          );
        }
      }
    }

    if (!recordWritten) {
      throw new FailureRecordWriteError(
        `The failure record s3://${deps.bucketName}/${recordKey} could not be written (see the logs); the alert was ${slack}`,
      );
    }
    return { record, slack, report, followUp };
  }
}
