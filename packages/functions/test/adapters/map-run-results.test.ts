import { Readable } from "node:stream";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { beforeEach, describe, expect, it } from "vitest";
import {
  chunkOfChild,
  findFirstFailedChild,
  findMapRunManifest,
  readChunkTable,
  readMapRunManifest,
  resultLines,
  tallyMapRun,
  taskResultProblems,
} from "../../src/adapters/map-run-results.ts";
import {
  BUCKET,
  childExecution,
  chunkPointer,
  jsonl,
  MAP_RUN_ARN,
  serviceError,
  taskResult,
} from "../factories.ts";
import { abortedChild, failedChild, taskFailureCause } from "../notify-fixtures.ts";
import { s3Store } from "../s3-store.ts";

const store = s3Store();
const PREFIX = "processed/orders-0123456789ab/";
const UPLOAD = "orders-0123456789ab";
const rejectedRow = (row: number) => ({ row, code: "BAD", message: `Row ${row} is bad` });

/** Serves `key` as a stream of many small parts, produced on demand, and counts the parts read. */
function serveStream(key: string, lines: () => Generator<string>) {
  const served = { parts: 0, done: false };
  store.mock.on(GetObjectCommand, { Key: key }).callsFake(() => ({
    Body: Readable.from(
      (function* () {
        for (const line of lines()) {
          served.parts++;
          yield Buffer.from(line);
        }
        served.done = true;
      })(),
      { objectMode: false },
    ),
  }));
  return served;
}

function manifestFor(files: { SUCCEEDED?: string[]; FAILED?: string[]; PENDING?: string[] }) {
  const refs = (keys: string[] = []) => keys.map((Key) => ({ Key, Size: 1 }));
  return {
    DestinationBucket: BUCKET,
    MapRunArn: MAP_RUN_ARN,
    ResultFiles: {
      SUCCEEDED: refs(files.SUCCEEDED),
      FAILED: refs(files.FAILED),
      PENDING: refs(files.PENDING),
    },
  };
}

