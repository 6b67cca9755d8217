import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  GetExecutionHistoryCommand,
  ListMapRunsCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { CONTRACT_VERSION, type FailureRecord } from "@sluice/contract";
import { InvalidOptionError } from "@sluice/core";
import { STATE } from "@sluice/workflow";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { bucketTarget, s3ClientFor } from "../src/commands/bucket-options.ts";
import { redriveUpload, runRedrive } from "../src/commands/redrive-command.ts";
import { reprocessUpload } from "../src/commands/reprocess.ts";
import { runStatus } from "../src/commands/status-command.ts";
import { fetchUploadStatus, totalsFromHistory } from "../src/commands/upload-status.ts";

/** The operator commands against AWS, with the SDK clients mocked: which calls, with which ARNs. */

const STATE_MACHINE = "arn:aws:states:ap-northeast-2:123456789012:stateMachine:sluice-prod-upload";
const EXECUTION =
  "arn:aws:states:ap-northeast-2:123456789012:execution:sluice-prod-upload:orders-3f9c2a1b7e4d";
const MAP_RUN = `${EXECUTION.replace(":execution:", ":mapRun:")}/DeliverChunks:abc`;
const UPLOAD_ID = "orders-3f9c2a1b7e4d";
const BUCKET = "sluice-prod-uploads-1a2b3c";
const RECORD_KEY = `processed/${UPLOAD_ID}/failure.json`;

const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);
afterEach(() => {
  sfn.reset();
  s3.reset();
});

describe("status in the cloud", () => {
  it("reads DescribeExecution, the convert step's totals from the history, and the Map Run's counts", async () => {
    const convertOutput = {
      uploadId: "orders-3f9c2a1b7e4d",
      convert: { totalRows: 20_000, totalChunks: 40, processed: { prefix: "processed/x/" } },
    };
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: EXECUTION,
      status: "RUNNING",
      startDate: new Date(1_000_000),
      input: "{}",
      redriveCount: 0,
    });
    sfn
      .on(GetExecutionHistoryCommand, { executionArn: EXECUTION, nextToken: undefined })
      .resolves({
        events: [
          { id: 1, timestamp: new Date(), type: "ExecutionStarted" },
          {
            id: 2,
            timestamp: new Date(),
            type: "PassStateExited",
            stateExitedEventDetails: { name: "x", output: "{}" },
          },
        ],
        nextToken: "page-2",
      })
      .on(GetExecutionHistoryCommand, { executionArn: EXECUTION, nextToken: "page-2" })
      .resolves({
        events: [
          {
            id: 9,
            timestamp: new Date(),
            type: "TaskStateExited",
            stateExitedEventDetails: { name: STATE.convert, output: JSON.stringify(convertOutput) },
          },
        ],
      });
    sfn.on(ListMapRunsCommand).resolves({
      mapRuns: [
        { mapRunArn: MAP_RUN, executionArn: EXECUTION, stateMachineArn: "x", startDate: new Date(1_010_000) },
      ],
    });
    sfn.on(DescribeMapRunCommand).resolves({
      mapRunArn: MAP_RUN,
      executionArn: EXECUTION,
      status: "RUNNING",
      startDate: new Date(1_010_000),
      maxConcurrency: 4,
      toleratedFailurePercentage: 0,
      toleratedFailureCount: 0,
      itemCounts: {
        pending: 10,
        running: 4,
        succeeded: 10,
        failed: 0,
        timedOut: 1,
        aborted: 0,
        total: 25,
        resultsWritten: 0,
      },
      executionCounts: {
        pending: 10,
        running: 4,
        succeeded: 10,
        failed: 0,
        timedOut: 1,
        aborted: 0,
        total: 25,
        resultsWritten: 0,
      },
    });

    const status = await fetchUploadStatus(
      new SFNClient({}),
      STATE_MACHINE,
      "orders-3f9c2a1b7e4d",
      1_030_000,
    );
    expect(status).toMatchObject({
      executionArn: EXECUTION,
      status: "RUNNING",
      totalRows: 20_000,
      totalChunks: 40,
      chunksDone: 10,
      chunksInFlight: 4,
      chunksFailed: 1,
      chunksPending: 25,
      percent: 25,
      chunksPerSecond: 0.5,
      rowsPerSecond: 250,
      etaSeconds: 60,
      mapRun: { mapRunArn: MAP_RUN, status: "RUNNING", maxConcurrency: 4 },
    });
    expect(sfn.commandCalls(DescribeExecutionCommand)[0]!.args[0].input).toEqual({ executionArn: EXECUTION });
    expect(sfn.commandCalls(ListMapRunsCommand)[0]!.args[0].input).toMatchObject({ executionArn: EXECUTION });
    expect(sfn.commandCalls(DescribeMapRunCommand)[0]!.args[0].input).toEqual({ mapRunArn: MAP_RUN });
    expect(sfn.commandCalls(GetExecutionHistoryCommand)).toHaveLength(2);
  });

  it("says the upload does not exist", async () => {
    sfn
      .on(DescribeExecutionCommand)
      .rejects(Object.assign(new Error("nope"), { name: "ExecutionDoesNotExist" }));
    await expect(fetchUploadStatus(new SFNClient({}), STATE_MACHINE, "missing")).rejects.toThrow(/no upload/);
  });

  it("finds the totals only in a state-exited output with convert.totalRows/totalChunks", () => {
    expect(
      totalsFromHistory([
        {
          id: 1,
          timestamp: new Date(),
          type: "TaskStateExited",
          stateExitedEventDetails: { name: "a", output: "not json" },
        },
        {
          id: 2,
          timestamp: new Date(),
          type: "TaskStateEntered",
          stateEnteredEventDetails: {
            name: STATE.convert,
            input: '{"convert":{"totalRows":1,"totalChunks":1}}',
          },
        },
      ]),
    ).toBeUndefined();
  });
});

