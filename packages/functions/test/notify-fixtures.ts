import {
  DescribeExecutionCommand,
  type DescribeExecutionOutput,
  DescribeMapRunCommand,
  ListMapRunsCommand,
  SFNClient,
} from "@aws-sdk/client-sfn";
import type { TaskFailureCause } from "@sluice/contract";
import { mockClient } from "aws-sdk-client-mock";
import {
  BUCKET,
  childExecution,
  chunkPointer,
  EXECUTION_ARN,
  executionInput,
  MAP_RUN_ARN,
  STATE_MACHINE_ARN,
  serviceError,
} from "./factories.ts";

/** What NotifyFailure is invoked with: the EventBridge event of a failed execution (detail without input). */
export function failureEvent(overrides: Record<string, unknown> = {}) {
  return {
    version: "0",
    id: "5c6b8b0a-0000-4000-8000-000000000000",
    "detail-type": "Step Functions Execution Status Change",
    source: "aws.states",
    account: "123456789012",
    time: "2026-01-05T10:05:00Z",
    region: "eu-west-1",
    resources: [EXECUTION_ARN],
    detail: {
      executionArn: EXECUTION_ARN,
      stateMachineArn: STATE_MACHINE_ARN,
      name: "orders-0123456789ab",
      status: "FAILED",
      startDate: 1767607200000,
      stopDate: 1767607500000,
      input: null,
      inputDetails: { included: false },
      output: null,
      outputDetails: null,
      redriveCount: 0,
      redriveStatus: "REDRIVABLE",
      ...overrides,
    },
  };
}

export const UPLOAD_INPUT = executionInput({
  source: { bucket: BUCKET, key: "uploads/2026/Q1 orders.xlsx", versionId: "v9" },
});

export const lambdaCause = JSON.stringify({
  errorType: "WORKBOOK_ENCRYPTED",
  errorMessage:
    "The workbook is password-protected (encrypted); remove the password in Excel and upload it again",
  trace: [
    "WORKBOOK_ENCRYPTED: The workbook is password-protected",
    "    at convert (file:///var/task/index.mjs:1:1)",
  ],
});

export const MAP_FAILED = {
  error: "States.ExceedToleratedFailureThreshold",
  cause: "The specified tolerated failure threshold was exceeded",
};

/** The Map Run's folder under the processed prefix: the last segment of its ARN. */
export const MAP_RUN_ID = MAP_RUN_ARN.slice(MAP_RUN_ARN.lastIndexOf(":") + 1);

export interface SfnArrangement {
  status?: string;
  input?: unknown;
  error?: string | undefined;
  cause?: string | undefined;
  redriveCount?: number;
  mapRuns?: { mapRunArn: string; startDate: Date }[];
  itemCounts?: Record<string, number>;
}

/** Step Functions behind aws-sdk-client-mock: DescribeExecution, ListMapRuns, DescribeMapRun. */
export function sfnStub() {
  const mock = mockClient(SFNClient);
  const arrange = (a: SfnArrangement = {}) => {
    mock.reset();
    mock.on(DescribeExecutionCommand).resolves({
      executionArn: EXECUTION_ARN,
      stateMachineArn: STATE_MACHINE_ARN,
      name: "orders-0123456789ab",
      status: (a.status ?? "FAILED") as DescribeExecutionOutput["status"],
      startDate: new Date("2026-01-05T10:00:00.000Z"),
      stopDate: new Date("2026-01-05T10:05:00.000Z"),
      input: JSON.stringify(a.input ?? UPLOAD_INPUT),
      ...(a.error === undefined ? {} : { error: a.error }),
      ...(a.cause === undefined ? {} : { cause: a.cause }),
      redriveCount: a.redriveCount ?? 0,
    });
    mock.on(ListMapRunsCommand).resolves({
      mapRuns: (a.mapRuns ?? []).map((run) => ({
        executionArn: EXECUTION_ARN,
        stateMachineArn: `${STATE_MACHINE_ARN}/DeliverChunks`,
        ...run,
      })),
    });
    mock.on(DescribeMapRunCommand).callsFake((input) => ({
      mapRunArn: input.mapRunArn,
      executionArn: EXECUTION_ARN,
      status: "FAILED",
      startDate: new Date("2026-01-05T10:00:05.000Z"),
      maxConcurrency: 4,
      toleratedFailurePercentage: 0,
      toleratedFailureCount: 0,
      itemCounts: {
        pending: 0,
        running: 0,
        succeeded: 0,
        failed: 0,
        timedOut: 0,
        aborted: 0,
        total: 0,
        resultsWritten: 0,
        ...a.itemCounts,
      },
      executionCounts: {
        pending: 0,
        running: 0,
        succeeded: 0,
        failed: 0,
        timedOut: 0,
        aborted: 0,
        total: 0,
        resultsWritten: 0,
      },
    }));
  };
  return { mock, arrange, throttled: () => serviceError("ThrottlingException", "Rate exceeded", 400) };
}

/** A chunk's SendTaskFailure cause as the consumer writes it. */
export function taskFailureCause(
  index: number,
  firstRow: number,
  rows: number,
  message: string,
  code: string,
) {
  const cause: TaskFailureCause = {
    message,
    code,
    chunkIndex: index,
    firstRow,
    lastRow: firstRow + rows - 1,
    rows,
  };
  return JSON.stringify(cause);
}

/** A FAILED line of the ResultWriter: the child's full record, its input holding the chunk's pointer. */
export function failedChild(index: number, firstRow: number, rows: number, error: string, cause: string) {
  return childExecution(undefined, {
    status: "FAILED",
    index,
    chunk: chunkPointer(index, firstRow, rows),
    error,
    cause,
  });
}

/** An ABORTED line: a chunk stopped because the Map Run failed. */
export function abortedChild(index: number) {
  return childExecution(undefined, { status: "ABORTED", index, error: "States.Aborted" });
}
