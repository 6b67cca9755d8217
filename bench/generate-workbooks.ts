// Generates the benchmark inputs into bench/.data/ (git-ignored), once: each file is written under a temporary
// name and renamed when complete, so an interrupted run never leaves a half-written file that looks cached.
// Run directly: `tsx bench/generate-workbooks.ts [--sizes 10k,100k,1m]`.
import { once } from "node:events";
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ExcelJS from "exceljs";

// SLUICE_BENCH_DIR: when this file runs bundled elsewhere (profile-stages.ts profiles a bundle of the pipeline).
export const DATA_DIR = path.join(
  process.env.SLUICE_BENCH_DIR ?? path.dirname(fileURLToPath(import.meta.url)),
  ".data",
);

// Bump when the generated content changes, so stale cached files are not reused.
const GENERATOR_VERSION = "v1";
const SEED = 20261124;

export type Variant = "xlsx-inline" | "xlsx-shared" | "csv";
export const VARIANTS: readonly Variant[] = ["xlsx-inline", "xlsx-shared", "csv"];

export const HEADER = [
  "order_id",
  "customer_name",
  "address",
  "quantity",
  "unit_price",
  "amount",
  "order_date",
  "shipped_at",
  "paid",
  "status",
  "memo",
  "points",
] as const;

export function parseSize(label: string): number {
  const m = /^(\d+)(k|m)?$/i.exec(label.trim());
  if (!m) throw new Error(`bad size "${label}" (use e.g. 10k, 100k, 1m)`);
  const unit = m[2]?.toLowerCase();
  return Number(m[1]) * (unit === "m" ? 1_000_000 : unit === "k" ? 1_000 : 1);
}

export function sizeLabel(rows: number): string {
  if (rows % 1_000_000 === 0) return `${rows / 1_000_000}M`;
  if (rows % 1_000 === 0) return `${rows / 1_000}k`;
  return String(rows);
}

export function workbookPath(variant: Variant, rows: number): string {
  const ext = variant === "csv" ? "csv" : "xlsx";
  const kind = variant === "csv" ? "" : `-${variant.slice(5)}`;
  return path.join(DATA_DIR, `orders-${sizeLabel(rows).toLowerCase()}${kind}-${GENERATOR_VERSION}.${ext}`);
}

// mulberry32: tiny, fast and deterministic across Node versions.
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SURNAMES = [
  "김",
  "이",
  "박",
  "최",
  "정",
  "강",
  "조",
  "윤",
  "장",
  "임",
  "한",
  "오",
  "서",
  "신",
  "권",
  "황",
];
const GIVEN = "민서준지우현수하윤도연예은재영성호진태희경미정은혜동석상훈유나다인소율승아가람보현".split("");
const CITIES = [
  "서울특별시",
  "부산광역시",
  "인천광역시",
  "대구광역시",
  "대전광역시",
  "광주광역시",
  "경기도 수원시",
];
const DISTRICTS = [
  "강남구",
  "서초구",
  "마포구",
  "해운대구",
  "남동구",
  "수성구",
  "유성구",
  "북구",
  "영통구",
  "중구",
];
const ROADS = ["테헤란로", "세종대로", "올림픽로", "중앙대로", "한누리대로", "동성로", "월드컵로", "광교로"];
const STATUSES = ["주문접수", "결제완료", "배송준비", "배송중", "배송완료", "취소", "반품요청"];
const MEMOS = [
  "문 앞에 놓아 주세요",
  "경비실에 맡겨 주세요",
  'Leave at the door, "ring twice"',
  "배송 전 연락 바랍니다",
  "부재 시 010-1234-5678로 연락",
];

// Row values in their native types; the writers below render them per format.
interface OrderRow {
  orderId: string;
  customer: string;
  address: string;
  quantity: number;
  unitPrice: number;
  amount: number;
  orderDate: Date;
  shippedAt: Date | null;
  paid: boolean;
  status: string;
  memo: string | null;
  points: number | null;
}

const DAY_MS = 86_400_000;
const BASE_DATE = Date.UTC(2023, 0, 1);

