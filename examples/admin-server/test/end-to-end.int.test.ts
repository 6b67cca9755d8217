import { GetObjectCommand } from "@aws-sdk/client-s3";
import { DescribeExecutionCommand, RedriveExecutionCommand } from "@aws-sdk/client-sfn";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { FAILURE_OBJECT, FailureRecordSchema, processedPrefixOf } from "@sluice/contract";
import { LocalRuntime, type RuntimeEvent } from "@sluice/runtime";
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type PostgresHandle, startPostgres } from "../src/embedded-postgres.ts";
import { AdminProcess, adminEnv } from "./support/admin-process.ts";
import { orderData, ordersCsv } from "./support/orders.ts";

/**
 * End to end: the local runtime (the stack's ASL, real handlers, SQS/S3 emulator, Step Functions API on
 * loopback) in this process; the admin server as a real child process configured by environment variables;
 * PostgreSQL through the pg driver over TCP.
 */

let postgres: PostgresHandle;
let db: pg.Pool;
const cleanup: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  postgres = await startPostgres();
  db = new pg.Pool({ connectionString: postgres.url, max: 2 });
  db.on("error", () => undefined); // an idle client cut off when the server stops
});
afterAll(async () => {
  await db?.end();
  await postgres?.stop();
});
beforeEach(async () => {
  await db.query("drop table if exists orders, imported_chunks");
});
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function runtimeWith(config: NonNullable<Parameters<typeof LocalRuntime.start>[0]>["config"]) {
  const runtime = await LocalRuntime.start({
    config,
    retryIntervalMs: 50,
    outDir: "/tmp/sluice-admin-server-test-out",
  });
  cleanup.push(() => runtime.stop());
  return runtime;
}

function adminServer(env: Record<string, string>) {
  const admin = AdminProcess.start(env);
  cleanup.push(() => admin.stop("SIGKILL"));
  return admin;
}

function progress(runtime: LocalRuntime): RuntimeEvent[] {
  const seen: RuntimeEvent[] = [];
  runtime.on("progress", (e: RuntimeEvent) => seen.push(e));
  return seen;
}

