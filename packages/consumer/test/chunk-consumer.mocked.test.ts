import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
} from "@aws-sdk/client-sfn";
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { TaskFailureCauseSchema } from "@sluice/contract";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type ChunkConsumerOptions,
  type ChunkContext,
  ChunkRejectedError,
  type ConsumerEvents,
  createChunkConsumer,
  HandlerTimedOutError,
} from "../src/index.ts";
import { envelopeOf, makeChunkObject, serveObjects } from "./support/envelopes.ts";

const queueUrl = "https://sqs.us-east-1.amazonaws.com/000000000000/chunks";
const sqsMock = mockClient(SQSClient);
const sfnMock = mockClient(SFNClient);
const s3Mock = mockClient(S3Client);
/** Chunks 0 to 9 of upload-1, in one chunks.jsonl that the S3 mock serves by range. */
const upload = makeChunkObject("upload-1", { count: 10 });
const objects = new Map([[`${upload.bucket}/${upload.key}`, upload.body]]);
const idleReceive = () => new Promise<{ Messages: [] }>((r) => setTimeout(() => r({ Messages: [] }), 100));

function awsError(name: string, status: number): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
}

function message(index: number, receiveCount = 1) {
  return {
    MessageId: `m-${index}`,
    ReceiptHandle: `rh-${index}`,
    Body: JSON.stringify(envelopeOf(upload, index)),
    Attributes: { ApproximateReceiveCount: String(receiveCount) },
  };
}

function create(options: Partial<ChunkConsumerOptions> = {}) {
  const errors: ConsumerEvents["error"][] = [];
  const released: ConsumerEvents["chunk_released"][] = [];
  const failed: ConsumerEvents["chunk_failed"][] = [];
  const stale: ConsumerEvents["token_stale"][] = [];
  const consumer = createChunkConsumer({
    queueUrl,
    sqs: new SQSClient({ region: "us-east-1" }),
    sfn: new SFNClient({ region: "us-east-1" }),
    s3: new S3Client({ region: "us-east-1" }),
    retry: { attempts: 3, baseMs: 1, maxMs: 5 },
    handler: async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }),
    ...options,
  });
  consumer.on("error", (e) => errors.push(e));
  consumer.on("chunk_released", (e) => released.push(e));
  consumer.on("chunk_failed", (e) => failed.push(e));
  consumer.on("token_stale", (e) => stale.push(e));
  return { consumer, errors, released, failed, stale };
}

beforeEach(() => {
  sqsMock.reset();
  sfnMock.reset();
  s3Mock.reset();
  s3Mock.on(GetObjectCommand).callsFake(serveObjects(objects));
  sqsMock.on(DeleteMessageCommand).resolves({});
  sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
  sfnMock.on(SendTaskSuccessCommand).resolves({});
  sfnMock.on(SendTaskHeartbeatCommand).resolves({});
});
afterEach(() => {
  vi.useRealTimers();
});

