/**
 * End to end through the whole local pipeline: upload → convert → Distributed Map → SQS → a no-op admin server
 * in its own process → summary. Prints rows/s for the upload as a whole, the admin server's peak RSS, which
 * must stay flat whatever the upload's size (memory bounded by concurrency × chunk size), and what the upload
 * would cost in AWS: the state transitions the local runtime counted as Step Functions bills them, the SQS and
 * S3 requests that reached the emulator, Lambda GB-seconds, priced with packages/functions/src/cost/prices.ts;
 * beside the same figures of the design before the claim check, measured at 1M rows with that commit's own
 * runtime (bench/results/previous-design-1m.json).
 * Used by run-bench.ts; alone: npx tsx bench/pipeline-bench.ts [--sizes 100k,1m] [--quick] [--pairs N]
 * [--no-convert-alone]. The end to end / conversion ratio comes from pairs (`runPipelinePairs`): `sluice convert`
 * of the same workbook alone, then the pipeline, N times; a size's row is its median pair.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type HistoryEvent, paginateGetExecutionHistory, type SFNClient } from "@aws-sdk/client-sfn";
import { type CostEstimate, estimateCost } from "@sluice/functions";
import { LocalRuntime } from "@sluice/runtime";
import { buildCliBundle } from "./cli-bundle.ts";
import { executionPhases, type Phase, phasesInConversions, phasesText } from "./execution-phases.ts";
import { ensureWorkbooks, parseSize, workbookPath } from "./generate-workbooks.ts";
import { medianPair, type PipelinePair, pairRatio } from "./pipeline-pairs.ts";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
// SLUICE_BENCH_DIR: when this file runs bundled elsewhere (profile-stages.ts profiles a bundle of it).
const BENCH_DIR = process.env.SLUICE_BENCH_DIR ?? path.dirname(fileURLToPath(import.meta.url));
const HOOK_URL = pathToFileURL(path.join(BENCH_DIR, "peak-rss-hook.mjs")).href;

export interface PipelineResult {
  rows: number;
  fileMB: number;
  seconds: number;
  chunks: number;
  status: string;
  consumerPeakMB: number;
  runtimePeakMB: number;
  transitions: number;
  cost: CostEstimate;
  lambdaGbSeconds: number;
  /**
   * CPU time (user + system) from the upload's start to its end: the process hosting the local runtime
   * (conversion, the emulator, the Map) and the no-op admin server's (its stopping included).
   */
  cpuSeconds: { runtime: number; consumer: number };
  /** Where the time went: the upload, then each top-level state of the execution (its history). */
  phases: Phase[];
}

/** The design before the claim check (rows in the messages, 500-row chunks), measured once at 1M rows. */
interface PreviousDesign {
  commit: string;
  rows: number;
  chunks: number;
  transitions: number;
  sqs: { units: number };
  s3: { get: number; put: number; list: number };
}

const TARGET_USD_PER_MILLION_ROWS = 0.01;
/** Issue 14: end-to-end rows/s at least this share of conversion-alone rows/s. */
export const END_TO_END_VS_CONVERT = 0.5;

