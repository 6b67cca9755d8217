import { executionConsoleUrl } from "@sluice/contract";
import {
  type AlertFileWarning,
  BLOCK_KIT_LIMITS,
  escapeMrkdwn,
  fileLabel,
  fileWarningsFallback,
  fileWarningsText,
  formatCount,
  headerBlock,
  linkButton,
  mrkdwn,
  type ReportReference,
  reportBlocks,
  type SlackBlock,
  type SlackMessage,
  type SlackText,
  s3ConsoleUrl,
  truncate,
} from "./block-kit.ts";

export {
  type AlertFileWarning,
  BLOCK_KIT_LIMITS,
  basename,
  escapeMrkdwn,
  formatDuration,
  type ReportReference,
  regionOfArn,
  type SlackBlock,
  type SlackMessage,
  type SlackText,
  s3ConsoleUrl,
  truncate,
} from "./block-kit.ts";

/** How many rejected rows an alert shows; the report has them all. */
export const ALERT_SAMPLE_LIMIT = 3;

export interface AlertSample {
  row: number;
  code: string;
  message: string;
  chunkIndex?: number | undefined;
}

export type { FailedStatus } from "@sluice/contract";

import type { FailedStatus } from "@sluice/contract";

/** The chunk whose failure failed the upload. */
export interface AlertChunk {
  index: number;
  firstRow: number;
  lastRow: number;
  rows: number;
}

/** The Map Run's item counts. */
export interface AlertChunkCounts {
  total: number;
  succeeded: number;
  failed: number;
  pending: number;
}

/**
 * The Slack message for a failed upload, as Block Kit. Pure: the same input gives the same message, and every
 * text respects Block Kit's limits (truncated with an ellipsis, never rejected by Slack).
 */
export interface FailureAlertInput {
  uploadId: string;
  /** Object key of the uploaded file; the alert shows its basename unless `originalName` is known. */
  sourceKey: string;
  /** The file's name on the uploader's machine (manifest.originalName), shown instead of the key. */
  originalName?: string | undefined;
  stage: string;
  /** The execution's status: FAILED, TIMED_OUT or ABORTED. */
  status: FailedStatus;
  errorCode: string;
  errorMessage: string;
  /** Known once conversion succeeded. */
  totalRows?: number | undefined;
  /** The manifest's warnings about the file (a name that says another format...), once conversion succeeded. */
  fileWarnings?: readonly AlertFileWarning[] | undefined;
  failedChunk?: AlertChunk | undefined;
  /** The Map Run's counts, when the upload failed during delivery. */
  chunks?: AlertChunkCounts | undefined;
  /** How many times the execution had been redriven (0: its first run). */
  redriveCount?: number | undefined;
  /** Where the failure record is, and whether it could be written; absent when the execution named no upload. */
  failureRecord?: { bucket: string; key: string; written: boolean } | undefined;
  executionArn?: string | undefined;
  region: string;
}

const HEADLINE: Record<FailedStatus, string> = {
  FAILED: "Upload failed",
  TIMED_OUT: "Upload timed out",
  ABORTED: "Upload aborted",
};

/** "Chunk 3: rows 1,502-2,001 (500 rows)". */
export function chunkText(chunk: AlertChunk): string {
  const rows = `${formatCount(chunk.rows)} row${chunk.rows === 1 ? "" : "s"}`;
  return `Chunk ${chunk.index}: rows ${formatCount(chunk.firstRow)}-${formatCount(chunk.lastRow)} (${rows})`;
}

/** "97 succeeded, 1 failed, 2 pending of 100". */
export function chunkCountsText(counts: AlertChunkCounts): string {
  const parts = [`${formatCount(counts.succeeded)} succeeded`, `${formatCount(counts.failed)} failed`];
  if (counts.pending > 0) parts.push(`${formatCount(counts.pending)} not answered`);
  return `${parts.join(", ")} of ${formatCount(counts.total)}`;
}

/** The command that redrives an upload (the sluice CLI). */
export function redriveCommand(uploadId: string): string {
  return `sluice redrive ${uploadId}`;
}

/** Up to three rejected rows as one mrkdwn section text, within the section limit. */
export function samplesText(
  samples: readonly AlertSample[],
  rejected: number | undefined,
): string | undefined {
  const shown = samples.slice(0, ALERT_SAMPLE_LIMIT);
  if (shown.length === 0) return undefined;
  const total = rejected ?? samples.length;
  const title = `*Rejected rows* (${shown.length} of ${formatCount(total)})`;
  // Each line gets an equal share of the section, so one long message cannot push the others out.
  const share = Math.floor((BLOCK_KIT_LIMITS.sectionText - title.length) / ALERT_SAMPLE_LIMIT) - 2;
  const lines = shown.map((s) =>
    truncate(
      `• Row ${formatCount(s.row)}${s.chunkIndex === undefined ? "" : ` (chunk ${s.chunkIndex})`}: \`${escapeMrkdwn(s.code)}\` ${escapeMrkdwn(s.message)}`,
      share,
    ),
  );
  return truncate(`${title}\n${lines.join("\n")}`, BLOCK_KIT_LIMITS.sectionText);
}

function failureRecordText(record: FailureAlertInput["failureRecord"], region: string): string {
  if (!record) return "No failure record: the execution's input names no upload.";
  const location = `\`s3://${escapeMrkdwn(`${record.bucket}/${record.key}`)}\``;
  if (!record.written) {
    return `:warning: *The failure record could not be written* to ${location}; this notification will be retried.`;
  }
  const consoleUrl = s3ConsoleUrl(record.bucket, record.key, region);
  return `*Failure record*: ${location}${consoleUrl.length < 1000 ? ` · <${consoleUrl}|S3 console>` : ""}`;
}

