import {
  ChunkEnvelopeSchema,
  CONTRACT_VERSION,
  type KeyedChunk,
  keyedChunk,
  TaskFailureCauseSchema,
  TaskResultSchema,
  unpackRejectedRows,
} from "@sluice/contract";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type ChunkConsumerOptions,
  ChunkRejectedError,
  type ConsumerEvents,
  createChunkConsumer,
} from "../src/index.ts";
import { chunkObjectOf, makeChunk, makeChunkObject } from "./support/envelopes.ts";
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
    s3: aws.s3,
    waitTimeSeconds: 1,
    retry: { attempts: 4, baseMs: 10, maxMs: 50 },
    handler: async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }),
    ...options,
  });
  const names: (keyof ConsumerEvents)[] = [
    "chunk_received",
    "chunk_succeeded",
    "chunk_failed",
    "chunk_released",
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
    await aws.sendChunks(queue.url, makeChunkObject("ok", { count: 7 }));
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
      expect(result).toMatchObject({
        v: CONTRACT_VERSION,
        uploadId: "ok",
        chunkIndex: index,
        accepted: 3,
        rejected: { reasons: [], rows: [] },
      });
      expect(result.durationMs).toBeGreaterThanOrEqual(0);
    }
    // Each report happened while its message was still in flight (not yet deleted); now the queue is empty.
    expect(inflightAtReport.every((n) => n >= 1)).toBe(true);
    expect(aws.depth(queue.name)).toEqual({ ready: 0, inflight: 0, delayed: 0 });
    expect(events.chunk_succeeded).toHaveLength(7);
    expect(events.stopped).toEqual([{ processed: 7, failed: 0, timedOut: false, abandoned: 0 }]);
    expect(consumer.status).toEqual({
      running: false,
      inFlight: 0,
      processed: 7,
      failed: 0,
      abandonedHandlers: 0,
    });
  });

  it("reports rejected rows, with messages cut to the contract's 1000 characters", async () => {
    const queue = aws.createQueue();
    await aws.sendChunks(queue.url, makeChunkObject("rej", { rows: 4 }));
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
    const rejected = unpackRejectedRows(result.rejected);
    expect(rejected.map((r) => [r.row, r.code])).toEqual([
      [2, "SKU_UNKNOWN"],
      [3, "QTY_INVALID"],
    ]);
    expect(rejected[1]?.message).toHaveLength(1000);
    expect(rejected[1]?.message.endsWith("…")).toBe(true);
    expect(events.chunk_succeeded?.[0]).toMatchObject({ accepted: 2, rejected: 2, chunkIndex: 0 });
    expect(aws.depth(queue.name).inflight + aws.depth(queue.name).ready).toBe(0);
  });

  it("fetches a chunk by byte range from an object holding several chunk lines and hands the handler its rows", async () => {
    const queue = aws.createQueue();
    // Chunks of different sizes, so every line has its own offset and length.
    const object = chunkObjectOf(
      [0, 1, 2, 3, 4].map((i) => makeChunk(i, { uploadId: "ranged", rows: i + 1 })),
    );
    await aws.sendChunks(queue.url, object, [3, 1]);
    const ranges: string[] = [];
    aws.s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "GetObjectCommand")
          ranges.push(String((args.input as { Range?: string }).Range));
        return next(args);
      },
      { step: "initialize", name: "recordRanges" },
    );
    const seen: KeyedChunk[] = [];
    const { consumer } = consumerFor(queue.url, {
      concurrency: 1,
      handler: async (chunk) => {
        seen.push(chunk);
        return { accepted: chunk.rows.length, rejected: [] };
      },
    });
    consumer.start();
    await waitFor(() => consumer.status.processed === 2);
    await consumer.stop();

    // The compact lines ([row, ...values] under `columns`) reach the handler keyed by column name.
    expect(seen).toEqual([keyedChunk(object.chunks[3]!), keyedChunk(object.chunks[1]!)]);
    expect(seen.map((c) => c.rows.length)).toEqual([4, 2]);
    expect(seen[1]?.columns).toEqual(["sku", "qty"]);
    expect(seen[1]?.rows).toEqual([
      { row: 4, data: { sku: "A-1-0", qty: 0 } },
      { row: 5, data: { sku: "A-1-1", qty: 1 } },
    ]);
    const range = (i: number) => {
      const p = object.pointers[i];
      return p ? `bytes=${p.offset}-${p.offset + p.length - 1}` : "";
    };
    expect(ranges).toEqual([range(3), range(1)]);
    expect(object.pointers[3]?.offset).toBeGreaterThan(0);
    expect(aws.sfnFake.accepted("SendTaskSuccess").map((c) => JSON.parse(c.output ?? "").accepted)).toEqual([
      4, 2,
    ]);
  });

  it.each<[string, (body: Buffer, start: number) => Buffer, RegExp]>([
    [
      "bytes changed after the pointer was made",
      (body, start) => {
        const copy = Buffer.from(body);
        // Same length, one different digit in the first row's sku: only the checksum can tell.
        const at = copy.indexOf("A-1-0", start);
        copy.write("A-1-9", at);
        return copy;
      },
      /SHA-256 of its bytes is .*, the pointer says/,
    ],
    [
      "the object cut short inside the chunk's range",
      (body, start) => body.subarray(0, start + 10),
      /10 bytes were read, the pointer says|GetObject returned 10 bytes/,
    ],
    [
      "the object ending before the chunk's range",
      (body, start) => body.subarray(0, start - 5),
      /the object ends before the pointer's byte range/,
    ],
  ])(
    "fails a tampered chunk (%s) with CHUNK_CHECKSUM_MISMATCH: handler never called, message deleted",
    async (_, tamper, reason) => {
      const queue = aws.createQueue();
      const object = makeChunkObject("tampered", { count: 3 });
      const pointer = object.pointers[1];
      if (!pointer) throw new Error("no pointer");
      await aws.sendChunks(queue.url, object, [1]);
      await aws.putObject(object.key, tamper(object.body, pointer.offset));
      let calls = 0;
      const { consumer, events } = consumerFor(queue.url, {
        handler: async () => {
          calls++;
          return { accepted: 0, rejected: [] };
        },
      });
      consumer.start();
      await waitFor(() => consumer.status.failed === 1);
      await consumer.stop();

      expect(calls).toBe(0);
      const failures = aws.sfnFake.accepted("SendTaskFailure");
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ taskToken: "token-tampered-1", error: "CHUNK_CHECKSUM_MISMATCH" });
      const cause = TaskFailureCauseSchema.strict().parse(JSON.parse(failures[0]?.cause ?? ""));
      expect(cause).toEqual({
        message: expect.stringMatching(reason),
        code: "CHUNK_CHECKSUM_MISMATCH",
        chunkIndex: 1,
        firstRow: 5,
        lastRow: 7,
        rows: 3,
        receiveCount: 1,
      });
      expect(cause.message).toContain(`Chunk 1 (rows 5 to 7, s3://${aws.bucket}/${object.key} bytes `);
      expect(events.chunk_failed?.[0]).toMatchObject({ chunkIndex: 1, error: "CHUNK_CHECKSUM_MISMATCH" });
      expect(events.chunk_released ?? []).toEqual([]);
      expect(aws.depth(queue.name)).toEqual({ ready: 0, inflight: 0, delayed: 0 });
    },
  );

  it("fails a chunk whose bytes are intact but are not the chunk the message names with CHUNK_INVALID", async () => {
    const queue = aws.createQueue();
    const object = makeChunkObject("mixed", { count: 2 });
    const [first, second] = object.envelopes;
    if (!first || !second) throw new Error("no envelopes");
    // The pointer of chunk 1 with chunk 0's bytes (checksum and all): the bytes are fine, the chunk is not.
    const swapped = { ...second, chunk: { ...object.pointers[0], index: 1, chunkId: second.chunk.chunkId } };
    await aws.putObject(object.key, object.body);
    await aws.send(queue.url, ChunkEnvelopeSchema.parse(swapped));
    const { consumer } = consumerFor(queue.url, { handler: async () => expect.unreachable() });
    consumer.start();
    await waitFor(() => consumer.status.failed === 1);
    await consumer.stop();
    const [failure] = aws.sfnFake.accepted("SendTaskFailure");
    expect(failure).toMatchObject({ taskToken: "token-mixed-1", error: "CHUNK_INVALID" });
    const cause = TaskFailureCauseSchema.parse(JSON.parse(failure?.cause ?? ""));
    expect(cause.message).toMatch(/is not the chunk the message names: index 0, the pointer's is 1; chunkId/);
    expect(cause).toMatchObject({ code: "CHUNK_INVALID", chunkIndex: 1 });
    expect(aws.depth(queue.name)).toEqual({ ready: 0, inflight: 0, delayed: 0 });
  });

  it("answers ChunkRejectedError (and any retryable: false error) with SendTaskFailure at once, naming the chunk", async () => {
    const queue = aws.createQueue();
    await aws.sendChunks(queue.url, makeChunkObject("refused", { count: 2, first: 5 }));
    const { consumer, events } = consumerFor(queue.url, {
      handler: async (chunk) => {
        if (chunk.index === 5) throw new ChunkRejectedError("tenant 42 does not exist");
        throw Object.assign(new Error("the orders table is gone"), { code: "DB_SCHEMA", retryable: false });
      },
    });
    consumer.start();
    await waitFor(() => consumer.status.failed === 2);
    await consumer.stop();
    const failures = aws.sfnFake.accepted("SendTaskFailure");
    const byToken = Object.fromEntries(failures.map((f) => [f.taskToken, f]));
    expect(byToken["token-refused-5"]).toMatchObject({ error: "CHUNK_REJECTED" });
    expect(JSON.parse(byToken["token-refused-5"]?.cause ?? "")).toEqual({
      message: "tenant 42 does not exist",
      code: "CHUNK_REJECTED",
      chunkIndex: 5,
      firstRow: 17,
      lastRow: 19,
      rows: 3,
      receiveCount: 1,
    });
    expect(byToken["token-refused-6"]).toMatchObject({ error: "DB_SCHEMA" });
    expect(aws.sfnFake.accepted("SendTaskSuccess")).toHaveLength(0);
    expect(events.chunk_failed?.map((e) => e.error).sort()).toEqual(["CHUNK_REJECTED", "DB_SCHEMA"]);
    expect(events.chunk_received).toHaveLength(2);
    expect(aws.depth(queue.name)).toEqual({ ready: 0, inflight: 0, delayed: 0 });
  });

  it("releases a chunk whose handler throws a plain Error: delivered again, then dead-lettered, never answered", async () => {
    const queue = aws.createQueue({ visibilityTimeout: 1, maxReceiveCount: 2 });
    const object = makeChunkObject("flaky-db", { first: 4 });
    await aws.sendChunks(queue.url, object);
    const receiveCounts: number[] = [];
    const { consumer, events } = consumerFor(queue.url, {
      visibilityTimeoutSeconds: 1,
      heartbeatSeconds: 0.5,
      handler: async (_chunk, ctx) => {
        receiveCounts.push(ctx.receiveCount);
        throw new Error("connection to the database was lost");
      },
    });
    consumer.start();
    await waitFor(() => aws.depth(queue.dlqName).ready === 1, 15_000, "the chunk in the DLQ");
    await consumer.stop();

    expect(receiveCounts).toEqual([1, 2]);
    expect(events.chunk_released).toEqual(
      [1, 2].map((receiveCount) => ({
        messageId: expect.any(String),
        uploadId: "flaky-db",
        chunkIndex: 4,
        receiveCount,
        error: "HANDLER_ERROR",
        message: "connection to the database was lost",
        retryInSeconds: 1,
      })),
    );
    expect(aws.sfnFake.calls.filter((c) => c.action !== "SendTaskHeartbeat")).toEqual([]);
    expect(events.chunk_failed ?? []).toEqual([]);
    expect(aws.depth(queue.name)).toEqual({ ready: 0, inflight: 0, delayed: 0 });
    // What the dead-letter handler gets: the message itself, task token included.
    const dead = aws.server.inspectQueue(queue.dlqName)?.messages.ready[0];
    expect(JSON.parse(dead?.body ?? "")).toEqual(object.envelopes[0]);
    expect(consumer.status).toMatchObject({ processed: 0, failed: 2 });
  });

  it("keeps a slow chunk alive past the queue's visibility timeout with heartbeats: no redelivery", async () => {
    const queue = aws.createQueue({ visibilityTimeout: 1 });
    await aws.sendChunks(queue.url, makeChunkObject("slow"));
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
    await aws.sendChunks(queue.url, makeChunkObject("late", { first: 1 }));
    const { consumer, events } = consumerFor(queue.url, {
      // The token dies while the handler works (after the check on receipt).
      handler: async (chunk) => {
        aws.sfnFake.expire("token-late-1");
        return { accepted: chunk.rows.length, rejected: [] };
      },
    });
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

  it("skips a chunk whose token died while it waited in the queue: never fetched or handled, message deleted", async () => {
    const queue = aws.createQueue();
    const object = makeChunkObject("dead", { count: 3 });
    await aws.sendChunks(queue.url, object);
    // The execution ended (or the deadline passed) before the admin server got to chunk 1.
    aws.sfnFake.expire("token-dead-1", "TaskDoesNotExist");
    const ranges: string[] = [];
    aws.s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "GetObjectCommand")
          ranges.push(String((args.input as { Range?: string }).Range));
        return next(args);
      },
      { step: "initialize", name: "recordRanges" },
    );
    const handled: number[] = [];
    const { consumer, events } = consumerFor(queue.url, {
      handler: async (chunk) => {
        handled.push(chunk.index);
        return { accepted: chunk.rows.length, rejected: [] };
      },
    });
    consumer.start();
    await waitFor(() => consumer.status.processed === 2 && consumer.status.failed === 1);
    await consumer.stop();
    expect(handled.sort()).toEqual([0, 2]);
    expect(ranges).toHaveLength(2);
    expect(events.token_stale).toEqual([
      {
        messageId: expect.any(String),
        uploadId: "dead",
        chunkIndex: 1,
        during: "receive",
        awsErrorName: "TaskDoesNotExist",
        message: expect.any(String),
        deleted: true,
      },
    ]);
    expect(
      aws.sfnFake.calls.filter((c) => c.taskToken === "token-dead-1").map((c) => [c.action, c.status]),
    ).toEqual([["SendTaskHeartbeat", 400]]);
    expect(events.error ?? []).toEqual([]);
    expect(aws.depth(queue.name)).toEqual({ ready: 0, inflight: 0, delayed: 0 });
  });

  it("frees a hung handler's slot at handlerTimeoutSeconds: the chunk comes back and a second try answers it", async () => {
    const queue = aws.createQueue({ visibilityTimeout: 30, maxReceiveCount: 3 });
    await aws.sendChunks(queue.url, makeChunkObject("hung", { count: 2 }));
    const attempts: { index: number; receiveCount: number }[] = [];
    let answerLate: (result: { accepted: number; rejected: [] }) => void = () => {};
    const { consumer, events } = consumerFor(queue.url, {
      concurrency: 1,
      handlerTimeoutSeconds: 0.5,
      heartbeatSeconds: 0.2,
      visibilityTimeoutSeconds: 30,
      handler: async (chunk, ctx) => {
        attempts.push({ index: chunk.index, receiveCount: ctx.receiveCount });
        if (chunk.index === 0 && ctx.receiveCount === 1) {
          // Hangs, deaf to ctx.signal.
          return new Promise((resolve) => {
            answerLate = resolve;
          });
        }
        return { accepted: chunk.rows.length, rejected: [] };
      },
    });
    consumer.start();
    await waitFor(() => consumer.status.processed === 2, 15_000, "both chunks answered");
    // The late answer of the first try: never sent.
    answerLate({ accepted: 3, rejected: [] });
    await sleep(200);
    await consumer.stop();

    // Chunk 1 ran in the slot chunk 0's hung handler was holding; chunk 0 came back after its 2 s release.
    expect(attempts).toEqual([
      { index: 0, receiveCount: 1 },
      { index: 1, receiveCount: 1 },
      { index: 0, receiveCount: 2 },
    ]);
    expect(events.chunk_released).toEqual([
      expect.objectContaining({
        chunkIndex: 0,
        receiveCount: 1,
        error: "HANDLER_TIMED_OUT",
        retryInSeconds: 2,
      }),
    ]);
    const answers = aws.sfnFake.calls.filter((c) => c.action !== "SendTaskHeartbeat");
    expect(answers.map((c) => [c.action, c.taskToken, c.status]).sort()).toEqual([
      ["SendTaskSuccess", "token-hung-0", 200],
      ["SendTaskSuccess", "token-hung-1", 200],
    ]);
    expect(events.token_stale ?? []).toEqual([]);
    expect(aws.depth(queue.name)).toEqual({ ready: 0, inflight: 0, delayed: 0 });
    expect(aws.depth(queue.dlqName).ready).toBe(0);
  });

  it("aborts ctx.signal when a heartbeat finds the token stale, and deletes without answering", async () => {
    const queue = aws.createQueue();
    await aws.sendChunks(queue.url, makeChunkObject("gone", { first: 2 }));
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
    await aws.send(queue.url, {
      v: CONTRACT_VERSION,
      kind: "chunk",
      taskToken: "token-bad-shape",
      uploadId: "bad",
    });
    // Received with the consumer's visibility timeout: a malformed message comes back after it.
    const { consumer, events } = consumerFor(queue.url, {
      visibilityTimeoutSeconds: 1,
      heartbeatSeconds: 0.5,
      handler: async () => expect.unreachable(),
    });
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

  it("answers a whole message of the previous contract (v 2) with MESSAGE_INVALID naming v: the upload fails at once", async () => {
    const queue = aws.createQueue({ visibilityTimeout: 1, maxReceiveCount: 1 });
    const object = makeChunkObject("old-contract");
    await aws.putObject(object.key, object.body, object.bucket);
    // Everything a message of this contract has, only its version is the one before (a stack not yet upgraded).
    await aws.send(queue.url, { ...object.envelopes[0]!, v: CONTRACT_VERSION - 1 });
    const { consumer, events } = consumerFor(queue.url, {
      visibilityTimeoutSeconds: 1,
      heartbeatSeconds: 0.5,
      handler: async () => expect.unreachable(),
    });
    consumer.start();
    await waitFor(() => aws.sfnFake.accepted("SendTaskFailure").length === 1, 10_000, "the task failed");
    await consumer.stop();
    const shape = (events.message_invalid ?? []).filter((e) => e.reason === "schema");
    expect(shape[0]?.issues.map((i) => i.path.join("."))).toEqual(["v"]);
    expect(aws.sfnFake.accepted("SendTaskFailure")[0]).toMatchObject({
      taskToken: object.envelopes[0]!.taskToken,
      error: "MESSAGE_INVALID",
    });
  });

  it("never holds more than `concurrency` chunks, and never asks for more messages than free slots", async () => {
    const queue = aws.createQueue();
    await aws.sendChunks(queue.url, makeChunkObject("many", { count: 25 }));
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
    await aws.sendChunks(queue.url, makeChunkObject("stop", { count: 10 }));
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
    expect(consumer.status).toEqual({
      running: false,
      inFlight: 0,
      processed: 4,
      failed: 0,
      abandonedHandlers: 0,
    });
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
    await aws.sendChunks(queue.url, makeChunkObject("stuck"));
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
    await aws.sendChunks(queue.url, makeChunkObject("flaky"));
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
      ["SendTaskHeartbeat", 200],
      ["SendTaskSuccess", 400],
      ["SendTaskSuccess", 400],
      ["SendTaskSuccess", 200],
    ]);
    expect(events.error ?? []).toEqual([]);
    expect(aws.depth(queue.name)).toEqual({ ready: 0, inflight: 0, delayed: 0 });
  });
});
