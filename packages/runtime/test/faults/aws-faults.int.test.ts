import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { type ChunkHandler, createChunkConsumer } from "@sluice/consumer";
import { FailureRecordSchema } from "@sluice/contract";
import { failOnCrash } from "@sluice/test-support/crash-watch";
import { FaultProxy } from "@sluice/test-support/fault-proxy";
import { LoopbackSlack } from "@sluice/test-support/loopback-slack";
import {
  consume,
  ordersCsv,
  runtimeWith,
  stopAfterTest,
  useRuntimeCleanup,
} from "@sluice/test-support/runtime-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalRuntime, RuntimeEvent } from "../../src/local-runtime.ts";

/**
 * S3 and SQS failing for a while, through a fault-injecting proxy in front of the emulator: both the admin
 * server's consumer and the runtime's own handlers (convert, SendMessage, the record) talk to it.
 *
 * What to expect is the AWS SDK's documented retry behaviour ("Retry behavior", AWS SDKs and Tools Reference
 * Guide, https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html): in standard mode (the
 * JavaScript SDK v3's default) a request is attempted up to three times, with backoff, when it fails with a
 * transient error (HTTP 500/502/503/504, a dropped connection) or a throttling error (SlowDown,
 * ThrottlingException). So a fault that hits one request at most twice is invisible above the SDK; one that
 * lasts longer reaches sluice's own retries (the consumer's redelivery, the workflow's Retry) and, when those run
 * out too, fails the upload with a typed error, a failure record and an alert.
 */

useRuntimeCleanup();
failOnCrash();

let slack: LoopbackSlack;
beforeAll(async () => {
  slack = await LoopbackSlack.start();
});
afterAll(async () => {
  await slack.stop();
});

/** A runtime whose handlers reach S3/SQS through `proxy`, alerting the loopback Slack. */
async function runtimeBehind(proxy: FaultProxy, config: Parameters<typeof runtimeWith>[0] = {}) {
  const runtime = await runtimeWith({ slackWebhookUrl: slack.url, awsEndpoint: proxy.url, ...config });
  proxy.setTarget(runtime.emulator.endpoint);
  return runtime;
}

/** The consumer SDK with its SQS and S3 clients pointed at the proxy (quick polling, as the harness has it). */
function consumeThrough(
  proxy: FaultProxy,
  runtime: LocalRuntime,
  handler: ChunkHandler,
  retry?: { attempts: number; baseMs: number; maxMs: number },
) {
  const clientConfig = { ...runtime.emulator.clientConfig, endpoint: proxy.url };
  const sqs = new SQSClient(clientConfig);
  const s3 = new S3Client({ ...clientConfig, forcePathStyle: true });
  const consumer = createChunkConsumer({
    queueUrl: runtime.queueUrls.chunks,
    sqs,
    s3,
    sfn: runtime.sfnClient(),
    concurrency: 4,
    waitTimeSeconds: 1,
    heartbeatSeconds: 2,
    visibilityTimeoutSeconds: 10,
    ...(retry ? { retry } : {}),
    handler,
  });
  const errors: unknown[] = [];
  const released: unknown[] = [];
  consumer.on("error", (e) => errors.push(e));
  consumer.on("chunk_released", (e) => released.push(e));
  consumer.start();
  stopAfterTest(async () => {
    await consumer.stop({ timeoutMs: 2_000 });
    sqs.destroy();
    s3.destroy();
  });
  return { consumer, errors, released };
}

/** The consumer's own retry of a failed AWS call (its `retry` option), short so an outage outlasts it quickly. */
const QUICK_RETRY = { attempts: 2, baseMs: 100, maxMs: 200 };

/** A handler that counts each row it saves. */
function countingRows() {
  const rows = new Map<number, number>();
  const handler: ChunkHandler = async (chunk) => {
    for (const { row } of chunk.rows) rows.set(row, (rows.get(row) ?? 0) + 1);
    return { accepted: chunk.rows.length, rejected: [] };
  };
  return { rows, handler };
}

