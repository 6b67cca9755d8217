/**
 * End to end through the whole local pipeline: upload → convert → Distributed Map → SQS → a no-op admin server
 * in its own process → summary. Prints rows/s for the upload as a whole and the admin server's peak RSS, which
 * must stay flat whatever the upload's size (memory bounded by concurrency × chunk size).
 * Used by run-bench.ts; alone: npx tsx bench/pipeline-bench.ts [--sizes 100k,1m] [--quick]
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { LocalRuntime } from "../packages/local/src/runtime/local-runtime.ts";
import { ensureWorkbooks, parseSize, workbookPath } from "./generate-workbooks.ts";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const HOOK_URL = pathToFileURL(path.join(BENCH_DIR, "peak-rss-hook.mjs")).href;

export interface PipelineResult {
  rows: number;
  fileMB: number;
  seconds: number;
  chunks: number;
  status: string;
  consumerPeakMB: number;
  runtimePeakMB: number;
}

export async function runPipeline(rows: number): Promise<PipelineResult> {
  await ensureWorkbooks([rows]);
  const file = workbookPath("xlsx-inline", rows);
  const bytes = await readFile(file);
  const runtime = await LocalRuntime.start({ config: { maxConcurrency: 4 } });
  const rssFile = path.join(tmpdir(), `sluice-consumer-rss-${process.pid}-${rows}`);
  const consumer = spawn(
    process.execPath,
    // The same heap cap as the admin server benchmark: bounded memory must hold under it whatever the upload.
    [
      `--max-old-space-size=${process.env.CONSUMER_HEAP_MB ?? 256}`,
      "--import",
      "tsx/esm",
      "--import",
      HOOK_URL,
      path.join(BENCH_DIR, "peers/noop-consumer.ts"),
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
  try {
    await once(consumer.stdout!, "data");
    const started = performance.now();
    const upload = await runtime.upload(bytes, path.basename(file));
    const record = await runtime.waitForExecution(upload.executionArn);
    const seconds = (performance.now() - started) / 1000;
    const report = new Promise<string>((resolve) => {
      let text = "";
      consumer.stdout!.on("data", (d: Buffer) => {
        text += d.toString();
      });
      consumer.stdout!.on("end", () => resolve(text.trim()));
    });
    consumer.kill("SIGTERM");
    await once(consumer, "exit");
    if (process.env.SLUICE_BENCH_VERBOSE) process.stderr.write(`consumer: ${await report}\n`);
    const summary = record.output as { rows?: number; chunks?: number } | undefined;
    return {
      rows: summary?.rows ?? 0,
      fileMB: bytes.length / 1e6,
      seconds,
      chunks: summary?.chunks ?? 0,
      status: record.status,
      consumerPeakMB: Number(await readFile(rssFile, "utf8")) / 1024,
      runtimePeakMB: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    if (consumer.exitCode === null) consumer.kill("SIGKILL");
    await rm(rssFile, { force: true });
    await runtime.stop();
  }
}

export function pipelineTable(results: PipelineResult[]): string {
  const lines = [
    "| rows | file MB | chunks | status | rows/s end to end | admin server (consumer) peak RSS MB |",
    "|--:|--:|--:|---|--:|--:|",
  ];
  for (const r of results) {
    lines.push(
      `| ${r.rows.toLocaleString("en-US")} | ${r.fileMB.toFixed(1)} | ${r.chunks} | ${r.status} | ${Math.round(r.rows / r.seconds).toLocaleString("en-US")} | ${Math.round(r.consumerPeakMB)} |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = process.argv.slice(2);
  const sizeArg = args.includes("--quick") ? "10k" : (args[args.indexOf("--sizes") + 1] ?? "100k,1m");
  const sizes = (args.includes("--sizes") || args.includes("--quick") ? sizeArg : "100k,1m")
    .split(",")
    .map(parseSize);
  const results: PipelineResult[] = [];
  for (const rows of sizes) results.push(await runPipeline(rows));
  process.stdout.write(`${pipelineTable(results)}\n`);
}
