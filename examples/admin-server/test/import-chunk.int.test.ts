import type pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createPool, migrate } from "../src/db.ts";
import { type PostgresHandle, startPostgres } from "../src/embedded-postgres.ts";
import { ImportError, importChunk } from "../src/import-chunk.ts";
import { chunkOf, orderData, orderId } from "./support/orders.ts";

let postgres: PostgresHandle;
let pool: pg.Pool;

beforeAll(async () => {
  postgres = await startPostgres();
  pool = createPool(postgres.url, 10);
  await migrate(pool);
  await migrate(pool); // idempotent
});
afterAll(async () => {
  await pool?.end();
  await postgres?.stop();
});
beforeEach(async () => {
  await pool.query("truncate orders, imported_chunks");
});

const options = () => ({ pool, timeZone: "Asia/Seoul" });
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
async function count(sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`select (${sql})::int as n`, params);
  return rows[0]!.n;
}

describe("importChunk against PostgreSQL", () => {
  it("inserts valid rows with their typed values, the upload and the source row", async () => {
    const chunk = chunkOf(
      "up-1",
      0,
      range(1, 50).map((n) => orderData(n)),
    );
    const result = await importChunk(options(), chunk);
    expect(result).toEqual({ accepted: 50, rejected: [], replayed: false });
    expect(await count("select count(*) from orders")).toBe(50);

    const { rows } = await pool.query(
      `select order_id, ordered_at, quantity, unit_price::text, total::text, paid, to_char(delivery_date, 'YYYY-MM-DD') as delivery_date,
              memo, upload_id, source_row from orders where order_id = $1`,
      [orderId(4)],
    );
    expect(rows[0]).toEqual({
      order_id: "ORD-2026-000004",
      // 2026-10-05T04:15:30 in Asia/Seoul (+09:00)
      ordered_at: new Date("2026-10-04T19:15:30Z"),
      quantity: 5,
      unit_price: "5900.00",
      total: "29500.00",
      paid: true,
      delivery_date: "2026-11-05",
      memo: "배송 전 연락 바랍니다",
      upload_id: "up-1",
      source_row: 5,
    });
    const ledger = await pool.query("select * from imported_chunks");
    expect(ledger.rows).toMatchObject([
      { upload_id: "up-1", chunk_index: 0, rows: 50, accepted: 50, rejected: [] },
    ]);
  });

  it("accepts csv strings for numbers and booleans", async () => {
    const data = orderData(7, { Quantity: "3", "Unit Price": "8900", Total: "26700", Paid: "TRUE" });
    // A midnight timestamp comes out of the converter as a bare date; an explicit offset is kept.
    const midnight = orderData(8, { "Ordered At": "2026-10-30" });
    const withOffset = orderData(9, { "Ordered At": "2026-10-30 12:00:00+02:00" });
    const result = await importChunk(options(), chunkOf("up-csv", 0, [data, midnight, withOffset]));
    expect(result).toMatchObject({ accepted: 3, rejected: [] });
    const { rows } = await pool.query("select quantity, paid, ordered_at from orders order by order_id");
    expect(rows).toEqual([
      { quantity: 3, paid: true, ordered_at: new Date("2026-10-07T22:15:30Z") },
      { quantity: 4, paid: true, ordered_at: new Date("2026-10-29T15:00:00Z") },
      { quantity: 5, paid: false, ordered_at: new Date("2026-10-30T10:00:00Z") },
    ]);
  });

  it("rejects invalid rows with a code and a reason and imports the rest", async () => {
    const chunk = chunkOf("up-2", 0, [
      orderData(1),
      orderData(2, { Quantity: 0, Total: 0 }),
      orderData(3, { Phone: null }),
      orderData(4, { Total: 1 }),
      orderData(5, { "Order ID": "12345" }),
      orderData(6, { "Delivery Date": "2026-02-30" }),
      orderData(7, { Paid: "maybe", "Ordered At": "yesterday" }),
      orderData(8),
    ]);
    const result = await importChunk(options(), chunk);
    expect(result.accepted).toBe(2);
    expect(result.rejected).toEqual([
      { row: 3, code: "INVALID_VALUE", message: "Quantity (0) must be at least 1" },
      { row: 4, code: "MISSING_VALUE", message: "Phone is required" },
      { row: 5, code: "TOTAL_MISMATCH", message: "Total 1 is not Quantity × Unit Price (29500)" },
      { row: 6, code: "INVALID_VALUE", message: 'Order ID ("12345") must look like ORD-2026-000123' },
      {
        row: 7,
        code: "INVALID_VALUE",
        message: 'Delivery Date ("2026-02-30") must be a date like 2026-10-22',
      },
      {
        row: 8,
        code: "INVALID_VALUE",
        message:
          'Ordered At ("yesterday") must be a date and time like 2026-10-20T09:30:00; Paid ("maybe") must be true or false',
      },
    ]);
    const ids = (await pool.query("select order_id from orders order by order_id")).rows.map(
      (r) => r.order_id,
    );
    expect(ids).toEqual([orderId(1), orderId(8)]);
    const ledger = await pool.query("select accepted, rejected from imported_chunks");
    expect(ledger.rows[0]).toEqual({ accepted: 2, rejected: result.rejected });
  });

  it("judges a row with a cell warning by its values: the warning neither rejects nor accepts it", async () => {
    // Excel error values (#DIV/0!) the converter turned into null, with a warning on the row: a Memo may be empty,
    // a Quantity may not.
    const chunk = chunkOf(
      "up-warned",
      0,
      [orderData(1, { Memo: null }), orderData(2, { Quantity: null }), orderData(3)],
      2,
      [
        { row: 2, column: "Memo", code: "CELL_ERROR", message: "#DIV/0!" },
        { row: 3, column: "Quantity", code: "CELL_ERROR", message: "#VALUE!" },
      ],
    );
    expect(chunk.rows.map((r) => r.warnings?.map((w) => w.column))).toEqual([
      ["Memo"],
      ["Quantity"],
      undefined,
    ]);
    const result = await importChunk(options(), chunk);
    expect(result).toEqual({
      accepted: 2,
      rejected: [{ row: 3, code: "MISSING_VALUE", message: "Quantity is required" }],
      replayed: false,
    });
  });

  it("imports the same chunk delivered twice once, and answers the second time with the recorded result", async () => {
    const chunk = chunkOf("up-3", 4, [
      ...range(1, 30).map((n) => orderData(n)),
      orderData(31, { Quantity: -1 }),
    ]);
    const first = await importChunk(options(), chunk);
    const again = await importChunk(options(), chunk);
    expect(first.replayed).toBe(false);
    expect(again).toEqual({ ...first, replayed: true });
    expect(await count("select count(*) from orders")).toBe(30);
    expect(await count("select count(*) from imported_chunks")).toBe(1);
  });

  it("imports the same chunk once when deliveries race (a redelivery and a redrive's new message at once)", async () => {
    const chunk = chunkOf(
      "up-4",
      0,
      range(1, 200).map((n) => orderData(n)),
    );
    const results = await Promise.all(range(1, 4).map(() => importChunk(options(), chunk)));
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    for (const r of results) expect(r).toMatchObject({ accepted: 200, rejected: [] });
    expect(await count("select count(*) from orders")).toBe(200);
  });

  it("rejects an order id repeated inside a chunk, or already imported by another upload, as DUPLICATE_ORDER", async () => {
    await importChunk(
      options(),
      chunkOf(
        "first-upload",
        0,
        range(1, 10).map((n) => orderData(n)),
        2,
      ),
    );
    const result = await importChunk(
      options(),
      chunkOf("second-upload", 0, [orderData(20), orderData(5), orderData(21), orderData(20)], 2),
    );
    expect(result.accepted).toBe(2);
    expect(result.rejected).toEqual([
      {
        row: 3,
        code: "DUPLICATE_ORDER",
        message: "Order ORD-2026-000005 was already imported by upload first-upload (row 6)",
      },
      {
        row: 5,
        code: "DUPLICATE_ORDER",
        message: "Order ORD-2026-000020 appears again in this file (first at row 2)",
      },
    ]);
    // The order keeps the values and the origin of its first import.
    const { rows } = await pool.query("select upload_id, source_row from orders where order_id = $1", [
      orderId(5),
    ]);
    expect(rows).toEqual([{ upload_id: "first-upload", source_row: 6 }]);
    expect(await count("select count(*) from orders")).toBe(12);
  });

  it("counts honestly when concurrent chunks of different uploads share order ids", async () => {
    const chunks = range(0, 5).map((i) =>
      chunkOf(
        `racer-${i}`,
        0,
        range(1, 300).map((n) => orderData(n + i * 50)),
      ),
    );
    const results = await Promise.all(chunks.map((c) => importChunk(options(), c)));
    const accepted = results.reduce((sum, r) => sum + r.accepted, 0);
    const duplicates = results.reduce((sum, r) => sum + r.rejected.length, 0);
    const distinct = 300 + 5 * 50;
    expect(await count("select count(*) from orders")).toBe(distinct);
    expect(accepted).toBe(distinct);
    expect(accepted + duplicates).toBe(6 * 300);
    for (const r of results) for (const rej of r.rejected) expect(rej.code).toBe("DUPLICATE_ORDER");
  });

  it("is all or nothing: a database error at the last step leaves no orders and no ledger row", async () => {
    // A real failure inside the transaction: the ledger's final update raises, after the orders were inserted.
    await pool.query(`
      create or replace function refuse_ledger() returns trigger language plpgsql as $$
      begin
        if new.upload_id = 'doomed' then raise exception 'ledger is read-only for %', new.upload_id; end if;
        return new;
      end $$;
      create trigger refuse_ledger before update on imported_chunks for each row execute function refuse_ledger();`);
    try {
      const chunk = chunkOf(
        "doomed",
        0,
        range(1, 100).map((n) => orderData(n)),
      );
      const error = await importChunk(options(), chunk).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ImportError);
      // Transient: the consumer leaves the chunk to SQS, which delivers it again.
      expect(error).toMatchObject({ code: "DATABASE_ERROR", retryable: true });
      expect((error as Error).message).toContain("ledger is read-only for doomed");
      expect(await count("select count(*) from orders")).toBe(0);
      expect(await count("select count(*) from imported_chunks")).toBe(0);
      // Nothing half-done blocks the next delivery of the same chunk.
      await pool.query("drop trigger refuse_ledger on imported_chunks");
      expect(await importChunk(options(), chunk)).toMatchObject({ accepted: 100, replayed: false });
    } finally {
      await pool.query(
        "drop trigger if exists refuse_ledger on imported_chunks; drop function if exists refuse_ledger()",
      );
    }
  });

  it("fails for good when the database refuses the chunk's data (SQLSTATE class 22/23): no retries, nothing saved", async () => {
    // A constraint the rows break on every delivery: a check_violation (23514) raised for this upload's orders.
    // The sequence counts the attempts (nextval is not rolled back).
    await pool.query(`
      create sequence refusals;
      create or replace function refuse_orders() returns trigger language plpgsql as $$
      begin
        if new.upload_id = 'refused-data' then
          perform nextval('refusals');
          raise exception using errcode = 'check_violation', message = 'orders of refused-data break a rule';
        end if;
        return new;
      end $$;
      create trigger refuse_orders before insert on orders for each row execute function refuse_orders();`);
    try {
      const chunk = chunkOf(
        "refused-data",
        2,
        range(1, 10).map((n) => orderData(n)),
      );
      const error = await importChunk(options(), chunk).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ImportError);
      // Permanent: the consumer fails the task at once instead of waiting for maxReceiveCount redeliveries.
      expect(error).toMatchObject({ code: "IMPORT_DATA_REFUSED", retryable: false });
      expect((error as Error).message).toContain("orders of refused-data break a rule (SQLSTATE 23514)");
      expect(await count("select last_value from refusals")).toBe(1); // tried once, not three times
      expect(await count("select count(*) from orders")).toBe(0);
      expect(await count("select count(*) from imported_chunks")).toBe(0);
    } finally {
      await pool.query(
        "drop trigger if exists refuse_orders on orders; drop function if exists refuse_orders(); drop sequence if exists refusals",
      );
    }
  });

  it("refuses the chunk named by the test knob for good, before touching the database", async () => {
    const chunk = chunkOf(
      "knob",
      3,
      range(1, 10).map((n) => orderData(n)),
    );
    const error = await importChunk({ ...options(), refuseChunk: 3 }, chunk).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "IMPORT_REFUSED", retryable: false });
    expect(await count("select count(*) from imported_chunks")).toBe(0);
    // Other chunks, and the same chunk without the knob, import as usual.
    expect(await importChunk({ ...options(), refuseChunk: 4 }, chunk)).toMatchObject({ accepted: 10 });
  });

  it("rejects values the orders table could not store as rows instead of failing the chunk", async () => {
    const chunk = chunkOf("unstorable", 0, [
      orderData(1, { Memo: "call\u0000me" }),
      orderData(2, { Customer: "\u0000" }),
      orderData(3, { Quantity: 1, "Unit Price": 1e12, Total: 1e12 }),
      orderData(4),
      // The largest unit price numeric(14, 2) holds, and a total above 10^12 (numeric(16, 2)).
      orderData(5, { Quantity: 200, "Unit Price": 9_999_999_999.99, Total: 1_999_999_999_998 }),
    ]);
    const result = await importChunk(options(), chunk);
    expect(result.accepted).toBe(2);
    const { rows } = await pool.query(
      "select unit_price::text, total::text from orders where order_id = $1",
      [orderId(5)],
    );
    expect(rows).toEqual([{ unit_price: "9999999999.99", total: "1999999999998.00" }]);
    expect(result.rejected).toEqual([
      { row: 2, code: "INVALID_VALUE", message: 'Memo ("call\\u0000me") must not contain a NUL character' },
      { row: 3, code: "INVALID_VALUE", message: 'Customer ("\\u0000") must not contain a NUL character' },
      { row: 4, code: "INVALID_VALUE", message: "Unit Price (1000000000000) is too large" },
    ]);
  });

  it("rolls back when the consumer aborts the chunk (stale token, stop timeout) and fails with the abort reason", async () => {
    const controller = new AbortController();
    const chunk = chunkOf(
      "aborted",
      0,
      range(1, 20).map((n) => orderData(n)),
    );
    const running = importChunk({ ...options(), delayMs: 5_000 }, chunk, controller.signal);
    setTimeout(
      () => controller.abort(Object.assign(new Error("token stale"), { code: "TASK_TOKEN_STALE" })),
      200,
    );
    await expect(running).rejects.toMatchObject({ code: "TASK_TOKEN_STALE" });
    expect(await count("select count(*) from orders")).toBe(0);
    expect(await count("select count(*) from imported_chunks")).toBe(0);
  });
});
