/**
 * The admin server's peak RSS and rows/s while an orders workbook is imported into PostgreSQL:
 * - sluice: the local runtime in this process converts the upload and feeds chunks; the admin server
 *   (src/main.ts) is a child process consuming them with @sluice/consumer;
 * - statements: the admin server's own import path without the pipeline: the workbook converted beforehand with
 *   `sluice convert` (untimed), its chunks through the same `importChunk()`, as many in flight
 *   (bench/statements-import.ts). The rate the database gives the admin server's statements: the anchor of
 *   "the database is the limit", which compares it with the sluice run's delivery (its Map Run, from
 *   ListMapRuns' start and stop dates, once the workbook is converted);
 * - naive: the same admin server code receives the xlsx and reads it in-process with exceljs
 *   (`workbook.xlsx.readFile`), then imports with the same transaction per 500 rows (bench/naive-import.ts).
 * Every child runs with --max-old-space-size=256. Peak RSS: the child's VmHWM polled from /proc/<pid>/status,
 * and getrusage's maxRSS at exit (bench/peak-rss-hook.mjs) when the child exits normally; the larger is shown.
 * Rows/s: rows imported / wall time from the upload (sluice: conversion included) or, statements and naive, from
 * the moment the server is up with the file (chunks) on its disk, to the last commit.
 * PostgreSQL: embedded (or DATABASE_URL), tables dropped before each run.
 *
 *   npx tsx examples/admin-server/bench/admin-server-bench.ts --quick            # 10k rows
 *   npx tsx examples/admin-server/bench/admin-server-bench.ts --sizes 100k,1m [--concurrency 8] [--modes sluice,statements]
 *
 * Workbooks are generated once into bench/.data/admin-server/ (git-ignored) and reused.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ListMapRunsCommand } from "@aws-sdk/client-sfn";
import { LocalRuntime } from "@sluice/runtime";
import ExcelJS from "exceljs";
import pg from "pg";
import { startPostgres } from "../src/embedded-postgres.ts";
import { localRuntimeEnv } from "../src/local-runtime-env.ts";
import { DISTRICTS, GIVEN_NAMES, ITEMS, ORDER_COLUMNS, PRICES, SURNAMES } from "../src/orders-sheet.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const DATA = join(ROOT, "bench/.data/admin-server");
const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const NAIVE = fileURLToPath(new URL("./naive-import.ts", import.meta.url));
const STATEMENTS = fileURLToPath(new URL("./statements-import.ts", import.meta.url));
const CLI = join(ROOT, "packages/cli/bin/sluice.js");
const RSS_HOOK = join(ROOT, "bench/peak-rss-hook.mjs");
const HEAP_MB = 256;

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "100k,1m" },
    quick: { type: "boolean", default: false },
    modes: { type: "string", default: "sluice,statements,naive" },
    /** Chunks in flight: the Map's MaxConcurrency and the consumer's concurrency. */
    concurrency: { type: "string", default: "4" },
  },
});
const sizes = (values.quick ? "10k" : values.sizes)
  .split(",")
  .map((s) => s.trim().toLowerCase())
  .map((s) => {
    const m = /^(\d+)(k|m)?$/.exec(s);
    if (!m) throw new Error(`bad size ${s}: use e.g. 10k, 100k, 1m`);
    return Number(m[1]) * (m[2] === "m" ? 1_000_000 : m[2] === "k" ? 1_000 : 1);
  });
const concurrency = Number(values.concurrency);
const modes = values.modes.split(",") as ("sluice" | "statements" | "naive")[];
const label = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n));

interface Result {
  mode: string;
  rows: number;
  rowsPerSecond: number | null;
  peakRssMb: number | null;
  outcome: string;
  seconds: number;
  /** sluice: rows / the Map Run's seconds (delivery to the admin server, after conversion). */
  deliveryRowsPerSecond?: number | null;
}

async function main() {
  await mkdir(DATA, { recursive: true });
  const postgres = await startPostgres();
  const results: Result[] = [];
  try {
    for (const rows of sizes) {
      const file = await workbook(rows);
      for (const mode of modes) {
        await resetDatabase(postgres.url);
        const result =
          mode === "sluice"
            ? await runSluice(file, rows, postgres.url)
            : mode === "statements"
              ? await runStatements(file, rows, postgres.url)
              : await runNaive(file, rows, postgres.url);
        results.push(result);
        console.error(`# ${JSON.stringify(result)}`);
      }
    }
  } finally {
    await postgres.stop();
  }
  console.log(
    `\nAdmin server importing an orders xlsx into PostgreSQL, --max-old-space-size=${HEAP_MB} (node ${process.version})\n`,
  );
  const rate = (n: number | null | undefined) => (n == null ? "–" : Math.round(n).toLocaleString("en"));
  console.log("| mode | rows | rows/s | delivery rows/s | admin server peak RSS MB | outcome |");
  console.log("| --- | ---: | ---: | ---: | ---: | --- |");
  for (const r of results) {
    console.log(
      `| ${r.mode} | ${r.rows.toLocaleString("en")} | ${rate(r.rowsPerSecond)} | ${rate(r.deliveryRowsPerSecond)} | ${r.peakRssMb === null ? "–" : r.peakRssMb.toFixed(0)} | ${r.outcome} |`,
    );
  }
}

