/**
 * The Slack message for a failed upload, as Block Kit. Pure: the same input gives the same message, and every
 * text respects Block Kit's limits (truncated with an ellipsis, never rejected by Slack).
 */
export const BLOCK_KIT_LIMITS = Object.freeze({
  blocks: 50,
  headerText: 150,
  sectionText: 3000,
  fieldText: 2000,
  fields: 10,
  contextText: 2000,
  buttonText: 75,
  url: 3000,
  /** Slack's own bound for the top-level text is far higher; a fallback needs no more than this. */
  fallbackText: 3000,
});

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
  /** Name of the queue that holds the dead-letter record. */
  deadLetterQueue: string;
  executionArn?: string | undefined;
  region: string;
}

export interface SlackText {
  type: "plain_text" | "mrkdwn";
  text: string;
  emoji?: boolean;
}

export type SlackBlock =
  | { type: "header"; text: SlackText }
  | { type: "section"; text?: SlackText; fields?: SlackText[] }
  | { type: "context"; elements: SlackText[] }
  | { type: "divider" }
  | {
      type: "actions";
      elements: {
        type: "button";
        text: SlackText;
        url: string;
        action_id: string;
        style?: "primary" | "danger";
      }[];
    };

export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

const ELLIPSIS = "…";

/** Cuts `text` to at most `max` characters (code points are not split), ending with an ellipsis if cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, Math.max(0, max - ELLIPSIS.length));
  // Do not leave half a surrogate pair or half an escaped entity behind.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  cut = cut.replace(/&[a-z]{0,4}$/, "");
  return `${cut}${ELLIPSIS}`;
}

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function mrkdwn(text: string, max: number): SlackText {
  return { type: "mrkdwn", text: truncate(text, max) };
}

export function basename(key: string): string {
  const trimmed = key.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1) || key;
}

/** The region an ARN names (arn:partition:service:region:...), if any. */
export function regionOfArn(arn: string): string | undefined {
  const region = arn.split(":")[3];
  return region ? region : undefined;
}

/** The execution's page in the Step Functions console. */
export function executionConsoleUrl(executionArn: string, region: string): string {
  const r = regionOfArn(executionArn) ?? region;
  return `https://${r}.console.aws.amazon.com/states/home?region=${r}#/v2/executions/details/${executionArn}`;
}

export function buildFailureAlert(input: FailureAlertInput): SlackMessage {
  const file = basename(input.sourceKey);
  const fileText = escapeMrkdwn(file);
  // A code block cannot hold ``` itself; anything else inside it shows verbatim.
  const message = escapeMrkdwn(input.errorMessage.replace(/```/g, "'''")) || "(no message)";
  const fence = "```";

  const fields: SlackText[] = [
    mrkdwn(`*File*\n${fileText}`, BLOCK_KIT_LIMITS.fieldText),
    mrkdwn(`*Stage*\n${escapeMrkdwn(input.stage)}`, BLOCK_KIT_LIMITS.fieldText),
    mrkdwn(`*Upload id*\n\`${escapeMrkdwn(input.uploadId)}\``, BLOCK_KIT_LIMITS.fieldText),
    mrkdwn(`*Error code*\n\`${escapeMrkdwn(input.errorCode)}\``, BLOCK_KIT_LIMITS.fieldText),
  ];
  if (input.totalRows !== undefined) {
    fields.push(mrkdwn(`*Rows*\n${input.totalRows.toLocaleString("en-US")}`, BLOCK_KIT_LIMITS.fieldText));
  }
  if (input.chunkIndex !== undefined) {
    fields.push(mrkdwn(`*Chunk*\n${input.chunkIndex}`, BLOCK_KIT_LIMITS.fieldText));
  }

  const body = `*Error*\n${fence}${message}`;
  const blocks: SlackBlock[] = [
    {
      type: "header",
      text: {
        type: "plain_text",
        text: truncate(`:rotating_light: Upload failed: ${file}`, BLOCK_KIT_LIMITS.headerText),
        emoji: true,
      },
    },
    { type: "section", fields: fields.slice(0, BLOCK_KIT_LIMITS.fields) },
    {
      type: "section",
      text: {
        type: "mrkdwn",
        text: `${truncate(body, BLOCK_KIT_LIMITS.sectionText - fence.length)}${fence}`,
      },
    },
    {
      type: "context",
      elements: [
        mrkdwn(
          `Dead-letter record on queue \`${escapeMrkdwn(input.deadLetterQueue)}\`; the original file stays in the bucket for a redrive.`,
          BLOCK_KIT_LIMITS.contextText,
        ),
      ],
    },
  ];
  if (input.executionArn) {
    const url = executionConsoleUrl(input.executionArn, input.region);
    if (url.length <= BLOCK_KIT_LIMITS.url) {
      blocks.push({
        type: "actions",
        elements: [
          {
            type: "button",
            text: { type: "plain_text", text: "Open execution", emoji: false },
            url,
            action_id: "open-execution",
            style: "danger",
          },
        ],
      });
    }
  }

  const text = truncate(
    `Upload failed: ${file} (stage ${input.stage}, upload ${input.uploadId}): ${input.errorCode}: ${input.errorMessage}`,
    BLOCK_KIT_LIMITS.fallbackText,
  );
  return { text, blocks: blocks.slice(0, BLOCK_KIT_LIMITS.blocks) };
}
