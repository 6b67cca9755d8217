import { setTimeout as sleep } from "node:timers/promises";
import type { ChunkHandler, RejectedRow } from "@sluice/consumer";
import type { KeyedChunk } from "@sluice/contract";
import type pg from "pg";
import { type OrderRecord, validateOrderRow } from "./order-row.ts";

/**
 * The consumer handler: one chunk of orders into PostgreSQL, exactly once. The consumer SDK hands it the chunk with
 * its rows keyed by column name (`KeyedChunk`: `chunk.rows[i]` is `{ row, data, warnings? }`); a chunk read from
 * chunks.jsonl without the SDK is keyed with `keyedChunk()` of @sluice/contract first.
 *
 * 1. Every row is validated (src/order-row.ts); invalid rows become rejected rows with a code and a reason.
 * 2. In ONE transaction:
 *    - claim the chunk's ledger row `(upload_id, chunk_index)` with `insert ... on conflict do nothing`. If it
 *      already exists the chunk was imported before (SQS redelivered it after a crash or a lost answer, a message
 *      of an aborted Map Run child arrived late, a redrive sent it again): answer with the recorded result and
 *      insert nothing. If another transaction is importing the same chunk right now, the insert waits for it and
 *      then sees its row;
 *    - insert the valid rows with one multi-row `insert ... select from unnest(...)`, `on conflict (order_id) do
 *      nothing returning order_id`: the returned ids are exactly the rows this chunk added. A valid row whose id
 *      is not returned already belongs to an order imported before (another upload, or an earlier chunk of this
 *      one, committed before us): it is rejected with `DUPLICATE_ORDER`, naming the upload and row that hold it.
 *      A repeated id inside the chunk is rejected the same way (the first occurrence wins);
 *    - record `accepted` and `rejected` on the ledger row; commit.
 *    Any database error rolls everything back (no orders, no ledger row).
 * 3. A chunk that was not imported throws an `ImportError` whose `retryable` tells the consumer what to do:
 *    - `DATABASE_ERROR` (retryable): the database failed us (down, restarting, out of connections, a deadlock
 *      or lost connection still there after three tries, a bug in a trigger). Nothing was saved and the same
 *      chunk may well import later, so it is left to SQS: redelivered after a short backoff, and only after the
 *      queue's maxReceiveCount receives dead-lettered (the upload then fails with CHUNK_DEAD_LETTERED).
 *    - `LEDGER_INCONSISTENT` (retryable): the ledger row vanished between its claim and its read (deleted by
 *      hand); the next delivery claims the chunk afresh.
 *    - `IMPORT_DATA_REFUSED` (permanent): the database refused the chunk's data itself (SQLSTATE class 22, a
 *      data exception, or 23, a constraint violation). The chunk's bytes never change, so every redelivery
 *      would fail the same way: the task is failed at once and the upload fails naming the chunk. Fix the
 *      cause (the validation in src/order-row.ts, the schema) and redrive the upload.
 *    - `IMPORT_REFUSED` (permanent): the test knob `refuseChunk` (IMPORT_REFUSE_CHUNK) refused the chunk.
 *    - the consumer's abort reason, when it aborted the chunk (stale token, stop timeout): the consumer handles
 *      those itself (no answer is sent for them).
 *
 * Memory: one chunk's rows at a time per handler call, so concurrency × chunk size.
 */
export interface ImportChunkOptions {
  pool: pg.Pool;
  /** How timestamps without an offset are read. Default UTC. */
  timeZone?: string;
  /** Test/demo knob: hold the transaction open this long after inserting the rows, before the ledger commit. */
  delayMs?: number;
  /**
   * Test knob: refuse the chunk with this index (of every upload) for good, before touching the database
   * (`IMPORT_REFUSED`, permanent): an upload that fails on one chunk, to be redriven once the knob is gone.
   */
  refuseChunk?: number;
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

/**
 * A chunk that could not be imported; its code becomes the SendTaskFailure error when it is permanent.
 * `retryable: false` makes the consumer fail the chunk's task at once; `true` leaves the message to SQS, which
 * delivers it again (see the list in the comment at the top of this file).
 */
export class ImportError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
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

/** Worth trying again at once, in this delivery: deadlocks, serialization failures, lost connections. */
function isTransient(error: unknown): boolean {
  const code = sqlState(error);
  return (
    code !== undefined &&
    (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_NODE_CODES.has(code) || code.startsWith("08"))
  );
}

/**
 * The database refused the data itself: class 22 (data exception: a value out of range, a NUL byte in text, a
 * bad date) or 23 (integrity constraint violation: a check, not null, a unique key other than the ones the
 * import resolves). The same rows fail the same way on every delivery.
 */
function isDataRefused(error: unknown): boolean {
  const code = sqlState(error);
  return code !== undefined && /^2[23][0-9A-Z]{3}$/.test(code);
}

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Imports one chunk; retries the whole transaction on deadlocks, serialization failures and lost connections. */
export async function importChunk(
  options: ImportChunkOptions,
  chunk: KeyedChunk,
  signal?: AbortSignal,
): Promise<ImportResult & { replayed: boolean }> {
  const started = performance.now();
  if (options.refuseChunk === chunk.index) {
    // Permanent: the knob refuses this chunk on every delivery, so redeliveries would only delay the failure.
    throw new ImportError(
      "IMPORT_REFUSED",
      `chunk ${chunk.index} of ${chunk.uploadId} refused by IMPORT_REFUSE_CHUNK (a test knob); nothing was saved`,
      false,
    );
  }
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
      // Already decided (an ImportError), or the consumer's own abort reason (stale token, stopping), which it
      // handles itself: no answer is sent for an aborted chunk.
      if (error instanceof ImportError || signal?.aborted) throw error;
      const pgError = error as { code?: string; message?: string };
      const what = `${pgError.message ?? String(error)}${pgError.code ? ` (SQLSTATE ${pgError.code})` : ""}`;
      if (isDataRefused(error)) {
        // Permanent: the chunk's rows are what the database refuses, and they are the same on every delivery.
        throw new ImportError(
          "IMPORT_DATA_REFUSED",
          `chunk ${chunk.index} of ${chunk.uploadId} was not imported, the database refused its data: ${what}; nothing was saved`,
          false,
          { cause: error },
        );
      }
      // Transient: the database (or the connection to it) failed, not the chunk. SQS delivers it again later;
      // a database that stays down long enough dead-letters it and the upload fails naming it (redrivable).
      throw new ImportError(
        "DATABASE_ERROR",
        `chunk ${chunk.index} of ${chunk.uploadId} was not imported, nothing was saved: ${what}`,
        true,
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
  chunk: KeyedChunk,
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
      // Someone deleted the ledger row between our claim and this read (an operator clearing it to import the
      // chunk again): transient, the next delivery claims the chunk afresh.
      if (!row)
        throw new ImportError("LEDGER_INCONSISTENT", `ledger row of chunk ${chunk.index} vanished`, true);
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
