import type { RejectedRow } from "@sluice/consumer";
import type { ChunkRow } from "@sluice/contract";
import { z } from "zod";

/**
 * One row of the orders workbook (headers as in examples/orders.xlsx), validated and normalised for the
 * `orders` table. xlsx cells arrive typed (numbers, booleans); csv cells arrive as strings: both are accepted.
 */
export const ORDER_HEADERS = [
  "Order ID",
  "Ordered At",
  "Customer",
  "Phone",
  "Address",
  "Item",
  "Quantity",
  "Unit Price",
  "Total",
  "Paid",
  "Delivery Date",
  "Memo",
] as const;

export interface OrderRecord {
  orderId: string;
  /** ISO 8601; without an offset it is read in the import time zone. */
  orderedAt: string;
  customer: string;
  phone: string;
  address: string;
  item: string;
  quantity: number;
  unitPrice: number;
  total: number;
  paid: boolean;
  deliveryDate: string | null;
  memo: string | null;
  sourceRow: number;
}

const blank = (value: unknown) => value === undefined || value === null || value === "";

// PostgreSQL text cannot hold U+0000 (SQLSTATE 22021 would fail the whole chunk): reject the row instead.
const noNul = (v: string) => !v.includes("\u0000");
const NUL_MESSAGE = "must not contain a NUL character";

const text = (max: number) =>
  z.preprocess(
    (v) => (typeof v === "number" ? String(v) : typeof v === "string" ? v.trim() : v),
    z.string().min(1, "is required").max(max, `is longer than ${max} characters`).refine(noNul, NUL_MESSAGE),
  );

/** A non-negative amount below `below`, which the column must hold (a larger one would fail the chunk: 22003). */
const decimal = (below: number) =>
  z.preprocess(
    (v) => (typeof v === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v),
    z
      .number({ error: "must be a number" })
      .finite()
      .nonnegative("must not be negative")
      .lt(below, "is too large"),
  );

// A workbook cell at midnight converts to a bare date ("2026-10-30"): that is a time of 00:00.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function realDate(y: string, m: string, d: string): boolean {
  const date = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
  return (
    date.getUTCFullYear() === Number(y) &&
    date.getUTCMonth() === Number(m) - 1 &&
    date.getUTCDate() === Number(d)
  );
}

const TRUE = new Set(["true", "yes", "y", "1", "paid", "예", "o"]);
const FALSE = new Set(["false", "no", "n", "0", "unpaid", "아니오", "x"]);

export const OrderRowSchema = z
  .object({
    "Order ID": z.preprocess(
      (v) => (typeof v === "string" ? v.trim() : v),
      z.string({ error: "is required" }).regex(/^ORD-\d{4}-\d{6}$/, "must look like ORD-2026-000123"),
    ),
    "Ordered At": z
      .string({ error: "must be a date and time like 2026-10-20T09:30:00" })
      .trim()
      .refine((v) => {
        const m = DATE_TIME.exec(v);
        return (
          m !== null && realDate(m[1]!, m[2]!, m[3]!) && Number(m[4] ?? 0) < 24 && Number(m[5] ?? 0) < 60
        );
      }, "must be a date and time like 2026-10-20T09:30:00")
      .transform((v) => (v.length === 10 ? `${v}T00:00:00` : v.replace(" ", "T"))),
    Customer: text(200),
    Phone: z.preprocess(
      (v) => (typeof v === "string" ? v.trim() : v),
      z
        .string({ error: "is required" })
        .regex(/^01\d-\d{3,4}-\d{4}$/, "must be a mobile number like 010-1234-5678"),
    ),
    Address: text(500),
    Item: text(200),
    Quantity: z.preprocess(
      (v) => (typeof v === "string" && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v),
      z
        .number({ error: "must be a whole number" })
        .int("must be a whole number")
        .min(1, "must be at least 1")
        .max(1_000_000, "is too large"),
    ),
    "Unit Price": decimal(1e12), // unit_price numeric(14, 2)
    Total: decimal(1e14), // total numeric(16, 2)
    Paid: z.preprocess(
      (v) => {
        if (typeof v !== "string") return v;
        const key = v.trim().toLowerCase();
        return TRUE.has(key) ? true : FALSE.has(key) ? false : v;
      },
      z.boolean({ error: "must be true or false" }),
    ),
    "Delivery Date": z.preprocess(
      (v) => (blank(v) ? null : typeof v === "string" ? v.trim().slice(0, 10) : v),
      z
        .string({ error: "must be a date like 2026-10-22" })
        .refine((v) => {
          const m = DATE.exec(v);
          return m !== null && realDate(m[1]!, m[2]!, m[3]!);
        }, "must be a date like 2026-10-22")
        .nullable(),
    ),
    Memo: z.preprocess(
      (v) => (blank(v) ? null : typeof v === "string" ? v : String(v)),
      z.string().max(2000, "is longer than 2000 characters").refine(noNul, NUL_MESSAGE).nullable(),
    ),
  })
  .superRefine((row, ctx) => {
    const expected = Math.round(row.Quantity * row["Unit Price"] * 100);
    if (Math.abs(Math.round(row.Total * 100) - expected) > 1) {
      ctx.addIssue({
        code: "custom",
        path: ["Total"],
        message: `${row.Total} is not Quantity × Unit Price (${expected / 100})`,
        params: { code: "TOTAL_MISMATCH" },
      });
    }
  });

export type ValidatedRow = { ok: true; order: OrderRecord } | { ok: false; rejected: RejectedRow };

/**
 * Validates one chunk row. A rejected row gets a code (`MISSING_VALUE`, `INVALID_VALUE`, `TOTAL_MISMATCH`) from
 * its first problem and a message naming every problem, e.g. `Quantity must be at least 1; Phone is required`.
 */
export function validateOrderRow({ row, data }: ChunkRow): ValidatedRow {
  const parsed = OrderRowSchema.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues;
    const first = issues[0]!;
    const column = String(first.path[0] ?? "row");
    const code =
      first.code === "custom" && (first.params as { code?: string } | undefined)?.code
        ? String((first.params as { code: string }).code)
        : blank(data[column])
          ? "MISSING_VALUE"
          : "INVALID_VALUE";
    const message = issues
      .map((issue) => {
        const name = String(issue.path[0] ?? "row");
        const value = data[name];
        const crossField = issue.code === "custom" && issue.params?.code !== undefined;
        if (crossField) return `${name} ${issue.message}`;
        if (blank(value)) return `${name} is required`;
        return `${name} (${JSON.stringify(value)}) ${issue.message}`;
      })
      .join("; ");
    return { ok: false, rejected: { row, code, message: message.slice(0, 1000) } };
  }
  const d = parsed.data;
  return {
    ok: true,
    order: {
      orderId: d["Order ID"],
      orderedAt: d["Ordered At"],
      customer: d.Customer,
      phone: d.Phone,
      address: d.Address,
      item: d.Item,
      quantity: d.Quantity,
      unitPrice: d["Unit Price"],
      total: d.Total,
      paid: d.Paid,
      deliveryDate: d["Delivery Date"],
      memo: d.Memo,
      sourceRow: row,
    },
  };
}
