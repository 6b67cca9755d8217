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
  ChunkRejectedError,
  type ConsumerEvents,
  createChunkConsumer,
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
  return { consumer, errors, released, failed };
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
    await vi.advanceTimersByTimeAsync(29_000);
    expect(sfnMock.commandCalls(SendTaskHeartbeatCommand)).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sfnMock.commandCalls(SendTaskHeartbeatCommand)).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sfnMock.commandCalls(SendTaskHeartbeatCommand)).toHaveLength(3);
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
    expect(sfnMock.commandCalls(SendTaskHeartbeatCommand)).toHaveLength(3);
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
      expect(consumer.status).toMatchObject({ processed: 0, failed: 1 });
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
