import { TaskResultSchema } from "@sluice/core/contract";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ChunkConsumerOptions, type ConsumerEvents, createChunkConsumer } from "../src/index.ts";
import { makeEnvelope } from "./support/envelopes.ts";
import { type LocalAws, startLocalAws, waitFor } from "./support/local-aws.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let aws: LocalAws;
beforeEach(async () => {
  aws = await startLocalAws();
});
afterEach(async () => {
  await aws.close();
});

function consumerFor(queueUrl: string, options: Partial<ChunkConsumerOptions> = {}) {
  const events: { [K in keyof ConsumerEvents]?: ConsumerEvents[K][] } = {};
  const consumer = createChunkConsumer({
    queueUrl,
    sqs: aws.sqs,
    sfn: aws.sfn,
    waitTimeSeconds: 1,
    retry: { attempts: 4, baseMs: 10, maxMs: 50 },
    handler: async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }),
    ...options,
  });
  const names: (keyof ConsumerEvents)[] = [
    "chunk_received",
    "chunk_succeeded",
    "chunk_failed",
    "token_stale",
    "message_invalid",
    "error",
    "stopped",
  ];
  for (const name of names) {
    consumer.on(name, (payload) => {
      if (!events[name]) events[name] = [];
      (events[name] as unknown[]).push(payload);
    });
  }
  return { consumer, events };
}

