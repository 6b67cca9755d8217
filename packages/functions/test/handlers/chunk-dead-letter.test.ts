import { SendTaskFailureCommand, SFNClient } from "@aws-sdk/client-sfn";
import { type ChunkEnvelope, CONTRACT_VERSION, TaskFailureCauseSchema } from "@sluice/contract";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { createHandler } from "../../src/handlers/create-chunk-dead-letter-handler.ts";
import { BUCKET, chunkPointer, serviceError, silentLogger } from "../factories.ts";

const sfn = mockClient(SFNClient);

function handler() {
  return createHandler({
    sfn: new SFNClient({ region: "eu-west-1" }),
    maxReceiveCount: 5,
    logger: silentLogger(),
  });
}

function envelope(index: number, token = `token-${index}`): ChunkEnvelope {
  return {
    v: CONTRACT_VERSION,
    kind: "chunk",
    taskToken: token,
    uploadId: "orders-0123456789ab",
    source: { bucket: BUCKET, key: "uploads/orders.xlsx" },
    totals: { totalRows: 2000, totalChunks: 4 },
    chunk: chunkPointer(index, 2 + index * 500, 500),
  };
}

/** One record of the SQS event the dead-letter queue's event source mapping delivers. */
function record(messageId: string, body: unknown) {
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: typeof body === "string" ? body : JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: "1767607200000",
      SenderId: "AROA",
      ApproximateFirstReceiveTimestamp: "1767607200000",
    },
    messageAttributes: {},
    md5OfBody: "x",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:eu-west-1:123456789012:sluice-dead-letters",
    awsRegion: "eu-west-1",
  };
}

const event = (...records: unknown[]) => ({ Records: records });
const failures = () => sfn.commandCalls(SendTaskFailureCommand).map((c) => c.args[0].input);

describe("chunk dead-letter handler", () => {
  beforeEach(() => {
    sfn.reset();
    sfn.on(SendTaskFailureCommand).resolves({});
  });

  it("fails each dead-lettered chunk's task with CHUNK_DEAD_LETTERED and a cause naming the chunk", async () => {
    const output = await handler()(event(record("m-3", envelope(3)), record("m-0", envelope(0))));
    expect(output).toEqual({ batchItemFailures: [] });
    const sent = failures();
    expect(sent.map((f) => [f.taskToken, f.error])).toEqual([
      ["token-3", "CHUNK_DEAD_LETTERED"],
      ["token-0", "CHUNK_DEAD_LETTERED"],
    ]);
    const cause = TaskFailureCauseSchema.parse(JSON.parse(sent[0]?.cause ?? "null"));
    expect(cause).toEqual({
      message:
        "Chunk 3 (rows 1502-2001, 500 rows) of upload orders-0123456789ab was received 5 times without an answer: the admin server failed on it or never finished it",
      code: "CHUNK_DEAD_LETTERED",
      chunkIndex: 3,
      firstRow: 1502,
      lastRow: 2001,
      rows: 500,
      receiveCount: 5,
    });
  });

  it.each(["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"])(
    "drops a message whose task already ended (%s)",
    async (name) => {
      sfn.on(SendTaskFailureCommand).rejects(serviceError(name, "The task is closed"));
      const output = await handler()(event(record("m-1", envelope(1))));
      expect(output).toEqual({ batchItemFailures: [] });
      expect(failures()).toHaveLength(1);
    },
  );

  it("retries only the messages whose SendTaskFailure failed for another reason (throttling, network)", async () => {
    sfn
      .on(SendTaskFailureCommand, { taskToken: "token-1" })
      .rejects(serviceError("ThrottlingException", "Rate exceeded"));
    sfn.on(SendTaskFailureCommand, { taskToken: "token-2" }).rejects(new Error("socket hang up"));
    const output = await handler()(
      event(record("m-0", envelope(0)), record("m-1", envelope(1)), record("m-2", envelope(2))),
    );
    expect(output).toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }, { itemIdentifier: "m-2" }] });
    expect(failures()).toHaveLength(3);
  });

  it("fails the task of a message that is not a chunk envelope but carries a task token, as MESSAGE_INVALID", async () => {
    const output = await handler()(
      event(
        record("m-1", { v: 1, kind: "chunk", taskToken: "old-token", uploadId: "u", chunk: { rows: [] } }),
      ),
    );
    expect(output).toEqual({ batchItemFailures: [] });
    const [sent] = failures();
    expect(sent).toMatchObject({ taskToken: "old-token", error: "MESSAGE_INVALID" });
    const cause = TaskFailureCauseSchema.parse(JSON.parse(sent?.cause ?? "null"));
    expect(cause).toMatchObject({ code: "MESSAGE_INVALID", receiveCount: 5 });
    expect(cause.message).toMatch(/is not a chunk envelope/);
  });

  it("drops a message that names no task (not JSON, or no token) without calling Step Functions", async () => {
    const output = await handler()(
      event(record("m-1", "not json at all"), record("m-2", { hello: "world" }), record("m-3", [1, 2])),
    );
    expect(output).toEqual({ batchItemFailures: [] });
    expect(failures()).toHaveLength(0);
  });

  it("never fails the batch for one bad record: a record without a messageId is skipped", async () => {
    const output = await handler()(event({ body: "x" }, record("m-1", envelope(1))));
    expect(output).toEqual({ batchItemFailures: [] });
    expect(failures().map((f) => f.taskToken)).toEqual(["token-1"]);
  });

  it("rejects an event that is not an SQS event as INVALID_OPTION", async () => {
    await expect(handler()({ detail: {} })).rejects.toMatchObject({ code: "INVALID_OPTION" });
  });
});
