import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ConsumerStatus } from "@sluice/consumer";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool, migrate } from "../src/db.ts";
import { type PostgresHandle, startPostgres } from "../src/embedded-postgres.ts";
import { createHttpServer } from "../src/http-server.ts";
import { importChunk } from "../src/import-chunk.ts";
import { chunkOf, orderData, orderId } from "./support/orders.ts";

let postgres: PostgresHandle;
let pool: pg.Pool;
let server: Server;
let base: string;
let status: ConsumerStatus = { running: true, inFlight: 1, processed: 7, failed: 0, abandonedHandlers: 0 };

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

beforeAll(async () => {
  postgres = await startPostgres();
  pool = createPool(postgres.url, 4);
  await migrate(pool);
  // Two uploads through the real import path: 250 + 120 orders, 3 rejected rows.
  await importChunk(
    { pool },
    chunkOf(
      "upload-a",
      0,
      range(1, 150).map((n) => orderData(n)),
      2,
    ),
  );
  await importChunk(
    { pool },
    chunkOf(
      "upload-a",
      1,
      range(151, 250).map((n) => orderData(n)),
      152,
    ),
  );
  await importChunk(
    { pool },
    chunkOf("upload-b", 0, [
      ...range(251, 370).map((n) => orderData(n)),
      orderData(371, { Quantity: 0 }),
      orderData(10),
      orderData(372, { Phone: "" }),
    ]),
  );
  server = createHttpServer({ pool, consumerStatus: () => status });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await pool?.end();
  await postgres?.stop();
});

async function get(path: string) {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("the admin server's HTTP API", () => {
  it("GET /health pings the database and reports the consumer: 503 when it stopped or an import is stuck", async () => {
    status = { running: true, inFlight: 1, processed: 7, failed: 0, abandonedHandlers: 0 };
    const ok = await get("/health");
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ status: "ok", database: { ok: true }, consumer: status });

    status = { ...status, running: false };
    const stopped = await get("/health");
    expect(stopped.status).toBe(503);
    expect(stopped.body).toMatchObject({
      status: "unavailable",
      database: { ok: true },
      consumer: { running: false },
    });
    status = { ...status, running: true, abandonedHandlers: 1 };
    const stuck = await get("/health");
    expect(stuck.status).toBe(503);
    expect(stuck.body).toMatchObject({ status: "unavailable", consumer: { abandonedHandlers: 1 } });
    status = { ...status, abandonedHandlers: 0 };
  });

  it("GET /orders pages through every order once, in order id order", async () => {
    const first = await get("/orders?limit=100");
    expect(first.status).toBe(200);
    const orders = first.body.orders as Record<string, unknown>[];
    expect(orders).toHaveLength(100);
    expect(orders[0]).toEqual({
      orderId: orderId(1),
      orderedAt: "2026-10-02T01:15:30.000Z",
      customer: "이서연",
      phone: "010-1001-0001",
      address: "서울특별시 강남구 테헤란로 2",
      item: "계란 30구",
      quantity: 2,
      unitPrice: 8900,
      total: 17800,
      paid: true,
      deliveryDate: "2026-11-02",
      memo: null,
      uploadId: "upload-a",
      sourceRow: 2,
    });
    expect(first.body.next).toBe(orderId(100));

    const ids: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const page = await get(`/orders?limit=64${after ? `&after=${after}` : ""}`);
      ids.push(...(page.body.orders as { orderId: string }[]).map((o) => o.orderId));
      after = page.body.next as string | null;
      pages++;
    } while (after);
    expect(pages).toBe(Math.ceil(370 / 64));
    expect(ids).toEqual(range(1, 370).map((n) => orderId(n)));
  });

  it("GET /orders refuses a bad limit", async () => {
    for (const limit of ["0", "abc", "5000", "-1"]) {
      const res = await get(`/orders?limit=${limit}`);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(/limit must be an integer from 1 to 1000/);
    }
  });

  it("GET /imports summarises the ledger per upload; /imports/<id> lists its chunks and rejected rows", async () => {
    const { status: code, body } = await get("/imports");
    expect(code).toBe(200);
    const imports = body.imports as Record<string, unknown>[];
    expect(imports.map((i) => i.uploadId).sort()).toEqual(["upload-a", "upload-b"]);
    expect(imports.find((i) => i.uploadId === "upload-a")).toMatchObject({
      chunks: 2,
      rows: 250,
      accepted: 250,
      rejected: 0,
    });
    expect(imports.find((i) => i.uploadId === "upload-b")).toMatchObject({
      chunks: 1,
      rows: 123,
      accepted: 120,
      rejected: 3,
    });

    const detail = await get("/imports/upload-b");
    expect(detail.status).toBe(200);
    const [chunk] = detail.body.chunks as { rejected: { code: string }[] }[];
    expect(chunk?.rejected.map((r) => r.code)).toEqual(["INVALID_VALUE", "DUPLICATE_ORDER", "MISSING_VALUE"]);
    expect((await get("/imports/nope")).status).toBe(404);
  });

  it("answers unknown routes with 404 and other methods with 405", async () => {
    expect((await get("/nope")).status).toBe(404);
    const res = await fetch(`${base}/orders`, { method: "POST" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
  });
});
