import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  GetExecutionHistoryCommand,
  ListMapRunsCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { SQSClient, StartMessageMoveTaskCommand } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { STATE } from "../../../stacks/upload-workflow.ts";
import { MessageMoveTaskMover, queueArnFromUrl } from "../src/commands/dead-letter-mover.ts";
import { deadLetterMoverFor, redriveUpload } from "../src/commands/redrive-command.ts";
import { reprocessUpload } from "../src/commands/reprocess.ts";
import { computeProgress, fetchUploadStatus, totalsFromHistory } from "../src/commands/upload-status.ts";

/** The operator commands against AWS, with the SDK clients mocked: which calls, with which ARNs. */

const STATE_MACHINE = "arn:aws:states:ap-northeast-2:123456789012:stateMachine:sluice-prod-upload";
const EXECUTION =
  "arn:aws:states:ap-northeast-2:123456789012:execution:sluice-prod-upload:orders-3f9c2a1b7e4d";
const MAP_RUN = `${EXECUTION.replace(":execution:", ":mapRun:")}/DeliverChunks:abc`;
const CHUNK_QUEUE = "https://sqs.ap-northeast-2.amazonaws.com/123456789012/sluice-prod-chunks";
const DLQ = "https://sqs.ap-northeast-2.amazonaws.com/123456789012/sluice-prod-dead-letters";

const sfn = mockClient(SFNClient);
const sqs = mockClient(SQSClient);
afterEach(() => {
  sfn.reset();
  sqs.reset();
});

describe("computeProgress (rate and ETA)", () => {
  const base = { totalRows: 10_000, totalChunks: 20, running: 0, failed: 0, stoppedAt: null };
  it.each([
    [
      "mid-way",
      { ...base, succeeded: 5, running: 4, startedAt: 0, now: 10_000 },
      {
        chunksDone: 5,
        chunksInFlight: 4,
        chunksPending: 11,
        percent: 25,
        chunksPerSecond: 0.5,
        rowsPerSecond: 250,
        etaSeconds: 30,
      },
    ],
    [
      "nothing done yet: no rate, no ETA",
      { ...base, succeeded: 0, running: 2, startedAt: 0, now: 5_000 },
      { chunksPerSecond: null, rowsPerSecond: null, etaSeconds: null, percent: 0, chunksPending: 18 },
    ],
    [
      "all done",
      { ...base, succeeded: 20, startedAt: 0, stoppedAt: 8_000, now: 60_000 },
      { percent: 100, etaSeconds: 0, chunksPerSecond: 2.5, rowsPerSecond: 1250, chunksPending: 0 },
    ],
    [
      "stopped with failures: no ETA",
      { ...base, succeeded: 3, failed: 1, startedAt: 0, stoppedAt: 3_000, now: 9_000 },
      { etaSeconds: null, chunksFailed: 1, chunksPending: 16, chunksPerSecond: 1 },
    ],
    [
      "totals not known yet",
      { ...base, totalRows: null, totalChunks: null, succeeded: 0, startedAt: null, now: 1 },
      { percent: null, chunksPending: null, etaSeconds: null },
    ],
    [
      "a workbook with no chunks",
      { ...base, totalRows: 0, totalChunks: 0, succeeded: 0, startedAt: null, now: 1 },
      { percent: 100, etaSeconds: 0 },
    ],
  ])("%s", (_, input, expected) => {
    expect(computeProgress(input)).toMatchObject(expected);
  });

  it("rounds the ETA up to a whole second", () => {
    expect(computeProgress({ ...base, succeeded: 3, startedAt: 0, now: 7_000 }).etaSeconds).toBe(
      Math.ceil(17 / (3 / 7)),
    );
  });
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

describe("redrive in the cloud", () => {
  it("calls RedriveExecution with the upload's execution ARN", async () => {
    sfn.on(RedriveExecutionCommand).resolves({ redriveDate: new Date("2026-03-01T00:00:00Z") });
    const result = await redriveUpload(new SFNClient({}), STATE_MACHINE, "orders-3f9c2a1b7e4d");
    expect(sfn.commandCalls(RedriveExecutionCommand).map((c) => c.args[0].input)).toEqual([
      { executionArn: EXECUTION },
    ]);
    expect(result).toEqual({ executionArn: EXECUTION, redriveDate: "2026-03-01T00:00:00.000Z" });
  });

  it("moves the dead-letter queue with StartMessageMoveTask from the DLQ's ARN to the chunk queue's", async () => {
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: "handle-1" });
    const mover = deadLetterMoverFor({
      sqs: new SQSClient({}),
      chunkQueueUrl: CHUNK_QUEUE,
      deadLetterQueueUrl: DLQ,
      local: false,
    });
    expect(mover).toBeInstanceOf(MessageMoveTaskMover);
    expect(await mover.move()).toEqual({ taskHandle: "handle-1" });
    expect(sqs.commandCalls(StartMessageMoveTaskCommand).map((c) => c.args[0].input)).toEqual([
      {
        SourceArn: "arn:aws:sqs:ap-northeast-2:123456789012:sluice-prod-dead-letters",
        DestinationArn: "arn:aws:sqs:ap-northeast-2:123456789012:sluice-prod-chunks",
      },
    ]);
  });

  it("derives queue ARNs from queue URLs and refuses anything else", () => {
    expect(queueArnFromUrl(CHUNK_QUEUE)).toBe("arn:aws:sqs:ap-northeast-2:123456789012:sluice-prod-chunks");
    expect(() => queueArnFromUrl("http://127.0.0.1:4566/000000000000/q")).toThrow(/not an SQS queue URL/);
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
