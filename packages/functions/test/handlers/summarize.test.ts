import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { type ChunkPointer, CONTRACT_VERSION, SummarySchema } from "@sluice/contract";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { createHandler } from "../../src/handlers/create-summarize-handler.ts";
import {
  BUCKET,
  body,
  childExecution,
  chunkPointer,
  convertOutput,
  executionInput,
  jsonl,
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

const PROCESSED = "processed/orders-0123456789ab/";
const ITEMS_KEY = `${PROCESSED}items.jsonl`;
const UPLOAD_MANIFEST_KEY = `${PROCESSED}manifest.json`;

/**
 * The ResultWriter's manifest and result files, served by key (a file given as an array is written as JSON
 * Lines, one value per line, as WriterConfig OutputType JSONL does), and the upload's own items.jsonl (the
 * chunks' pointers: four chunks of 250 rows from row 2 unless given) and manifest.json.
 */
function serveResults(
  files: Record<string, unknown[] | string>,
  manifest: unknown,
  upload: { items?: ChunkPointer[]; uploadManifest?: object } = {},
) {
  const all: Record<string, string> = { [`${RESULTS}/${MANIFEST_KEY}`]: JSON.stringify(manifest) };
  for (const [key, content] of Object.entries(files)) {
    all[`${RESULTS}/${key}`] = typeof content === "string" ? content : jsonl(content);
  }
  all[`${BUCKET}/${ITEMS_KEY}`] = jsonl(upload.items ?? [0, 1, 2, 3].map((i) => chunkPointer(i)));
  all[`${BUCKET}/${UPLOAD_MANIFEST_KEY}`] = JSON.stringify(upload.uploadManifest ?? { totalRows: 1000 });
  s3.on(GetObjectCommand).callsFake((input) => {
    const content = all[`${input.Bucket}/${input.Key}`];
    if (content === undefined) throw serviceError("NoSuchKey", "The specified key does not exist.", 404);
    return { Body: body(content) };
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
    clock: () => 0,
  });
}

const delivery = { MapRunArn: MAP_RUN, ResultWriterDetails: { Bucket: RESULTS, Key: MANIFEST_KEY } };

describe("summarize handler", () => {
  beforeEach(() => s3.reset());

  it("adds up the TaskResults of every result file into summary.json and returns it without samples", async () => {
    const manyRejected = Array.from({ length: 30 }, (_, i) => rejectedRow(600 + i));
    // COMPACT: a succeeded chunk's line is its TaskResult alone.
    serveResults(
      {
        "map-results/orders/abc/SUCCEEDED_0.json": [
          taskResult({ chunkIndex: 2, accepted: 220, rejected: manyRejected, durationMs: 3000 }),
          taskResult({ chunkIndex: 0, accepted: 249, rejected: [rejectedRow(7)], durationMs: 1000.4 }),
        ],
        "map-results/orders/abc/SUCCEEDED_1.json": [
          taskResult({ chunkIndex: 1, accepted: 250, durationMs: 2000 }),
          taskResult({ chunkIndex: 3, accepted: 250, durationMs: 4000 }),
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
      v: CONTRACT_VERSION,
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
      // The admin server's reported durations (TaskResult.durationMs).
      chunkDurationMs: { count: 4, min: 1000, max: 4000, mean: 2500, p95: 4000 },
      transitions: 5 + 2 * 4,
      costModel: "estimate",
    });
    expect(summary.estimatedCostUsd).toBeGreaterThan(0);
    expect(summary.estimatedCostUsd).toBeLessThan(0.001);
    expect(summary.costLines.map((l) => l.item)).toEqual([
      "transitions",
      "sqsRequests",
      "lambdaGbSeconds",
      "lambdaRequests",
      "s3Get",
      "s3Put",
    ]);
    expect(summary.costLines[0]?.quantity).toBe(13);
    expect(summary.costLines[0]?.usd).toBeCloseTo(13 * 0.000025, 9);
    expect(summary.chunkResults.map((c) => [c.index, c.durationMs])).toEqual([
      [0, 1000],
      [1, 2000],
      [2, 3000],
      [3, 4000],
    ]);
    // The first 20 by chunk then row, whatever order the files listed them in.
    expect(summary.rejectedSamples).toHaveLength(20);
    expect(summary.rejectedSamples[0]).toEqual({ chunkIndex: 0, ...rejectedRow(7) });
    expect(summary.rejectedSamples.slice(1).map((s) => [s.chunkIndex, s.row])).toEqual(
      Array.from({ length: 19 }, (_, i) => [2, 600 + i]),
    );
    expect(output).not.toHaveProperty("rejectedSamples");
    expect(output).not.toHaveProperty("chunkResults");
    expect(output).not.toHaveProperty("costLines");
    const { rejectedSamples: _samples, chunkResults: _chunks, costLines: _lines, ...rest } = summary;
    expect(output).toEqual({ ...rest, slack: "disabled" });
  });

  it("reads full records too (a ResultWriter without COMPACT): the TaskResult is the Output string", async () => {
    const items = [chunkPointer(0, 2, 10), chunkPointer(1, 12, 10)];
    serveResults(
      {
        "r/SUCCEEDED_0.json": [
          childExecution(taskResult({ chunkIndex: 0, accepted: 10, durationMs: 70 }), { chunk: items[0] }),
          childExecution(taskResult({ chunkIndex: 1, accepted: 9, rejected: [rejectedRow(13)] }), {
            chunk: items[1],
          }),
        ],
      },
      { ResultFiles: { SUCCEEDED: [{ Key: "r/SUCCEEDED_0.json", Size: 1 }], FAILED: [], PENDING: [] } },
      { items },
    );
    await handler()({ ...executionInput(), convert: convertOutput({ totalChunks: 2 }), delivery });
    const { summary } = writtenSummary();
    expect(summary).toMatchObject({ chunksDelivered: 2, accepted: 19, rejected: 1, transitions: 9 });
    expect(summary.chunkResults.map((c) => c.durationMs)).toEqual([70, 12]);
  });

  it("fails a result file that is a JSON array (OutputType JSON) as TASK_RESULT_INVALID, naming JSONL", async () => {
    serveResults(
      { "r/SUCCEEDED_0.json": JSON.stringify([taskResult()]) },
      { ResultFiles: { SUCCEEDED: [{ Key: "r/SUCCEEDED_0.json", Size: 1 }], FAILED: [], PENDING: [] } },
    );
    await expect(
      handler()({ ...executionInput(), convert: convertOutput(), delivery }),
    ).rejects.toMatchObject({ name: "TASK_RESULT_INVALID", message: expect.stringContaining("JSONL") });
  });

  it("reads result files one at a time, after the manifest, and counts failed children", async () => {
    serveResults(
      {
        "r/SUCCEEDED_0.json": [taskResult({ chunkIndex: 0, accepted: 10 })],
        "r/FAILED_0.json": [childExecution(undefined, { status: "FAILED", index: 1, error: "DB_DOWN" })],
      },
      {
        ResultFiles: {
          SUCCEEDED: [{ Key: "r/SUCCEEDED_0.json", Size: 1 }],
          FAILED: [{ Key: "r/FAILED_0.json", Size: 1 }],
          PENDING: [],
        },
      },
      { items: [chunkPointer(0, 2, 10), chunkPointer(1, 12, 10)] },
    );
    const output = await handler()({
      ...executionInput(),
      convert: convertOutput({ totalRows: 20, totalChunks: 2 }),
      delivery,
    });
    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Key)).toEqual([
      MANIFEST_KEY,
      ITEMS_KEY,
      "r/SUCCEEDED_0.json",
      "r/FAILED_0.json",
      UPLOAD_MANIFEST_KEY,
    ]);
    expect(output).toMatchObject({ chunksDelivered: 1, chunksFailed: 1, accepted: 10, rejected: 0 });
    expect(writtenSummary().summary.chunkResults).toEqual([
      { index: 0, status: "SUCCEEDED", durationMs: 12, accepted: 10, rejected: 0 },
      { index: 1, status: "FAILED", durationMs: null, accepted: 0, rejected: 0 },
    ]);
  });

  it.each([
    ["null", null],
    ["the workflow's empty object", {}],
  ])("summarizes an upload with no chunks (delivery %s) reading only its manifest", async (_, delivery) => {
    serveResults({}, {}, { items: [] });
    const output = await handler("2026-01-05T10:00:00.000Z")({
      ...executionInput(),
      convert: convertOutput({ totalRows: 0, totalChunks: 0 }),
      delivery,
    });
    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Key)).toEqual([UPLOAD_MANIFEST_KEY]);
    expect(output).toMatchObject({
      rows: 0,
      chunks: 0,
      accepted: 0,
      rejected: 0,
      durationMs: 0,
      rowsPerSecond: 0,
      chunkDurationMs: null,
      // Convert workbook, Any chunks?, No chunks to deliver, Summarize, Upload complete.
      transitions: 5,
    });
    expect(writtenSummary().summary.rejectedSamples).toEqual([]);
  });

  it.each([
    ["an output that is not a TaskResult", `${JSON.stringify({ ok: true })}\n`, "TASK_RESULT_INVALID"],
    ["a line that is not JSON", "not json\n", "TASK_RESULT_INVALID"],
    [
      "a record whose Output is not JSON",
      jsonl([childExecution(taskResult(), { output: "not json" })]),
      "TASK_RESULT_INVALID",
    ],
    [
      "a TaskResult of another upload",
      jsonl([taskResult({ uploadId: "someone-else" })]),
      "TASK_RESULT_INVALID",
    ],
  ])("fails on %s, writing no summary", async (_what, file, name) => {
    serveResults(
      { "r/S.json": file },
      { ResultFiles: { SUCCEEDED: [{ Key: "r/S.json", Size: 1 }], FAILED: [], PENDING: [] } },
    );
    const run = handler()({ ...executionInput(), convert: convertOutput(), delivery });
    await expect(run).rejects.toMatchObject({ name });
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it.each([
    ["999 accepted rows for a 2-row chunk", taskResult({ chunkIndex: 1, accepted: 999 }), "999 accepted"],
    [
      "the same rejected row twice",
      taskResult({ chunkIndex: 1, accepted: 0, rejected: [4, 4].map(rejectedRow) }),
      "rejects row 4 more than once",
    ],
  ])(
    "fails a TaskResult claiming %s with TASK_RESULT_INVALID naming the chunk, writing no summary",
    async (_, bad, what) => {
      // COMPACT lines carry no input: the chunk comes from items.jsonl.
      serveResults(
        { "r/S.json": [taskResult({ chunkIndex: 0, accepted: 2 }), bad] },
        { ResultFiles: { SUCCEEDED: [{ Key: "r/S.json", Size: 1 }], FAILED: [], PENDING: [] } },
        { items: [chunkPointer(0, 2, 2), chunkPointer(1, 4, 2)] },
      );
      const run = handler()({
        ...executionInput(),
        convert: convertOutput({ totalRows: 4, totalChunks: 2 }),
        delivery,
      });
      await expect(run).rejects.toMatchObject({
        name: "TASK_RESULT_INVALID",
        message: expect.stringMatching(
          new RegExp(
            `Line 2 of s3://${RESULTS}/r/S\\.json: .*chunk 1 \\(rows 4-5, 2 rows\\) is impossible: .*${what}`,
          ),
        ),
      });
      expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    },
  );

  it("copies the manifest's file warnings into summary.json and its output", async () => {
    const warning = { code: "FORMAT_EXTENSION_MISMATCH", message: "named .xlsx, read as csv" };
    serveResults(
      { "r/S.json": [taskResult({ chunkIndex: 0, accepted: 2 })] },
      { ResultFiles: { SUCCEEDED: [{ Key: "r/S.json", Size: 1 }], FAILED: [], PENDING: [] } },
      { items: [chunkPointer(0, 2, 2)], uploadManifest: { totalRows: 2, fileWarnings: [warning] } },
    );
    const output = await handler()({
      ...executionInput(),
      convert: convertOutput({ totalRows: 2, totalChunks: 1 }),
      delivery,
    });
    expect(writtenSummary().summary.fileWarnings).toEqual([warning]);
    expect(output.fileWarnings).toEqual([warning]);
  });

  it("lists no file warnings for an older manifest, or one it cannot read (logged, never failing the upload)", async () => {
    serveResults({}, {}, { items: [] });
    await handler()({
      ...executionInput(),
      convert: convertOutput({ totalRows: 0, totalChunks: 0 }),
      delivery: null,
    });
    expect(writtenSummary().summary.fileWarnings).toEqual([]);
    s3.reset();
    serveResults({}, {}, { items: [], uploadManifest: { fileWarnings: "not a list" } });
    await handler()({
      ...executionInput(),
      convert: convertOutput({ totalRows: 0, totalChunks: 0 }),
      delivery: null,
    });
    expect(writtenSummary().summary.fileWarnings).toEqual([]);
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
