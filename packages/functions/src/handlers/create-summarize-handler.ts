import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { SSMClient } from "@aws-sdk/client-ssm";
import {
  CONTRACT_VERSION,
  type FileWarning,
  FileWarningSchema,
  ManifestSchema,
  processedPrefixOf,
  REJECTED_SAMPLE_LIMIT,
  SUMMARY_OBJECT,
  SummarizeInputSchema,
  type Summary,
  SummarySchema,
} from "@sluice/contract";
import { OutputWriteError } from "@sluice/core";
import { z } from "zod";
import {
  durationStats,
  emptyTally,
  type MapRunResults,
  REJECTED_ROWS_CAP,
  readChunkTable,
  readJsonObject,
  readMapRunManifest,
  tallyMapRun,
} from "../adapters/map-run-results.ts";
import type { ReportLink } from "../adapters/s3-report-link.ts";
import { regionOfArn } from "../alerts/block-kit.ts";
import {
  type AlertSink,
  createAlertSender,
  type SlackOutcome,
  type SlackRetryOptions,
} from "../alerts/slack-notifier.ts";
import { buildSuccessAlert } from "../alerts/success-alert.ts";
import { estimateCost, estimateUploadUsage, FUNCTION_MEMORY_MB } from "../cost/cost-model.ts";
import { withLambdaErrors } from "../lambda-error.ts";
import { type Logger, logUpload } from "../logger.ts";
import { parseInput } from "../parse-input.ts";
import { referenceTo, tryWriteRejectedRowsReport } from "../reports/rejected-rows-report.ts";
import type { InvocationContext } from "./create-notify-failure-handler.ts";

export {
  ChildExecutionSchema,
  MapRunManifestSchema,
  ResultInvalidError,
} from "../adapters/map-run-results.ts";

export interface SummarizeDeps {
  s3: S3Client;
  bucketName: string;
  processedPrefix: string;
  logger: Logger;
  now?: () => Date;
  /** Links the rejected-rows report in the success message; without it the message names its location. */
  reportLink?: ReportLink | undefined;
  /** Most rejected rows a report lists (100,000 by default). */
  rejectedRowCap?: number | undefined;
  /** Post a Slack summary for every successful upload (SLACK_NOTIFY_SUCCESS). Off by default. */
  notifySuccess?: boolean | undefined;
  stage?: string | undefined;
  region?: string | undefined;
  slackWebhookUrl?: string | undefined;
  slackWebhookParameter?: string | undefined;
  ssm?: SSMClient | undefined;
  slackTimeoutMs?: number | undefined;
  /** How a failed post is retried (4 attempts within 20 s by default, never past the Lambda's time). */
  slackRetry?: SlackRetryOptions | undefined;
  /** Receives the success message instead of the webhook (the local runtime saves it). */
  alertSink?: AlertSink | undefined;
  /** Milliseconds since some fixed point, for the function's own duration in the cost estimate. */
  clock?: () => number;
  /** Memory of this function and of convert, for the cost estimate; the stack's sizes by default. */
  summarizeMemoryMb?: number | undefined;
  convertMemoryMb?: number | undefined;
}

/**
 * What the handler returns (the execution's output): the summary without its samples, per-chunk list and cost
 * lines, and what became of the optional Slack summary.
 */
export type SummarizeOutput = Omit<Summary, "rejectedSamples" | "chunkResults" | "costLines"> & {
  slack: SlackOutcome | "disabled";
};

/**
 * Adds up the chunks' TaskResults into processed/<uploadId>/summary.json, writes the rejected-rows report
 * when rows were rejected, and posts the optional Slack summary. Neither the report nor Slack can fail the
 * upload: both are logged when they go wrong.
 */
