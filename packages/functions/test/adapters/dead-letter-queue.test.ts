import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { DeadLetterRecord } from "@sluice/core";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { DeadLetterQueue, queueNameFromUrl } from "../../src/adapters/dead-letter-queue.ts";
import { DLQ_URL } from "../factories.ts";

const sqs = mockClient(SQSClient);
const record: DeadLetterRecord = {
  v: 1,
  kind: "upload-failure",
  uploadId: "up-1",
  executionArn: "arn:aws:states:eu-west-1:1:execution:m:up-1",
  source: { bucket: "b", key: "k.csv" },
  error: { code: "WORKBOOK_CORRUPT", cause: "bad zip" },
  failedAt: "2026-01-05T10:00:00.000Z",
};

describe("DeadLetterQueue", () => {
  const client = new SQSClient({ region: "eu-west-1" });
  beforeEach(() => {
    sqs.reset();
    sqs.on(SendMessageCommand).resolves({ MessageId: "m-1" });
  });

  it("sends the record as JSON with kind and error code attributes", async () => {
    const queue = new DeadLetterQueue({ client, queueUrl: DLQ_URL });
    expect(queue.name).toBe("sluice-dead-letters");
    expect(await queue.send(record)).toBe("m-1");
    const input = sqs.commandCalls(SendMessageCommand)[0]?.args[0].input;
    expect(JSON.parse(input?.MessageBody ?? "")).toEqual(record);
    expect(input?.MessageAttributes?.errorCode?.StringValue).toBe("WORKBOOK_CORRUPT");
    expect(input).not.toHaveProperty("MessageGroupId");
  });

  it("groups by upload and deduplicates a retried send on a FIFO queue", async () => {
    const queue = new DeadLetterQueue({ client, queueUrl: `${DLQ_URL}.fifo` });
    await queue.send(record);
    await queue.send({ ...record, failedAt: "2026-01-05T10:00:05.000Z" });
    const [first, second] = sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(first?.MessageGroupId).toBe("up-1");
    expect(first?.MessageDeduplicationId).toMatch(/^[0-9a-f]{64}$/);
    expect(second?.MessageDeduplicationId).toBe(first?.MessageDeduplicationId);
  });

  it("refuses a record that breaks the contract, sending nothing", async () => {
    const queue = new DeadLetterQueue({ client, queueUrl: DLQ_URL });
    await expect(queue.send({ ...record, uploadId: "" })).rejects.toThrow();
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it.each([
    ["https://sqs.eu-west-1.amazonaws.com/123/q-name", "q-name"],
    ["http://localhost:4566/000000000000/local-dlq/", "local-dlq"],
  ])("names the queue from %s", (url, name) => {
    expect(queueNameFromUrl(url)).toBe(name);
  });
});