describe("chunk consumer with mocked clients", () => {
  it("survives receive errors: emits error, backs off, polls again", async () => {
    sqsMock
      .on(ReceiveMessageCommand)
      .rejectsOnce(awsError("AccessDenied", 403))
      .rejectsOnce(awsError("ServiceUnavailable", 503))
      .resolvesOnce({ Messages: [message(0)] })
      .callsFake(idleReceive);
    const { consumer, errors } = create();
    consumer.start();
    await vi.waitFor(() => expect(consumer.status.processed).toBe(1));
    await consumer.stop();
    expect(errors.map((e) => [e.operation, (e.error as Error).name])).toEqual([
      ["receive", "AccessDenied"],
      ["receive", "ServiceUnavailable"],
    ]);
    expect(sqsMock.commandCalls(DeleteMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: queueUrl,
      ReceiptHandle: "rh-0",
    });
  });

  it("asks for min(10, free slots) messages with long polling, its own visibility timeout and the receive count", async () => {
    sqsMock.on(ReceiveMessageCommand).callsFake(idleReceive);
    const { consumer } = create({
      concurrency: 25,
      waitTimeSeconds: 7,
      visibilityTimeoutSeconds: 90,
      heartbeatSeconds: 20,
    });
    consumer.start();
    await vi.waitFor(() => expect(sqsMock.commandCalls(ReceiveMessageCommand).length).toBeGreaterThan(0));
    await consumer.stop();
    expect(sqsMock.commandCalls(ReceiveMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 7,
      VisibilityTimeout: 90,
      MessageSystemAttributeNames: ["ApproximateReceiveCount"],
    });
  });

  it("beats every heartbeatSeconds while the handler runs: SendTaskHeartbeat + ChangeMessageVisibility", async () => {
    vi.useFakeTimers();
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message(3)] })
      .callsFake(idleReceive);
    let finish: () => void = () => {};
    const { consumer } = create({
      concurrency: 1,
      heartbeatSeconds: 30,
      visibilityTimeoutSeconds: 120,
      handler: async (chunk) => {
        await new Promise<void>((resolve) => {
          finish = resolve;
        });
        return { accepted: chunk.rows.length, rejected: [] };
      },
    });
    consumer.start();
    // One on receipt (is the token alive?), then one every 30 s.
    await vi.advanceTimersByTimeAsync(29_000);
    expect(sfnMock.commandCalls(SendTaskHeartbeatCommand)).toHaveLength(1);
    expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand)).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sfnMock.commandCalls(SendTaskHeartbeatCommand)).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sfnMock.commandCalls(SendTaskHeartbeatCommand)).toHaveLength(4);
    // The chunk was fetched by its byte range before the handler ran.
    const pointer = upload.pointers[3];
    expect(s3Mock.commandCalls(GetObjectCommand).map((c) => c.args[0].input)).toEqual([
      {
        Bucket: upload.bucket,
        Key: upload.key,
        Range: `bytes=${pointer?.offset}-${(pointer?.offset ?? 0) + (pointer?.length ?? 0) - 1}`,
      },
    ]);
    expect(sfnMock.commandCalls(SendTaskHeartbeatCommand)[0]?.args[0].input).toEqual({
      taskToken: "token-upload-1-3",
    });
    expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input)).toEqual(
      Array(3).fill({ QueueUrl: queueUrl, ReceiptHandle: "rh-3", VisibilityTimeout: 120 }),
    );
    finish();
    await vi.advanceTimersByTimeAsync(10);
    expect(consumer.status.processed).toBe(1);
    // No beats after the answer.
    await vi.advanceTimersByTimeAsync(120_000);
    expect(sfnMock.commandCalls(SendTaskHeartbeatCommand)).toHaveLength(4);
    const stopped = consumer.stop();
    await vi.advanceTimersByTimeAsync(1_000);
    await stopped;
  });

  it("reports a failed delete as an error event and still counts the chunk answered", async () => {
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message(1)] })
      .callsFake(idleReceive);
    sqsMock.on(DeleteMessageCommand).rejects(awsError("ReceiptHandleIsInvalid", 400));
    const { consumer, errors } = create();
    consumer.start();
    await vi.waitFor(() => expect(consumer.status.processed).toBe(1));
    await consumer.stop();
    expect(errors.map((e) => [e.operation, e.messageId])).toEqual([["delete", "m-1"]]);
    // Not transient: one try only.
    expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(1);
  });

  it("leaves the message for redelivery when the answer cannot be delivered (non-transient, not stale)", async () => {
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message(2)] })
      .callsFake(idleReceive);
    sfnMock.on(SendTaskSuccessCommand).rejects(awsError("AccessDeniedException", 400));
    const { consumer, errors } = create();
    consumer.start();
    await vi.waitFor(() => expect(consumer.status.failed).toBe(1));
    await consumer.stop();
    expect(errors.map((e) => e.operation)).toEqual(["report_success"]);
    expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(0);
  });

  it("gives up on a transient error after retry.attempts tries", async () => {
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message(4)] })
      .callsFake(idleReceive);
    sfnMock.on(SendTaskSuccessCommand).rejects(awsError("ThrottlingException", 400));
    const { consumer, errors } = create({ retry: { attempts: 3, baseMs: 1, maxMs: 2 } });
    consumer.start();
    await vi.waitFor(() => expect(consumer.status.failed).toBe(1));
    await consumer.stop();
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(3);
    expect(errors.map((e) => e.operation)).toEqual(["report_success"]);
  });

  it("a listener that throws never breaks the loop", async () => {
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message(5), message(6)] })
      .callsFake(idleReceive);
    const logger = { warn: vi.fn(), error: vi.fn() };
    const { consumer } = create({ logger });
    consumer.on("chunk_received", () => {
      throw new Error("listener bug");
    });
    consumer.start();
    await vi.waitFor(() => expect(consumer.status.processed).toBe(2));
    await consumer.stop();
    expect(logger.error).toHaveBeenCalledWith(
      'sluice consumer: a listener of "chunk_received" threw',
      expect.any(Error),
    );
  });

  it.each<[string, Error, number]>([
    ["a transient error (503), retried", awsError("ServiceUnavailable", 503), 3],
    ["NoSuchKey, not retried", awsError("NoSuchKey", 404), 1],
    ["AccessDenied, not retried", awsError("AccessDenied", 403), 1],
  ])(
    "leaves a chunk whose GetObject fails with %s for redelivery: no answer, error event fetch_chunk",
    async (_, error, tries) => {
      sqsMock
        .on(ReceiveMessageCommand)
        .resolvesOnce({ Messages: [message(2)] })
        .callsFake(idleReceive);
      s3Mock.on(GetObjectCommand).rejects(error);
      const handler = vi.fn(async () => ({ accepted: 0, rejected: [] }));
      const { consumer, errors, released } = create({ handler });
      consumer.start();
      await vi.waitFor(() => expect(released).toHaveLength(1));
      await consumer.stop();
      expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(tries);
      expect(handler).not.toHaveBeenCalled();
      expect(errors).toEqual([{ operation: "fetch_chunk", error, messageId: "m-2" }]);
      expect(released[0]).toEqual({
        messageId: "m-2",
        uploadId: "upload-1",
        chunkIndex: 2,
        receiveCount: 1,
        error: error.name,
        message: error.message,
        retryInSeconds: 2,
      });
      expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
      expect(sfnMock.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
      expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(0);
      expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input)).toEqual([
        { QueueUrl: queueUrl, ReceiptHandle: "rh-2", VisibilityTimeout: 2 },
      ]);
      expect(consumer.status).toMatchObject({ processed: 0, failed: 1, abandonedHandlers: 0 });
    },
  );

  it.each<[number, number, number]>([
    [1, 120, 2],
    [3, 120, 8],
    [6, 120, 64],
    [8, 120, 120],
    [3, 5, 5],
  ])(
    "releases a transient handler error on receive %i (visibility %i s) for %i s: no answer, no delete",
    async (receiveCount, visibilityTimeoutSeconds, delay) => {
      sqsMock
        .on(ReceiveMessageCommand)
        .resolvesOnce({ Messages: [message(7, receiveCount)] })
        .callsFake(idleReceive);
      const { consumer, released, errors } = create({
        visibilityTimeoutSeconds,
        heartbeatSeconds: 1,
        handler: async () => {
          throw Object.assign(new TypeError("cannot read properties of undefined"), { retryable: true });
        },
      });
      consumer.start();
      await vi.waitFor(() => expect(released).toHaveLength(1));
      await consumer.stop();
      expect(released[0]).toMatchObject({
        chunkIndex: 7,
        receiveCount,
        error: "TypeError",
        retryInSeconds: delay,
      });
      expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input)).toEqual([
        { QueueUrl: queueUrl, ReceiptHandle: "rh-7", VisibilityTimeout: delay },
      ]);
      expect(sfnMock.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
      expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(0);
      expect(errors).toEqual([]);
    },
  );

  it("answers ChunkRejectedError with SendTaskFailure CHUNK_REJECTED at once and deletes the message", async () => {
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message(1, 2)] })
      .callsFake(idleReceive);
    sfnMock.on(SendTaskFailureCommand).resolves({});
    const { consumer, released, failed } = create({
      handler: async () => {
        throw new ChunkRejectedError("the upload's tenant was deleted");
      },
    });
    consumer.start();
    await vi.waitFor(() => expect(failed).toHaveLength(1));
    await consumer.stop();
    const [call] = sfnMock.commandCalls(SendTaskFailureCommand);
    expect(call?.args[0].input).toMatchObject({ taskToken: "token-upload-1-1", error: "CHUNK_REJECTED" });
    expect(TaskFailureCauseSchema.strict().parse(JSON.parse(call?.args[0].input.cause ?? ""))).toEqual({
      message: "the upload's tenant was deleted",
      code: "CHUNK_REJECTED",
      chunkIndex: 1,
      firstRow: 5,
      lastRow: 7,
      rows: 3,
      receiveCount: 2,
    });
    expect(released).toEqual([]);
    expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(1);
    expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand)).toHaveLength(0);
  });

  it("fails a chunk over maxChunkBytes with CHUNK_TOO_LARGE without fetching it", async () => {
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message(0)] })
      .callsFake(idleReceive);
    sfnMock.on(SendTaskFailureCommand).resolves({});
    const { consumer, failed } = create({ maxChunkBytes: 16 });
    consumer.start();
    await vi.waitFor(() => expect(failed).toHaveLength(1));
    await consumer.stop();
    expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(0);
    expect(failed[0]).toMatchObject({ chunkIndex: 0, error: "CHUNK_TOO_LARGE" });
    expect(JSON.parse(failed[0]?.cause ?? "").message).toMatch(
      new RegExp(`is ${upload.pointers[0]?.length} bytes, more than maxChunkBytes \\(16\\)`),
    );
    expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(1);
  });
});

