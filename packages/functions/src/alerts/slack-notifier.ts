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

/** Where an alert goes instead of a webhook (the local runtime saves it to a file). Should not throw. */
export type AlertSink = (message: SlackMessage) => Promise<Exclude<SlackOutcome, "skipped">>;

export interface AlertSenderOptions extends WebhookUrlSource {
  /** Replaces the webhook when given: every alert goes to it. */
  sink?: AlertSink | undefined;
  timeoutMs?: number | undefined;
}

/**
 * Sends alerts to the sink, else to the resolved webhook. The message is built only when there is somewhere
 * to send it. Never throws: whatever goes wrong (the lookup, building, posting) is logged and reported.
 */
export function createAlertSender(
  options: AlertSenderOptions,
): (build: () => SlackMessage | Promise<SlackMessage>) => Promise<SlackOutcome> {
  const webhookUrl = createWebhookUrlResolver(options);
  return async (build) => {
    try {
      if (options.sink) return await options.sink(await build());
      const found = await webhookUrl();
      if (found.url === undefined) return found.reason === "not-configured" ? "skipped" : "failed";
      const notifier = new SlackNotifier({
        webhookUrl: found.url,
        logger: options.logger,
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      });
      return await notifier.post(await build());
    } catch (error) {
      options.logger.error("The Slack message could not be sent", { error: error as Error });
      return "failed";
    }
  };
}