describe("status in the cloud: the failure record", () => {
  const input = {
    uploadId: UPLOAD_ID,
    source: { bucket: BUCKET, key: "uploads/orders.xlsx", versionId: "v1" },
    receivedAt: "2026-03-01T00:00:00.000Z",
  };
  const record: FailureRecord = {
    v: CONTRACT_VERSION,
    kind: "upload-failure",
    uploadId: UPLOAD_ID,
    executionArn: EXECUTION,
    status: "FAILED",
    redriveCount: 0,
    source: input.source,
    processed: { bucket: BUCKET, prefix: `processed/${UPLOAD_ID}/` },
    error: { code: "DUPLICATE_ORDER", cause: "Order ORD-2026-001200 (row 1501) was already imported" },
    failedChunk: { index: 2, firstRow: 1002, lastRow: 1501, rows: 500 },
    chunks: { total: 4, succeeded: 3, failed: 1, pending: 0 },
    failedAt: "2026-03-01T00:05:00.000Z",
  };
  /** A GetObject body as the SDK gives it (only what the command reads). */
  const objectBody = (text: string) =>
    ({
      transformToString: async () => text,
      transformToByteArray: async () => Buffer.from(text),
    }) as never;

  function execution(status: string, redriveCount = 0) {
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: EXECUTION,
      stateMachineArn: STATE_MACHINE,
      status: status as "FAILED",
      startDate: new Date(1_000_000),
      ...(status === "RUNNING" ? {} : { stopDate: new Date(1_060_000) }),
      input: JSON.stringify(input),
      redriveCount,
      ...(status === "FAILED"
        ? {
            error: "States.ExceedToleratedFailureThreshold",
            cause: "The specified tolerated failure threshold was exceeded",
          }
        : {}),
      ...(status === "SUCCEEDED" ? { output: '{"rows":2000}' } : {}),
    });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    sfn.on(ListMapRunsCommand).resolves({ mapRuns: [] });
  }
  const status = async (argv: string[] = [], env: NodeJS.ProcessEnv = {}) => {
    const lines: string[] = [];
    const result = await runStatus(
      [UPLOAD_ID, "--state-machine-arn", STATE_MACHINE, ...argv],
      (l) => lines.push(l),
      env,
    );
    return { result, lines };
  };

  it("reads processed/<uploadId>/failure.json from the bucket the upload came from and shows the failed chunk", async () => {
    execution("FAILED");
    s3.on(GetObjectCommand).resolves({ Body: objectBody(JSON.stringify(record)) });
    const { result, lines } = await status();
    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input)).toEqual([
      { Bucket: BUCKET, Key: RECORD_KEY },
    ]);
    expect(result).toMatchObject({
      status: "FAILED",
      error: "States.ExceedToleratedFailureThreshold",
      source: input.source,
      failureRecord: { found: true, bucket: BUCKET, key: RECORD_KEY, record },
    });
    expect(lines).toEqual([
      `upload ${UPLOAD_ID}: FAILED`,
      "totals: not converted yet",
      "error States.ExceedToleratedFailureThreshold: The specified tolerated failure threshold was exceeded",
      `failure record: s3://${BUCKET}/${RECORD_KEY}`,
      "failed chunk: index 2, rows 1,002-1,501 (500 rows): DUPLICATE_ORDER: Order ORD-2026-001200 (row 1501) was already imported",
      "chunks when it failed: 3 of 4 succeeded, 1 failed, 0 pending",
      `run what failed again (no re-upload): sluice redrive ${UPLOAD_ID}`,
    ]);
  });

  it("takes the bucket from --bucket, else SLUICE_BUCKET", async () => {
    execution("TIMED_OUT");
    s3.on(GetObjectCommand).resolves({
      Body: objectBody(JSON.stringify({ ...record, status: "TIMED_OUT" })),
    });
    await status([], { SLUICE_BUCKET: "from-env-bucket" });
    await status(["--bucket", "from-option-bucket"], { SLUICE_BUCKET: "from-env-bucket" });
    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Bucket)).toEqual([
      "from-env-bucket",
      "from-option-bucket",
    ]);
    await expect(status(["--bucket", "Not_A_Bucket"])).rejects.toThrow(InvalidOptionError);
  });

  it.each([
    [
      "no object",
      () =>
        s3
          .on(GetObjectCommand)
          .rejects(Object.assign(new Error("The specified key does not exist."), { name: "NoSuchKey" })),
      /NoSuchKey/,
    ],
    [
      "no permission",
      () =>
        s3.on(GetObjectCommand).rejects(Object.assign(new Error("Access Denied"), { name: "AccessDenied" })),
      /AccessDenied: Access Denied/,
    ],
    ["not JSON", () => s3.on(GetObjectCommand).resolves({ Body: objectBody("<html>") }), /not JSON/],
    [
      "not a failure record",
      () => s3.on(GetObjectCommand).resolves({ Body: objectBody('{"kind":"summary"}') }),
      /not a failure record/,
    ],
  ])('says "failure record not found" and still answers the status: %s', async (_, answer, reason) => {
    execution("FAILED");
    answer();
    const { result, lines } = await status();
    expect(result).toMatchObject({
      status: "FAILED",
      failureRecord: { found: false, bucket: BUCKET, key: RECORD_KEY },
    });
    expect(result.failureRecord).toMatchObject({ reason: expect.stringMatching(reason) });
    expect(lines.at(-1)).toMatch(new RegExp(`^failure record not found \\(s3://${BUCKET}/${RECORD_KEY}: `));
  });

  it("does not show the record of an earlier attempt as this failure's", async () => {
    execution("FAILED", 1);
    s3.on(GetObjectCommand).resolves({ Body: objectBody(JSON.stringify(record)) });
    const { result, lines } = await status();
    expect(result.failureRecord).toMatchObject({
      found: false,
      reason: expect.stringMatching(/earlier attempt \(redrive count 0/),
    });
    expect(lines.at(-1)).toMatch(/^failure record not found/);
  });

  it("reads nothing from S3 while the upload runs or once it succeeded", async () => {
    execution("RUNNING");
    expect((await status()).result.failureRecord).toBeUndefined();
    sfn.reset();
    execution("SUCCEEDED");
    expect((await status()).result.failureRecord).toBeUndefined();
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
  });

  it("reads through the default chain in AWS, path-style with any credentials at a local endpoint", async () => {
    const aws = s3ClientFor(bucketTarget({}, "ap-northeast-2", {}), {});
    expect(await aws.config.region()).toBe("ap-northeast-2");
    expect(aws.config.endpoint).toBeUndefined();
    expect(aws.config.forcePathStyle).toBe(false);
    const target = bucketTarget({}, "us-east-1", {
      AWS_ENDPOINT_URL_S3: "http://127.0.0.1:4566",
      SLUICE_BUCKET: "sluice-uploads",
    });
    expect(target).toEqual({
      region: "us-east-1",
      bucket: "sluice-uploads",
      endpoint: "http://127.0.0.1:4566",
    });
    const local = s3ClientFor(target, {});
    expect(await local.config.endpoint!()).toMatchObject({ hostname: "127.0.0.1", port: 4566 });
    expect(local.config.forcePathStyle).toBe(true);
    expect(await local.config.credentials()).toMatchObject({ accessKeyId: "local" });
    expect(() => bucketTarget({ "s3-endpoint": "localhost:4566" }, "us-east-1", {})).toThrow(/--s3-endpoint/);
    aws.destroy();
    local.destroy();
  });
});

