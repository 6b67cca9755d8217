import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { ConvertOutput, ExecutionInput } from "@sluice/contract";
import {
  type ChunkPointer,
  CONTRACT_VERSION,
  chunkIdFor,
  packRejectedRows,
  type RejectedRow,
  type TaskResult,
} from "@sluice/contract";
import type { S3Event, S3EventRecord } from "aws-lambda";
import { createLogger } from "../src/logger.ts";

export const BUCKET = "sluice-uploads";
export const STATE_MACHINE_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:sluice-upload";
export const EXECUTION_ARN =
  "arn:aws:states:eu-west-1:123456789012:execution:sluice-upload:orders-0123456789ab";
export const MAP_RUN_ARN =
  "arn:aws:states:eu-west-1:123456789012:mapRun:sluice-upload/DeliverChunks:5a1c0d2e-0000-4000-8000-000000000001";

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
      itemsKey: `processed/${uploadId}/items.jsonl`,
      manifestKey: `processed/${uploadId}/manifest.json`,
    },
    totalRows: 1000,
    totalChunks: 4,
    sheet: "Sheet1",
    format: "csv",
    rowErrors: 0,
    warnings: 0,
    durationMs: 1500,
    bytes: 250_000,
    ...overrides,
  };
}

/** A TaskResult; its rejected rows are given one object each and packed as the contract carries them. */
export function taskResult(
  overrides: Partial<Omit<TaskResult, "rejected">> & { rejected?: RejectedRow[] } = {},
): TaskResult {
  const { rejected = [], ...rest } = overrides;
  return {
    v: CONTRACT_VERSION,
    uploadId: "orders-0123456789ab",
    chunkIndex: 0,
    accepted: 250,
    durationMs: 12,
    ...rest,
    rejected: packRejectedRows(rejected),
  };
}

/** The pointer the Map hands a chunk of `rows` rows from `firstRow` (offsets are made up; tests do not read them). */
export function chunkPointer(index: number, firstRow = 2 + index * 250, rows = 250): ChunkPointer {
  const uploadId = "orders-0123456789ab";
  return {
    index,
    chunkId: chunkIdFor(uploadId, index),
    firstRow,
    lastRow: firstRow + rows - 1,
    rows,
    bucket: BUCKET,
    key: `processed/${uploadId}/chunks.jsonl`,
    offset: index * 1000,
    length: 1000,
    sha256: createHash("sha256").update(String(index)).digest("base64"),
  };
}

/**
 * One child execution as a full record (the ResultWriter's FAILED / PENDING lines, and SUCCEEDED lines without
 * COMPACT): its input holds the chunk's pointer.
 */
export function childExecution(
  result: TaskResult | undefined,
  overrides: {
    status?: string;
    startDate?: string;
    durationMs?: number;
    output?: string;
    index?: number;
    chunk?: ChunkPointer;
    error?: string;
    cause?: string;
  } = {},
) {
  const start = new Date(overrides.startDate ?? "2026-01-05T10:00:10.000Z");
  const stop = new Date(start.getTime() + (overrides.durationMs ?? 1000));
  const index = overrides.index ?? result?.chunkIndex ?? 0;
  const chunk = overrides.chunk ?? chunkPointer(index);
  return {
    ExecutionArn: `${EXECUTION_ARN}/chunk-${index}`,
    Input: JSON.stringify({
      uploadId: "orders-0123456789ab",
      source: { bucket: BUCKET, key: "uploads/orders.csv" },
      totals: { totalRows: 1000, totalChunks: 4 },
      chunk,
    }),
    InputDetails: { Included: true },
    Name: `chunk-${index}`,
    ...(overrides.output !== undefined || result
      ? { Output: overrides.output ?? JSON.stringify(result), OutputDetails: { Included: true } }
      : {}),
    ...(overrides.error === undefined ? {} : { Error: overrides.error }),
    ...(overrides.cause === undefined ? {} : { Cause: overrides.cause }),
    RedriveCount: 0,
    RedriveStatus: "NOT_REDRIVABLE",
    StartDate: start.toISOString(),
    StateMachineArn: STATE_MACHINE_ARN,
    Status: overrides.status ?? "SUCCEEDED",
    StopDate: stop.toISOString(),
  };
}

/** A result file as the ResultWriter writes it with OutputType JSONL: one JSON value per line. */
export function jsonl(values: readonly unknown[]): string {
  return values.map((value) => `${JSON.stringify(value)}\n`).join("");
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
