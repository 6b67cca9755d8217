import { setTimeout as sleep } from "node:timers/promises";
import type { ChunkHandler, RejectedRow } from "@sluice/consumer";
import type { Chunk } from "@sluice/core";
import type pg from "pg";
import { type OrderRecord, validateOrderRow } from "./order-row.ts";

/**
 * The consumer handler: one chunk of orders into PostgreSQL, exactly once.
 *
 * 1. Every row is validated (src/order-row.ts); invalid rows become rejected rows with a code and a reason.
 * 2. In ONE transaction:
 *    - claim the chunk's ledger row `(upload_id, chunk_index)` with `insert ... on conflict do nothing`. If it
 *      already exists the chunk was imported before (SQS redelivery after a crash, a Map retry after a heartbeat
 *      timeout, a redrive): answer with the recorded result and insert nothing. If another transaction is
 *      importing the same chunk right now, the insert waits for it and then sees its row;
 *    - insert the valid rows with one multi-row `insert ... select from unnest(...)`, `on conflict (order_id) do
 *      nothing returning order_id`: the returned ids are exactly the rows this chunk added. A valid row whose id
 *      is not returned already belongs to an order imported before (another upload, or an earlier chunk of this
 *      one, committed before us): it is rejected with `DUPLICATE_ORDER`, naming the upload and row that hold it.
 *      A repeated id inside the chunk is rejected the same way (the first occurrence wins);
 *    - record `accepted` and `rejected` on the ledger row; commit.
 *    Any database error rolls everything back (no orders, no ledger row) and fails the chunk.
 *
 * Memory: one chunk's rows at a time per handler call, so concurrency × chunk size.
 */
export interface ImportChunkOptions {
  pool: pg.Pool;
  /** How timestamps without an offset are read. Default UTC. */
  timeZone?: string;
  /** Test/demo knob: hold the transaction open this long after inserting the rows, before the ledger commit. */
  delayMs?: number;
  /** Called inside the transaction once the rows are inserted, before the ledger update and the commit. */
  onInserted?: (event: { uploadId: string; chunkIndex: number; inserted: number }) => void;
  /** Called after every chunk, e.g. for logs. */
  onImported?: (event: ImportedEvent) => void;
}

export interface ImportResult {
  accepted: number;
  rejected: RejectedRow[];
}

export interface ImportedEvent extends ImportResult {
  uploadId: string;
  chunkIndex: number;
  /** True when the ledger already had this chunk and nothing was inserted. */
  replayed: boolean;
  durationMs: number;
}

/** A chunk that could not be imported; its code becomes the SendTaskFailure error. */
export class ImportError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ImportError";
  }
}

export function createImportChunkHandler(options: ImportChunkOptions): ChunkHandler {
  return async (chunk, ctx) => {
    const result = await importChunk(options, chunk, ctx.signal);
    return { accepted: result.accepted, rejected: result.rejected };
  };
}

const TRANSIENT_SQLSTATES = new Set(["40001", "40P01", "57P01", "57P02", "57P03", "53300"]);
const TRANSIENT_NODE_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT"]);

function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return (
    typeof code === "string" &&
    (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_NODE_CODES.has(code) || code.startsWith("08"))
  );
}

/** Imports one chunk; retries the whole transaction on deadlocks, serialization failures and lost connections. */
export async function importChunk(
  options: ImportChunkOptions,
  chunk: Chunk,
  signal?: AbortSignal,
): Promise<ImportResult & { replayed: boolean }> {
  const started = performance.now();
  const rejected: RejectedRow[] = [];
  const valid: OrderRecord[] = [];
  const firstRowOf = new Map<string, number>();
  for (const row of chunk.rows) {
    const checked = validateOrderRow(row);
    if (!checked.ok) {
      rejected.push(checked.rejected);
      continue;
    }
    const { order } = checked;
    const first = firstRowOf.get(order.orderId);
    if (first !== undefined) {
      rejected.push({
        row: row.row,
        code: "DUPLICATE_ORDER",
        message: `Order ${order.orderId} appears again in this file (first at row ${first})`,
      });
      continue;
    }
    firstRowOf.set(order.orderId, row.row);
    valid.push(order);
  }

  for (let attempt = 1; ; attempt++) {
    try {
      const result = await importTransaction(options, chunk, valid, rejected, signal, started);
      options.onImported?.({
        uploadId: chunk.uploadId,
        chunkIndex: chunk.index,
        ...result,
        durationMs: Math.round(performance.now() - started),
      });
      return result;
    } catch (error) {
      if (attempt < 3 && isTransient(error) && !signal?.aborted) {
        await sleep(attempt * 500);
        continue;
      }
      if (error instanceof ImportError || signal?.aborted) throw error;
      const pgError = error as { code?: string; message?: string };
      throw new ImportError(
        "DATABASE_ERROR",
        `chunk ${chunk.index} of ${chunk.uploadId} was not imported, nothing was saved: ${pgError.message ?? String(error)}${pgError.code ? ` (SQLSTATE ${pgError.code})` : ""}`,
        { cause: error },
      );
    }
  }
}

