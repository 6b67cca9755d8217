import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { ExecutionInputSchema } from "@sluice/contract";
import { deriveUploadId } from "@sluice/core";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { createHandler } from "../../src/handlers/create-start-handler.ts";
import { BUCKET, STATE_MACHINE_ARN, s3Event, s3Record, serviceError, silentLogger } from "../factories.ts";

const sfn = mockClient(SFNClient);

function handler() {
  return createHandler({
    sfn: new SFNClient({ region: "eu-west-1" }),
    stateMachineArn: STATE_MACHINE_ARN,
    logger: silentLogger(),
  });
}

function sentInputs() {
  return sfn.commandCalls(StartExecutionCommand).map((call) => call.args[0].input);
}

describe("start handler", () => {
  beforeEach(() => {
    sfn.reset();
    sfn.on(StartExecutionCommand).callsFake((input) => ({
      executionArn: `${input.stateMachineArn}:${input.name}`,
      startDate: new Date(),
    }));
  });

  it("starts one execution named by the upload id, with the execution input", async () => {
    const result = await handler()(s3Event(s3Record({ key: "uploads/orders.xlsx", versionId: "v42" })));
    const uploadId = deriveUploadId("uploads/orders.xlsx", "v42");
    expect(result).toEqual({ started: [uploadId], duplicates: [] });
    const [sent] = sentInputs();
    expect(sent?.stateMachineArn).toBe(STATE_MACHINE_ARN);
    expect(sent?.name).toBe(uploadId);
    const input = ExecutionInputSchema.parse(JSON.parse(sent?.input ?? ""));
    expect(input).toEqual({
      uploadId,
      source: { bucket: BUCKET, key: "uploads/orders.xlsx", versionId: "v42" },
      receivedAt: "2026-01-05T10:00:00.000Z",
    });
  });

  it.each([
    ["+ is a space", "uploads/Q1+orders+%282026%29.xlsx", "uploads/Q1 orders (2026).xlsx"],
    ["percent-encoded UTF-8", "uploads/commandes-%C3%A9t%C3%A9.csv", "uploads/commandes-été.csv"],
    ["an encoded plus stays a plus", "uploads/a%2Bb.csv", "uploads/a+b.csv"],
  ])("decodes the key: %s", async (_name, encoded, decoded) => {
    await handler()(s3Event(s3Record({ key: encoded })));
    const input = JSON.parse(sentInputs()[0]?.input ?? "");
    expect(input.source.key).toBe(decoded);
    expect(input.uploadId).toBe(deriveUploadId(decoded, "0123456789abcdef0123456789abcdef"));
  });

  it("fingerprints by version id, else etag, else size", async () => {
    await handler()(
      s3Event(
        s3Record({ key: "a.csv", versionId: "v1", eTag: "e1" }),
        s3Record({ key: "a.csv", eTag: "e1" }),
        s3Record({ key: "a.csv", eTag: "", size: 77 }),
      ),
    );
    expect(sentInputs().map((i) => i?.name)).toEqual([
      deriveUploadId("a.csv", "v1"),
      deriveUploadId("a.csv", "e1"),
      deriveUploadId("a.csv", "77"),
    ]);
    expect(JSON.parse(sentInputs()[1]?.input ?? "").source).not.toHaveProperty("versionId");
  });

  it("treats ExecutionAlreadyExists as a duplicate event: success, nothing new started", async () => {
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(new ExecutionAlreadyExists({ message: "Execution Already Exists", $metadata: {} }))
      .resolves({ executionArn: "arn:x", startDate: new Date() });
    const result = await handler()(s3Event(s3Record({ key: "a.csv" }), s3Record({ key: "b.csv" })));
    expect(result).toEqual({
      started: [deriveUploadId("b.csv", "0123456789abcdef0123456789abcdef")],
      duplicates: [deriveUploadId("a.csv", "0123456789abcdef0123456789abcdef")],
    });
  });

  it("ignores folder markers", async () => {
    const result = await handler()(
      s3Event(s3Record({ key: "uploads/2026/" }), s3Record({ key: "uploads/x.csv" })),
    );
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
    expect(result.started).toHaveLength(1);
  });

  it("ignores records that are not ObjectCreated", async () => {
    const result = await handler()(s3Event(s3Record({ key: "x.csv", eventName: "ObjectRemoved:Delete" })));
    expect(result).toEqual({ started: [], duplicates: [] });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it("handles an event without records (the S3 test event)", async () => {
    await expect(handler()({} as never)).resolves.toEqual({ started: [], duplicates: [] });
  });

  it("starts the other records, then throws naming the ones that failed, so Lambda retries the event", async () => {
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(serviceError("ThrottlingException", "Rate exceeded"))
      .resolves({ executionArn: "arn:x", startDate: new Date() });
    await expect(handler()(s3Event(s3Record({ key: "a.csv" }), s3Record({ key: "b.csv" })))).rejects.toThrow(
      /Starting 1 execution\(s\) failed: a-[0-9a-f]{12}: ThrottlingException: Rate exceeded/,
    );
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(2);
  });
});
