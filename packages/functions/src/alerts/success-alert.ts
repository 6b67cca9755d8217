import { executionConsoleUrl } from "@sluice/contract";
import {
  type AlertFileWarning,
  BLOCK_KIT_LIMITS,
  escapeMrkdwn,
  fileLabel,
  fileWarningsFallback,
  fileWarningsText,
  formatCount,
  formatDuration,
  headerBlock,
  linkButton,
  mrkdwn,
  type ReportReference,
  reportBlocks,
  type SlackBlock,
  type SlackMessage,
  type SlackText,
  truncate,
} from "./block-kit.ts";
import { type AlertSample, samplesText } from "./failure-alert.ts";

export interface SuccessAlertInput {
  uploadId: string;
  /** Object key of the uploaded file; the message shows its basename unless `originalName` is known. */
  sourceKey: string;
  /** The file's name on the uploader's machine (summary.originalName), shown instead of the key. */
  originalName?: string | undefined;
  stage: string;
  rows: number;
  chunks: number;
  /** Chunks the Map tolerated as failed (0 unless the stage tolerates failures). */
  chunksFailed: number;
  accepted: number;
  rejected: number;
  /** Rows that never became part of a chunk. */
  rowErrors: number;
  /** Warnings about the file as a whole (a name that says another format...), from the manifest. */
  fileWarnings?: readonly AlertFileWarning[] | undefined;
  durationMs: number;
  rowsPerSecond: number;
  rejectedSamples?: readonly AlertSample[] | undefined;
  rejectedRowsReport?: ReportReference | undefined;
  /** s3://bucket/key of summary.json. */
  summaryLocation?: string | undefined;
  executionArn?: string | undefined;
  region: string;
}

function formatRate(rowsPerSecond: number): string {
  return rowsPerSecond < 10 ? rowsPerSecond.toFixed(1) : formatCount(Math.round(rowsPerSecond));
}

/**
 * The optional Slack summary of a successful upload, as Block Kit. Pure, and within Block Kit's limits like
 * the failure alert. "Succeeded" means every chunk was answered; rejected rows make it a warning.
 */
export function buildSuccessAlert(input: SuccessAlertInput): SlackMessage {
  const file = fileLabel(input);
  const field = (text: string) => mrkdwn(text, BLOCK_KIT_LIMITS.fieldText);
  const warned = (input.fileWarnings?.length ?? 0) > 0;
  const rowsClean = input.rejected === 0 && input.rowErrors === 0 && input.chunksFailed === 0;
  const clean = rowsClean && !warned;
  const status = !rowsClean
    ? "Upload processed with rejected rows"
    : warned
      ? "Upload processed with warnings"
      : "Upload processed";

  const fields: SlackText[] = [
    field(`*File*\n${escapeMrkdwn(file)}`),
    field(`*Stage*\n${escapeMrkdwn(input.stage)}`),
    field(`*Upload id*\n\`${escapeMrkdwn(input.uploadId)}\``),
    field(`*Rows*\n${formatCount(input.rows)}`),
    field(
      `*Chunks*\n${formatCount(input.chunks)}${input.chunksFailed > 0 ? ` (${formatCount(input.chunksFailed)} failed)` : ""}`,
    ),
    field(`*Accepted*\n${formatCount(input.accepted)}`),
    field(`*Rejected*\n${formatCount(input.rejected)}`),
    field(`*Duration*\n${formatDuration(input.durationMs)}`),
    field(`*Throughput*\n${formatRate(input.rowsPerSecond)} rows/s`),
  ];
  if (input.rowErrors > 0) fields.push(field(`*Rows not converted*\n${formatCount(input.rowErrors)}`));

  const blocks: SlackBlock[] = [
    headerBlock(`${clean ? ":white_check_mark:" : ":warning:"} ${status}: ${file}`),
    { type: "section", fields: fields.slice(0, BLOCK_KIT_LIMITS.fields) },
  ];
  const warnings = fileWarningsText(input.fileWarnings);
  if (warnings) blocks.push({ type: "section", text: { type: "mrkdwn", text: warnings } });
  const samples = samplesText(input.rejectedSamples ?? [], input.rejected);
  if (samples) blocks.push({ type: "section", text: { type: "mrkdwn", text: samples } });

  const context: SlackText[] = [];
  if (input.summaryLocation) {
    context.push(mrkdwn(`Summary: \`${escapeMrkdwn(input.summaryLocation)}\``, BLOCK_KIT_LIMITS.contextText));
  }
  const buttons = [];
  const execution = input.executionArn
    ? linkButton(
        "Open execution",
        executionConsoleUrl(input.executionArn, input.region) ?? undefined,
        "open-execution",
      )
    : undefined;
  if (execution) buttons.push(execution);
  if (input.rejectedRowsReport) {
    const report = reportBlocks(input.rejectedRowsReport, input.region);
    buttons.push(...report.buttons);
    context.push(report.context);
  }
  if (context.length > 0) blocks.push({ type: "context", elements: context });
  if (buttons.length > 0) blocks.push({ type: "actions", elements: buttons });

  const text = truncate(
    `${status}: ${file} (stage ${input.stage}, upload ${input.uploadId}): ${formatCount(input.rows)} rows, ${formatCount(input.accepted)} accepted, ${formatCount(input.rejected)} rejected in ${formatDuration(input.durationMs)}${fileWarningsFallback(input.fileWarnings)}`,
    BLOCK_KIT_LIMITS.fallbackText,
  );
  return { text, blocks: blocks.slice(0, BLOCK_KIT_LIMITS.blocks) };
}
