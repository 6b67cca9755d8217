import { Readable } from "node:stream";
import type { TaskResult } from "@sluice/core";
import type { S3Event, S3EventRecord } from "aws-lambda";
import type { ConvertOutput, ExecutionInput } from "../src/execution-input.ts";
import { createLogger } from "../src/logger.ts";

export const BUCKET = "sluice-uploads";
export const STATE_MACHINE_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:sluice-upload";
export const EXECUTION_ARN =
  "arn:aws:states:eu-west-1:123456789012:execution:sluice-upload:orders-0123456789ab";
export const DLQ_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/sluice-dead-letters";

export function silentLogger() {
  return createLogger("sluice-test", { logLevel: "SILENT" });
}

export function s3Record(
  overrides: {
    key?: string;
    bucket?: string;
    versionId?: string;
    eTag?: string;
    size?: number;
    eventTime?: string;
    eventName?: string;
  } = {},
): S3EventRecord {
  return {
    eventVersion: "2.1",
    eventSource: "aws:s3",
    awsRegion: "eu-west-1",
    eventTime: overrides.eventTime ?? "2026-01-05T10:00:00.000Z",
    eventName: overrides.eventName ?? "ObjectCreated:Put",
    userIdentity: { principalId: "AWS:EXAMPLE" },
    requestParameters: { sourceIPAddress: "203.0.113.1" },
    responseElements: { "x-amz-request-id": "REQ", "x-amz-id-2": "ID2" },
    s3: {
      s3SchemaVersion: "1.0",
      configurationId: "uploads",
      bucket: {
        name: overrides.bucket ?? BUCKET,
        ownerIdentity: { principalId: "OWNER" },
        arn: `arn:aws:s3:::${overrides.bucket ?? BUCKET}`,
      },
      object: {
        key: overrides.key ?? "uploads/orders.xlsx",
        size: overrides.size ?? 1234,
        eTag: overrides.eTag ?? "0123456789abcdef0123456789abcdef",
        ...(overrides.versionId ? { versionId: overrides.versionId } : {}),
        sequencer: "0055AED6DCD90281E5",
      },
    },
  } as S3EventRecord;
}

export function s3Event(...records: S3EventRecord[]): S3Event {
  return { Records: records };
}

export function executionInput(overrides: Partial<ExecutionInput> = {}): ExecutionInput {
  return {
    uploadId: "orders-0123456789ab",
    source: { bucket: BUCKET, key: "uploads/orders.csv" },
    receivedAt: "2026-01-05T10:00:00.000Z",
    ...overrides,
  };
}

export function convertOutput(overrides: Partial<ConvertOutput> = {}): ConvertOutput {
  const uploadId = overrides.uploadId ?? "orders-0123456789ab";
  return {
    uploadId,
    processed: {
      bucket: BUCKET,
      prefix: `processed/${uploadId}/`,
      chunksKey: `processed/${uploadId}/chunks.jsonl`,
      manifestKey: `processed/${uploadId}/manifest.json`,
    },
    totalRows: 1000,
    totalChunks: 4,
    sheet: "Sheet1",
    format: "csv",
    rowErrors: 0,
    warnings: 0,
    ...overrides,
  };
}

export function taskResult(overrides: Partial<TaskResult> = {}): TaskResult {
  return {
    v: 1,
    uploadId: "orders-0123456789ab",
    chunkIndex: 0,
    accepted: 250,
    rejected: [],
    durationMs: 12,
    ...overrides,
  };
}

/** One child execution as a Distributed Map's ResultWriter lists it. */
export function childExecution(
  result: TaskResult | undefined,
  overrides: { status?: string; startDate?: string; durationMs?: number; output?: string } = {},
) {
  const start = new Date(overrides.startDate ?? "2026-01-05T10:00:10.000Z");
  const stop = new Date(start.getTime() + (overrides.durationMs ?? 1000));
  return {
    ExecutionArn: `${EXECUTION_ARN}/chunk-${result?.chunkIndex ?? "x"}`,
    Input: JSON.stringify({ index: result?.chunkIndex ?? 0 }),
    InputDetails: { Included: true },
    Name: `chunk-${result?.chunkIndex ?? "x"}`,
    Output: overrides.output ?? (result ? JSON.stringify(result) : undefined),
    OutputDetails: { Included: true },
    RedriveCount: 0,
    RedriveStatus: "NOT_REDRIVABLE",
    StartDate: start.toISOString(),
    StateMachineArn: STATE_MACHINE_ARN,
    Status: overrides.status ?? "SUCCEEDED",
    StopDate: stop.toISOString(),
  };
}

/** A GetObject body as the SDK gives it in Node: a readable stream. */
export function body(content: string | Buffer): Readable {
  const bytes = typeof content === "string" ? Buffer.from(content) : content;
  return Readable.from([bytes], { objectMode: false });
}

/** An SDK service error as the clients throw it. */
export function serviceError(name: string, message = name, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name, $fault: "client", $metadata: { httpStatusCode } });
}
