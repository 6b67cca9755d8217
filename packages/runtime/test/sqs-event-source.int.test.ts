import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { type FauxqsServer, startFauxqs } from "fauxqs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  readBatchResponse,
  type SqsEventHandler,
  type SqsEventSource,
  SqsEventSourceError,
  startSqsEventSource,
} from "../src/sqs-event-source.ts";

const REGION = "eu-west-1";
let server: FauxqsServer;
let sqs: SQSClient;
let queueCount = 0;
const sources: SqsEventSource[] = [];

beforeAll(async () => {
  server = await startFauxqs({ port: 0, logger: false, defaultRegion: REGION });
  sqs = new SQSClient({
    region: REGION,
    endpoint: `http://127.0.0.1:${server.port}`,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
});

afterAll(async () => {
  sqs.destroy();
  await server.stop();
});

afterEach(async () => {
  while (sources.length) await sources.pop()!.stop();
});

/** A fresh queue per test (an aborted long poll may still be parked on the previous one). */
function newQueue(visibilityTimeoutSeconds = 1) {
  return server.createQueue(`esm-${++queueCount}`, {
    attributes: { VisibilityTimeout: String(visibilityTimeoutSeconds) },
  });
}

function start(
  queue: { queueUrl: string; queueArn: string },
  handler: SqsEventHandler,
  errors: unknown[] = [],
) {
  const source = startSqsEventSource({
    sqs,
    queueUrl: queue.queueUrl,
    queueArn: queue.queueArn,
    region: REGION,
    waitTimeSeconds: 1,
    errorBackoffMs: 10,
    handler,
    onError: (error) => errors.push(error),
  });
  sources.push(source);
  return source;
}

async function send(queueUrl: string, bodies: string[]) {
  for (const body of bodies)
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
}

async function waitFor(check: () => boolean, timeoutMs = 8000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Messages still in the queue, visible or in flight. */
function remaining(queueName: string) {
  const state = server.inspectQueue(queueName);
  return (
    (state?.messages.ready.length ?? 0) +
    (state?.messages.delayed.length ?? 0) +
    (state?.messages.inflight.length ?? 0)
  );
}

describe("startSqsEventSource", () => {
  it("passes the event Lambda would, and deletes the whole batch when the function returns nothing", async () => {
    const queue = newQueue();
    const events: SQSEvent[] = [];
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queue.queueUrl,
        MessageBody: "first",
        MessageAttributes: {
          kind: { DataType: "String", StringValue: "chunk" },
          raw: { DataType: "Binary", BinaryValue: Buffer.from("hi") },
        },
      }),
    );
    await send(queue.queueUrl, ["second", "third"]);
    start(queue, (event) => {
      events.push(event);
    });
    await waitFor(() => events.flatMap((e) => e.Records).length === 3);
    await waitFor(() => remaining(queue.queueName) === 0);

    const records = events.flatMap((e) => e.Records);
    expect(records.map((r) => r.body).sort()).toEqual(["first", "second", "third"]);
    const first = records.find((r) => r.body === "first")!;
    expect(first).toMatchObject({
      eventSource: "aws:sqs",
      eventSourceARN: queue.queueArn,
      awsRegion: REGION,
      md5OfBody: expect.stringMatching(/^[0-9a-f]{32}$/),
      messageAttributes: {
        kind: { stringValue: "chunk", stringListValues: [], binaryListValues: [], dataType: "String" },
        raw: { binaryValue: Buffer.from("hi").toString("base64"), dataType: "Binary" },
      },
    });
    expect(first.attributes.ApproximateReceiveCount).toBe("1");
    expect(first.attributes.SentTimestamp).toMatch(/^\d{13}$/);
    expect(first.attributes.ApproximateFirstReceiveTimestamp).toMatch(/^\d{13}$/);
    expect(first.attributes.SenderId).toBeTruthy();
    expect(records.find((r) => r.body === "second")!.messageAttributes).toEqual({});
  });

  it("deletes every record but the batch item failures, which come back after the visibility timeout", async () => {
    const queue = newQueue(1);
    const deliveries: SQSRecord[] = [];
    await send(queue.queueUrl, ["a", "b", "c"]);
    start(queue, (event): SQSBatchResponse => {
      deliveries.push(...event.Records);
      const failures = event.Records.filter(
        (r) => r.body === "b" && r.attributes.ApproximateReceiveCount === "1",
      );
      return { batchItemFailures: failures.map((r) => ({ itemIdentifier: r.messageId })) };
    });
    await waitFor(() => deliveries.length === 4);
    await waitFor(() => remaining(queue.queueName) === 0);
    // Give any wrongly kept message time to come back.
    await new Promise((resolve) => setTimeout(resolve, 1300));

    expect(deliveries.map((r) => r.body).sort()).toEqual(["a", "b", "b", "c"]);
    const again = deliveries.at(-1)!;
    expect(again.body).toBe("b");
    expect(again.attributes.ApproximateReceiveCount).toBe("2");
  });

  it("deletes nothing when the function throws: the whole batch comes back", async () => {
    const queue = newQueue(1);
    const deliveries: SQSRecord[] = [];
    const errors: unknown[] = [];
    await send(queue.queueUrl, ["x", "y"]);
    let calls = 0;
    start(
      queue,
      async (event) => {
        calls += 1;
        deliveries.push(...event.Records);
        if (event.Records.some((r) => r.attributes.ApproximateReceiveCount === "1")) throw new Error("boom");
      },
      errors,
    );
    await waitFor(() => deliveries.filter((r) => r.attributes.ApproximateReceiveCount === "2").length === 2);
    await waitFor(() => remaining(queue.queueName) === 0);

    expect(
      deliveries
        .filter((r) => r.attributes.ApproximateReceiveCount === "1")
        .map((r) => r.body)
        .sort(),
    ).toEqual(["x", "y"]);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors[0]).toBeInstanceOf(SqsEventSourceError);
    expect((errors[0] as Error).cause).toEqual(new Error("boom"));
  });

  it("treats an unknown itemIdentifier as a complete failure, and ignores the response without ReportBatchItemFailures", async () => {
    const queue = newQueue(1);
    const deliveries: SQSRecord[] = [];
    const errors: unknown[] = [];
    await send(queue.queueUrl, ["p"]);
    start(
      queue,
      (event) => {
        deliveries.push(...event.Records);
        return event.Records[0]!.attributes.ApproximateReceiveCount === "1"
          ? { batchItemFailures: [{ itemIdentifier: "not-a-message-of-this-batch" }] }
          : undefined;
      },
      errors,
    );
    await waitFor(() => deliveries.length === 2 && remaining(queue.queueName) === 0);
    expect(String((errors[0] as Error).message)).toMatch(/not in the batch/);

    const other = newQueue(1);
    const seen: SQSRecord[] = [];
    await send(other.queueUrl, ["q"]);
    sources.push(
      startSqsEventSource({
        sqs,
        queueUrl: other.queueUrl,
        queueArn: other.queueArn,
        region: REGION,
        waitTimeSeconds: 1,
        reportBatchItemFailures: false,
        handler: (event) => {
          seen.push(...event.Records);
          return { batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) };
        },
      }),
    );
    await waitFor(() => seen.length === 1 && remaining(other.queueName) === 0);
  });

  it("reports SQS errors and goes on polling, without an unhandled rejection", async () => {
    const errors: unknown[] = [];
    start(
      { queueUrl: `http://127.0.0.1:${server.port}/000000000000/no-such-queue`, queueArn: "arn" },
      () => {},
      errors,
    );
    await waitFor(() => errors.length >= 3);
    expect(errors[0]).toBeInstanceOf(SqsEventSourceError);
    expect(String((errors[0] as Error).message)).toMatch(/ReceiveMessage failed/);
  });

  it("stops promptly while long-polling an empty queue, and waits for the batch in flight", async () => {
    const queue = newQueue(30);
    const source = startSqsEventSource({
      sqs,
      queueUrl: queue.queueUrl,
      queueArn: queue.queueArn,
      region: REGION,
      waitTimeSeconds: 20,
      handler: () => {},
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const began = Date.now();
    await source.stop();
    expect(Date.now() - began).toBeLessThan(1000);

    const busy = newQueue(30);
    let finished = false;
    let entered = false;
    const slow = startSqsEventSource({
      sqs,
      queueUrl: busy.queueUrl,
      queueArn: busy.queueArn,
      region: REGION,
      waitTimeSeconds: 1,
      handler: async () => {
        entered = true;
        await new Promise((resolve) => setTimeout(resolve, 300));
        finished = true;
      },
    });
    await send(busy.queueUrl, ["slow"]);
    await waitFor(() => entered);
    await slow.stop();
    expect(finished).toBe(true);
    expect(remaining(busy.queueName)).toBe(0); // the batch was deleted before stop() returned
  });
});