/** orders-<n>.xlsx with the columns of examples/orders.xlsx, written with exceljs's streaming writer. */
async function workbook(rows: number): Promise<string> {
  const file = join(DATA, `orders-v3-${label(rows)}.xlsx`);
  if (existsSync(file)) return file;
  const started = performance.now();
  const partial = `${file}.partial`;
  const writer = new ExcelJS.stream.xlsx.WorkbookWriter({
    filename: partial,
    useSharedStrings: true,
    useStyles: true,
  });
  const sheet = writer.addWorksheet("Orders");
  sheet.columns = ORDER_COLUMNS;
  const start = Date.UTC(2026, 9, 1);
  for (let i = 1; i <= rows; i++) {
    const k = i % ITEMS.length;
    const quantity = 1 + (i % 5);
    const orderedAt = new Date(start + ((i * 7919) % (30 * 86_400)) * 1000);
    sheet
      .addRow({
        // ORD-2026-000001 … ORD-2026-999999, then ORD-2027-000000 …: every id unique and well-formed.
        orderId: `ORD-${2026 + Math.floor(i / 1_000_000)}-${String(i % 1_000_000).padStart(6, "0")}`,
        orderedAt,
        customer: SURNAMES[i % 10]! + GIVEN_NAMES[(i * 3) % 10]!,
        phone: `010-${String(1000 + ((i * 31) % 9000))}-${String(1000 + ((i * 17) % 9000))}`,
        address: `${DISTRICTS[i % DISTRICTS.length]} ${1 + (i % 300)}`,
        item: ITEMS[k],
        quantity,
        unitPrice: PRICES[k],
        total: { formula: `G${i + 1}*H${i + 1}`, result: quantity * PRICES[k]! },
        paid: i % 10 !== 0,
        deliveryDate: new Date(
          Date.UTC(orderedAt.getUTCFullYear(), orderedAt.getUTCMonth(), orderedAt.getUTCDate() + 2),
        ),
        memo: i % 5 === 0 ? "배송 전 연락 바랍니다" : null,
      })
      .commit();
  }
  sheet.commit();
  await writer.commit();
  await rm(file, { force: true });
  const { rename } = await import("node:fs/promises");
  await rename(partial, file);
  const { size } = await stat(file);
  console.error(
    `# wrote ${file} (${rows} rows, ${(size / 1e6).toFixed(1)} MB) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return file;
}

async function resetDatabase(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query("drop table if exists orders, imported_chunks");
  await client.end();
}

async function countOrders(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ n: number }>("select count(*)::int as n from orders");
  await client.end();
  return rows[0]!.n;
}

/** Spawns a measured child: --max-old-space-size, the exit-time maxRSS hook, VmHWM polling. */
function measuredChild(script: string, args: string[], env: Record<string, string>) {
  const rssFile = join(tmpdir(), `sluice-bench-rss-${process.pid}-${Date.now()}`);
  const child = spawn(
    process.execPath,
    [`--max-old-space-size=${HEAP_MB}`, "--import", RSS_HOOK, "--import", "tsx", script, ...args],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        SLUICE_BENCH_RSS_FILE: rssFile,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let polledKb = 0;
  const poll = setInterval(async () => {
    try {
      const status = await readFile(`/proc/${child.pid}/status`, "utf8");
      const hwm = /VmHWM:\s+(\d+)/.exec(status);
      if (hwm) polledKb = Math.max(polledKb, Number(hwm[1]));
    } catch {
      // exited
    }
  }, 50);
  let stdout = "";
  let stderr = "";
  const listeners: ((line: string) => void)[] = [];
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    for (const l of listeners) l(stdout);
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-20_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    onStdout: (l: (all: string) => void) => listeners.push(l),
    async peakMb(): Promise<number> {
      clearInterval(poll);
      const hooked = Number(await readFile(rssFile, "utf8").catch(() => "0"));
      await rm(rssFile, { force: true });
      return Math.max(polledKb, hooked) / 1024;
    },
  };
}

function outcomeOf(exit: { code: number | null; signal: NodeJS.Signals | null }, stderr: string): string {
  if (/heap out of memory|Allocation failed|JavaScript heap/i.test(stderr)) return "OOM";
  return exit.signal ? `killed (${exit.signal})` : `exit ${exit.code}`;
}

async function runSluice(file: string, rows: number, databaseUrl: string): Promise<Result> {
  const runtime = await LocalRuntime.start({
    outDir: join(tmpdir(), "sluice-bench-out"),
    config: { maxConcurrency: concurrency },
  });
  const admin = measuredChild(
    MAIN,
    [],
    localRuntimeEnv(runtime, databaseUrl, { CONSUMER_CONCURRENCY: String(concurrency) }),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      admin.onStdout((all) => all.includes('"msg":"listening"') && resolve());
      void admin.exited.then(() => reject(new Error(`admin server exited: ${admin.stderr()}`)));
    });
    // The clock times the upload, not the runtime's start-up: its convert worker has loaded, the file is read.
    await runtime.warmed();
    const bytes = await readFile(file);
    const started = performance.now();
    const upload = await runtime.upload(bytes, `orders-${label(rows)}.xlsx`);
    const record = await Promise.race([
      runtime.waitForExecution(upload.executionArn),
      admin.exited.then((exit) => ({ status: outcomeOf(exit, admin.stderr()) }) as const),
    ]);
    const seconds = (performance.now() - started) / 1000;
    const imported = await countOrders(databaseUrl).catch(() => 0);
    const delivery = await mapRunSeconds(runtime, upload.executionArn);
    admin.child.kill("SIGTERM");
    const exit = await admin.exited;
    const peakRssMb = await admin.peakMb();
    const ok = record.status === "SUCCEEDED" && imported === rows;
    if (!ok) {
      const failed = record as { error?: string; cause?: string };
      console.error(
        `# sluice ${label(rows)} did not import every row: ${failed.error ?? ""} ${String(failed.cause ?? "").slice(0, 2000)}`,
      );
      console.error(`# admin server stderr (tail):\n${admin.stderr().slice(-4000)}`);
    }
    return {
      mode: `sluice (consumer, ${concurrency} chunks in flight)`,
      rows,
      rowsPerSecond: ok ? rows / seconds : null,
      deliveryRowsPerSecond: ok && delivery ? rows / delivery : null,
      peakRssMb,
      outcome: ok
        ? "OK"
        : `${record.status}${exit.code ? ` / ${outcomeOf(exit, admin.stderr())}` : ""}, ${imported} rows in db`,
      seconds,
    };
  } finally {
    admin.child.kill("SIGKILL");
    await runtime.stop();
  }
}