const INSERT_ORDERS = `
insert into orders (order_id, ordered_at, customer, phone, address, item, quantity, unit_price, total, paid,
                    delivery_date, memo, upload_id, source_row)
select o.order_id,
       case when o.ordered_at ~ 'T.*(Z|[+-]\\d{2}:?\\d{2})$' then o.ordered_at::timestamptz
            else o.ordered_at::timestamp at time zone $14 end,
       o.customer, o.phone, o.address, o.item, o.quantity, o.unit_price, o.total, o.paid,
       o.delivery_date, o.memo, $13, o.source_row
  from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::numeric[],
              $9::numeric[], $10::bool[], $11::date[], $12::text[], $15::int[])
       as o(order_id, ordered_at, customer, phone, address, item, quantity, unit_price, total, paid,
            delivery_date, memo, source_row)
 order by o.order_id
on conflict (order_id) do nothing
returning order_id`;

async function importTransaction(
  options: ImportChunkOptions,
  chunk: Chunk,
  valid: OrderRecord[],
  invalid: RejectedRow[],
  signal: AbortSignal | undefined,
  started: number,
): Promise<ImportResult & { replayed: boolean }> {
  signal?.throwIfAborted();
  const client = await options.pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("begin");
    const claim = await client.query(
      `insert into imported_chunks (upload_id, chunk_index, first_row, last_row, rows, accepted)
       values ($1, $2, $3, $4, $5, 0) on conflict (upload_id, chunk_index) do nothing`,
      [chunk.uploadId, chunk.index, chunk.firstRow, chunk.lastRow, chunk.rows.length],
    );
    if (claim.rowCount === 0) {
      const done = await client.query<{ accepted: number; rejected: RejectedRow[] }>(
        "select accepted, rejected from imported_chunks where upload_id = $1 and chunk_index = $2",
        [chunk.uploadId, chunk.index],
      );
      await client.query("commit");
      const row = done.rows[0];
      if (!row) throw new ImportError("LEDGER_INCONSISTENT", `ledger row of chunk ${chunk.index} vanished`);
      return { accepted: row.accepted, rejected: row.rejected, replayed: true };
    }

    const rejected = [...invalid];
    let accepted = 0;
    if (valid.length > 0) {
      const inserted = await client.query<{ order_id: string }>(INSERT_ORDERS, [
        valid.map((o) => o.orderId),
        valid.map((o) => o.orderedAt),
        valid.map((o) => o.customer),
        valid.map((o) => o.phone),
        valid.map((o) => o.address),
        valid.map((o) => o.item),
        valid.map((o) => o.quantity),
        valid.map((o) => o.unitPrice),
        valid.map((o) => o.total),
        valid.map((o) => o.paid),
        valid.map((o) => o.deliveryDate),
        valid.map((o) => o.memo),
        chunk.uploadId,
        options.timeZone ?? "UTC",
        valid.map((o) => o.sourceRow),
      ]);
      accepted = inserted.rowCount ?? inserted.rows.length;
      if (accepted < valid.length) {
        const added = new Set(inserted.rows.map((r) => r.order_id));
        const duplicates = valid.filter((o) => !added.has(o.orderId));
        const holders = await client.query<{ order_id: string; upload_id: string; source_row: number }>(
          "select order_id, upload_id, source_row from orders where order_id = any($1::text[])",
          [duplicates.map((o) => o.orderId)],
        );
        const holderOf = new Map(holders.rows.map((h) => [h.order_id, h]));
        for (const order of duplicates) {
          const holder = holderOf.get(order.orderId);
          rejected.push({
            row: order.sourceRow,
            code: "DUPLICATE_ORDER",
            message: !holder
              ? `Order ${order.orderId} already exists`
              : holder.upload_id === chunk.uploadId
                ? `Order ${order.orderId} was already imported from row ${holder.source_row} of this file`
                : `Order ${order.orderId} was already imported by upload ${holder.upload_id} (row ${holder.source_row})`,
          });
        }
      }
    }
    rejected.sort((a, b) => a.row - b.row);
    options.onInserted?.({ uploadId: chunk.uploadId, chunkIndex: chunk.index, inserted: accepted });

    if (options.delayMs) {
      // Rejects with an AbortError: report the consumer's reason (stale token, stopping) instead.
      await sleep(options.delayMs, undefined, signal ? { signal } : {}).catch((error: unknown) => {
        throw signal?.aborted ? signal.reason : error;
      });
    }
    signal?.throwIfAborted();
    await client.query(
      `update imported_chunks set accepted = $3, rejected = $4::jsonb, duration_ms = $5, imported_at = now()
        where upload_id = $1 and chunk_index = $2`,
      [
        chunk.uploadId,
        chunk.index,
        accepted,
        JSON.stringify(rejected),
        Math.round(performance.now() - started),
      ],
    );
    await client.query("commit");
    return { accepted, rejected, replayed: false };
  } catch (error) {
    await client.query("rollback").catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    // A client whose rollback failed may be mid-transaction: destroy it rather than return it to the pool.
    client.release(broken);
  }
}