describe("redrive in the cloud", () => {
  it("calls RedriveExecution with the upload's execution ARN", async () => {
    sfn.on(RedriveExecutionCommand).resolves({ redriveDate: new Date("2026-03-01T00:00:00Z") });
    const result = await redriveUpload(new SFNClient({}), STATE_MACHINE, "orders-3f9c2a1b7e4d");
    expect(sfn.commandCalls(RedriveExecutionCommand).map((c) => c.args[0].input)).toEqual([
      { executionArn: EXECUTION },
    ]);
    expect(result).toEqual({ executionArn: EXECUTION, redriveDate: "2026-03-01T00:00:00.000Z" });
  });

  it("refuses --dlq (and the options that went with it) as bad usage, saying what to run instead", async () => {
    for (const argv of [
      ["--dlq"],
      [UPLOAD_ID, "--dlq", "--state-machine-arn", STATE_MACHINE],
      ["--dlq=true"],
      [UPLOAD_ID, "--dlq-url", "https://sqs.ap-northeast-2.amazonaws.com/123456789012/dlq"],
    ]) {
      const refused = await runRedrive(argv, () => {}, {}).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(InvalidOptionError);
      expect((refused as InvalidOptionError).retryable).toBe(false);
      expect((refused as Error).message).toMatch(
        /--dlq is gone: .*CHUNK_DEAD_LETTERED.*"sluice redrive <upload-id>"/s,
      );
    }
    expect(sfn.calls()).toHaveLength(0);
  });
});