describe("the token is checked on receipt, before any work", () => {
  it.each(["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"])(
    "skips a chunk whose token is dead (%s): no fetch, handler never called, message deleted, token_stale",
    async (name) => {
      sqsMock
        .on(ReceiveMessageCommand)
        .resolvesOnce({ Messages: [message(3, 2)] })
        .callsFake(idleReceive);
      sfnMock.on(SendTaskHeartbeatCommand).rejects(awsError(name, 400));
      const handler = vi.fn(async () => ({ accepted: 3, rejected: [] }));
      const { consumer, stale, errors, released, failed } = create({ handler });
      consumer.start();
      await vi.waitFor(() => expect(stale).toHaveLength(1));
      await consumer.stop();
      expect(stale[0]).toEqual({
        messageId: "m-3",
        uploadId: "upload-1",
        chunkIndex: 3,
        during: "receive",
        awsErrorName: name,
        message: name,
        deleted: true,
      });
      expect(handler).not.toHaveBeenCalled();
      expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(0);
      // Not retried: the token will not come back to life.
      expect(sfnMock.commandCalls(SendTaskHeartbeatCommand).map((c) => c.args[0].input)).toEqual([
        { taskToken: "token-upload-1-3" },
      ]);
      expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
      expect(sfnMock.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
      expect(sqsMock.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input)).toEqual([
        { QueueUrl: queueUrl, ReceiptHandle: "rh-3" },
      ]);
      expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand)).toHaveLength(0);
      expect([errors, released, failed]).toEqual([[], [], []]);
      expect(consumer.status).toMatchObject({ processed: 0, failed: 1, inFlight: 0 });
    },
  );

  it("beats before it fetches the chunk", async () => {
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message(0)] })
      .callsFake(idleReceive);
    const order: string[] = [];
    sfnMock.on(SendTaskHeartbeatCommand).callsFake(() => {
      order.push("SendTaskHeartbeat");
      return {};
    });
    s3Mock.on(GetObjectCommand).callsFake((input) => {
      order.push("GetObject");
      return serveObjects(objects)(input);
    });
    const { consumer } = create({
      handler: async (chunk) => {
        order.push("handler");
        return { accepted: chunk.rows.length, rejected: [] };
      },
    });
    consumer.start();
    await vi.waitFor(() => expect(consumer.status.processed).toBe(1));
    await consumer.stop();
    expect(order).toEqual(["SendTaskHeartbeat", "GetObject", "handler"]);
  });

  it.each<[string, Error, number]>([
    ["throttling, retried", awsError("ThrottlingException", 400), 3],
    ["a 503, retried", awsError("ServiceUnavailable", 503), 3],
    ["a network reset, retried", Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), 3],
    [
      "AccessDeniedException (no states:SendTaskHeartbeat), not retried",
      awsError("AccessDeniedException", 400),
      1,
    ],
  ])(
    "does not drop the chunk when the receipt heartbeat fails with %s: error event, then the work goes on",
    async (_, error, tries) => {
      sqsMock
        .on(ReceiveMessageCommand)
        .resolvesOnce({ Messages: [message(4)] })
        .callsFake(idleReceive);
      sfnMock.on(SendTaskHeartbeatCommand).rejects(error);
      const handler = vi.fn(async (chunk: { rows: unknown[] }) => ({
        accepted: chunk.rows.length,
        rejected: [],
      }));
      const { consumer, errors, stale } = create({ handler });
      consumer.start();
      await vi.waitFor(() => expect(consumer.status.processed).toBe(1));
      await consumer.stop();
      expect(sfnMock.commandCalls(SendTaskHeartbeatCommand)).toHaveLength(tries);
      expect(errors).toEqual([{ operation: "heartbeat", error, messageId: "m-4" }]);
      expect(handler).toHaveBeenCalledTimes(1);
      expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
      expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(1);
      expect(stale).toEqual([]);
    },
  );

  it("retries a throttled receipt heartbeat and says nothing when the next try succeeds", async () => {
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message(5)] })
      .callsFake(idleReceive);
    sfnMock.on(SendTaskHeartbeatCommand).rejectsOnce(awsError("ThrottlingException", 400)).resolves({});
    const { consumer, errors } = create();
    consumer.start();
    await vi.waitFor(() => expect(consumer.status.processed).toBe(1));
    await consumer.stop();
    expect(sfnMock.commandCalls(SendTaskHeartbeatCommand)).toHaveLength(2);
    expect(errors).toEqual([]);
  });
});

