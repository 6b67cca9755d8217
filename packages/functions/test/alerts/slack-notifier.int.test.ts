import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { SlackMessage } from "../../src/alerts/block-kit.ts";
import { SlackNotifier, type SlackNotifierOptions } from "../../src/alerts/slack-notifier.ts";
import type { Logger } from "../../src/logger.ts";

/**
 * The Slack notifier against a real HTTP server on loopback (the real @slack/webhook and fetch): what it retries
 * (5xx, 429 after its Retry-After, timeouts, refused connections), what it does not (4xx), how long it may take,
 * and that "posted" means Slack answered 2xx.
 */

type Reply = (request: IncomingMessage, response: ServerResponse) => void;

/** A webhook endpoint answering the n-th request with replies[n] (the last one from then on). */
async function webhook(...replies: Reply[]) {
  const arrivals: number[] = [];
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      arrivals.push(Date.now());
      replies[Math.min(arrivals.length, replies.length) - 1]!(request, response);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  servers.push(server);
  return { url: `http://127.0.0.1:${port}/services/T000/B000/XXXX`, arrivals };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

const status =
  (code: number, headers: Record<string, string> = {}): Reply =>
  (_, response) => {
    response.writeHead(code, { "content-type": "text/plain", ...headers });
    response.end(code === 200 ? "ok" : code >= 500 ? "rollup_error" : "invalid_blocks");
  };
/** Never answers: the request hangs until the client gives up. */
const hang: Reply = () => {};

function capturingLogger() {
  const lines: { level: string; message: string; extra: Record<string, unknown> }[] = [];
  const log =
    (level: string) =>
    (message: string, extra: Record<string, unknown> = {}) =>
      lines.push({ level, message, extra });
  const logger = { info: log("info"), warn: log("warn"), error: log("error") } as unknown as Logger;
  return { logger, lines };
}

const message: SlackMessage = { text: "Upload failed: orders.xlsx", blocks: [] };

function notifier(url: string, options: Partial<SlackNotifierOptions> = {}) {
  const { logger, lines } = capturingLogger();
  return {
    lines,
    notifier: new SlackNotifier({
      webhookUrl: url,
      logger,
      retry: { baseDelayMs: 20, ...options.retry },
      random: () => 1,
      ...options,
    }),
  };
}

describe("SlackNotifier", () => {
  it("retries a 500 and reports posted once Slack answers 200", async () => {
    const slack = await webhook(status(500), status(200));
    const { notifier: n, lines } = notifier(slack.url);
    expect(await n.post(message)).toBe("posted");
    expect(slack.arrivals).toHaveLength(2);
    expect(lines.filter((l) => l.level === "error")).toEqual([]);
    expect(lines.find((l) => l.level === "warn")?.extra).toMatchObject({
      reason: expect.stringContaining("HTTP 500"),
    });
  });

  it("gives up after its attempts when Slack always answers 500, and says failed", async () => {
    const slack = await webhook(status(503));
    const { notifier: n, lines } = notifier(slack.url, { retry: { attempts: 3, baseDelayMs: 20 } });
    expect(await n.post(message)).toBe("failed");
    expect(slack.arrivals).toHaveLength(3);
    // Backoff doubles: 20 ms, then 40 ms (jitter pinned to its top).
    expect(slack.arrivals[1]! - slack.arrivals[0]!).toBeGreaterThanOrEqual(15);
    expect(slack.arrivals[2]! - slack.arrivals[1]!).toBeGreaterThanOrEqual(35);
    const error = lines.find((l) => l.level === "error");
    expect(error?.message).toContain("not posted");
    expect(error?.extra).toMatchObject({
      attempts: 3,
      reasons: expect.arrayContaining(["HTTP 503: rollup_error"]),
    });
  });

  it("never retries a 4xx: Slack refused the message or the webhook for good", async () => {
    for (const code of [400, 403, 404, 410]) {
      const slack = await webhook(status(code), status(200));
      const { notifier: n } = notifier(slack.url);
      expect(await n.post(message), `HTTP ${code}`).toBe("failed");
      expect(slack.arrivals, `HTTP ${code}`).toHaveLength(1);
    }
  });

  it("waits a 429's Retry-After before trying again", async () => {
    const slack = await webhook(status(429, { "retry-after": "1" }), status(200));
    const { notifier: n } = notifier(slack.url);
    expect(await n.post(message)).toBe("posted");
    expect(slack.arrivals).toHaveLength(2);
    expect(slack.arrivals[1]! - slack.arrivals[0]!).toBeGreaterThanOrEqual(950);
  });

  it("does not wait for a Retry-After longer than it may wait: failed at once", async () => {
    const slack = await webhook(status(429, { "retry-after": "120" }), status(200));
    const { notifier: n, lines } = notifier(slack.url);
    const started = Date.now();
    expect(await n.post(message)).toBe("failed");
    expect(Date.now() - started).toBeLessThan(1000);
    expect(slack.arrivals).toHaveLength(1);
    expect(JSON.stringify(lines.find((l) => l.level === "error")?.extra)).toContain("past the time allowed");
  });

  it("times out a hanging webhook on each attempt and stops within its budget", async () => {
    const slack = await webhook(hang);
    const { notifier: n, lines } = notifier(slack.url, {
      timeoutMs: 150,
      retry: { attempts: 3, baseDelayMs: 20 },
    });
    const started = Date.now();
    expect(await n.post(message)).toBe("failed");
    expect(Date.now() - started).toBeLessThan(1500);
    expect(slack.arrivals).toHaveLength(3);
    expect(JSON.stringify(lines.find((l) => l.level === "error")?.extra)).toMatch(/TimeoutError|aborted/i);
  });

  it("retries a refused connection, then says failed", async () => {
    const slack = await webhook(status(200));
    const url = slack.url;
    await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()));
    const { notifier: n, lines } = notifier(url, { retry: { attempts: 3, baseDelayMs: 20 } });
    expect(await n.post(message)).toBe("failed");
    const error = lines.find((l) => l.level === "error");
    expect(error?.extra).toMatchObject({ attempts: 3 });
    expect(JSON.stringify(error?.extra)).toContain("ECONNREFUSED");
  });

  it("stops short of the Lambda's remaining time, whatever its own budget", async () => {
    const slack = await webhook(hang);
    // 3.5 s left and a 3 s margin: half a second for every attempt and wait.
    const { notifier: n } = notifier(slack.url, {
      timeoutMs: 5000,
      retry: { attempts: 10, baseDelayMs: 20, budgetMs: 60_000 },
      remainingTimeMs: () => 3500,
    });
    const started = Date.now();
    expect(await n.post(message)).toBe("failed");
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(1200);
  });

  it("does not even try when the Lambda has no time left", async () => {
    const slack = await webhook(status(200));
    const { notifier: n } = notifier(slack.url, { remainingTimeMs: () => 1000 });
    expect(await n.post(message)).toBe("failed");
    expect(slack.arrivals).toHaveLength(0);
  });
});
