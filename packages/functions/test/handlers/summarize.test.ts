import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { createHandler } from "../../src/handlers/create-summarize-handler.ts";
import { SummarySchema } from "../../src/summary.ts";
import {
  BUCKET,
  body,
  childExecution,
  convertOutput,
  executionInput,
  serviceError,
  silentLogger,
  taskResult,
} from "../factories.ts";

const s3 = mockClient(S3Client);
const RESULTS = "sluice-results";
const MAP_RUN = "arn:aws:states:eu-west-1:123456789012:mapRun:sluice-upload/Deliver:abc";
const MANIFEST_KEY = "map-results/orders/abc/manifest.json";

const rejectedRow = (row: number) => ({
  row,
  code: "INVALID_EMAIL",
  message: `Row ${row}: email is not valid`,
});

/** The ResultWriter's manifest and result files, served by key; records the order they are read in. */
function serveResults(files: Record<string, unknown>, manifest: unknown) {
  const all: Record<string, unknown> = { [MANIFEST_KEY]: manifest, ...files };
  s3.on(GetObjectCommand).callsFake((input) => {
    const content = all[input.Key ?? ""];
    if (input.Bucket !== RESULTS || content === undefined)
      throw serviceError("NoSuchKey", "The specified key does not exist.", 404);
    return { Body: body(JSON.stringify(content)) };
  });
  s3.on(PutObjectCommand).resolves({});
}

function writtenSummary() {
  const put = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
  return { key: put?.Key, bucket: put?.Bucket, summary: SummarySchema.parse(JSON.parse(String(put?.Body))) };
}

function handler(now = "2026-01-05T10:01:40.000Z") {
  return createHandler({
    s3: new S3Client({ region: "eu-west-1" }),
    bucketName: BUCKET,
    processedPrefix: "processed/",
    logger: silentLogger(),
    now: () => new Date(now),
  });
}

const delivery = { MapRunArn: MAP_RUN, ResultWriterDetails: { Bucket: RESULTS, Key: MANIFEST_KEY } };