describe("handlerTimeoutSeconds", () => {
  it("frees the slot of a handler that ignores ctx.signal, releases its message and never sends its late answer", async () => {
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message(0)] })
      .resolvesOnce({ Messages: [message(1)] })
      .callsFake(idleReceive);
    let hung: ChunkContext | undefined;
    let answerLate: (result: { accepted: number; rejected: [] }) => void = () => {};
    const { consumer, released, errors } = create({
      concurrency: 1,
      handlerTimeoutSeconds: 0.2,
      handler: async (chunk, ctx) => {
        if (chunk.index !== 0) return { accepted: chunk.rows.length, rejected: [] };
        hung = ctx;
        // Ignores ctx.signal.
        return new Promise((resolve) => {
          answerLate = resolve;
        });
      },
    });
    consumer.start();
    // With one slot, chunk 1 is received only once chunk 0's slot was freed.
    await vi.waitFor(() => expect(consumer.status.processed).toBe(1));
    expect(released).toEqual([
      {
        messageId: "m-0",
        uploadId: "upload-1",
        chunkIndex: 0,
        receiveCount: 1,
        error: "HANDLER_TIMED_OUT",
        message: expect.stringContaining("did not finish within handlerTimeoutSeconds (0.2 s)"),
        retryInSeconds: 2,
      },
    ]);
    expect(hung?.signal.aborted).toBe(true);
    expect(hung?.signal.reason).toBeInstanceOf(HandlerTimedOutError);
    expect(hung?.signal.reason).toMatchObject({ code: "HANDLER_TIMED_OUT", retryable: true });
    // Released for redelivery with the transient backoff; its visibility is no longer extended.
    expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input)).toEqual([
      { QueueUrl: queueUrl, ReceiptHandle: "rh-0", VisibilityTimeout: 2 },
    ]);

    // The abandoned handler answers late, and beats: nothing is sent for it.
    const beatsBefore = sfnMock.commandCalls(SendTaskHeartbeatCommand).length;
    await expect(hung?.heartbeat()).rejects.toBeInstanceOf(HandlerTimedOutError);
    answerLate({ accepted: 3, rejected: [] });
    await new Promise((r) => setTimeout(r, 50));
    await consumer.stop();
    expect(sfnMock.commandCalls(SendTaskHeartbeatCommand)).toHaveLength(beatsBefore);
    expect(sfnMock.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input.taskToken)).toEqual([
      "token-upload-1-1",
    ]);
    expect(sfnMock.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
    expect(sqsMock.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input.ReceiptHandle)).toEqual([
      "rh-1",
    ]);
    expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand)).toHaveLength(1);
    expect(errors).toEqual([]);
    expect(consumer.status).toEqual({
      running: false,
      inFlight: 0,
      processed: 1,
      failed: 1,
      abandonedHandlers: 0,
    });
  });

  it("gives back the slots of at most `concurrency` hung handlers: past that a hung handler keeps its slot until it settles", async () => {
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message(0)] })
      .resolvesOnce({ Messages: [message(1)] })
      .resolvesOnce({ Messages: [message(2)] })
      .callsFake(idleReceive);
    const handled: number[] = [];
    const settle: (() => void)[] = [];
    const { consumer, released } = create({
      concurrency: 1,
      handlerTimeoutSeconds: 0.1,
      handler: async (chunk) => {
        handled.push(chunk.index);
        if (chunk.index === 2) return { accepted: chunk.rows.length, rejected: [] };
        // Deaf to ctx.signal, each holding its chunk, until the test lets it go.
        await new Promise<void>((resolve) => settle.push(resolve));
        return { accepted: chunk.rows.length, rejected: [] };
      },
    });
    consumer.start();
    await vi.waitFor(() => expect(released).toHaveLength(2));
    // Chunk 0's hung handler gave its slot to chunk 1; chunk 1's, the second one hung with one slot, keeps it.
    await new Promise((r) => setTimeout(r, 400));
    expect(handled).toEqual([0, 1]);
    expect(sqsMock.commandCalls(ReceiveMessageCommand)).toHaveLength(2);
    expect(consumer.status).toMatchObject({ inFlight: 0, abandonedHandlers: 2, processed: 0 });

    // One of them settles (its answer ignored): the slot comes back and chunk 2 is received and answered.
    settle[0]!();
    await vi.waitFor(() => expect(consumer.status.processed).toBe(1));
    expect(handled).toEqual([0, 1, 2]);
    expect(consumer.status.abandonedHandlers).toBe(1);
    settle[1]!();
    await vi.waitFor(() => expect(consumer.status.abandonedHandlers).toBe(0));
    await consumer.stop();
    expect(sfnMock.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input.taskToken)).toEqual([
      "token-upload-1-2",
    ]);
    expect(released.map((e) => [e.chunkIndex, e.error])).toEqual([
      [0, "HANDLER_TIMED_OUT"],
      [1, "HANDLER_TIMED_OUT"],
    ]);
  });

  it("lets stop() resolve within the handler timeout when a handler hangs forever", async () => {
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message(2)] })
      .callsFake(idleReceive);
    const { consumer, released } = create({
      handlerTimeoutSeconds: 0.3,
      handler: () => new Promise(() => {}),
    });
    consumer.start();
    await vi.waitFor(() => expect(consumer.status.inFlight).toBe(1));
    const started = Date.now();
    // No stop timeout: it waits for the chunk in hand, and the handler timeout bounds that wait.
    expect(await consumer.stop()).toEqual({ timedOut: false, abandoned: 0 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(released.map((e) => [e.chunkIndex, e.error])).toEqual([[2, "HANDLER_TIMED_OUT"]]);
    expect(consumer.status.inFlight).toBe(0);
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
    expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(0);
  });

  it("ignores an abandoned handler's late rejection: no unhandled rejection, nothing sent", async () => {
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message(6)] })
      .callsFake(idleReceive);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const { consumer, released } = create({
        handlerTimeoutSeconds: 0.1,
        handler: () =>
          new Promise((_, reject) =>
            setTimeout(() => reject(new ChunkRejectedError("too late to refuse")), 300),
          ),
      });
      consumer.start();
      await vi.waitFor(() => expect(released).toHaveLength(1));
      await new Promise((r) => setTimeout(r, 400));
      await consumer.stop();
      expect(unhandled).toEqual([]);
      expect(sfnMock.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
      expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(0);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});