/** The chunk indexes the workflow sent to the queue, in order of index (one entry per message sent). */
function sentIndexes(events: RuntimeEvent[]): number[] {
  return events.flatMap((e) => (e.type === "chunk_sent" ? [e.index] : [])).sort((a, b) => a - b);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function queueDepth(runtime: LocalRuntime, queueUrl: string): Promise<number> {
  const sqs = new SQSClient(runtime.emulator.clientConfig);
  try {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    return (
      Number(Attributes.ApproximateNumberOfMessages) +
      Number(Attributes.ApproximateNumberOfMessagesNotVisible)
    );
  } finally {
    sqs.destroy();
  }
}

/** processed/<uploadId>/failure.json, read through the runtime's S3 client. */
async function failureRecord(runtime: LocalRuntime, uploadId: string) {
  const s3 = runtime.s3Client();
  try {
    const object = await s3.send(
      new GetObjectCommand({
        Bucket: runtime.bucket,
        Key: `${processedPrefixOf(uploadId)}${FAILURE_OBJECT}`,
      }),
    );
    return FailureRecordSchema.parse(JSON.parse(await object.Body!.transformToString()));
  } finally {
    s3.destroy();
  }
}

async function scalar(sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select (${sql})::int as n`, params);
  return rows[0]!.n;
}

/** The ledger has `chunks` rows for the upload (one per chunk, the primary key), summing to `accepted`. */
async function expectLedger(uploadId: string, chunks: number, accepted: number) {
  expect(await scalar("select count(*) from imported_chunks where upload_id = $1", [uploadId])).toBe(chunks);
  expect(await scalar("select sum(accepted) from imported_chunks where upload_id = $1", [uploadId])).toBe(
    accepted,
  );
}

/** Every source row 2..rows+1 of the upload is in `orders` exactly once. */
async function expectEveryRowOnce(uploadId: string, rows: number) {
  expect(await scalar("select count(*) from orders where upload_id = $1", [uploadId])).toBe(rows);
  expect(await scalar("select count(distinct source_row) from orders where upload_id = $1", [uploadId])).toBe(
    rows,
  );
  expect(await scalar("select min(source_row) from orders where upload_id = $1", [uploadId])).toBe(2);
  expect(await scalar("select max(source_row) from orders where upload_id = $1", [uploadId])).toBe(rows + 1);
}

describe("the admin server against the local runtime", () => {
  it("imports a 3,000-row upload: every valid row once, invalid ones reported, visible over its HTTP API", async () => {
    const runtime = await runtimeWith({ chunkRows: 250 });
    const admin = adminServer(adminEnv(runtime, postgres.url, { CONSUMER_CONCURRENCY: "4" }));
    const url = await admin.url();

    const file = ordersCsv(3000, [
      orderData(3001, { Quantity: 0 }),
      orderData(17),
      orderData(3002, { Phone: null }),
    ]);
    const upload = await runtime.upload(file, "orders-3000.csv");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status, `${record.error}: ${record.cause}\n${admin.describe()}`).toBe("SUCCEEDED");
    expect(record.output).toMatchObject({
      rows: 3003,
      chunks: 13,
      accepted: 3000,
      rejected: 3,
      chunksFailed: 0,
    });

    await expectEveryRowOnce(upload.uploadId, 3000);
    expect(await scalar("select count(*) from imported_chunks where upload_id = $1", [upload.uploadId])).toBe(
      13,
    );
    expect(await scalar("select sum(accepted) from imported_chunks")).toBe(3000);

    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      status: "ok",
      consumer: { running: true, processed: 13, failed: 0 },
    });
    const imports = (await (await fetch(`${url}/imports`)).json()) as { imports: unknown[] };
    expect(imports.imports).toEqual([
      expect.objectContaining({
        uploadId: upload.uploadId,
        chunks: 13,
        rows: 3003,
        accepted: 3000,
        rejected: 3,
      }),
    ]);
    const page = (await (await fetch(`${url}/orders?limit=2`)).json()) as { orders: { orderId: string }[] };
    expect(page.orders.map((o) => o.orderId)).toEqual(["ORD-2026-000001", "ORD-2026-000002"]);

    // Graceful shutdown on SIGTERM.
    expect(await admin.stop("SIGTERM")).toEqual({ code: 0, signal: null });
    expect(admin.logged("stopped")).toHaveLength(1);
  });

  it("survives kill -9 in the middle of a chunk: the same message comes back after its visibility timeout and is imported once", async () => {
    // No heartbeat timeout on the chunk task and no re-send: the only way back for the killed chunk is SQS
    // redelivering the message the dead server held, once the visibility timeout it last set (4 s) runs out.
    const runtime = await runtimeWith({ chunkRows: 100, maxConcurrency: 2 });
    const events = progress(runtime);
    const env = adminEnv(runtime, postgres.url, {
      CONSUMER_CONCURRENCY: "2",
      HEARTBEAT_SECONDS: "1",
      VISIBILITY_TIMEOUT_SECONDS: "4",
    });
    // The first server holds each chunk's transaction open for 4 s after inserting its rows: the kill below
    // lands inside that window even on a loaded machine (the previous 400-800 ms windows lost the race to the
    // commit now and then).
    const first = adminServer({ ...env, IMPORT_DELAY_MS: "4000" });
    await first.url();

    const rows = 1500;
    const upload = await runtime.upload(ordersCsv(rows), "orders-crash.csv");
    // Let a couple of chunks commit, then kill the process while a chunk's rows are inserted but not committed.
    await first.waitFor(
      (l) => l.msg === "chunk_imported" && first.logged("chunk_imported").length >= 2,
      60_000,
    );
    // Only a chunk that inserts its rows from now on: an earlier line may be at the end of its window already.
    const earlier = new Set(first.lines);
    const inFlight = await first.waitFor(
      (l) =>
        !earlier.has(l) &&
        l.msg === "chunk_rows_inserted" &&
        first.logged("chunk_imported", { chunkIndex: l.chunkIndex }).length === 0,
      60_000,
    );
    first.child.kill("SIGKILL");
    expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
    const killedChunk = Number(inFlight.chunkIndex);

    // The open transaction died with its connection: no orders of that chunk, no ledger row. (The ledger, not
    // the log, is the proof: a kill between a commit and its log line would leave the line missing.)
    await expect
      .poll(
        () => scalar("select count(*) from pg_stat_activity where application_name = 'sluice-admin-server'"),
        { timeout: 30_000 },
      )
      .toBe(0);
    expect(
      await scalar("select count(*) from imported_chunks where upload_id = $1 and chunk_index = $2", [
        upload.uploadId,
        killedChunk,
      ]),
      `chunk ${killedChunk} committed before the kill landed; ${first.describe()}`,
    ).toBe(0);
    const committedBefore = await scalar("select count(*) from orders");
    expect(committedBefore % 100).toBe(0); // whole chunks only
    expect(committedBefore).toBeGreaterThanOrEqual(200);

    // A new admin server takes over (without the delay).
    const second = adminServer(env);
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status, `${record.error}: ${record.cause}\n${second.describe()}`).toBe("SUCCEEDED");
    expect(record.output).toMatchObject({ rows, chunks: 15, accepted: rows, rejected: 0, chunksFailed: 0 });

    // No task was re-sent: every chunk's message was sent once, with its one token; no chunk failed.
    expect(sentIndexes(events)).toEqual(range(0, 14));
    expect(events.filter((e) => e.type === "chunk_failed" || e.type === "dead_lettered")).toEqual([]);

    // The second server imported the killed chunk from the SAME message the first one held: received by both,
    // the second time with ApproximateReceiveCount 2 or more. (chunk_succeeded is logged once the answer was
    // sent and the message deleted, which may come after the execution ended.)
    await second.waitFor((l) => l.msg === "chunk_succeeded" && l.chunkIndex === killedChunk);
    const answered = second.logged("chunk_succeeded", { chunkIndex: killedChunk });
    expect(answered, second.describe()).toHaveLength(1);
    const messageId = answered[0]!.messageId;
    expect(first.logged("chunk_received", { messageId })).toEqual([
      expect.objectContaining({ receiveCount: 1 }),
    ]);
    const redelivered = second.logged("chunk_received", { messageId });
    expect(redelivered.length).toBeGreaterThanOrEqual(1);
    expect(Math.max(...redelivered.map((l) => Number(l.receiveCount)))).toBeGreaterThanOrEqual(2);

    // The killed chunk was imported by exactly one transaction, the second server's; no chunk by two.
    const imported = [...first.logged("chunk_imported"), ...second.logged("chunk_imported")];
    expect(imported.filter((l) => l.chunkIndex === killedChunk)).toHaveLength(1);
    expect(second.logged("chunk_imported", { chunkIndex: killedChunk })).toHaveLength(1);
    expect(new Set(imported.map((l) => l.chunkIndex)).size).toBe(imported.length);

    await expectEveryRowOnce(upload.uploadId, rows);
    await expectLedger(upload.uploadId, 15, rows);
    // Nothing is left on the chunk queue (no stray delivery still to come) or in its dead-letter queue.
    await expect.poll(() => queueDepth(runtime, runtime.queueUrls.chunks), { timeout: 30_000 }).toBe(0);
    expect(await queueDepth(runtime, runtime.queueUrls.deadLetters)).toBe(0);
    expect(await second.stop("SIGTERM")).toEqual({ code: 0, signal: null });
  }, 180_000);

  it("a failed upload, then redrive: only the unsuccessful chunks run again and every row lands once", async () => {
    const runtime = await runtimeWith({ chunkRows: 100, maxConcurrency: 2 });
    const events = progress(runtime);
    const rows = 1000; // 10 chunks
    const refused = 4; // rows 402..501
    // A short visibility timeout: a server that stops aborts its pending long poll, and a message the emulator
    // hands to that poll before it ends (a redriven chunk, sent right after) stays invisible this long.
    const env = adminEnv(runtime, postgres.url, {
      CONSUMER_CONCURRENCY: "2",
      HEARTBEAT_SECONDS: "1",
      VISIBILITY_TIMEOUT_SECONDS: "3",
    });
    // The cause: this server refuses chunk 4 for good (a test knob; IMPORT_REFUSED is permanent).
    const first = adminServer({ ...env, IMPORT_REFUSE_CHUNK: String(refused) });
    await first.url();

    const upload = await runtime.upload(ordersCsv(rows), "orders-redrive.csv");
    const failed = await runtime.waitForExecution(upload.executionArn);
    // (The same object lives on across the redrive: read what is needed now.)
    expect(failed.status, first.describe()).toBe("FAILED");
    expect(failed.error).toBe("States.ExceedToleratedFailureThreshold");
    // The server logs the chunk after its SendTaskFailure returned (and the message is deleted), which may be
    // after the execution failed.
    await first.waitFor((line) => line.msg === "chunk_failed" && line.chunkIndex === refused);
    expect(first.logged("chunk_failed", { chunkIndex: refused })).toEqual([
      expect.objectContaining({ error: "IMPORT_REFUSED" }),
    ]);
    // Refused at once: never released for a redelivery.
    expect(first.logged("chunk_released")).toEqual([]);

    // The failure record in the bucket names the chunk.
    await runtime.failureNotification(upload.executionArn);
    const failure = await failureRecord(runtime, upload.uploadId);
    expect(failure).toMatchObject({
      kind: "upload-failure",
      status: "FAILED",
      uploadId: upload.uploadId,
      executionArn: upload.executionArn,
      redriveCount: 0,
      failedChunk: { index: refused, firstRow: 402, lastRow: 501, rows: 100 },
      error: { code: "IMPORT_REFUSED" },
    });
    expect(failure.error.cause).toContain("IMPORT_REFUSE_CHUNK");
    expect(
      await scalar("select count(*) from orders where upload_id = $1 and source_row between 402 and 501", [
        upload.uploadId,
      ]),
    ).toBe(0);
    // What succeeded before the failure: the Map Run's count (in the record) and which chunks (the answers).
    const doneBefore = new Set(events.flatMap((e) => (e.type === "chunk_done" ? [e.index] : [])));
    expect(doneBefore.has(refused)).toBe(false);
    expect(failure.chunks).toMatchObject({ total: 10, succeeded: doneBefore.size });

    // The cause is removed: the server restarts without the knob. Then the upload is redriven, as
    // `sluice redrive <upload-id>` does it.
    expect(await first.stop("SIGTERM")).toEqual({ code: 0, signal: null });
    const second = adminServer(env);
    await second.url();
    const sfn = runtime.sfnClient();
    cleanup.push(async () => sfn.destroy());
    const before = await sfn.send(new DescribeExecutionCommand({ executionArn: upload.executionArn }));
    expect(before).toMatchObject({ status: "FAILED", redriveStatus: "REDRIVABLE" });
    const redriveFrom = events.length;
    await sfn.send(new RedriveExecutionCommand({ executionArn: upload.executionArn }));

    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status, `${record.error}: ${record.cause}\n${second.describe()}`).toBe("SUCCEEDED");
    expect(record.redriveCount).toBe(1);
    expect(record.output).toMatchObject({ rows, chunks: 10, accepted: rows, rejected: 0, chunksFailed: 0 });

    // Only the chunks that had not succeeded were sent again, each once; the refused one among them.
    const sentAgain = sentIndexes(events.slice(redriveFrom));
    expect(sentAgain).toContain(refused);
    expect(sentAgain).toEqual(range(0, 9).filter((i) => !doneBefore.has(i)));
    expect(second.logged("chunk_imported", { chunkIndex: refused })).toHaveLength(1);

    // The database: the ledger has one row per chunk, and every source row is in `orders` once.
    await expectEveryRowOnce(upload.uploadId, rows);
    await expectLedger(upload.uploadId, 10, rows);
    await expect.poll(() => queueDepth(runtime, runtime.queueUrls.chunks), { timeout: 30_000 }).toBe(0);
    expect(await queueDepth(runtime, runtime.queueUrls.deadLetters)).toBe(0);
  }, 180_000);

  it("the admin server starts long after the upload: the chunks wait in the queue and the upload succeeds", async () => {
    // A 1 s queue visibility timeout, and no heartbeat clock on the chunk task: waiting costs nothing.
    const runtime = await runtimeWith({ chunkRows: 100, maxConcurrency: 3, visibilityTimeoutSeconds: 1 });
    const events = progress(runtime);
    const rows = 600;
    const upload = await runtime.upload(ordersCsv(rows), "orders-early.csv");
    await expect.poll(() => sentIndexes(events).length, { timeout: 60_000 }).toBe(3);
    await sleep(6_000); // six visibility timeouts, no admin server running
    expect(runtime.workflow.get(upload.executionArn)!.status).toBe("RUNNING");
    expect(sentIndexes(events)).toEqual([0, 1, 2]);
    expect(events.filter((e) => e.type === "chunk_failed" || e.type === "dead_lettered")).toEqual([]);

    const admin = adminServer(adminEnv(runtime, postgres.url, { CONSUMER_CONCURRENCY: "2" }));
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status, `${record.error}: ${record.cause}\n${admin.describe()}`).toBe("SUCCEEDED");
    expect(record.output).toMatchObject({ rows, chunks: 6, accepted: rows, rejected: 0, chunksFailed: 0 });
    // Each chunk was sent once and received once: the messages waited, nothing was re-sent or redelivered.
    expect(sentIndexes(events)).toEqual(range(0, 5));
    const received = admin.logged("chunk_received");
    expect(received).toHaveLength(6);
    expect(received.every((l) => l.receiveCount === 1)).toBe(true);

    await expectEveryRowOnce(upload.uploadId, rows);
    await expectLedger(upload.uploadId, 6, rows);
  }, 120_000);
});