describe("readBatchResponse", () => {
  const ids = ["m1", "m2"];
  it("follows Lambda's success and failure conditions", () => {
    expect(readBatchResponse(undefined, ids)).toEqual({ ok: true, failed: new Set() });
    expect(readBatchResponse(null, ids)).toEqual({ ok: true, failed: new Set() });
    expect(readBatchResponse({}, ids)).toEqual({ ok: true, failed: new Set() });
    expect(readBatchResponse({ batchItemFailures: null }, ids)).toEqual({ ok: true, failed: new Set() });
    expect(readBatchResponse({ batchItemFailures: [] }, ids)).toEqual({ ok: true, failed: new Set() });
    expect(readBatchResponse({ batchItemFailures: [{ itemIdentifier: "m2" }] }, ids)).toEqual({
      ok: true,
      failed: new Set(["m2"]),
    });
    expect(readBatchResponse({ batchItemFailures: [{ itemIdentifier: "" }] }, ids).ok).toBe(false);
    expect(readBatchResponse({ batchItemFailures: [{ itemIdentifier: null }] }, ids).ok).toBe(false);
    expect(readBatchResponse({ batchItemFailures: [{ itemId: "m1" }] }, ids).ok).toBe(false);
    expect(readBatchResponse({ batchItemFailures: [{ itemIdentifier: "m9" }] }, ids).ok).toBe(false);
    expect(readBatchResponse("ok", ids).ok).toBe(false);
  });
});