describe("reprocess in the cloud", () => {
  it("starts <uploadId>-r2 with the original source, or the next free -rN", async () => {
    const input = {
      uploadId: "orders-3f9c2a1b7e4d",
      source: { bucket: "b", key: "uploads/orders.xlsx", versionId: "v1" },
      receivedAt: "2026-03-01T00:00:00.000Z",
    };
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION, input: JSON.stringify(input) });
    sfn
      .on(StartExecutionCommand, { name: "orders-3f9c2a1b7e4d-r2" })
      .rejects(Object.assign(new Error("exists"), { name: "ExecutionAlreadyExists" }))
      .on(StartExecutionCommand, { name: "orders-3f9c2a1b7e4d-r3" })
      .resolves({ executionArn: `${EXECUTION}-r3`, startDate: new Date() });
    const result = await reprocessUpload(
      new SFNClient({}),
      STATE_MACHINE,
      "orders-3f9c2a1b7e4d",
      () => new Date("2026-03-02T00:00:00Z"),
    );
    expect(result).toEqual({
      uploadId: "orders-3f9c2a1b7e4d",
      reprocessId: "orders-3f9c2a1b7e4d-r3",
      executionArn: `${EXECUTION}-r3`,
    });
    const started = sfn.commandCalls(StartExecutionCommand).at(-1)!.args[0].input;
    expect(started.stateMachineArn).toBe(STATE_MACHINE);
    expect(JSON.parse(started.input!)).toEqual({
      ...input,
      uploadId: "orders-3f9c2a1b7e4d-r3",
      receivedAt: "2026-03-02T00:00:00.000Z",
    });
  });
});
