import type { ChunkHandler, RejectedRow } from "@sluice/consumer";
import { z } from "zod";

/**
 * The demo admin server's import of an orders chunk, kept in memory: it validates each row, rejects the invalid
 * ones with a reason, and refuses an order id it already holds (a real database's unique key), which fails the
 * chunk. A chunk delivered twice is answered from its ledger entry, never imported twice.
 * The example admin server on PostgreSQL does the same against a real database.
 */
const OrderRowSchema = z.object({
  "Order ID": z.string().regex(/^ORD-\d{4}-\d{6}$/, "must look like ORD-2026-000123"),
  Customer: z.string().min(1, "is required"),
  Phone: z.string().regex(/^01\d-\d{3,4}-\d{4}$/, "must be a mobile number like 010-1234-5678"),
  Quantity: z.number().int().positive("must be at least 1"),
  "Unit Price": z.number().nonnegative(),
});

/** Permanent (`retryable: false`): the consumer fails the chunk at once instead of leaving it for redelivery. */
export class DuplicateOrderError extends Error {
  readonly code = "DUPLICATE_ORDER";
  readonly retryable = false;
  constructor(orderId: string, row: number) {
    super(`Order ${orderId} (row ${row}) was already imported`);
    this.name = "DuplicateOrderError";
  }
}

export interface DemoAdminStore {
  orders: Map<string, Record<string, unknown>>;
  ledger: Map<string, { accepted: number; rejected: RejectedRow[] }>;
}

export function createDemoAdminStore(): DemoAdminStore {
  return { orders: new Map(), ledger: new Map() };
}

export function createDemoAdminHandler(
  store: DemoAdminStore,
  options: { delayMs?: number } = {},
): ChunkHandler {
  return async (chunk, ctx) => {
    const ledgerKey = `${ctx.uploadId}/${chunk.index}`;
    const done = store.ledger.get(ledgerKey);
    if (done) return done;
    if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    const rejected: RejectedRow[] = [];
    const valid: [string, Record<string, unknown>][] = [];
    const inChunk = new Set<string>();
    for (const { row, data } of chunk.rows) {
      const parsed = OrderRowSchema.safeParse(data);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        rejected.push({
          row,
          code: "INVALID_ROW",
          message: `${issue.path.join(".") || "row"} ${issue.message}`,
        });
        continue;
      }
      const id = parsed.data["Order ID"];
      if (store.orders.has(id) || inChunk.has(id)) throw new DuplicateOrderError(id, row);
      inChunk.add(id);
      valid.push([id, data]);
    }
    // All or nothing, like one transaction per chunk.
    for (const [id, data] of valid) store.orders.set(id, data);
    const result = { accepted: valid.length, rejected };
    store.ledger.set(ledgerKey, result);
    return result;
  };
}