describe("chunk consumer against a real local SQS (fauxqs)", () => {
  it("answers every chunk exactly once with a valid TaskResult, and deletes each message only after", async () => {
    const queue = aws.createQueue();
    for (let i = 0; i < 7; i++) await aws.send(queue.url, makeEnvelope(i, { uploadId: "ok" }));
    const inflightAtReport: number[] = [];
    aws.sfnFake.onCall(({ action }) => {
      if (action === "SendTaskSuccess") inflightAtReport.push(aws.depth(queue.name).inflight);
    });
    const { consumer, events } = consumerFor(queue.url, { concurrency: 3 });
    consumer.start();
    await waitFor(() => consumer.status.processed === 7, 10_000, "7 chunks");
    await consumer.stop();

    const successes = aws.sfnFake.accepted("SendTaskSuccess");
    expect(successes.map((c) => c.taskToken).sort()).toEqual(
      Array.from({ length: 7 }, (_, i) => `token-ok-${i}`).sort(),
    );
    expect(aws.sfnFake.calls.filter((c) => c.action !== "SendTaskHeartbeat")).toHaveLength(7);
    for (const call of successes) {
      const result = TaskResultSchema.parse(JSON.parse(call.output ?? ""));
      const index = Number(call.taskToken.split("-").pop());
      expect(result).toMatchObject({ v: 1, uploadId: "ok", chunkIndex: index, accepted: 3, rejected: [] });
      expect(result.durationMs).toBeGreaterThanOrEqual(0);
    }
    // Each report happened while its message was still in flight (not yet deleted); now the queue is empty.
    expect(inflightAtReport.every((n) => n >= 1)).toBe(true);
    expect(aws.depth(queue.name)).toEqual({ ready: 0, inflight: 0, delayed: 0 });
    expect(events.chunk_succeeded).toHaveLength(7);
    expect(events.stopped).toEqual([{ processed: 7, failed: 0, timedOut: false, abandoned: 0 }]);
    expect(consumer.status).toEqual({ running: false, inFlight: 0, processed: 7, failed: 0 });
  });

  it("reports rejected rows, with messages cut to the contract's 1000 characters", async () => {
    const queue = aws.createQueue();
    await aws.send(queue.url, makeEnvelope(0, { uploadId: "rej", rows: 4 }));
    const { consumer, events } = consumerFor(queue.url, {
      handler: async (chunk) => ({
        accepted: 2,
        rejected: [
          { row: chunk.firstRow, code: "SKU_UNKNOWN", message: "No such SKU" },
          { row: chunk.firstRow + 1, code: "QTY_INVALID", message: "x".repeat(5000) },
        ],
      }),
    });
    consumer.start();
    await waitFor(() => consumer.status.processed === 1);
    await consumer.stop();
    const [call] = aws.sfnFake.accepted("SendTaskSuccess");
    const result = TaskResultSchema.parse(JSON.parse(call?.output ?? ""));
    expect(result.accepted).toBe(2);
    expect(result.rejected.map((r) => [r.row, r.code])).toEqual([
      [2, "SKU_UNKNOWN"],
      [3, "QTY_INVALID"],
    ]);
    expect(result.rejected[1]?.message).toHaveLength(1000);
    expect(result.rejected[1]?.message.endsWith("…")).toBe(true);
    expect(events.chunk_succeeded?.[0]).toMatchObject({ accepted: 2, rejected: 2, chunkIndex: 0 });
    expect(aws.depth(queue.name).inflight + aws.depth(queue.name).ready).toBe(0);
  });

  it("answers a thrown error with SendTaskFailure carrying its code, then deletes the message", async () => {
    const queue = aws.createQueue();
    await aws.send(queue.url, makeEnvelope(5, { uploadId: "boom" }));
    const { consumer, events } = consumerFor(queue.url, {
      handler: async () => {
        throw Object.assign(new Error("the orders table is locked"), { code: "DB_LOCKED" });
      },
    });
    consumer.start();
    await waitFor(() => consumer.status.failed === 1);
    await consumer.stop();
    const failures = aws.sfnFake.accepted("SendTaskFailure");
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ taskToken: "token-boom-5", error: "DB_LOCKED" });
    expect(JSON.parse(failures[0]?.cause ?? "")).toEqual({
      message: "the orders table is locked",
      code: "DB_LOCKED",
    });
    expect(aws.sfnFake.accepted("SendTaskSuccess")).toHaveLength(0);
    expect(events.chunk_failed?.[0]).toMatchObject({ chunkIndex: 5, error: "DB_LOCKED" });
    expect(aws.depth(queue.name)).toEqual({ ready: 0, inflight: 0, delayed: 0 });
  });

  it("keeps a slow chunk alive past the queue's visibility timeout with heartbeats: no redelivery", async () => {
    const queue = aws.createQueue({ visibilityTimeout: 1 });
    await aws.send(queue.url, makeEnvelope(0, { uploadId: "slow" }));
    let calls = 0;
    const { consumer, events } = consumerFor(queue.url, {
      concurrency: 2,
      heartbeatSeconds: 0.3,
      visibilityTimeoutSeconds: 1,
      handler: async (chunk) => {
        calls++;
        await sleep(3000);
        return { accepted: chunk.rows.length, rejected: [] };
      },
    });
    consumer.start();
    await waitFor(() => consumer.status.processed === 1, 10_000);
    await consumer.stop();
    expect(calls).toBe(1);
    expect(events.chunk_received).toHaveLength(1);
    expect(aws.sfnFake.accepted("SendTaskHeartbeat").length).toBeGreaterThanOrEqual(5);
    expect(aws.sfnFake.accepted("SendTaskSuccess")).toHaveLength(1);
    expect(aws.depth(queue.name)).toEqual({ ready: 0, inflight: 0, delayed: 0 });
  });

  it("deletes the message and emits token_stale when SendTaskSuccess finds the token timed out", async () => {
    const queue = aws.createQueue();
    await aws.send(queue.url, makeEnvelope(1, { uploadId: "late" }));
    aws.sfnFake.expire("token-late-1");
    const { consumer, events } = consumerFor(queue.url);
    consumer.start();
    await waitFor(() => (events.token_stale?.length ?? 0) === 1);
    await consumer.stop();
    expect(events.token_stale?.[0]).toMatchObject({
      uploadId: "late",
      chunkIndex: 1,
      during: "report_success",
      awsErrorName: "TaskTimedOut",
      deleted: true,
    });
    expect(events.error ?? []).toEqual([]);
    expect(aws.depth(queue.name)).toEqual({ ready: 0, inflight: 0, delayed: 0 });
  });

  it("aborts ctx.signal when a heartbeat finds the token stale, and deletes without answering", async () => {
    const queue = aws.createQueue();
    await aws.send(queue.url, makeEnvelope(2, { uploadId: "gone" }));
    let reason: unknown;
    const { consumer, events } = consumerFor(queue.url, {
      heartbeatSeconds: 0.2,
      visibilityTimeoutSeconds: 5,
      handler: async (_chunk, ctx) => {
        await ctx.heartbeat();
        aws.sfnFake.expire("token-gone-2", "TaskDoesNotExist");
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
        reason = ctx.signal.reason;
        throw ctx.signal.reason;
      },
    });
    consumer.start();
    await waitFor(() => (events.token_stale?.length ?? 0) === 1);
    await consumer.stop();
    expect(reason).toMatchObject({ code: "TASK_TOKEN_STALE", awsErrorName: "TaskDoesNotExist" });
    expect(events.token_stale?.[0]).toMatchObject({ during: "heartbeat", deleted: true, chunkIndex: 2 });
    expect(aws.sfnFake.calls.filter((c) => c.action !== "SendTaskHeartbeat")).toEqual([]);
    expect(aws.depth(queue.name)).toEqual({ ready: 0, inflight: 0, delayed: 0 });
  });

  it("reports malformed messages, fails their task token, never deletes them: redrive moves them to the DLQ", async () => {
    const queue = aws.createQueue({ visibilityTimeout: 1, maxReceiveCount: 2 });
    await aws.send(queue.url, "{not json");
    await aws.send(queue.url, { v: 1, kind: "chunk", taskToken: "token-bad-shape", uploadId: "bad" });
    const { consumer, events } = consumerFor(queue.url, { handler: async () => expect.unreachable() });
    consumer.start();
    await waitFor(() => aws.depth(queue.dlqName).ready === 2, 15_000, "both messages in the DLQ");
    await consumer.stop();

    const invalid = events.message_invalid ?? [];
    expect(invalid.filter((e) => e.reason === "json")).toHaveLength(2);
    const shape = invalid.filter((e) => e.reason === "schema");
    expect(shape).toHaveLength(2);
    expect(shape.map((e) => e.receiveCount)).toEqual([1, 2]);
    expect(shape[0]?.issues.map((i) => i.path.join("."))).toEqual(
      expect.arrayContaining(["source", "totals", "chunk"]),
    );
    expect(shape[0]?.taskFailureSent).toBe(true);
    // The second delivery finds the token already failed: stale, and still not deleted.
    expect(events.token_stale?.[0]).toMatchObject({ during: "report_failure", deleted: false });
    const failures = aws.sfnFake.accepted("SendTaskFailure");
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ taskToken: "token-bad-shape", error: "MESSAGE_INVALID" });
    expect(JSON.parse(failures[0]?.cause ?? "").message).toMatch(/not a sluice ChunkEnvelope/);
    expect(aws.depth(queue.name)).toEqual({ ready: 0, inflight: 0, delayed: 0 });
    expect(consumer.status.failed).toBe(4);
  });

  it("never holds more than `concurrency` chunks, and never asks for more messages than free slots", async () => {
    const queue = aws.createQueue();
    for (let i = 0; i < 25; i++) await aws.send(queue.url, makeEnvelope(i, { uploadId: "many" }));
    const asked: { max: number; inFlight: number }[] = [];
    let current = 0;
    let highest = 0;
    const { consumer } = consumerFor(queue.url, {
      concurrency: 3,
      handler: async (chunk) => {
        current++;
        highest = Math.max(highest, current);
        await sleep(20 + (chunk.index % 4) * 15);
        current--;
        return { accepted: chunk.rows.length, rejected: [] };
      },
    });
    aws.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "ReceiveMessageCommand") {
          const input = args.input as { MaxNumberOfMessages?: number };
          asked.push({ max: input.MaxNumberOfMessages ?? 1, inFlight: consumer.status.inFlight });
        }
        return next(args);
      },
      { step: "initialize", name: "recordReceives" },
    );
    consumer.start();
    await waitFor(() => consumer.status.processed === 25, 15_000);
    await consumer.stop();
    expect(highest).toBe(3);
    expect(asked.length).toBeGreaterThan(1);
    for (const a of asked) expect(a.max + a.inFlight).toBeLessThanOrEqual(3);
    expect(aws.sfnFake.accepted("SendTaskSuccess")).toHaveLength(25);
  });

  it("stops gracefully: polling ends at once, in-flight chunks finish and report, the rest stay queued", async () => {
    const queue = aws.createQueue();
    for (let i = 0; i < 10; i++) await aws.send(queue.url, makeEnvelope(i, { uploadId: "stop" }));
    const { consumer, events } = consumerFor(queue.url, {
      concurrency: 4,
      waitTimeSeconds: 20,
      handler: async (chunk) => {
        await sleep(400);
        return { accepted: chunk.rows.length, rejected: [] };
      },
    });
    consumer.start();
    await waitFor(() => consumer.status.inFlight === 4);
    const stopping = consumer.stop();
    expect(consumer.status.running).toBe(false);
    const result = await stopping;
    expect(result).toEqual({ timedOut: false, abandoned: 0 });
    expect(consumer.status).toEqual({ running: false, inFlight: 0, processed: 4, failed: 0 });
    expect(aws.sfnFake.accepted("SendTaskSuccess")).toHaveLength(4);
    expect(events.chunk_received).toHaveLength(4);
    expect(aws.depth(queue.name)).toEqual({ ready: 6, inflight: 0, delayed: 0 });

    // A consumer started later picks up the rest: nothing was lost.
    const second = consumerFor(queue.url, { concurrency: 4 });
    second.consumer.start();
    await waitFor(() => second.consumer.status.processed === 6);
    await second.consumer.stop();
    const tokens = aws.sfnFake.accepted("SendTaskSuccess").map((c) => c.taskToken);
    expect(new Set(tokens).size).toBe(10);
  });

  it("aborts a long poll at once when stopped while idle", async () => {
    const queue = aws.createQueue();
    const { consumer } = consumerFor(queue.url, { waitTimeSeconds: 20 });
    consumer.start();
    await sleep(200);
    const started = Date.now();
    await consumer.stop();
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("abandons handlers still running when stop's timeout runs out: not answered, not deleted", async () => {
    const queue = aws.createQueue();
    await aws.send(queue.url, makeEnvelope(0, { uploadId: "stuck" }));
    let aborted: unknown;
    const { consumer } = consumerFor(queue.url, {
      handler: async (_chunk, ctx) => {
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
        aborted = ctx.signal.reason;
        return { accepted: 3, rejected: [] };
      },
    });
    consumer.start();
    await waitFor(() => consumer.status.inFlight === 1);
    expect(await consumer.stop({ timeoutMs: 100 })).toEqual({ timedOut: true, abandoned: 1 });
    await waitFor(() => consumer.status.inFlight === 0);
    expect(aborted).toMatchObject({ code: "CONSUMER_STOPPING" });
    expect(aws.sfnFake.calls.filter((c) => c.action !== "SendTaskHeartbeat")).toEqual([]);
    expect(aws.depth(queue.name).inflight).toBe(1);
  });

  it("retries transient Step Functions errors (throttling, 5xx) and answers once", async () => {
    const queue = aws.createQueue();
    await aws.send(queue.url, makeEnvelope(0, { uploadId: "flaky" }));
    aws.sfnFake.failNext("SendTaskSuccess", 2, {
      status: 400,
      type: "ThrottlingException",
      message: "Rate exceeded",
    });
    const { consumer, events } = consumerFor(queue.url);
    consumer.start();
    await waitFor(() => consumer.status.processed === 1);
    await consumer.stop();
    expect(aws.sfnFake.calls.map((c) => [c.action, c.status])).toEqual([
      ["SendTaskSuccess", 400],
      ["SendTaskSuccess", 400],
      ["SendTaskSuccess", 200],
    ]);
    expect(events.error ?? []).toEqual([]);
    expect(aws.depth(queue.name)).toEqual({ ready: 0, inflight: 0, delayed: 0 });
  });
});