export function createHandler(deps: SummarizeDeps) {
  const now = deps.now ?? (() => new Date());
  const clock = deps.clock ?? (() => performance.now());
  const sendAlert = createAlertSender({
    url: deps.slackWebhookUrl,
    parameterName: deps.slackWebhookParameter,
    ssm: deps.ssm,
    logger: deps.logger,
    sink: deps.alertSink,
    timeoutMs: deps.slackTimeoutMs,
    retry: deps.slackRetry,
  });
  return (event: unknown, context?: InvocationContext): Promise<SummarizeOutput> =>
    withLambdaErrors(async () => {
      const started = clock();
      const input = parseInput(SummarizeInputSchema, event, "summarize");
      logUpload(deps.logger, input.uploadId);
      const cap = deps.rejectedRowCap ?? REJECTED_ROWS_CAP;
      const results: MapRunResults | undefined = input.delivery
        ? await readMapRunManifest(deps.s3, {
            bucket: input.delivery.ResultWriterDetails.Bucket,
            key: input.delivery.ResultWriterDetails.Key,
          })
        : undefined;
      const { processed } = input.convert;
      // Each TaskResult is checked against the chunk it answers, as items.jsonl lists them (COMPACT result
      // lines carry no input): impossible counts fail the upload instead of being summed.
      const chunks = results
        ? await readChunkTable(deps.s3, { bucket: processed.bucket, key: processed.itemsKey })
        : undefined;
      const tally = results
        ? await tallyMapRun(deps.s3, results, {
            uploadId: input.uploadId,
            strict: true,
            rejectedRowCap: cap,
            chunks,
          })
        : emptyTally(cap);
      const { fileWarnings, originalName } = await manifestFacts(processed.bucket, processed.manifestKey);
      const report = await tryWriteRejectedRowsReport({
        s3: deps.s3,
        bucket: processed.bucket,
        prefix: processed.prefix,
        chunksKey: processed.chunksKey,
        manifestKey: processed.manifestKey,
        uploadId: input.uploadId,
        rejected: tally.rejectedRows,
        logger: deps.logger,
      });

      const finishedAt = now();
      const durationMs = Math.max(0, finishedAt.getTime() - Date.parse(input.receivedAt));
      const rows = input.convert.totalRows;
      const summaryKey = `${processedPrefixOf(input.uploadId, deps.processedPrefix)}${SUMMARY_OBJECT}`;
      const files = results?.manifest.ResultFiles;
      const usage = estimateUploadUsage({
        chunks: input.convert.totalChunks,
        childRuns: tally.entries,
        chunksBytes: input.convert.bytes,
        convertMs: input.convert.durationMs,
        convertMemoryMb: deps.convertMemoryMb ?? FUNCTION_MEMORY_MB.convert,
        summarizeMs: Math.max(0, clock() - started),
        summarizeMemoryMb: deps.summarizeMemoryMb ?? FUNCTION_MEMORY_MB.summarize,
        ...(files
          ? { resultFiles: files.SUCCEEDED.length + files.FAILED.length + files.PENDING.length }
          : {}),
        reportWritten: report !== null,
      });
      const cost = estimateCost(usage);
      const summary: Summary = SummarySchema.parse({
        v: CONTRACT_VERSION,
        uploadId: input.uploadId,
        status: "SUCCEEDED",
        ...(originalName === undefined ? {} : { originalName }),
        rows,
        chunks: input.convert.totalChunks,
        chunksDelivered: tally.delivered,
        chunksFailed: tally.failed,
        accepted: tally.accepted,
        rejected: tally.rejected,
        rowErrors: input.convert.rowErrors,
        fileWarnings,
        durationMs,
        rowsPerSecond: durationMs > 0 ? Math.round((rows / durationMs) * 1000 * 100) / 100 : 0,
        chunkDurationMs: durationStats(tally.chunks),
        transitions: usage.transitions,
        estimatedCostUsd: cost.usd,
        costModel: "estimate",
        costLines: cost.lines,
        rejectedSamples: tally.rejectedRows.samples(REJECTED_SAMPLE_LIMIT),
        chunkResults: tally.chunks,
        rejectedRowsReport: report,
        summaryKey,
        finishedAt: finishedAt.toISOString(),
      } satisfies Summary);
      await deps.s3
        .send(
          new PutObjectCommand({
            Bucket: deps.bucketName,
            Key: summaryKey,
            Body: `${JSON.stringify(summary, null, 2)}\n`,
            ContentType: "application/json",
          }),
        )
        .catch((error: unknown) => {
          throw new OutputWriteError(
            `Writing s3://${deps.bucketName}/${summaryKey} failed: ${(error as Error)?.message}`,
            { cause: error },
          );
        });
      const { rejectedSamples: _samples, chunkResults: _chunks, costLines: _lines, ...rest } = summary;
      deps.logger.info("Summarized", { ...rest });

      let slack: SlackOutcome | "disabled" = "disabled";
      if (deps.notifySuccess) {
        slack = await postSuccess(summary, input.source.key, input.execution?.arn, context);
      }
      return { ...rest, slack };
    });

  /**
   * The manifest's warnings about the file (FORMAT_EXTENSION_MISMATCH...) and the file's original name, copied
   * into the summary; a manifest without the fields (older, or not from an upload form) has none. Like the
   * report, which reads the same file, this never fails the upload: a manifest that cannot be read is logged as
   * an error and the summary lists no warnings and no name.
   */
  async function manifestFacts(
    bucket: string,
    key: string,
  ): Promise<{ fileWarnings: FileWarning[]; originalName?: string | undefined }> {
    try {
      const manifest = await readJsonObject(deps.s3, bucket, key);
      return z
        .object({
          fileWarnings: z.array(FileWarningSchema).default([]),
          originalName: ManifestSchema.shape.originalName.catch(undefined),
        })
        .parse(manifest);
    } catch (error) {
      deps.logger.error("The manifest's file warnings could not be read; the summary lists none", {
        key,
        error: error as Error,
      });
      return { fileWarnings: [] };
    }
  }

  /** Never throws: a Slack outage or a bad webhook is logged and reported as "failed". */
  function postSuccess(
    summary: Summary,
    sourceKey: string,
    executionArn: string | undefined,
    context: InvocationContext | undefined,
  ) {
    const remaining = context?.getRemainingTimeInMillis?.bind(context);
    return sendAlert(
      async () =>
        buildSuccessAlert({
          uploadId: summary.uploadId,
          sourceKey,
          originalName: summary.originalName,
          stage: deps.stage ?? "unknown",
          rows: summary.rows,
          chunks: summary.chunks,
          chunksFailed: summary.chunksFailed,
          accepted: summary.accepted,
          rejected: summary.rejected,
          rowErrors: summary.rowErrors,
          fileWarnings: summary.fileWarnings,
          durationMs: summary.durationMs,
          rowsPerSecond: summary.rowsPerSecond,
          rejectedSamples: summary.rejectedSamples,
          rejectedRowsReport: summary.rejectedRowsReport
            ? await referenceTo(summary.rejectedRowsReport, deps.reportLink, deps.logger)
            : undefined,
          summaryLocation: `s3://${deps.bucketName}/${summary.summaryKey}`,
          executionArn,
          region: deps.region ?? (executionArn ? regionOfArn(executionArn) : undefined) ?? "us-east-1",
        }),
      remaining,
    );
  }
}