function events(runtime: LocalRuntime): RuntimeEvent[] {
  const seen: RuntimeEvent[] = [];
  runtime.on("progress", (e: RuntimeEvent) => seen.push(e));
  return seen;
}

async function startProxy() {
  const proxy = await FaultProxy.start();
  stopAfterTest(() => proxy.stop());
  return proxy;
}

describe("S3 and SQS failing for a while", () => {
  it("a fault that hits a request at most twice is absorbed by the SDK's retries: every row once, nothing seen above", async () => {
    const proxy = await startProxy();
    // At most two faults per operation, so no single request can fail all three of its attempts.
    proxy.inject({ service: "s3", actions: ["GetObject"], fault: "internal", times: 2 });
    proxy.inject({ service: "s3", actions: ["PutObject", "UploadPart"], fault: "throttle", times: 2 });
    proxy.inject({ service: "sqs", actions: ["SendMessage"], fault: "throttle", times: 2 });
    proxy.inject({ service: "sqs", actions: ["ReceiveMessage"], fault: "unavailable", times: 2 });
    proxy.inject({ service: "sqs", actions: ["DeleteMessage"], fault: "internal", times: 2 });
    proxy.inject({ service: "sqs", actions: ["ChangeMessageVisibility"], fault: "reset", times: 2 });
    const runtime = await runtimeBehind(proxy, { config: { chunkRows: 50 } });
    const seen = events(runtime);
    const { rows, handler } = countingRows();
    const { errors, released } = consumeThrough(proxy, runtime, handler);

    const upload = await runtime.upload(ordersCsv(400), "orders.csv");
    const record = await runtime.waitForExecution(upload.executionArn);

    expect(record.status).toBe("SUCCEEDED");
    expect(rows.size).toBe(400);
    expect([...rows.values()].every((n) => n === 1)).toBe(true);
    const faults = new Set(proxy.injected.map((f) => `${f.action}:${f.fault}`));
    for (const expected of [
      "GetObject:internal",
      "SendMessage:throttle",
      "ReceiveMessage:unavailable",
      "DeleteMessage:internal",
    ]) {
      expect(faults).toContain(expected);
    }
    expect([...faults].some((f) => /^(PutObject|UploadPart):throttle$/.test(f))).toBe(true);
    // Nothing reached sluice's own retries: no chunk was sent twice or released, no consumer error.
    expect(
      seen.filter((e) => e.type === "chunk_sent").map((e) => (e as { attempt: number }).attempt),
    ).toEqual(Array(8).fill(1));
    expect(released).toEqual([]);
    expect(errors).toEqual([]);
    // The runtime's handlers and the consumer really went through the proxy.
    expect(proxy.forwarded.s3).toBeGreaterThan(0);
    expect(proxy.forwarded.sqs).toBeGreaterThan(0);
  });

  it("an S3 outage longer than the SDK's retries: the consumer releases the chunks, they come back, every row once", async () => {
    const proxy = await startProxy();
    const runtime = await runtimeWith({ slackWebhookUrl: slack.url, config: { chunkRows: 50 } });
    proxy.setTarget(runtime.emulator.endpoint);
    const seen = events(runtime);
    const { rows, handler } = countingRows();
    const converted = new Promise<void>((resolve) =>
      runtime.on("progress", (e: RuntimeEvent) => e.type === "converted" && resolve()),
    );
    const upload = await runtime.upload(ordersCsv(200), "orders.csv");
    await converted;
    // Every chunk fetch fails for 1.5 s: longer than the SDK's three attempts times the consumer's own two.
    proxy.inject({ service: "s3", actions: ["GetObject"], fault: "internal", forMs: 1_500 });
    const { released } = consumeThrough(proxy, runtime, handler, QUICK_RETRY);
    const record = await runtime.waitForExecution(upload.executionArn);

    expect(record.status).toBe("SUCCEEDED");
    expect(rows.size).toBe(200);
    expect([...rows.values()].every((n) => n === 1)).toBe(true);
    expect(released.length).toBeGreaterThan(0);
    // Three attempts per request: some fetch saw the fault three times in a row.
    expect(proxy.injected.filter((f) => f.action === "GetObject").length).toBeGreaterThanOrEqual(3);
    // Redelivery by SQS, not a new message: each chunk was sent once.
    expect(seen.filter((e) => e.type === "chunk_sent")).toHaveLength(4);
  });

  it("S3 refusing the admin server's fetches for good: the chunk is dead-lettered, the upload fails typed and alerted", async () => {
    // Only the consumer is behind the proxy: the runtime's own reads and writes go on.
    const proxy = await startProxy();
    const runtime = await runtimeWith({
      slackWebhookUrl: slack.url,
      config: { chunkRows: 50, maxReceiveCount: 1, visibilityTimeoutSeconds: 1 },
    });
    proxy.setTarget(runtime.emulator.endpoint);
    const { handler } = countingRows();
    slack.received.length = 0;
    // Every fetch answered with S3's 503 SlowDown.
    proxy.inject({ service: "s3", actions: ["GetObject"], fault: "throttle" });
    const consumer = consumeThrough(proxy, runtime, handler, QUICK_RETRY);
    const upload = await runtime.upload(ordersCsv(50), "orders.csv");
    const record = await runtime.waitForExecution(upload.executionArn);

    expect(record.status).toBe("FAILED");
    expect(consumer.released.length).toBeGreaterThanOrEqual(1);
    await runtime.failureNotification(upload.executionArn);
    const object = await runtime.emulator.s3.send(
      new GetObjectCommand({ Bucket: runtime.bucket, Key: `processed/${upload.uploadId}/failure.json` }),
    );
    const failure = FailureRecordSchema.parse(JSON.parse(await object.Body!.transformToString()));
    expect(failure).toMatchObject({ failedChunk: { index: 0 }, error: { code: "CHUNK_DEAD_LETTERED" } });
    expect(JSON.stringify(slack.received.at(-1)?.json)).toContain("CHUNK_DEAD_LETTERED");
  });

  it("SQS refusing SendMessage past every retry fails the upload typed and alerted; the runtime goes on serving", async () => {
    // Only the runtime is behind the proxy: the consumer reads the queue directly.
    const proxy = await startProxy();
    const runtime = await runtimeBehind(proxy, { config: { chunkRows: 50 } });
    const { rows, handler } = countingRows();
    consume(runtime, handler);
    slack.received.length = 0;
    // The chunk queue unreachable: every SendMessage loses its connection (SDK retries, then the Retry of
    // "Send chunk and wait" on SQS.SdkClientException, then the Map fails).
    const heal = proxy.inject({ service: "sqs", actions: ["SendMessage"], fault: "reset" });
    const failed = await runtime.upload(ordersCsv(100), "orders.csv");
    const record = await runtime.waitForExecution(failed.executionArn);
    expect(record.status).toBe("FAILED");
    const notified = await runtime.failureNotification(failed.executionArn);
    expect(notified?.record?.error.code).toBe("SQS.SdkClientException");
    expect(notified?.slack).toBe("posted");
    expect(JSON.stringify(slack.received.at(-1)?.json)).toContain("SQS.SdkClientException");
    // No task token is left waiting behind the failed sends (their timers would reject later).
    expect(runtime.tokens.pending).toBe(0);
    // SQS answering with an error (500) instead: SQS.AmazonSQSException.
    heal();
    const healServer = proxy.inject({ service: "sqs", actions: ["SendMessage"], fault: "internal" });
    const refused = await runtime.upload(ordersCsv(101), "orders-2.csv");
    expect((await runtime.waitForExecution(refused.executionArn)).status).toBe("FAILED");
    expect((await runtime.failureNotification(refused.executionArn))?.record?.error.code).toBe(
      "SQS.AmazonSQSException",
    );
    healServer();

    const next = await runtime.upload(ordersCsv(120), "orders-3.csv");
    expect((await runtime.waitForExecution(next.executionArn)).status).toBe("SUCCEEDED");
    expect(rows.size).toBe(120);
  });
});
