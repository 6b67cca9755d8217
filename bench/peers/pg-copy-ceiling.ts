/**
 * The database's own bulk-insert ceiling beside the example admin server's import: the same orders (the rows of
 * examples/admin-server/bench's generated workbook, computed by the same formulas) into the same table (the admin
 * server's own `migrate()`, src/schema.sql: primary key, unique (upload_id, source_row), checks) with
 * `COPY orders (...) FROM STDIN (FORMAT csv)` through pg, on a PostgreSQL started like the admin server benchmark's
 * (embedded, fsync off; or DATABASE_URL). Timed: the COPY alone (rows are encoded before the clock starts), once as
 * one stream and once as 4 streams in parallel (the admin server imports 4 chunks at a time), table emptied between.
 *
 *   tsx bench/peers/pg-copy-ceiling.ts --sizes 100k,1m
 *
 * The admin server's own import path without the pipeline (its statements over converted chunks) is measured by
 * examples/admin-server/bench/admin-server-bench.ts, under the admin server's heap cap.
 *
 * Prints one JSON line per size on stdout: {"rows", "oneStreamRowsPerSec", "fourStreamsRowsPerSec"}.
 */

import { parseArgs } from "node:util";
import { createPool, migrate } from "@sluice/example-admin-server";
import { startPostgres } from "@sluice/example-admin-server/embedded-postgres";
import { DISTRICTS, GIVEN_NAMES, ITEMS, PRICES, SURNAMES } from "@sluice/example-admin-server/orders-sheet";
import type pg from "pg";

const { values } = parseArgs({ options: { sizes: { type: "string", default: "100k,1m" } } });
const sizes = values.sizes.split(",").map((s) => {
  const m = /^(\d+)(k|m)?$/i.exec(s.trim());
  if (!m) throw new Error(`bad size ${s}`);
  return Number(m[1]) * (m[2]?.toLowerCase() === "m" ? 1_000_000 : m[2] ? 1_000 : 1);
});

const COLUMNS =
  "order_id, ordered_at, customer, phone, address, item, quantity, unit_price, total, paid, delivery_date, memo, upload_id, source_row";

const csvText = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
const isoDay = (d: Date) => d.toISOString().slice(0, 10);

/** Rows i = 1..count as the admin server benchmark's workbook holds them (examples/admin-server/bench). */
function encodeRows(from: number, to: number, uploadId: string): Buffer[] {
  const start = Date.UTC(2026, 9, 1);
  const out: Buffer[] = [];
  let lines: string[] = [];
  for (let i = from; i <= to; i++) {
    const k = i % ITEMS.length;
    const quantity = 1 + (i % 5);
    const orderedAt = new Date(start + ((i * 7919) % (30 * 86_400)) * 1000);
    const delivery = new Date(
      Date.UTC(orderedAt.getUTCFullYear(), orderedAt.getUTCMonth(), orderedAt.getUTCDate() + 2),
    );
    lines.push(
      [
        `ORD-${2026 + Math.floor(i / 1_000_000)}-${String(i % 1_000_000).padStart(6, "0")}`,
        orderedAt.toISOString(),
        SURNAMES[i % 10]! + GIVEN_NAMES[(i * 3) % 10]!,
        `010-${String(1000 + ((i * 31) % 9000))}-${String(1000 + ((i * 17) % 9000))}`,
        csvText(`${DISTRICTS[i % DISTRICTS.length]} ${1 + (i % 300)}`),
        csvText(ITEMS[k]!),
        String(quantity),
        String(PRICES[k]),
        String(quantity * PRICES[k]!),
        i % 10 !== 0 ? "t" : "f",
        isoDay(delivery),
        i % 5 === 0 ? "배송 전 연락 바랍니다" : "",
        uploadId,
        String(i + 1), // the source row: row 1 is the header
      ].join(","),
    );
    if (lines.length === 5_000) {
      out.push(Buffer.from(`${lines.join("\n")}\n`));
      lines = [];
    }
  }
  if (lines.length > 0) out.push(Buffer.from(`${lines.join("\n")}\n`));
  return out;
}

interface PgConnection {
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  query(text: string): void;
  stream: NodeJS.WritableStream & { writableNeedDrain?: boolean };
}

/**
 * `COPY ... FROM STDIN` as a pg "submittable" (what pg-copy-streams does, which is not installed here): pg hands
 * it the connection, the server answers CopyInResponse, the data goes as CopyData messages, then CopyDone.
 */
function copyFrom(client: pg.PoolClient, sql: string, chunks: Buffer[]): Promise<void> {
  return new Promise((resolve, reject) => {
    let failed: Error | undefined;
    const submittable = {
      submit(connection: PgConnection) {
        connection.query(sql);
      },
      async handleCopyInResponse(connection: PgConnection) {
        for (const chunk of chunks) {
          connection.sendCopyFromChunk(chunk);
          if (connection.stream.writableNeedDrain)
            await new Promise((r) => connection.stream.once("drain", r));
        }
        connection.endCopyFrom();
      },
      handleCommandComplete() {},
      handleEmptyQuery() {},
      handleError(error: Error) {
        failed = error;
      },
      handleReadyForQuery() {
        if (failed) reject(failed);
        else resolve();
      },
    };
    (client as unknown as { query(q: unknown): void }).query(submittable);
  });
}

async function timedCopy(pool: pg.Pool, parts: Buffer[][]): Promise<number> {
  await pool.query("truncate orders, imported_chunks");
  const started = performance.now();
  await Promise.all(
    parts.map(async (chunks) => {
      const client = await pool.connect();
      try {
        await client.query("begin");
        await copyFrom(client, `copy orders (${COLUMNS}) from stdin (format csv)`, chunks);
        await client.query("commit");
      } finally {
        client.release();
      }
    }),
  );
  return (performance.now() - started) / 1000;
}

// The admin server benchmark's database: DATABASE_URL, or embedded PostgreSQL with relaxed durability.
const database = await startPostgres({ fast: true });
const pool = createPool(database.url, 4);
try {
  await migrate(pool);
  for (const rows of sizes) {
    const uploadId = `ceiling-${rows}`;
    const one = [encodeRows(1, rows, uploadId)];
    const quarter = Math.ceil(rows / 4);
    const four = [0, 1, 2, 3].map((q) =>
      encodeRows(q * quarter + 1, Math.min(rows, (q + 1) * quarter), uploadId),
    );
    const oneSeconds = await timedCopy(pool, one);
    const fourSeconds = await timedCopy(pool, four);
    const { rows: counted } = await pool.query<{ n: number }>("select count(*)::int as n from orders");
    if (counted[0]?.n !== rows) throw new Error(`copied ${counted[0]?.n} rows, expected ${rows}`);
    console.log(
      JSON.stringify({
        rows,
        oneStreamRowsPerSec: Math.round(rows / oneSeconds),
        fourStreamsRowsPerSec: Math.round(rows / fourSeconds),
      }),
    );
  }
} finally {
  await pool.end();
  await database.stop();
}