export function buildFailureAlert(input: FailureAlertInput): SlackMessage {
  const file = fileLabel(input);
  const fileText = escapeMrkdwn(file);
  const headline = HEADLINE[input.status] ?? HEADLINE.FAILED;
  // A code block cannot hold ``` itself; anything else inside it shows verbatim.
  const message = escapeMrkdwn(input.errorMessage.replace(/```/g, "'''")) || "(no message)";
  const fence = "```";
  const field = (text: string) => mrkdwn(text, BLOCK_KIT_LIMITS.fieldText);

  const fields: SlackText[] = [
    field(`*File*\n${fileText}`),
    field(`*Stage*\n${escapeMrkdwn(input.stage)}`),
    field(`*Upload id*\n\`${escapeMrkdwn(input.uploadId)}\``),
    field(`*Error code*\n\`${escapeMrkdwn(input.errorCode)}\``),
  ];
  if (input.totalRows !== undefined) fields.push(field(`*Rows*\n${formatCount(input.totalRows)}`));
  if (input.failedChunk) fields.push(field(`*Failed chunk*\n${chunkText(input.failedChunk)}`));
  if (input.chunks) fields.push(field(`*Chunks*\n${chunkCountsText(input.chunks)}`));
  if (input.redriveCount) fields.push(field(`*Redrives so far*\n${formatCount(input.redriveCount)}`));

  const body = `*Error*\n${fence}${message}`;
  const blocks: SlackBlock[] = [
    headerBlock(`:rotating_light: ${headline}: ${file}`),
    { type: "section", fields: fields.slice(0, BLOCK_KIT_LIMITS.fields) },
    {
      type: "section",
      text: {
        type: "mrkdwn",
        text: `${truncate(body, BLOCK_KIT_LIMITS.sectionText - fence.length)}${fence}`,
      },
    },
  ];
  const warnings = fileWarningsText(input.fileWarnings);
  if (warnings) blocks.push({ type: "section", text: { type: "mrkdwn", text: warnings } });

  const context: SlackText[] = [
    mrkdwn(failureRecordText(input.failureRecord, input.region), BLOCK_KIT_LIMITS.contextText),
  ];
  if (input.failureRecord) {
    context.push(
      mrkdwn(
        `The original file stays in the bucket. Once the cause is fixed, redrive the upload (only its unfinished chunks run again): \`${escapeMrkdwn(redriveCommand(input.uploadId))}\``,
        BLOCK_KIT_LIMITS.contextText,
      ),
    );
  }
  blocks.push({ type: "context", elements: context });

  const execution = input.executionArn
    ? linkButton(
        "Open execution",
        executionConsoleUrl(input.executionArn, input.region) ?? undefined,
        "open-execution",
        "danger",
      )
    : undefined;
  if (execution) blocks.push({ type: "actions", elements: [execution] });

  const where = input.failedChunk
    ? ` [chunk ${input.failedChunk.index}, rows ${input.failedChunk.firstRow}-${input.failedChunk.lastRow}]`
    : "";
  const text = truncate(
    `${headline}: ${file} (stage ${input.stage}, upload ${input.uploadId}): ${input.errorCode}: ${input.errorMessage}${where}${fileWarningsFallback(input.fileWarnings)}`,
    BLOCK_KIT_LIMITS.fallbackText,
  );
  return { text, blocks: blocks.slice(0, BLOCK_KIT_LIMITS.blocks) };
}

/** The second, shorter message: the rows answered before the failure and the rejected-rows report. */
export interface FailureFollowUpInput {
  uploadId: string;
  sourceKey: string;
  /** The file's name on the uploader's machine, shown instead of the key. */
  originalName?: string | undefined;
  stage: string;
  accepted: number;
  rejected: number;
  rejectedSamples?: readonly AlertSample[] | undefined;
  /** Undefined when the report could not be written. */
  rejectedRowsReport?: ReportReference | undefined;
  region: string;
}

export function buildFailureFollowUp(input: FailureFollowUpInput): SlackMessage {
  const file = fileLabel(input);
  const summary =
    `:page_facing_up: *Before the upload of ${escapeMrkdwn(file)} failed* (upload \`${escapeMrkdwn(input.uploadId)}\`, ` +
    `stage ${escapeMrkdwn(input.stage)}), the admin server accepted ${formatCount(input.accepted)} rows and ` +
    `rejected ${formatCount(input.rejected)}.`;
  const blocks: SlackBlock[] = [{ type: "section", text: mrkdwn(summary, BLOCK_KIT_LIMITS.sectionText) }];
  const samples = samplesText(input.rejectedSamples ?? [], input.rejected);
  if (samples) blocks.push({ type: "section", text: { type: "mrkdwn", text: samples } });
  if (input.rejectedRowsReport) {
    const report = reportBlocks(input.rejectedRowsReport, input.region);
    blocks.push({ type: "context", elements: [report.context] });
    if (report.buttons.length > 0) blocks.push({ type: "actions", elements: report.buttons });
  } else if (input.rejected > 0) {
    blocks.push({
      type: "context",
      elements: [
        mrkdwn(
          "The rejected-rows report could not be written (see the notify-failure logs).",
          BLOCK_KIT_LIMITS.contextText,
        ),
      ],
    });
  }
  const text = truncate(
    `Before the upload of ${file} failed (upload ${input.uploadId}): ${formatCount(input.accepted)} accepted, ${formatCount(input.rejected)} rejected`,
    BLOCK_KIT_LIMITS.fallbackText,
  );
  return { text, blocks: blocks.slice(0, BLOCK_KIT_LIMITS.blocks) };
}