describe("the handler's result is checked against its chunk", () => {
  it.each<[string, { accepted: number; rejected: { row: number; code: string; message: string }[] }, string]>(
    [
      [
        "999 accepted rows for 3",
        { accepted: 999, rejected: [] },
        "accepted (999) + rejected (0) = 999 rows, more than the chunk's 3",
      ],
      [
        "the same row rejected twice",
        {
          accepted: 1,
          rejected: [
            { row: 6, code: "BAD", message: "bad" },
            { row: 6, code: "WORSE", message: "worse" },
          ],
        },
        "row 6 is rejected more than once",
      ],
      [
        "a row of another chunk",
        { accepted: 2, rejected: [{ row: 8, code: "BAD", message: "bad" }] },
        "rejected row 8 is not in the chunk (rows 5 to 7)",
      ],
    ],
  )(
    "fails the chunk with HANDLER_RESULT_INVALID for %s, the cause saying what was wrong",
    async (_, answer, problem) => {
      sqsMock
        .on(ReceiveMessageCommand)
        .resolvesOnce({ Messages: [message(1)] })
        .callsFake(idleReceive);
      sfnMock.on(SendTaskFailureCommand).resolves({});
      const { consumer, failed, released } = create({ handler: async () => answer });
      consumer.start();
      await vi.waitFor(() => expect(failed).toHaveLength(1));
      await consumer.stop();
      expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
      const [call] = sfnMock.commandCalls(SendTaskFailureCommand);
      expect(call?.args[0].input).toMatchObject({
        taskToken: "token-upload-1-1",
        error: "HANDLER_RESULT_INVALID",
      });
      expect(TaskFailureCauseSchema.strict().parse(JSON.parse(call?.args[0].input.cause ?? ""))).toEqual({
        message: `The handler's result for chunk 1 does not fit the chunk's 3 rows: ${problem}`,
        code: "HANDLER_RESULT_INVALID",
        chunkIndex: 1,
        firstRow: 5,
        lastRow: 7,
        rows: 3,
        receiveCount: 1,
      });
      expect(released).toEqual([]);
      expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(1);
      expect(consumer.status).toMatchObject({ processed: 0, failed: 1, abandonedHandlers: 0 });
    },
  );
});
