/**
 * Writes examples/orders.xlsx: a realistic ~20k-row orders sheet (Korean names and addresses, phone numbers
 * stored as text, dates, a formula with its cached result, booleans), deterministic so it can be regenerated;
 * and examples/orders-with-errors.xlsx, 2,000 rows of the same with invalid rows (rejected by the demo admin
 * server) and a repeated order id (which makes it fail a chunk), to show the failure branch.
 * Run: npx tsx scripts/make-example-workbook.ts
 */

import {
  DISTRICTS,
  GIVEN_NAMES,
  ITEMS,
  ORDER_COLUMNS,
  PRICES,
  SURNAMES,
} from "@sluice/example-admin-server/orders-sheet";
import ExcelJS from "exceljs";

const variant = process.argv[2] === "errors" ? "errors" : "clean";
const ROWS = variant === "errors" ? 2_000 : 20_000;
const OUT = new URL(
  variant === "errors" ? "../examples/orders-with-errors.xlsx" : "../examples/orders.xlsx",
  import.meta.url,
).pathname;

// mulberry32: a small seeded PRNG, so the file is the same on every run.
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(variant === "errors" ? 20261125 : 20261124);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
  filename: OUT,
  useSharedStrings: true,
  useStyles: true,
});
const sheet = workbook.addWorksheet("Orders");
sheet.columns = ORDER_COLUMNS;

const start = Date.UTC(2026, 9, 1);
for (let i = 1; i <= ROWS; i++) {
  const itemIndex = Math.floor(random() * ITEMS.length);
  const quantity = 1 + Math.floor(random() * 5);
  const orderedAt = new Date(start + Math.floor(random() * 30 * 86_400) * 1000);
  const excelRow = i + 1;
  // The errors variant: every 97th row invalid (no phone, or a zero quantity), and row 1,501 repeats an order id.
  const invalid = variant === "errors" && i % 97 === 0;
  const orderNumber = variant === "errors" && i === 1500 ? 1200 : i;
  sheet
    .addRow({
      orderId: `ORD-2026-${String(orderNumber).padStart(6, "0")}`,
      orderedAt,
      customer: pick(SURNAMES) + pick(GIVEN_NAMES),
      phone:
        invalid && i % 2 === 0
          ? null
          : `010-${String(1000 + Math.floor(random() * 9000))}-${String(1000 + Math.floor(random() * 9000))}`,
      address: `${pick(DISTRICTS)} ${1 + Math.floor(random() * 300)}`,
      item: ITEMS[itemIndex],
      quantity: invalid && i % 2 === 1 ? 0 : quantity,
      unitPrice: PRICES[itemIndex],
      total: { formula: `G${excelRow}*H${excelRow}`, result: quantity * PRICES[itemIndex]! },
      paid: random() < 0.9,
      deliveryDate: new Date(
        Date.UTC(orderedAt.getUTCFullYear(), orderedAt.getUTCMonth(), orderedAt.getUTCDate() + 2),
      ),
      memo:
        random() < 0.2 ? pick(["문 앞에 놓아주세요", "경비실에 맡겨주세요", "배송 전 연락 바랍니다"]) : null,
    })
    .commit();
}
sheet.commit();
await workbook.commit();
console.log(`wrote ${OUT} (${ROWS} rows)`);