describe("Map Run results", () => {
  beforeEach(() => store.reset());

  it("streams a JSONL file line by line, whatever the parts' boundaries, skipping blank lines", async () => {
    const text = `${jsonl([{ a: 1 }, { b: "é".repeat(100) }])}\n\r\n${JSON.stringify({ c: 3 })}`;
    // Served in 7-byte parts: lines and multibyte characters cross part boundaries.
    store.mock.on(GetObjectCommand, { Key: "r/x.json" }).callsFake(() => {
      const bytes = Buffer.from(text);
      const parts: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += 7) parts.push(bytes.subarray(i, i + 7));
      return { Body: Readable.from(parts, { objectMode: false }) };
    });
    const lines: unknown[] = [];
    for await (const line of resultLines(store.client(), { bucket: BUCKET, key: "r/x.json" })) {
      lines.push(JSON.parse(line));
    }
    expect(lines).toEqual([{ a: 1 }, { b: "é".repeat(100) }, { c: 3 }]);
  });

  it("tallies a large SUCCEEDED file without holding it: 20,000 lines served on demand", async () => {
    const key = `${PREFIX}run/SUCCEEDED_0.json`;
    const served = serveStream(key, function* () {
      for (let i = 0; i < 20_000; i++) {
        yield `${JSON.stringify(taskResult({ chunkIndex: i, accepted: 9, rejected: [rejectedRow(i + 2)] }))}\n`;
      }
    });
    store.put(BUCKET, `${PREFIX}run/manifest.json`, manifestFor({ SUCCEEDED: [key] }));
    const tally = await tallyMapRun(
      store.client(),
      { bucket: BUCKET, key: `${PREFIX}run/manifest.json` },
      { uploadId: UPLOAD, strict: true, rejectedRowCap: 10 },
    );
    expect(served).toEqual({ parts: 20_000, done: true });
    expect(tally).toMatchObject({ delivered: 20_000, entries: 20_000, accepted: 180_000, rejected: 20_000 });
    expect(tally.rejectedRows.capped).toBe(true);
    expect(tally.rejectedRows.samples(3).map((s) => s.row)).toEqual([2, 3, 4]);
  });

  it("fails a line longer than the bound, and a file that is a JSON array, as TASK_RESULT_INVALID", async () => {
    store.put(BUCKET, "r/long.json", `${"x".repeat(5000)}\n`);
    const long = resultLines(store.client(), { bucket: BUCKET, key: "r/long.json" }, { maxLineBytes: 4096 });
    await expect(long.next()).rejects.toMatchObject({
      name: "TASK_RESULT_INVALID",
      message: expect.stringContaining("longer than 4096 bytes"),
    });
    store.put(BUCKET, "r/array.json", `  \n[${JSON.stringify(taskResult())}]`);
    const array = resultLines(store.client(), { bucket: BUCKET, key: "r/array.json" });
    await expect(array.next()).rejects.toMatchObject({
      name: "TASK_RESULT_INVALID",
      message: expect.stringContaining("OutputType JSONL"),
    });
  });

  it("reports a body that breaks off as SOURCE_READ_FAILED (retryable)", async () => {
    store.mock.on(GetObjectCommand, { Key: "r/broken.json" }).callsFake(() => ({
      Body: Readable.from(
        (async function* () {
          yield Buffer.from(`${JSON.stringify({ a: 1 })}\n`);
          throw Object.assign(new Error("socket hang up"), { name: "ECONNRESET" });
        })(),
        { objectMode: false },
      ),
    }));
    const lines: string[] = [];
    await expect(
      (async () => {
        for await (const line of resultLines(store.client(), { bucket: BUCKET, key: "r/broken.json" })) {
          lines.push(line);
        }
      })(),
    ).rejects.toMatchObject({
      code: "SOURCE_READ_FAILED",
      message: expect.stringContaining("socket hang up"),
    });
    expect(lines).toEqual(['{"a":1}']);
  });

  it("reads SUCCEEDED lines as TaskResults (COMPACT) or as records with an Output (NONE), FAILED lines as records", async () => {
    store.put(
      BUCKET,
      "r/S.json",
      jsonl([
        taskResult({ chunkIndex: 0, accepted: 5, durationMs: 40.6 }),
        childExecution(taskResult({ chunkIndex: 1, accepted: 6, durationMs: 50 }), {
          chunk: chunkPointer(1, 252, 6),
        }),
        // A chunk answered twice (a redriven Map Run) counts once.
        taskResult({ chunkIndex: 0, accepted: 5 }),
      ]),
    );
    store.put(
      BUCKET,
      "r/F.json",
      jsonl([abortedChild(3), failedChild(2, 502, 250, "DUPLICATE_ORDER", '{"message":"Order exists"}')]),
    );
    store.put(BUCKET, "r/manifest.json", manifestFor({ SUCCEEDED: ["r/S.json"], FAILED: ["r/F.json"] }));
    const tally = await tallyMapRun(
      store.client(),
      { bucket: BUCKET, key: "r/manifest.json" },
      { uploadId: UPLOAD, strict: true },
    );
    expect(tally).toMatchObject({ delivered: 2, failed: 2, entries: 5, accepted: 11 });
    expect(tally.chunks).toEqual([
      { index: 0, status: "SUCCEEDED", durationMs: 41, accepted: 5, rejected: 0 },
      { index: 1, status: "SUCCEEDED", durationMs: 50, accepted: 6, rejected: 0 },
      { index: 2, status: "FAILED", durationMs: null, accepted: 0, rejected: 0 },
      { index: 3, status: "FAILED", durationMs: null, accepted: 0, rejected: 0 },
    ]);
    expect(tally.firstFailure).toMatchObject({
      error: "DUPLICATE_ORDER",
      chunk: { index: 2, firstRow: 502, lastRow: 751, rows: 250 },
    });
    // Only the SUCCEEDED files when asked (notify-failure's large read).
    const succeededOnly = await tallyMapRun(
      store.client(),
      await readMapRunManifest(store.client(), { bucket: BUCKET, key: "r/manifest.json" }),
      { uploadId: UPLOAD, strict: true, statuses: ["SUCCEEDED"] },
    );
    expect(succeededOnly).toMatchObject({ delivered: 2, failed: 0 });
    expect(store.reads.filter((id) => id.endsWith("r/F.json"))).toHaveLength(1);
  });

  it("skips unreadable lines in lenient mode and counts them", async () => {
    store.put(
      BUCKET,
      "r/S.json",
      `not json\n${jsonl([{ ok: true }, taskResult({ uploadId: "other" }), taskResult({ accepted: 3 })])}`,
    );
    store.put(BUCKET, "r/manifest.json", manifestFor({ SUCCEEDED: ["r/S.json"] }));
    const tally = await tallyMapRun(
      store.client(),
      { bucket: BUCKET, key: "r/manifest.json" },
      { uploadId: UPLOAD, strict: false },
    );
    expect(tally).toMatchObject({ delivered: 1, accepted: 3, unreadable: 3 });
  });

  it("stops a tally when its signal fires", async () => {
    serveStream("r/S.json", function* () {
      for (let i = 0; ; i++) yield `${JSON.stringify(taskResult({ chunkIndex: i }))}\n`;
    });
    store.put(BUCKET, "r/manifest.json", manifestFor({ SUCCEEDED: ["r/S.json"] }));
    const controller = new AbortController();
    controller.abort(new Error("out of time"));
    await expect(
      tallyMapRun(
        store.client(),
        { bucket: BUCKET, key: "r/manifest.json" },
        { uploadId: UPLOAD, strict: false, signal: controller.signal },
      ),
    ).rejects.toThrow("out of time");
  });

  describe("checks each TaskResult against the chunk it answers (items.jsonl)", () => {
    // Chunk 0: rows 2-3 (2 rows); chunk 1: rows 4-13 with a skipped empty row (9 rows).
    const items = [chunkPointer(0, 2, 2), { ...chunkPointer(1, 4, 9), lastRow: 13 }];
    const tallyOf = async (results: unknown[], strict: boolean) => {
      store.put(BUCKET, `${PREFIX}items.jsonl`, jsonl(items));
      store.put(BUCKET, "r/S.json", jsonl(results));
      store.put(BUCKET, "r/manifest.json", manifestFor({ SUCCEEDED: ["r/S.json"] }));
      const chunks = await readChunkTable(store.client(), { bucket: BUCKET, key: `${PREFIX}items.jsonl` });
      return tallyMapRun(
        store.client(),
        { bucket: BUCKET, key: "r/manifest.json" },
        { uploadId: UPLOAD, strict, chunks },
      );
    };
    const valid = taskResult({ chunkIndex: 1, accepted: 7, rejected: [13, 5].map(rejectedRow) });

    it("sums results that account for each row of their chunk once", async () => {
      const tally = await tallyOf([taskResult({ chunkIndex: 0, accepted: 2 }), valid], true);
      expect(tally).toMatchObject({ delivered: 2, accepted: 9, rejected: 2, unreadable: 0 });
    });

    it.each([
      [
        "999 accepted rows for a 2-row chunk",
        taskResult({ chunkIndex: 0, accepted: 999 }),
        "chunk 0 (rows 2-3, 2 rows) is impossible: it counts 999 accepted + 0 rejected = 999 rows, but the chunk has 2",
      ],
      [
        "fewer rows than the chunk has (rows neither accepted nor rejected)",
        taskResult({ chunkIndex: 1, accepted: 3, rejected: [rejectedRow(5)] }),
        "it counts 3 accepted + 1 rejected = 4 rows, but the chunk has 9",
      ],
      [
        "the same rejected row twice",
        taskResult({ chunkIndex: 1, accepted: 7, rejected: [5, 5].map(rejectedRow) }),
        "chunk 1 (rows 4-13, 9 rows) is impossible: it rejects row 5 more than once",
      ],
      [
        "a rejected row outside the chunk",
        taskResult({ chunkIndex: 0, accepted: 1, rejected: [rejectedRow(40)] }),
        "it rejects row 40, outside the chunk's rows 2-3",
      ],
      [
        "a chunk the upload does not have",
        taskResult({ chunkIndex: 7, accepted: 2 }),
        "answers chunk 7, which is not one of the upload's 2 chunks",
      ],
      [
        "a record whose input was another chunk",
        childExecution(taskResult({ chunkIndex: 0, accepted: 2 }), { chunk: items[1] }),
        "answers chunk 0, but the child execution was given chunk 1 (rows 4-13, 9 rows)",
      ],
    ])("fails %s as TASK_RESULT_INVALID, naming the chunk (strict)", async (_, bad, message) => {
      await expect(tallyOf([valid, bad], true)).rejects.toMatchObject({
        name: "TASK_RESULT_INVALID",
        message: expect.stringContaining(message),
      });
    });

    it("leaves impossible results out of the counts, without failing, in lenient mode (notify-failure)", async () => {
      const tally = await tallyOf(
        [
          valid,
          taskResult({ chunkIndex: 0, accepted: 999 }),
          taskResult({ chunkIndex: 0, accepted: 0, rejected: [2, 2].map(rejectedRow) }),
        ],
        false,
      );
      expect(tally).toMatchObject({ delivered: 1, accepted: 7, rejected: 2, unreadable: 2 });
      expect(tally.rejectedRows.total).toBe(2);
      expect(tally.firstUnreadable).toContain("999 accepted");
    });

    it("counts every repeated or outside row once, by kind, and needs the chunk only for ranges and counts", () => {
      const result = taskResult({
        chunkIndex: 0,
        accepted: 0,
        rejected: [2, 2, 3, 3, 50, 60].map(rejectedRow),
      });
      expect(taskResultProblems(result, { index: 0, firstRow: 2, lastRow: 3, rows: 2 })).toEqual([
        "it counts 0 accepted + 6 rejected = 6 rows, but the chunk has 2",
        "it rejects row 2 more than once",
        "it rejects row 50, outside the chunk's rows 2-3",
        "2 rejected rows in all are outside the chunk",
        "2 rejected rows in all are repeats",
      ]);
      // Without the chunk (a COMPACT line and no items.jsonl) only repeats can be seen.
      expect(taskResultProblems(result, undefined)).toEqual([
        "it rejects row 2 more than once",
        "2 rejected rows in all are repeats",
      ]);
    });

    it("refuses a chunk list that is out of order or names impossible rows", async () => {
      store.put(BUCKET, "i/order.jsonl", jsonl([chunkPointer(1)]));
      await expect(
        readChunkTable(store.client(), { bucket: BUCKET, key: "i/order.jsonl" }),
      ).rejects.toMatchObject({
        name: "TASK_RESULT_INVALID",
        message: expect.stringContaining("names chunk 1 where chunk 0"),
      });
      store.put(BUCKET, "i/rows.jsonl", jsonl([{ ...chunkPointer(0, 2, 10), lastRow: 5 }]));
      await expect(
        readChunkTable(store.client(), { bucket: BUCKET, key: "i/rows.jsonl" }),
      ).rejects.toMatchObject({
        name: "TASK_RESULT_INVALID",
        message: expect.stringContaining("10 rows in rows 2-5"),
      });
    });
  });

  it("finds the first FAILED child, skipping aborted ones, and stops reading there", async () => {
    const cause = taskFailureCause(7, 70_002, 10_000, "Chunk 7 was received 5 times", "CHUNK_DEAD_LETTERED");
    const served = serveStream("r/F.json", function* () {
      yield `${JSON.stringify(abortedChild(1))}\n`;
      yield `${JSON.stringify(failedChild(7, 70_002, 10_000, "CHUNK_DEAD_LETTERED", cause))}\n`;
      for (;;) yield `${JSON.stringify(abortedChild(9))}\n`;
    });
    store.put(BUCKET, "r/manifest.json", manifestFor({ FAILED: ["r/F.json", "r/F2.json"] }));
    const results = await readMapRunManifest(store.client(), { bucket: BUCKET, key: "r/manifest.json" });
    const child = await findFirstFailedChild(store.client(), results);
    expect(child).toEqual({
      error: "CHUNK_DEAD_LETTERED",
      cause,
      executionArn: expect.stringContaining("chunk-7"),
      chunk: { index: 7, firstRow: 70_002, lastRow: 80_001, rows: 10_000 },
    });
    expect(served.done).toBe(false);
    expect(served.parts).toBeLessThan(50);
    expect(store.reads).not.toContain(`${BUCKET}/r/F2.json`);
  });

  it("takes the chunk from the TaskFailureCause when the child's input was left out", () => {
    const child = {
      Status: "FAILED",
      Error: "DB_DOWN",
      Cause: taskFailureCause(4, 41, 10, "database down", "DB_DOWN"),
    };
    expect(chunkOfChild(child)).toEqual({ index: 4, firstRow: 41, lastRow: 50, rows: 10 });
    expect(chunkOfChild({ Status: "FAILED", Cause: "plain text" })).toBeUndefined();
  });

  it("finds the Map Run manifest of the given Map Run: by folder, else by its MapRunArn, else the newest", async () => {
    const runId = MAP_RUN_ARN.slice(MAP_RUN_ARN.lastIndexOf(":") + 1);
    const list = (keys: [string, number][]) =>
      store.mock.on(ListObjectsV2Command).resolves({
        Contents: keys.map(([Key, at]) => ({ Key, LastModified: new Date(at) })),
      });
    list([
      [`${PREFIX}manifest.json`, 9],
      [`${PREFIX}chunks.jsonl`, 9],
      [`${PREFIX}old/manifest.json`, 1],
      [`${PREFIX}${runId}/manifest.json`, 2],
      [`${PREFIX}newer/manifest.json`, 3],
      [`${PREFIX}deep/er/manifest.json`, 4],
    ]);
    const s3 = store.client();
    expect(await findMapRunManifest(s3, BUCKET, PREFIX, { mapRunArn: MAP_RUN_ARN })).toEqual({
      bucket: BUCKET,
      key: `${PREFIX}${runId}/manifest.json`,
    });
    expect(await findMapRunManifest(s3, BUCKET, PREFIX)).toEqual({
      bucket: BUCKET,
      key: `${PREFIX}newer/manifest.json`,
    });
    list([
      [`${PREFIX}old/manifest.json`, 1],
      [`${PREFIX}newer/manifest.json`, 3],
    ]);
    store.put(BUCKET, `${PREFIX}old/manifest.json`, { ...manifestFor({}), MapRunArn: MAP_RUN_ARN });
    store.put(BUCKET, `${PREFIX}newer/manifest.json`, { ...manifestFor({}), MapRunArn: "arn:other" });
    expect(await findMapRunManifest(s3, BUCKET, PREFIX, { mapRunArn: MAP_RUN_ARN })).toEqual({
      bucket: BUCKET,
      key: `${PREFIX}old/manifest.json`,
    });
    store.mock.on(ListObjectsV2Command).resolves({ Contents: [{ Key: `${PREFIX}manifest.json` }] });
    expect(await findMapRunManifest(s3, BUCKET, PREFIX)).toBeUndefined();
  });

  it("reports a result file it cannot open as SOURCE_READ_FAILED", async () => {
    store.mock
      .on(GetObjectCommand, { Key: "r/gone.json" })
      .rejects(serviceError("AccessDenied", "Access Denied", 403));
    await expect(
      resultLines(store.client(), { bucket: BUCKET, key: "r/gone.json" }).next(),
    ).rejects.toMatchObject({
      code: "SOURCE_READ_FAILED",
      message: expect.stringContaining("r/gone.json"),
    });
  });
});
