import { ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { LocalRuntime, type RuntimeEvent } from "../../../packages/local/src/runtime/local-runtime.ts";
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

async function scalar(sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select (${sql})::int as n`, params);
  return rows[0]!.n;
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

  it("survives kill -9 in the middle of a chunk: the execution succeeds and every row is in the database once", async () => {
    // Step Functions expects a heartbeat every 3 s; the queue's visibility timeout is 2 × 3 = 6 s.
    const runtime = await runtimeWith({
      chunkRows: 100,
      heartbeatSeconds: 3,
      chunkTimeoutSeconds: 60,
      chunkRetries: 4,
      maxConcurrency: 2,
    });
    const events: RuntimeEvent[] = [];
    runtime.on("progress", (e: RuntimeEvent) => events.push(e));
    const env = adminEnv(runtime, postgres.url, {
      CONSUMER_CONCURRENCY: "2",
      HEARTBEAT_SECONDS: "1",
      VISIBILITY_TIMEOUT_SECONDS: "6",
      // Each chunk holds its transaction open after inserting its rows: a window to crash in.
      IMPORT_DELAY_MS: "800",
    });
    const first = adminServer(env);
    await first.url();

    const rows = 1500;
    const upload = await runtime.upload(ordersCsv(rows), "orders-crash.csv");
    // Let a few chunks commit, then kill the process while a chunk's rows are inserted but not committed.
    await first.waitFor((l) => l.msg === "chunk_imported" && first.logged("chunk_imported").length >= 3);
    // Only a chunk that inserts its rows from now on: an earlier line may be at the end of its window already.
    const earlier = new Set(first.lines);
    const inFlight = await first.waitFor(
      (l) =>
        !earlier.has(l) &&
        l.msg === "chunk_rows_inserted" &&
        first.logged("chunk_imported", { chunkIndex: l.chunkIndex }).length === 0,
    );
    first.child.kill("SIGKILL");
    expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
    const killedChunk = Number(inFlight.chunkIndex);
    expect(first.logged("chunk_imported", { chunkIndex: killedChunk })).toEqual([]);

    // The open transaction died with its connection: no orders of that chunk, no ledger row.
    await expect
      .poll(() =>
        scalar("select count(*) from pg_stat_activity where application_name = 'sluice-admin-server'"),
      )
      .toBe(0);
    expect(
      await scalar("select count(*) from imported_chunks where upload_id = $1 and chunk_index = $2", [
        upload.uploadId,
        killedChunk,
      ]),
    ).toBe(0);
    const committedBefore = await scalar("select count(*) from orders");
    expect(committedBefore % 100).toBe(0); // whole chunks only

    // A new admin server takes over.
    const second = adminServer(env);
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("SUCCEEDED");
    expect(record.output).toMatchObject({ rows, chunks: 15, accepted: rows, rejected: 0, chunksFailed: 0 });

    // Step Functions gave up on the killed task's token (no heartbeat) and sent the chunk again with a new
    // token; the original message reappears after its visibility timeout with the old token. The second
    // server gets both: it imports the chunk once and answers the other delivery from the ledger.
    expect(
      events.some(
        (e) => e.type === "chunk_failed" && e.index === killedChunk && e.error === "States.HeartbeatTimeout",
      ),
    ).toBe(true);
    await second.waitFor(
      (l) => l.msg === "chunk_replayed_from_ledger" && l.chunkIndex === killedChunk,
      20_000,
    );
    await second.waitFor((l) => l.msg === "token_stale" && l.chunkIndex === killedChunk, 10_000);
    const imported = [...first.logged("chunk_imported"), ...second.logged("chunk_imported")];
    expect(imported.filter((l) => l.chunkIndex === killedChunk)).toHaveLength(1);
    // No chunk was imported by two transactions, whatever the deliveries. (The ledger below is the full proof:
    // a process killed between a commit and its log line would leave one chunk_imported line missing.)
    expect(new Set(imported.map((l) => l.chunkIndex)).size).toBe(imported.length);

    await expectEveryRowOnce(upload.uploadId, rows);
    expect(await scalar("select count(*) from imported_chunks where upload_id = $1", [upload.uploadId])).toBe(
      15,
    );
    expect(
      await scalar("select sum(accepted) from imported_chunks where upload_id = $1", [upload.uploadId]),
    ).toBe(rows);

    // Nothing is left on the chunk queue (no stray delivery still to come).
    const sqs = new SQSClient(runtime.emulator.clientConfig);
    const left = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: runtime.queueUrls.chunks,
        WaitTimeSeconds: 0,
        MaxNumberOfMessages: 10,
      }),
    );
    expect(left.Messages ?? []).toEqual([]);
    await second.stop("SIGTERM");
  });
});
