/**
 * What `sluice serve` holds through one upload: the real CLI (its bundle, on the Node that runs this bench) started
 * as `sluice serve`, the workbook sent with `sluice upload` (streamed to the local bucket), and the no-op admin
 * server in its own process, so the serve process's peak RSS (getrusage at its exit, through peak-rss-hook.mjs)
 * counts only the local runtime: emulator, bucket, workflow and the Lambdas it runs in-process.
 * Used by run-bench.ts; alone: npx tsx bench/serve-bench.ts [--sizes 100k,1m]
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { buildCliBundle } from "./cli-bundle.ts";
import { ensureWorkbooks, parseSize, VARIANTS, type Variant, workbookPath } from "./generate-workbooks.ts";

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(BENCH_DIR, "..");
const HOOK_URL = pathToFileURL(path.join(BENCH_DIR, "peak-rss-hook.mjs")).href;
const SLUICE = path.join(ROOT, "packages/cli/bin/sluice.js");
/** The target from issue 12: serve stays under this through a 1M-row upload. */
const TARGET_MB = 300;

export interface ServeResult {
  variant: Variant;
  rows: number;
  status: string;
  seconds: number;
  servePeakMiB: number | null;
}

/** Resolves with the first line of `child`'s stdout that `match` accepts. */
function lineOf(child: ChildProcess, match: (line: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      if (match(line)) resolve(line);
    });
    child.once("exit", (code) => reject(new Error(`sluice serve exited (${code}) before the line came`)));
  });
}

export async function runServe(variant: Variant, rows: number): Promise<ServeResult> {
  await ensureWorkbooks([rows]);
  const file = workbookPath(variant, rows);
  const work = await mkdtemp(path.join(tmpdir(), "sluice-serve-bench-"));
  const rssFile = path.join(work, "serve-rss");
  const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };
  const serve = spawn(
    process.execPath,
    ["--import", HOOK_URL, SLUICE, "serve", "--out", path.join(work, "out")],
    {
      env: { ...env, SLUICE_BENCH_RSS_FILE: rssFile },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let consumer: ChildProcess | undefined;
  try {
    const ready = JSON.parse(await lineOf(serve, (line) => line.startsWith('{"ready":true'))) as Record<
      string,
      string
    >;
    consumer = spawn(
      process.execPath,
      ["--import", "tsx/esm", path.join(BENCH_DIR, "peers/noop-consumer.ts")],
      {
        env: {
          ...env,
          AWS_REGION: ready.region,
          AWS_ENDPOINT_URL_SQS: ready.sqsEndpoint,
          AWS_ENDPOINT_URL_S3: ready.s3Endpoint,
          AWS_ENDPOINT_URL_SFN: ready.stepFunctionsEndpoint,
          CHUNK_QUEUE_URL: ready.chunkQueueUrl,
        },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    await once(consumer.stdout!, "data");
    const started = performance.now();
    const finished = lineOf(serve, (line) => /^upload \S+: (SUCCEEDED|FAILED|TIMED_OUT|ABORTED)/.test(line));
    const upload = spawnSync(
      process.execPath,
      [SLUICE, "upload", file, "--endpoint", ready.uploadUrl!, "--json"],
      {
        env,
        encoding: "utf8",
      },
    );
    if (upload.status !== 0) throw new Error(`sluice upload failed: ${upload.stderr}`);
    const status = /: (\w+)/.exec(await finished)?.[1] ?? "?";
    const seconds = (performance.now() - started) / 1000;
    consumer.kill("SIGTERM");
    await once(consumer, "exit");
    serve.kill("SIGINT");
    await once(serve, "exit");
    const kib = Number(await readFile(rssFile, "utf8").catch(() => "NaN"));
    return { variant, rows, status, seconds, servePeakMiB: Number.isFinite(kib) ? kib / 1024 : null };
  } finally {
    if (consumer && consumer.exitCode === null) consumer.kill("SIGKILL");
    if (serve.exitCode === null) serve.kill("SIGKILL");
    await rm(work, { recursive: true, force: true });
  }
}

export function serveTable(results: ServeResult[]): string {
  const fmt = (n: number) => n.toLocaleString("en");
  return [
    "| workbook | rows | status | seconds | sluice serve peak RSS MiB | target ≤ 300 MB at 1M rows |",
    "|---|--:|---|--:|--:|---|",
    ...results.map((r) => {
      const peak = r.servePeakMiB === null ? "?" : fmt(Math.round(r.servePeakMiB));
      const mb = r.servePeakMiB === null ? null : (r.servePeakMiB * 1048576) / 1e6;
      const verdict =
        r.rows < 1_000_000 || mb === null ? "" : mb <= TARGET_MB ? "PASS" : `FAIL (${Math.round(mb)} MB)`;
      return `| ${r.variant} | ${fmt(r.rows)} | ${r.status} | ${r.seconds.toFixed(1)} | ${peak} | ${verdict} |`;
    }),
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const at = process.argv.indexOf("--sizes");
  const sizes = at >= 0 ? (process.argv[at + 1] ?? "").split(",").map(parseSize) : [100_000, 1_000_000];
  const results: ServeResult[] = [];
  buildCliBundle(ROOT);
  for (const rows of sizes)
    for (const variant of VARIANTS) {
      process.stderr.write(`serve ${variant} ${rows} … `);
      const r = await runServe(variant, rows);
      process.stderr.write(`${r.status} ${r.servePeakMiB === null ? "?" : Math.round(r.servePeakMiB)} MiB\n`);
      results.push(r);
    }
  process.stdout.write(`Node ${process.version}\n\n${serveTable(results)}\n`);
}
