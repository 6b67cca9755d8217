import {
  BLOCK_KIT_LIMITS,
  basename,
  escapeMrkdwn,
  executionConsoleUrl,
  formatCount,
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

export {
  BLOCK_KIT_LIMITS,
  basename,
  escapeMrkdwn,
  executionConsoleUrl,
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

/**
 * The Slack message for a failed upload, as Block Kit. Pure: the same input gives the same message, and every
 * text respects Block Kit's limits (truncated with an ellipsis, never rejected by Slack).
 */
export interface FailureAlertInput {
  uploadId: string;
  /** Object key of the uploaded file; the alert shows its basename. */
  sourceKey: string;
  stage: string;
  errorCode: string;
  errorMessage: string;
  /** Known once conversion succeeded. */
  totalRows?: number | undefined;
  chunkIndex?: number | undefined;
  /** Rows the admin server accepted / rejected before the failure, when the Map Run's results could be read. */
  accepted?: number | undefined;
  rejected?: number | undefined;
  /** The first rejected rows; at most three are shown. */
  rejectedSamples?: readonly AlertSample[] | undefined;
  rejectedRowsReport?: ReportReference | undefined;
  /** Name of the queue that holds the dead-letter record. */
  deadLetterQueue: string;
  executionArn?: string | undefined;
  region: string;
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

export function buildFailureAlert(input: FailureAlertInput): SlackMessage {
  const file = basename(input.sourceKey);
  const fileText = escapeMrkdwn(file);
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
  if (input.chunkIndex !== undefined) fields.push(field(`*Chunk*\n${input.chunkIndex}`));
  if (input.accepted !== undefined) fields.push(field(`*Accepted so far*\n${formatCount(input.accepted)}`));
  if (input.rejected !== undefined) fields.push(field(`*Rejected so far*\n${formatCount(input.rejected)}`));

  const body = `*Error*\n${fence}${message}`;
  const blocks: SlackBlock[] = [
    headerBlock(`:rotating_light: Upload failed: ${file}`),
    { type: "section", fields: fields.slice(0, BLOCK_KIT_LIMITS.fields) },
    {
      type: "section",
      text: {
        type: "mrkdwn",
        text: `${truncate(body, BLOCK_KIT_LIMITS.sectionText - fence.length)}${fence}`,
      },
    },
  ];
  const samples = samplesText(input.rejectedSamples ?? [], input.rejected);
  if (samples) blocks.push({ type: "section", text: { type: "mrkdwn", text: samples } });

  const context: SlackText[] = [
    mrkdwn(
      `Dead-letter record on queue \`${escapeMrkdwn(input.deadLetterQueue)}\`; the original file stays in the bucket for a redrive.`,
      BLOCK_KIT_LIMITS.contextText,
    ),
  ];
  const buttons = [];
  const execution = input.executionArn
    ? linkButton(
        "Open execution",
        executionConsoleUrl(input.executionArn, input.region),
        "open-execution",
        "danger",
      )
    : undefined;
  if (execution) buttons.push(execution);
  if (input.rejectedRowsReport) {
    const report = reportBlocks(input.rejectedRowsReport, input.region);
    buttons.push(...report.buttons);
    context.push(report.context);
  }
  blocks.push({ type: "context", elements: context });
  if (buttons.length > 0) blocks.push({ type: "actions", elements: buttons });

  const counts =
    input.accepted !== undefined || input.rejected !== undefined
      ? ` [${formatCount(input.accepted ?? 0)} accepted, ${formatCount(input.rejected ?? 0)} rejected so far]`
      : "";
  const text = truncate(
    `Upload failed: ${file} (stage ${input.stage}, upload ${input.uploadId}): ${input.errorCode}: ${input.errorMessage}${counts}`,
    BLOCK_KIT_LIMITS.fallbackText,
  );
  return { text, blocks: blocks.slice(0, BLOCK_KIT_LIMITS.blocks) };
}
