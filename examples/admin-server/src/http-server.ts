import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { ConsumerStatus } from "@sluice/consumer";
import type pg from "pg";
import { HttpError, send, sendError } from "./http-json.ts";
import type { RouteHandler } from "./uploads-routes.ts";

/**
 * The admin server's own HTTP API (node:http, JSON):
 * - `GET /health`: 200 when the database answers and the consumer runs with no handler hung past its timeout,
 *   else 503; body says which part failed.
 * - `GET /orders?limit=&after=`: orders by order id, keyset-paged: pass the previous page's `next` as `after`.
 * - `GET /imports`: the ledger per upload (chunks, accepted, rejected, first and last import), newest first.
 *   `GET /imports/<uploadId>` lists that upload's chunks with their rejected rows.
 * - the upload page, the operators' view and their /uploads routes (src/uploads-routes.ts), when given.
 */
export interface HttpServerOptions {
  pool: pg.Pool;
  consumerStatus: () => ConsumerStatus;
  /** The upload page and its routes (createUploadRoutes). */
  uploads?: RouteHandler;
}

const MAX_LIMIT = 1000;

export function createHttpServer(options: HttpServerOptions): Server {
  const server = createServer((req, res) => {
    handle(options, req, res).catch((error: unknown) => {
      if (error instanceof HttpError) return sendError(res, error);
      console.error(
        JSON.stringify({ level: "error", msg: "http request failed", url: req.url, error: String(error) }),
      );
      send(res, 500, { error: "internal error" });
    });
  });
  server.keepAliveTimeout = 5_000;
  return server;
}

async function handle(options: HttpServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  if (options.uploads && (await options.uploads(req, res, url))) return;
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("allow", "GET, HEAD");
    throw new HttpError(405, `${req.method} is not allowed`);
  }
  if (url.pathname === "/health") return health(options, res);
  if (url.pathname === "/orders") return orders(options, url, res);
  if (url.pathname === "/imports") return imports(options, res);
  const upload = /^\/imports\/([^/]+)$/.exec(url.pathname);
  if (upload) return importDetail(options, decodeURIComponent(upload[1]!), res);
  throw new HttpError(404, `no route ${url.pathname}`);
}

async function health({ pool, consumerStatus }: HttpServerOptions, res: ServerResponse) {
  const started = performance.now();
  let database: { ok: boolean; latencyMs?: number; error?: string };
  try {
    await pool.query("select 1");
    database = { ok: true, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  } catch (error) {
    database = { ok: false, error: (error as Error).message };
  }
  const consumer = consumerStatus();
  // An import abandoned at handlerTimeoutSeconds that is still running is stuck (a lock never granted, a call
  // with no timeout): worth a restart, which the orchestrator watching this endpoint can do.
  const ok = database.ok && consumer.running && consumer.abandonedHandlers === 0;
  send(res, ok ? 200 : 503, { status: ok ? "ok" : "unavailable", database, consumer });
}

async function orders({ pool }: HttpServerOptions, url: URL, res: ServerResponse) {
  const rawLimit = url.searchParams.get("limit") ?? "100";
  if (!/^\d+$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > MAX_LIMIT) {
    throw new HttpError(400, `limit must be an integer from 1 to ${MAX_LIMIT}`);
  }
  const limit = Number(rawLimit);
  const after = url.searchParams.get("after");
  const { rows } = await pool.query(
    `select order_id, ordered_at, customer, phone, address, item, quantity, unit_price::float8 as unit_price,
            total::float8 as total, paid, to_char(delivery_date, 'YYYY-MM-DD') as delivery_date, memo, upload_id,
            source_row
       from orders
      where $1::text is null or order_id > $1
      order by order_id
      limit $2`,
    [after, limit + 1],
  );
  const page = rows.slice(0, limit);
  const next = rows.length > limit ? (page[page.length - 1]?.order_id ?? null) : null;
  send(res, 200, {
    orders: page.map((r) => ({
      orderId: r.order_id,
      orderedAt: (r.ordered_at as Date).toISOString(),
      customer: r.customer,
      phone: r.phone,
      address: r.address,
      item: r.item,
      quantity: r.quantity,
      unitPrice: r.unit_price,
      total: r.total,
      paid: r.paid,
      deliveryDate: r.delivery_date,
      memo: r.memo,
      uploadId: r.upload_id,
      sourceRow: r.source_row,
    })),
    next,
  });
}

async function imports({ pool }: HttpServerOptions, res: ServerResponse) {
  const { rows } = await pool.query(
    `select upload_id, count(*)::int as chunks, sum(rows)::int as rows, sum(accepted)::int as accepted,
            sum(jsonb_array_length(rejected))::int as rejected, min(imported_at) as first_imported_at,
            max(imported_at) as last_imported_at
       from imported_chunks
      group by upload_id
      order by max(imported_at) desc
      limit 1000`,
  );
  send(res, 200, {
    imports: rows.map((r) => ({
      uploadId: r.upload_id,
      chunks: r.chunks,
      rows: r.rows,
      accepted: r.accepted,
      rejected: r.rejected,
      firstImportedAt: (r.first_imported_at as Date).toISOString(),
      lastImportedAt: (r.last_imported_at as Date).toISOString(),
    })),
  });
}

async function importDetail({ pool }: HttpServerOptions, uploadId: string, res: ServerResponse) {
  const { rows } = await pool.query(
    `select chunk_index, first_row, last_row, rows, accepted, rejected, duration_ms, imported_at
       from imported_chunks where upload_id = $1 order by chunk_index`,
    [uploadId],
  );
  if (rows.length === 0) throw new HttpError(404, `no import of upload ${uploadId}`);
  send(res, 200, {
    uploadId,
    chunks: rows.map((r) => ({
      index: r.chunk_index,
      firstRow: r.first_row,
      lastRow: r.last_row,
      rows: r.rows,
      accepted: r.accepted,
      rejected: r.rejected,
      durationMs: r.duration_ms,
      importedAt: (r.imported_at as Date).toISOString(),
    })),
  });
}
