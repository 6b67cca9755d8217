import { setTimeout as sleep } from "node:timers/promises";
import type { SSMClient } from "@aws-sdk/client-ssm";
import { IncomingWebhook, IncomingWebhookHTTPError } from "@slack/webhook";
import type { Logger } from "../logger.ts";
import type { SlackMessage } from "./failure-alert.ts";

export type SlackOutcome = "posted" | "skipped" | "failed";

/** How a post is retried; all of it also stays within the caller's remaining time (see `remainingTimeMs`). */
export interface SlackRetryOptions {
  /** Attempts in all, the first included: 4 by default. */
  attempts?: number | undefined;
  /** Wait before the second attempt, doubled for each next one (with jitter): 500 ms by default. */
  baseDelayMs?: number | undefined;
  /** Longest wait between two attempts, Retry-After included: 8 s by default. */
  maxDelayMs?: number | undefined;
  /** Longest all attempts and waits may take together: 20 s by default. */
  budgetMs?: number | undefined;
}

export interface SlackNotifierOptions {
  webhookUrl: string;
  logger: Logger;
  /** Per-attempt timeout; the alert must not hold the state for long. 5 s by default. */
  timeoutMs?: number | undefined;
  retry?: SlackRetryOptions | undefined;
  /**
   * The time the caller has left (the Lambda's getRemainingTimeInMillis): attempts and waits stop
   * `TIME_MARGIN_MS` before it runs out, so the function can still return and say the alert was not posted.
   */
  remainingTimeMs?: (() => number) | undefined;
  /** For tests: jitter's source, Math.random by default. */
  random?: (() => number) | undefined;
}

/** Left to the caller after the last attempt, out of the Lambda's remaining time. */
export const TIME_MARGIN_MS = 3_000;

const DEFAULT_RETRY = { attempts: 4, baseDelayMs: 500, maxDelayMs: 8_000, budgetMs: 20_000 };

/** One attempt's result: posted, worth another attempt (after `retryAfterMs` when Slack said), or final. */
type Attempt =
  | { ok: true }
  | { ok: false; retry: boolean; reason: string; retryAfterMs?: number | undefined };

/** Retry-After in seconds (RFC 9110 also allows an HTTP date). */
function retryAfterMs(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value.trim());
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Posts to a Slack incoming webhook, retrying what may pass on a second try: a 5xx, a 429 (after its
 * Retry-After), a network error or a timeout. A 4xx is Slack refusing this message or webhook (invalid_payload,
 * no_service, channel_not_found...): permanent, not retried. Attempts and waits are bounded by `retry` and by the
 * caller's remaining time. The outcome is honest: "posted" only when Slack answered 2xx; otherwise "failed",
 * logged with every attempt's reason. Never throws. (A timed-out attempt may still have been posted by Slack:
 * retrying it can post the alert twice, which beats not posting it at all.)
 */
export class SlackNotifier {
  private readonly retry: Required<SlackRetryOptions>;

  constructor(private readonly options: SlackNotifierOptions) {
    const given = Object.fromEntries(
      Object.entries(options.retry ?? {}).filter(([, value]) => value !== undefined),
    );
    this.retry = { ...DEFAULT_RETRY, ...given };
  }

