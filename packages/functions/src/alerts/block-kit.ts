/**
 * Block Kit pieces shared by the failure alert and the success summary: Slack's limits, the block types, and
 * helpers that keep every text within its limit (truncated with an ellipsis, never rejected by Slack).
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

export function mrkdwn(text: string, max: number): SlackText {
  return { type: "mrkdwn", text: truncate(text, max) };
}

export function basename(key: string): string {
  const trimmed = key.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1) || key;
}

/**
 * How an alert names the file: the name it had on the uploader's machine when an upload form recorded it (a
 * form's key is `<slug>-<random>.xlsx`, which a person would not recognise), else the key's last segment.
 */
export function fileLabel(input: { sourceKey: string; originalName?: string | undefined }): string {
  return input.originalName ?? basename(input.sourceKey);
}

/** The region an ARN names (arn:partition:service:region:...), if any. */
export function regionOfArn(arn: string): string | undefined {
  const region = arn.split(":")[3];
  return region ? region : undefined;
}

/** An object's page in the S3 console: works for anyone with console access, long after a presigned URL expired. */
export function s3ConsoleUrl(bucket: string, key: string, region: string): string {
  return `https://${region}.console.aws.amazon.com/s3/object/${encodeURIComponent(bucket)}?region=${region}&prefix=${encodeURIComponent(key)}`;
}

type Button = Extract<SlackBlock, { type: "actions" }>["elements"][number];

/** A link button; undefined when the URL is too long for Slack (the caller shows the location as text). */
export function linkButton(
  text: string,
  url: string | undefined,
  actionId: string,
  style?: "primary" | "danger",
): Button | undefined {
  if (!url || url.length > BLOCK_KIT_LIMITS.url || !/^https?:\/\//.test(url)) return undefined;
  return {
    type: "button",
    text: { type: "plain_text", text: truncate(text, BLOCK_KIT_LIMITS.buttonText), emoji: false },
    url,
    action_id: actionId,
    ...(style ? { style } : {}),
  };
}

export function headerBlock(text: string): SlackBlock {
  return {
    type: "header",
    text: { type: "plain_text", text: truncate(text, BLOCK_KIT_LIMITS.headerText), emoji: true },
  };
}

export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

/** 950 ms, 12.3 s, 4 min 05 s, 2 h 03 min. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${(Math.round(seconds * 10) / 10).toFixed(1)} s`;
  const totalSeconds = Math.round(seconds);
  const minutes = Math.floor(totalSeconds / 60);
  if (minutes < 60) return `${minutes} min ${String(totalSeconds % 60).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** Where the rejected-rows report is, with links when they could be made. */
export interface ReportReference {
  bucket: string;
  csvKey: string;
  xlsxKey: string;
  rows: number;
  capped: boolean;
  /** Links from the injected reportLink (presigned GetObject URLs in Lambda; file paths locally). */
  csvUrl?: string | undefined;
  xlsxUrl?: string | undefined;
}

/** The report's buttons (those whose link is a usable URL) and a context line naming its location. */
export function reportBlocks(
  report: ReportReference,
  region: string,
): { buttons: Button[]; context: SlackText } {
  const buttons = [
    linkButton("Rejected rows (.xlsx)", report.xlsxUrl, "open-rejected-rows-xlsx"),
    linkButton("Rejected rows (.csv)", report.csvUrl, "open-rejected-rows-csv"),
  ].filter((b): b is Button => b !== undefined);
  const linkOrPath = (url: string | undefined, key: string) =>
    url && !/^https?:\/\//.test(url)
      ? `\`${escapeMrkdwn(url)}\``
      : `\`s3://${escapeMrkdwn(`${report.bucket}/${key}`)}\``;
  const consoleUrl = s3ConsoleUrl(report.bucket, report.xlsxKey, region);
  const capped = report.capped ? ` (capped at the first ${formatCount(report.rows)} rows)` : "";
  const text =
    `*Rejected rows report*${capped}: ${linkOrPath(report.xlsxUrl, report.xlsxKey)} and ${linkOrPath(report.csvUrl, report.csvKey)}` +
    (consoleUrl.length < 1000 ? ` · <${consoleUrl}|S3 console>` : "");
  return { buttons, context: mrkdwn(text, BLOCK_KIT_LIMITS.contextText) };
}

/** A warning about the file as a whole (FileWarning in the contract): the upload went on. */
export interface AlertFileWarning {
  code: string;
  message: string;
}

/** How many file warnings a message lists; the manifest and summary.json have them all. */
export const FILE_WARNING_LIMIT = 5;

/** The file's warnings as one mrkdwn section text, each within an equal share of the section; undefined when none. */
export function fileWarningsText(warnings: readonly AlertFileWarning[] | undefined): string | undefined {
  if (!warnings || warnings.length === 0) return undefined;
  const shown = warnings.slice(0, FILE_WARNING_LIMIT);
  const more = warnings.length - shown.length;
  const title = `:warning: *${warnings.length === 1 ? "Warning" : `Warnings (${formatCount(warnings.length)})`}*`;
  const share = Math.floor((BLOCK_KIT_LIMITS.sectionText - title.length - 40) / shown.length) - 2;
  const lines = shown.map((w) =>
    truncate(`• \`${escapeMrkdwn(w.code)}\` ${escapeMrkdwn(w.message)}`, Math.max(20, share)),
  );
  if (more > 0) lines.push(`…and ${formatCount(more)} more (see the manifest)`);
  return truncate(`${title}\n${lines.join("\n")}`, BLOCK_KIT_LIMITS.sectionText);
}

/** "; warnings: FORMAT_EXTENSION_MISMATCH" for a message's plain-text fallback, or "". */
export function fileWarningsFallback(warnings: readonly AlertFileWarning[] | undefined): string {
  if (!warnings || warnings.length === 0) return "";
  return `; warnings: ${[...new Set(warnings.map((w) => w.code))].join(", ")}`;
}