function makeRowSource(seed: number): (i: number) => OrderRow {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  return (i) => {
    const given = pick(GIVEN) + pick(GIVEN) + (rnd() < 0.3 ? pick(GIVEN) : "");
    const quantity = 1 + Math.floor(rnd() * 20);
    const unitPrice = Math.round((500 + rnd() * 99_500) * 100) / 100;
    const dayOffset = Math.floor(rnd() * 730);
    const orderDate = new Date(BASE_DATE + dayOffset * DAY_MS);
    const shipped = rnd() < 0.85;
    // Whole seconds only, so every reader renders the same date-time text.
    const shippedAt = shipped
      ? new Date(orderDate.getTime() + (1 + Math.floor(rnd() * 5 * 86_400)) * 1000)
      : null;
    // Unique-ish addresses (building + unit numbers) make the shared-strings table large, like real data.
    const building = 1 + Math.floor(rnd() * 999);
    const unit = `${101 + Math.floor(rnd() * 30)}동 ${101 + Math.floor(rnd() * 2400)}호`;
    const address = `${pick(CITIES)} ${pick(DISTRICTS)} ${pick(ROADS)} ${building}, ${unit}`;
    const memoRoll = rnd();
    const memo = memoRoll < 0.55 ? null : memoRoll < 0.8 ? pick(MEMOS) : `요청사항 #${i} - ${pick(MEMOS)}`;
    const points = rnd() < 0.3 ? null : Math.floor(rnd() * 5000);
    return {
      orderId: `ORD-${String(i + 1).padStart(8, "0")}`,
      customer: pick(SURNAMES) + given,
      address,
      quantity,
      unitPrice,
      amount: Math.round(quantity * unitPrice * 100) / 100,
      orderDate,
      shippedAt,
      paid: rnd() < 0.7,
      status: pick(STATUSES),
      memo,
      points,
    };
  };
}

async function writeXlsx(file: string, rows: number, useSharedStrings: boolean): Promise<void> {
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
    filename: file,
    useSharedStrings,
    useStyles: true,
  });
  const sheet = workbook.addWorksheet("Orders");
  sheet.columns = [
    { header: "order_id", key: "orderId", width: 14 },
    { header: "customer_name", key: "customer", width: 12 },
    { header: "address", key: "address", width: 40 },
    { header: "quantity", key: "quantity", width: 8 },
    { header: "unit_price", key: "unitPrice", width: 10, style: { numFmt: "#,##0.00" } },
    { header: "amount", key: "amount", width: 12, style: { numFmt: "#,##0.00" } },
    { header: "order_date", key: "orderDate", width: 12, style: { numFmt: "yyyy-mm-dd" } },
    { header: "shipped_at", key: "shippedAt", width: 20, style: { numFmt: "yyyy-mm-dd hh:mm:ss" } },
    { header: "paid", key: "paid", width: 6 },
    { header: "status", key: "status", width: 10 },
    { header: "memo", key: "memo", width: 30 },
    { header: "points", key: "points", width: 8 },
  ];
  const next = makeRowSource(SEED);
  for (let i = 0; i < rows; i++) {
    const r = next(i);
    // null leaves the cell out entirely: the "some empty cells" case.
    sheet.addRow(r).commit();
    // Let the zip pipeline drain; otherwise the whole sheet XML queues in memory.
    if (i % 2000 === 1999) await new Promise((resolve) => setImmediate(resolve));
  }
  sheet.commit();
  await workbook.commit();
}

function csvField(value: string): string {
  // RFC 4180 quoting: only when needed, doubling embedded quotes.
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");
const isoDate = (d: Date): string =>
  `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
const isoDateTime = (d: Date): string =>
  `${isoDate(d)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;

async function writeCsv(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file, { encoding: "utf8" });
  const write = async (s: string): Promise<void> => {
    if (!out.write(s)) await once(out, "drain");
  };
  await write(`${HEADER.join(",")}\r\n`);
  const next = makeRowSource(SEED);
  let buf = "";
  for (let i = 0; i < rows; i++) {
    const r = next(i);
    buf += `${[
      r.orderId,
      csvField(r.customer),
      csvField(r.address),
      String(r.quantity),
      r.unitPrice.toFixed(2),
      r.amount.toFixed(2),
      isoDate(r.orderDate),
      r.shippedAt ? isoDateTime(r.shippedAt) : "",
      r.paid ? "true" : "false",
      csvField(r.status),
      r.memo === null ? "" : csvField(r.memo),
      r.points === null ? "" : String(r.points),
    ].join(",")}\r\n`;
    if (buf.length > 1 << 16) {
      await write(buf);
      buf = "";
    }
  }
  await write(buf);
  out.end();
  await once(out, "finish");
}

/** Makes sure every variant exists at every size; returns nothing, logs what it generated. */
export async function ensureWorkbooks(sizes: readonly number[], log = console.error): Promise<void> {
  mkdirSync(DATA_DIR, { recursive: true });
  for (const rows of sizes) {
    for (const variant of VARIANTS) {
      const file = workbookPath(variant, rows);
      if (existsSync(file)) continue;
      const tmp = `${file}.partial`;
      rmSync(tmp, { force: true });
      const t0 = performance.now();
      log(`generating ${path.basename(file)} (${rows.toLocaleString("en-US")} rows)…`);
      if (variant === "csv") await writeCsv(tmp, rows);
      else await writeXlsx(tmp, rows, variant === "xlsx-shared");
      renameSync(tmp, file);
      const mb = statSync(file).size / 1e6;
      log(`  ${mb.toFixed(1)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf("--sizes");
  const sizes = (i > 0 ? (process.argv[i + 1] ?? "") : "100k,1m").split(",").map(parseSize);
  await ensureWorkbooks(sizes);
}