describe("summarize handler", () => {
  beforeEach(() => s3.reset());

  it("adds up the TaskResults of every result file into summary.json and returns it without samples", async () => {
    const manyRejected = Array.from({ length: 30 }, (_, i) => rejectedRow(600 + i));
    serveResults(
      {
        "map-results/orders/abc/SUCCEEDED_0.json": [
          childExecution(taskResult({ chunkIndex: 2, accepted: 220, rejected: manyRejected }), {
            durationMs: 3000,
          }),
          childExecution(taskResult({ chunkIndex: 0, accepted: 249, rejected: [rejectedRow(7)] }), {
            durationMs: 1000,
          }),
        ],
        "map-results/orders/abc/SUCCEEDED_1.json": [
          childExecution(taskResult({ chunkIndex: 1, accepted: 250 }), { durationMs: 2000 }),
          childExecution(taskResult({ chunkIndex: 3, accepted: 250 }), { durationMs: 4000 }),
        ],
      },
      {
        DestinationBucket: RESULTS,
        MapRunArn: MAP_RUN,
        ResultFiles: {
          FAILED: [],
          PENDING: [],
          SUCCEEDED: [
            { Key: "map-results/orders/abc/SUCCEEDED_0.json", Size: 2000 },
            { Key: "map-results/orders/abc/SUCCEEDED_1.json", Size: 2000 },
          ],
        },
      },
    );
    const input = {
      ...executionInput(),
      convert: convertOutput({ totalRows: 1000, totalChunks: 4, rowErrors: 2 }),
      delivery,
    };
    const output = await handler()(input);

    const { key, bucket, summary } = writtenSummary();
    expect(bucket).toBe(BUCKET);
    expect(key).toBe("processed/orders-0123456789ab/summary.json");
    expect(summary).toMatchObject({
      v: 1,
      uploadId: "orders-0123456789ab",
      status: "SUCCEEDED",
      rows: 1000,
      chunks: 4,
      chunksDelivered: 4,
      chunksFailed: 0,
      accepted: 969,
      rejected: 31,
      rowErrors: 2,
      durationMs: 100_000,
      rowsPerSecond: 10,
      chunkDurationMs: { count: 4, min: 1000, max: 4000, mean: 2500, p95: 4000 },
    });
    // The first 20 by chunk then row, whatever order the files listed them in.
    expect(summary.rejectedSamples).toHaveLength(20);
    expect(summary.rejectedSamples[0]).toEqual({ chunkIndex: 0, ...rejectedRow(7) });
    expect(summary.rejectedSamples.slice(1).map((s) => [s.chunkIndex, s.row])).toEqual(
      Array.from({ length: 19 }, (_, i) => [2, 600 + i]),
    );
    expect(output).not.toHaveProperty("rejectedSamples");
    expect(output).not.toHaveProperty("chunkResults");
    const { rejectedSamples: _samples, chunkResults: _chunks, ...rest } = summary;
    expect(output).toEqual({ ...rest, slack: "disabled" });
  });

  it("reads result files one at a time, after the manifest, and counts failed children", async () => {
    serveResults(
      {
        "r/SUCCEEDED_0.json": [childExecution(taskResult({ chunkIndex: 0, accepted: 10 }))],
        "r/FAILED_0.json": [childExecution(undefined, { status: "FAILED" })],
      },
      {
        ResultFiles: {
          SUCCEEDED: [{ Key: "r/SUCCEEDED_0.json", Size: 1 }],
          FAILED: [{ Key: "r/FAILED_0.json", Size: 1 }],
          PENDING: [],
        },
      },
    );
    const output = await handler()({
      ...executionInput(),
      convert: convertOutput({ totalRows: 20, totalChunks: 2 }),
      delivery,
    });
    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Key)).toEqual([
      MANIFEST_KEY,
      "r/SUCCEEDED_0.json",
      "r/FAILED_0.json",
    ]);
    expect(output).toMatchObject({ chunksDelivered: 1, chunksFailed: 1, accepted: 10, rejected: 0 });
  });

  it.each([
    ["null", null],
    ["the workflow's empty object", {}],
  ])("summarizes an upload with no chunks (delivery %s) without reading anything", async (_, delivery) => {
    s3.on(PutObjectCommand).resolves({});
    const output = await handler("2026-01-05T10:00:00.000Z")({
      ...executionInput(),
      convert: convertOutput({ totalRows: 0, totalChunks: 0 }),
      delivery,
    });
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
    expect(output).toMatchObject({
      rows: 0,
      chunks: 0,
      accepted: 0,
      rejected: 0,
      durationMs: 0,
      rowsPerSecond: 0,
      chunkDurationMs: null,
    });
    expect(writtenSummary().summary.rejectedSamples).toEqual([]);
  });

  it.each([
    ["an output that is not a TaskResult", JSON.stringify({ ok: true }), "TASK_RESULT_INVALID"],
    ["an output that is not JSON", "not json", "TASK_RESULT_INVALID"],
    [
      "a TaskResult of another upload",
      JSON.stringify(taskResult({ uploadId: "someone-else" })),
      "TASK_RESULT_INVALID",
    ],
  ])("fails on %s, writing no summary", async (_what, output, name) => {
    serveResults(
      { "r/S.json": [childExecution(taskResult(), { output })] },
      { ResultFiles: { SUCCEEDED: [{ Key: "r/S.json", Size: 1 }], FAILED: [], PENDING: [] } },
    );
    const run = handler()({ ...executionInput(), convert: convertOutput(), delivery });
    await expect(run).rejects.toMatchObject({ name });
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it("reports a result file it cannot read as SOURCE_READ_FAILED (retryable)", async () => {
    serveResults(
      {},
      { ResultFiles: { SUCCEEDED: [{ Key: "r/missing.json", Size: 1 }], FAILED: [], PENDING: [] } },
    );
    await expect(
      handler()({ ...executionInput(), convert: convertOutput(), delivery }),
    ).rejects.toMatchObject({
      name: "SOURCE_READ_FAILED",
      message: expect.stringContaining("r/missing.json"),
    });
  });
});
