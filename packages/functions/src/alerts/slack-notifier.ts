import { GetParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";
import { IncomingWebhook } from "@slack/webhook";
import type { Logger } from "../logger.ts";
import type { SlackMessage } from "./failure-alert.ts";

export type SlackOutcome = "posted" | "skipped" | "failed";

export interface SlackNotifierOptions {
  webhookUrl: string;
  logger: Logger;
  /** Per-request timeout; the alert must not hold the state for long. */
  timeoutMs?: number;
}

/** Posts to a Slack incoming webhook. A Slack error is logged and reported as "failed", never thrown. */
export class SlackNotifier {
  private readonly webhook: IncomingWebhook;

  constructor(private readonly options: SlackNotifierOptions) {
    this.webhook = new IncomingWebhook(options.webhookUrl, { timeout: options.timeoutMs ?? 5000 });
  }

  async post(message: SlackMessage): Promise<Exclude<SlackOutcome, "skipped">> {
    try {
      await this.webhook.send({ text: message.text, blocks: message.blocks as never });
      return "posted";
    } catch (error) {
      this.options.logger.error("Posting the Slack alert failed", { error: error as Error });
      return "failed";
    }
  }
}

export interface WebhookUrlSource {
  /** A literal URL wins (local runs). */
  url?: string | undefined;
  /** SSM SecureString parameter name, e.g. /sst/sluice/prod/Secret/SLACK_WEBHOOK_URL/value. */
  parameterName?: string | undefined;
  ssm?: SSMClient | undefined;
  logger: Logger;
}

export type WebhookUrlResult =
  | { url: string }
  | { url: undefined; reason: "not-configured" | "lookup-failed" };

/**
 * Finds the webhook URL: the literal one, else the SSM parameter (decrypted). A missing or empty parameter
 * means "no Slack" and is not an error; any other lookup failure is logged and reported, never thrown.
 * A URL found is kept for the life of the container.
 */
export function createWebhookUrlResolver(source: WebhookUrlSource): () => Promise<WebhookUrlResult> {
  let cached: string | undefined = source.url;
  return async () => {
    if (cached) return { url: cached };
    if (!source.parameterName || !source.ssm) return { url: undefined, reason: "not-configured" };
    try {
      const response = await source.ssm.send(
        new GetParameterCommand({ Name: source.parameterName, WithDecryption: true }),
      );
      const value = response.Parameter?.Value?.trim();
      if (!value) return { url: undefined, reason: "not-configured" };
      cached = value;
      return { url: value };
    } catch (error) {
      if ((error as Error)?.name === "ParameterNotFound") {
        source.logger.info("No Slack webhook parameter; the alert is skipped", {
          parameter: source.parameterName,
        });
        return { url: undefined, reason: "not-configured" };
      }
      source.logger.error("Reading the Slack webhook parameter failed", {
        parameter: source.parameterName,
        error: error as Error,
      });
      return { url: undefined, reason: "lookup-failed" };
    }
  };
}
