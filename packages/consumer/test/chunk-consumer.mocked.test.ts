import { SendTaskHeartbeatCommand, SendTaskSuccessCommand, SFNClient } from "@aws-sdk/client-sfn";
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type ChunkConsumerOptions, type ConsumerEvents, createChunkConsumer } from "../src/index.ts";
import { makeEnvelope } from "./support/envelopes.ts";

const queueUrl = "https://sqs.us-east-1.amazonaws.com/000000000000/chunks";
const sqsMock = mockClient(SQSClient);
const sfnMock = mockClient(SFNClient);
const idleReceive = () => new Promise<{ Messages: [] }>((r) => setTimeout(() => r({ Messages: [] }), 100));

function awsError(name: string, status: number): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
}

function message(index: number) {
  return {
    MessageId: `m-${index}`,
    ReceiptHandle: `rh-${index}`,
    Body: JSON.stringify(makeEnvelope(index)),
    Attributes: { ApproximateReceiveCount: "1" },
  };
}

function create(options: Partial<ChunkConsumerOptions> = {}) {
  const errors: ConsumerEvents["error"][] = [];
  const consumer = createChunkConsumer({
    queueUrl,
    sqs: new SQSClient({ region: "us-east-1" }),
    sfn: new SFNClient({ region: "us-east-1" }),
    retry: { attempts: 3, baseMs: 1, maxMs: 5 },
    handler: async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }),
    ...options,
  });
  consumer.on("error", (e) => errors.push(e));
  return { consumer, errors };
}

beforeEach(() => {
  sqsMock.reset();
  sfnMock.reset();
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

  it("asks for min(10, free slots) messages with long polling and the receive count", async () => {
    sqsMock.on(ReceiveMessageCommand).callsFake(idleReceive);
    const { consumer } = create({ concurrency: 25, waitTimeSeconds: 7 });
    consumer.start();
    await vi.waitFor(() => expect(sqsMock.commandCalls(ReceiveMessageCommand).length).toBeGreaterThan(0));
    await consumer.stop();
    expect(sqsMock.commandCalls(ReceiveMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 7,
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
});