export async function runPipeline(rows: number): Promise<PipelineResult> {
  await ensureWorkbooks([rows]);
  const file = workbookPath("xlsx-inline", rows);
  const bytes = await readFile(file);
  const runtime = await LocalRuntime.start({ config: { maxConcurrency: 4 } });
  const rssFile = path.join(tmpdir(), `sluice-consumer-rss-${process.pid}-${rows}`);
  // SLUICE_BENCH_CONSUMER: a bundle of the no-op consumer to run instead of its sources (profile-stages.ts gives
  // one built with a source map, and SLUICE_BENCH_CONSUMER_PROFILE_DIR, where its CPU profile goes).
  const bundled = process.env.SLUICE_BENCH_CONSUMER;
  const profileDir = process.env.SLUICE_BENCH_CONSUMER_PROFILE_DIR;
  const growingPercent = process.env.CONSUMER_HEAP_GROWING_PERCENT;
  const consumer = spawn(
    process.execPath,
    // The same heap cap as the admin server benchmark: bounded memory must hold under it whatever the upload.
    // CONSUMER_HEAP_GROWING_PERCENT: V8's growing factor, for the consumer README's comparison (unset: V8's own).
    [
      `--max-old-space-size=${process.env.CONSUMER_HEAP_MB ?? 256}`,
      ...(growingPercent ? [`--heap-growing-percent=${growingPercent}`] : []),
      ...(profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : []),
      ...(bundled ? [] : ["--import", "tsx/esm"]),
      "--import",
      HOOK_URL,
      bundled ?? path.join(BENCH_DIR, "peers/noop-consumer.ts"),
    ],
    {
      env: {
        ...process.env,
        SLUICE_BENCH_RSS_FILE: rssFile,
        AWS_REGION: runtime.emulator.clientConfig.region,
        AWS_ENDPOINT_URL_SQS: runtime.emulator.endpoint,
        AWS_ENDPOINT_URL_SFN: runtime.stepFunctionsEndpoint,
        AWS_ENDPOINT_URL_S3: runtime.emulator.endpoint,
        CHUNK_QUEUE_URL: runtime.queueUrls.chunks,
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  // The consumer prints one JSON line when ready and one when it stops, each with its CPU time so far.
  const lines = createInterface({ input: consumer.stdout! });
  const nextLine = () =>
    new Promise<{ cpuSeconds?: number }>((resolve, reject) => {
      lines.once("line", (line) => {
        try {
          resolve(JSON.parse(line));
        } catch {
          reject(new Error(`the no-op consumer printed ${JSON.stringify(line)}, not its JSON report`));
        }
      });
      lines.once("close", () => reject(new Error("the no-op consumer ended without a report")));
    });
  try {
    const ready = await nextLine();
    // The clock times the upload, not the runtime's start-up: its convert worker has loaded its modules.
    await runtime.warmed();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const startedAt = Date.now();
    const upload = await runtime.upload(bytes, path.basename(file));
    const record = await runtime.waitForExecution(upload.executionArn);
    const seconds = (performance.now() - started) / 1000;
    const runtimeCpu = process.cpuUsage(cpuBefore);
    const report = nextLine();
    const exited = once(consumer, "exit");
    consumer.kill("SIGTERM");
    const stopped = await report;
    await exited;
    if (process.env.SLUICE_BENCH_VERBOSE) process.stderr.write(`consumer: ${JSON.stringify(stopped)}\n`);
    const summary = record.output as { rows?: number; chunks?: number } | undefined;
    const usage = runtime.usage(upload.executionArn);
    return {
      rows: summary?.rows ?? 0,
      fileMB: bytes.length / 1e6,
      seconds,
      chunks: summary?.chunks ?? 0,
      status: record.status,
      consumerPeakMB: Number(await readFile(rssFile, "utf8")) / 1024,
      runtimePeakMB: process.resourceUsage().maxRSS / 1024,
      transitions: usage.transitions,
      cost: runtime.estimatedCost(upload.executionArn),
      lambdaGbSeconds: usage.lambda.gbSeconds,
      cpuSeconds: {
        runtime: (runtimeCpu.user + runtimeCpu.system) / 1e6,
        consumer: (stopped.cpuSeconds ?? Number.NaN) - (ready.cpuSeconds ?? Number.NaN),
      },
      phases: executionPhases(
        await history(runtime.sfnClient(), upload.executionArn),
        startedAt,
        startedAt + seconds * 1000,
      ),
    };
  } finally {
    if (consumer.exitCode === null) consumer.kill("SIGKILL");
    await rm(rssFile, { force: true });
    await runtime.stop();
  }
}

/** The execution's whole history, every page. */
async function history(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  for await (const page of paginateGetExecutionHistory({ client: sfn }, { executionArn }))
    events.push(...(page.events ?? []));
  return events;
}

const usd = (value: number) => `$${value.toFixed(4)}`;

const cpuText = (r: PipelineResult) =>
  `${r.cpuSeconds.runtime.toFixed(1)} + ${r.cpuSeconds.consumer.toFixed(1)} = ${(r.cpuSeconds.runtime + r.cpuSeconds.consumer).toFixed(1)}`;

/**
 * Whether this machine could reach the end-to-end target at all: the CPU time the upload took (both processes)
 * against what its cores give in the time the target allows (rows / (END_TO_END_VS_CONVERT × conversion-alone
 * rows/s)). More CPU than that means overlapping the stages cannot reach the target here; the work has to shrink.
 */
function cpuBudget(results: PipelineResult[], convertAlone: Map<number, number>): string[] {
  const cores = os.availableParallelism();
  const out: string[] = [];
  for (const r of results) {
    const alone = convertAlone.get(r.rows);
    if (alone === undefined || r.status !== "SUCCEEDED") continue;
    const allowed = r.rows / (END_TO_END_VS_CONVERT * alone);
    const used = r.cpuSeconds.runtime + r.cpuSeconds.consumer;
    out.push(
      `CPU budget at ${r.rows.toLocaleString("en-US")} rows: the upload took ${used.toFixed(1)} CPU-s in ${r.seconds.toFixed(1)} s; ` +
        `the target allows ${allowed.toFixed(1)} s, which ${cores} cores give ${(allowed * cores).toFixed(1)} CPU-s ` +
        `(${used <= allowed * cores ? "enough CPU; the stages run one after another, so their times add up (below)" : "less than the upload took: overlapping the stages would not be enough"}).`,
    );
  }
  return out;
}

async function previousDesign(): Promise<PreviousDesign> {
  return JSON.parse(await readFile(path.join(BENCH_DIR, "results/previous-design-1m.json"), "utf8"));
}

/** The previous design's measured requests, priced like ours; its Lambda time taken equal to this run's. */
function previousCost(previous: PreviousDesign, lambdaGbSeconds: number): CostEstimate {
  return estimateCost({
    transitions: previous.transitions,
    sqsRequests: previous.sqs.units,
    lambdaGbSeconds,
    lambdaRequests: 3,
    s3Get: previous.s3.get,
    s3Put: previous.s3.put + previous.s3.list,
  });
}

/**
 * `sluice convert` of the pipeline's workbook alone, in its own process like run-bench.ts's cases: rows/s over the
 * whole process wall time (null if it failed or counted other rows).
 */
export async function convertAloneRowsPerSec(rows: number): Promise<number | null> {
  const out = await mkdtemp(path.join(tmpdir(), "sluice-convert-alone-"));
  try {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [
        path.join(BENCH_DIR, "../packages/cli/bin/sluice.js"),
        "convert",
        workbookPath("xlsx-inline", rows),
        "--out",
        out,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    const [code] = (await once(child, "close")) as [number | null];
    const seconds = (performance.now() - started) / 1000;
    // A failed convert printed its error on stderr; its stdout has no summary to read.
    if (code !== 0) return null;
    const counted = (JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as { rows?: number }).rows;
    return counted === rows ? rows / seconds : null;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/**
 * `rounds` pairs at one size, after one conversion alone that is not counted. `withAlone` false: the pipeline
 * only (profile-stages.ts wants no conversion beside the one it profiles).
 */
export async function runPipelinePairs(
  rows: number,
  rounds: number,
  withAlone = true,
): Promise<PipelinePair<PipelineResult>[]> {
  const pairs: PipelinePair<PipelineResult>[] = [];
  // A first conversion, not counted: right after a build, the first one took 6.7 s where the next took 4.0.
  if (withAlone) await convertAloneRowsPerSec(rows);
  for (let i = 0; i < rounds; i++) {
    const alone = withAlone ? await convertAloneRowsPerSec(rows) : null;
    const pipeline = await runPipeline(rows);
    pairs.push({ alone, pipeline, ratio: pairRatio(alone, pipeline) });
  }
  return pairs;
}

/** " (median of 3 pairs: 0.39, 0.41, 0.45)" beside a size's ratio, when there is more than one. */
function pairsText(pairs: PipelinePair<PipelineResult>[]): string {
  if (pairs.length < 2) return "";
  const ratios = pairs.map((p) => (p.ratio === null ? "—" : p.ratio.toFixed(2)));
  return ` (median of ${pairs.length} pairs: ${ratios.join(", ")})`;
}

/** One row per size: its median pair (`medianPair`); the pair ratios beside it. */
export async function pipelineTable(series: PipelinePair<PipelineResult>[][]): Promise<string> {
  const previous = await previousDesign();
  const lines = [
    `| rows | file MB | chunks | status | rows/s end to end | conversion alone rows/s | end to end / conversion (target ≥ ${END_TO_END_VS_CONVERT}×) | CPU s: runtime + admin server | admin server (consumer) peak RSS MB | transitions | est. cost per upload |`,
    "|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|",
  ];
  const results: PipelineResult[] = [];
  const convertAlone = new Map<number, number>();
  for (const pairs of series) {
    const { pipeline: r, alone, ratio } = medianPair(pairs);
    results.push(r);
    if (alone !== null) convertAlone.set(r.rows, alone);
    const e2e = r.rows / r.seconds;
    const ratioText =
      ratio === null
        ? "—"
        : `${ratio.toFixed(2)}× ${ratio >= END_TO_END_VS_CONVERT ? "PASS" : "MISS"}${pairsText(pairs)}`;
    lines.push(
      `| ${r.rows.toLocaleString("en-US")} | ${r.fileMB.toFixed(1)} | ${r.chunks} | ${r.status} | ${Math.round(e2e).toLocaleString("en-US")} | ${alone === null ? "—" : Math.round(alone).toLocaleString("en-US")} | ${ratioText} | ${cpuText(r)} | ${Math.round(r.consumerPeakMB)} | ${r.transitions.toLocaleString("en-US")} | ${usd(r.cost.usd)} |`,
    );
  }
  const million = results.find((r) => r.rows === previous.rows);
  const before = previousCost(previous, million?.lambdaGbSeconds ?? 0);
  lines.push(
    `| ${previous.rows.toLocaleString("en-US")} (previous design, ${previous.commit}) | | ${previous.chunks} | | | | | | | ${previous.transitions.toLocaleString("en-US")} | ${usd(before.usd)} |`,
  );
  lines.push("", ...cpuBudget(results, convertAlone));
  lines.push(
    "",
    "Where each row's upload went (its execution history; the Map's items run as child executions), and the same in conversions alone: the states run one after another (the Map reads the items Convert wrote once it has written them all), so their sum is what the end-to-end target weighs, and it allows 1 / " +
      `${END_TO_END_VS_CONVERT} = ${(1 / END_TO_END_VS_CONVERT).toFixed(2)}:`,
    "",
    ...results.map((r) => {
      const alone = convertAlone.get(r.rows);
      const aloneSeconds = alone === undefined ? undefined : r.rows / alone;
      const inConversions =
        aloneSeconds === undefined
          ? ""
          : `; in conversions alone (${aloneSeconds.toFixed(2)} s): ${phasesInConversions(r.phases, aloneSeconds)}`;
      return `- ${r.rows.toLocaleString("en-US")} rows: ${phasesText(r.phases)}${inConversions}`;
    }),
  );
  lines.push("", "Cost per upload, by item (us-east-1 list prices, no free tier):", "");
  lines.push("| rows | design | transitions | SQS requests | S3 GET | S3 PUT/LIST | Lambda GB-s | total |");
  lines.push("|--:|---|--:|--:|--:|--:|--:|--:|");
  const byItem = (rows: number, design: string, cost: CostEstimate) => {
    const line = (item: string) => cost.lines.find((l) => l.item === item);
    const cell = (item: string) =>
      `${line(item)?.quantity.toLocaleString("en-US")} (${usd(line(item)?.usd ?? 0)})`;
    return `| ${rows.toLocaleString("en-US")} | ${design} | ${cell("transitions")} | ${cell("sqsRequests")} | ${cell("s3Get")} | ${cell("s3Put")} | ${cell("lambdaGbSeconds")} | ${usd(cost.usd)} |`;
  };
  for (const r of results) lines.push(byItem(r.rows, "claim check", r.cost));
  if (million) lines.push(byItem(previous.rows, "previous", before));
  if (million) {
    const pass = million.cost.usd <= TARGET_USD_PER_MILLION_ROWS;
    lines.push(
      "",
      `Target: ≤ ${usd(TARGET_USD_PER_MILLION_ROWS)} per 1M-row upload at the defaults: ${usd(million.cost.usd)} ${pass ? "PASS" : "MISS"} (previous design ${usd(before.usd)}, ${(before.usd / million.cost.usd).toFixed(1)}×).`,
      "SQS requests include the admin server's empty long polls while it waited; Lambda GB-s is local wall time at the stack's memory sizes.",
    );
  }
  return lines.join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = process.argv.slice(2);
  const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const sizes = (args.includes("--quick") ? "10k" : (option("--sizes") ?? "100k,1m"))
    .split(",")
    .map(parseSize);
  const rounds = Math.max(1, Number.parseInt(option("--pairs") ?? "1", 10) || 1);
  // --no-convert-alone: the pipeline only (profile-stages.ts profiles this process and wants no idle wait).
  const withAlone = !args.includes("--no-convert-alone");
  if (withAlone) buildCliBundle(path.dirname(BENCH_DIR));
  // Before conversion alone, which reads them too (runPipeline would make them only for itself).
  await ensureWorkbooks(sizes);
  const series: PipelinePair<PipelineResult>[][] = [];
  for (const rows of sizes) series.push(await runPipelinePairs(rows, rounds, withAlone));
  process.stdout.write(`${await pipelineTable(series)}\n`);
}
