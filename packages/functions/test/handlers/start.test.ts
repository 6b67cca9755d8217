import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { ExecutionInputSchema, formUploadKey } from "@sluice/contract";
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

const alreadyExists = () =>
  new ExecutionAlreadyExists({ message: "Execution Already Exists", $metadata: {} });
const FORM_ID = "orders-march-0123456789ab";
const FORM_KEY = formUploadKey({ uploadId: FORM_ID, extension: "xlsx", tenant: "acme" });

/** Step Functions holding one execution named `name` whose input is `input` (any other name starts). */
function existingExecution(name: string, input: object) {
  sfn.on(StartExecutionCommand).callsFake((command) => {
    if (command.name === name) throw alreadyExists();
    return { executionArn: `${command.stateMachineArn}:${command.name}`, startDate: new Date() };
  });
  sfn.on(DescribeExecutionCommand).callsFake((command) => {
    if (!command.executionArn.endsWith(`:execution:sluice-upload:${name}`))
      throw Object.assign(new Error("Execution Does Not Exist"), { name: "ExecutionDoesNotExist" });
    return { executionArn: command.executionArn, status: "SUCCEEDED", input: JSON.stringify(input) };
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

  describe("a form's key", () => {
    it("names the execution after the form's upload id, not a derived one", async () => {
      const result = await handler()(s3Event(s3Record({ key: FORM_KEY, versionId: "v1" })));
      expect(result).toEqual({ started: [FORM_ID], duplicates: [] });
      const [sent] = sentInputs();
      expect(sent?.name).toBe(FORM_ID);
      expect(JSON.parse(sent?.input ?? "")).toMatchObject({
        uploadId: FORM_ID,
        source: { bucket: BUCKET, key: FORM_KEY, versionId: "v1" },
      });
      expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(0);
    });

    it("a duplicate event for the same version: DescribeExecution confirms it, nothing new starts", async () => {
      const record = s3Record({ key: FORM_KEY, versionId: "v1" });
      existingExecution(FORM_ID, {
        uploadId: FORM_ID,
        source: { bucket: BUCKET, key: FORM_KEY, versionId: "v1" },
        receivedAt: "2026-01-05T10:00:00.000Z",
      });
      const result = await handler()(s3Event(record));
      expect(result).toEqual({ started: [], duplicates: [FORM_ID] });
      expect(sfn.commandCalls(DescribeExecutionCommand)[0]?.args[0].input).toEqual({
        executionArn: `arn:aws:states:eu-west-1:123456789012:execution:sluice-upload:${FORM_ID}`,
      });
      expect(sentInputs().map((i) => i?.name)).toEqual([FORM_ID]);
    });

    it("another version PUT to the same key starts under the id derived from its key and version", async () => {
      existingExecution(FORM_ID, {
        uploadId: FORM_ID,
        source: { bucket: BUCKET, key: FORM_KEY, versionId: "v1" },
        receivedAt: "2026-01-05T09:00:00.000Z",
      });
      const result = await handler()(s3Event(s3Record({ key: FORM_KEY, versionId: "v2" })));
      const derived = deriveUploadId(FORM_KEY, "v2");
      expect(result).toEqual({ started: [derived], duplicates: [] });
      expect(sentInputs().map((i) => i?.name)).toEqual([FORM_ID, derived]);
      expect(JSON.parse(sentInputs()[1]?.input ?? "")).toEqual({
        uploadId: derived,
        source: { bucket: BUCKET, key: FORM_KEY, versionId: "v2" },
        receivedAt: "2026-01-05T10:00:00.000Z",
      });
    });

    it("that other version's event delivered again is a duplicate of its derived execution", async () => {
      const derived = deriveUploadId(FORM_KEY, "v2");
      sfn.on(StartExecutionCommand).rejects(alreadyExists());
      sfn.on(DescribeExecutionCommand).resolves({
        input: JSON.stringify({
          uploadId: FORM_ID,
          source: { bucket: BUCKET, key: FORM_KEY, versionId: "v1" },
          receivedAt: "2026-01-05T09:00:00.000Z",
        }),
      });
      const result = await handler()(s3Event(s3Record({ key: FORM_KEY, versionId: "v2" })));
      expect(result).toEqual({ started: [], duplicates: [derived] });
      expect(sentInputs().map((i) => i?.name)).toEqual([FORM_ID, derived]);
    });

    it("without version ids (an unversioned bucket), a PUT at another time is another object", async () => {
      const record = s3Record({ key: FORM_KEY, eTag: "e2", eventTime: "2026-01-05T11:00:00.000Z" });
      existingExecution(FORM_ID, {
        uploadId: FORM_ID,
        source: { bucket: BUCKET, key: FORM_KEY },
        receivedAt: "2026-01-05T10:00:00.000Z",
      });
      expect(await handler()(s3Event(record))).toEqual({
        started: [deriveUploadId(FORM_KEY, "e2")],
        duplicates: [],
      });
      // The same event again (same time) is the same object.
      const again = s3Record({ key: FORM_KEY, eTag: "e2", eventTime: "2026-01-05T10:00:00.000Z" });
      expect(await handler()(s3Event(again))).toEqual({ started: [], duplicates: [FORM_ID] });
    });

    it("a failing DescribeExecution fails the record so Lambda retries the event; other records still start", async () => {
      sfn
        .on(StartExecutionCommand)
        .rejectsOnce(alreadyExists())
        .resolves({ executionArn: "arn:x", startDate: new Date() });
      sfn.on(DescribeExecutionCommand).rejects(serviceError("ThrottlingException", "Rate exceeded"));
      await expect(
        handler()(s3Event(s3Record({ key: FORM_KEY, versionId: "v2" }), s3Record({ key: "uploads/b.csv" }))),
      ).rejects.toThrow(`Starting 1 execution(s) failed: ${FORM_ID}: ThrottlingException: Rate exceeded`);
      expect(sentInputs().map((i) => i?.name)).toEqual([
        FORM_ID,
        deriveUploadId("uploads/b.csv", "0123456789abcdef0123456789abcdef"),
      ]);
    });

    it.each([
      ["a key outside the form folder", "uploads/orders-march-0123456789ab.xlsx"],
      ["an extension a form never writes", "uploads/forms/orders-march-0123456789ab.pdf"],
    ])("%s keeps its derived id", async (_name, key) => {
      await handler()(s3Event(s3Record({ key, versionId: "v1" })));
      expect(sentInputs()[0]?.name).toBe(deriveUploadId(key, "v1"));
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