/** The seconds of the execution's Map Run, from its start to its stop (ListMapRuns); null without one. */
async function mapRunSeconds(runtime: LocalRuntime, executionArn: string): Promise<number | null> {
  const { mapRuns } = await runtime.sfnClient().send(new ListMapRunsCommand({ executionArn }));
  const run = mapRuns?.[0];
  if (!run?.startDate || !run.stopDate) return null;
  return (run.stopDate.getTime() - run.startDate.getTime()) / 1000;
}

/**
 * Runs a measured child that prints `{"msg":"ready"}` once it is up with its input on disk, and times it from that
 * line to its exit, as the sluice run is timed from the upload: start-up is not the import's.
 */
async function runFromReady(
  mode: string,
  script: string,
  args: string[],
  rows: number,
  databaseUrl: string,
): Promise<Result> {
  let started = performance.now();
  let ready = false;
  const child = measuredChild(script, args, { DATABASE_URL: databaseUrl });
  child.onStdout((all) => {
    if (all.includes('"msg":"ready"') && !ready) {
      ready = true;
      started = performance.now();
    }
  });
  const exit = await child.exited;
  const seconds = (performance.now() - started) / 1000;
  const peakRssMb = await child.peakMb();
  const imported = await countOrders(databaseUrl).catch(() => 0);
  const ok = exit.code === 0 && imported === rows;
  const outcome = ok ? "OK" : `${outcomeOf(exit, child.stderr())}, ${imported} rows in db`;
  // An out-of-memory death is the naive server's expected end; any other failure gets its reason shown.
  if (!ok && !outcome.startsWith("OOM"))
    console.error(`# ${mode} ${label(rows)} stderr (tail):\n${child.stderr().slice(-4000)}`);
  return { mode, rows, rowsPerSecond: ok ? rows / seconds : null, peakRssMb, outcome, seconds };
}

/** The admin server's import path over chunks converted beforehand: the database's rate for its statements. */
async function runStatements(file: string, rows: number, databaseUrl: string): Promise<Result> {
  const out = await mkdtemp(join(tmpdir(), "sluice-bench-statements-"));
  try {
    const convert = spawn(process.execPath, [CLI, "convert", file, "--out", out], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    const [code] = (await once(convert, "close")) as [number | null];
    if (code !== 0) throw new Error(`sluice convert ${file} exited ${code}`);
    return await runFromReady(
      `statements (importChunk over converted chunks, ${concurrency} in flight)`,
      STATEMENTS,
      [join(out, "chunks.jsonl"), String(concurrency)],
      rows,
      databaseUrl,
    );
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** The naive server: the xlsx read in-process with exceljs, then the same import code. */
function runNaive(file: string, rows: number, databaseUrl: string): Promise<Result> {
  return runFromReady(
    "naive (exceljs readFile in the server)",
    NAIVE,
    [file, `naive-${label(rows)}`],
    rows,
    databaseUrl,
  );
}

await main();