  async post(message: SlackMessage): Promise<Exclude<SlackOutcome, "skipped">> {
    const started = Date.now();
    const left = this.options.remainingTimeMs?.() ?? Number.POSITIVE_INFINITY;
    const deadline = started + Math.min(this.retry.budgetMs, left - TIME_MARGIN_MS);
    const reasons: string[] = [];
    let attempts = 0;
    for (let attempt = 1; attempt <= Math.max(1, this.retry.attempts); attempt++) {
      const timeLeft = deadline - Date.now();
      if (timeLeft <= 0) {
        reasons.push("no time left for another attempt");
        break;
      }
      attempts++;
      const result = await this.attempt(message, Math.min(this.options.timeoutMs ?? 5000, timeLeft));
      if (result.ok) {
        if (attempt > 1) this.options.logger.info("Slack alert posted after retrying", { attempt, reasons });
        return "posted";
      }
      reasons.push(result.reason);
      if (!result.retry || attempt >= this.retry.attempts) break;
      const backoff = Math.min(
        this.retry.maxDelayMs,
        this.retry.baseDelayMs * 2 ** (attempt - 1) * (0.5 + (this.options.random ?? Math.random)() / 2),
      );
      const wait = result.retryAfterMs ?? backoff;
      if (wait > this.retry.maxDelayMs || Date.now() + wait >= deadline) {
        reasons.push(`a wait of ${Math.round(wait)} ms before the next attempt is past the time allowed`);
        break;
      }
      this.options.logger.warn("Posting the Slack alert failed; retrying", {
        attempt,
        reason: result.reason,
        waitMs: Math.round(wait),
      });
      await sleep(wait);
    }
    this.options.logger.error("Posting the Slack alert failed; the alert was not posted", {
      attempts,
      reasons,
      elapsedMs: Date.now() - started,
    });
    return "failed";
  }

  private async attempt(message: SlackMessage, timeoutMs: number): Promise<Attempt> {
    let retryAfter: string | null = null;
    const webhook = new IncomingWebhook(this.options.webhookUrl, {
      timeout: Math.max(1, Math.round(timeoutMs)),
      // Only to read Retry-After, which @slack/webhook's errors do not carry.
      fetch: async (url, init) => {
        const response = await fetch(url, init as RequestInit);
        retryAfter = response.headers.get("retry-after");
        return response;
      },
    });
    try {
      await webhook.send({ text: message.text, blocks: message.blocks as never });
      return { ok: true };
    } catch (error) {
      if (error instanceof IncomingWebhookHTTPError) {
        const status = error.statusCode;
        const reason = `HTTP ${status}${error.body ? `: ${String(error.body).slice(0, 200)}` : ""}`;
        if (status === 429) {
          return { ok: false, retry: true, reason, retryAfterMs: retryAfterMs(retryAfter, Date.now()) };
        }
        return { ok: false, retry: status >= 500, reason };
      }
      const cause = (error as { original?: Error }).original ?? (error as Error);
      const detail = (cause as { cause?: { code?: string } }).cause?.code;
      return {
        ok: false,
        retry: true,
        reason: `${cause?.name ?? "Error"}: ${cause?.message ?? String(error)}${detail ? ` (${detail})` : ""}`,
      };
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
      // Loaded only when a webhook lives in SSM: a caller with the URL itself (the local runtime) never pays for it.
      const { GetParameterCommand } = await import("@aws-sdk/client-ssm");
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
  retry?: SlackRetryOptions | undefined;
}

/**
 * Sends alerts to the sink, else to the resolved webhook. The message is built only when there is somewhere
 * to send it. Never throws: whatever goes wrong (the lookup, building, posting) is logged and reported.
 */
export function createAlertSender(
  options: AlertSenderOptions,
): (
  build: () => SlackMessage | Promise<SlackMessage>,
  remainingTimeMs?: () => number,
) => Promise<SlackOutcome> {
  const webhookUrl = createWebhookUrlResolver(options);
  return async (build, remainingTimeMs) => {
    try {
      if (options.sink) return await options.sink(await build());
      const found = await webhookUrl();
      if (found.url === undefined) return found.reason === "not-configured" ? "skipped" : "failed";
      const notifier = new SlackNotifier({
        webhookUrl: found.url,
        logger: options.logger,
        timeoutMs: options.timeoutMs,
        retry: options.retry,
        remainingTimeMs,
      });
      return await notifier.post(await build());
    } catch (error) {
      options.logger.error("The Slack message could not be sent", { error: error as Error });
      return "failed";
    }
  };
}
