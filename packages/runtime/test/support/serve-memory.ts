/**
 * What `sluice serve` holds through one big upload, measured on the runtime's own process: starts the local
 * runtime as `sluice serve` does, reads the workbook into one Buffer as serve's HTTP handler does, uploads it, and
 * (or, with SERVE_MEMORY_STREAM=1, streams it) lets a consumer in ANOTHER process (serve-memory-consumer.ts) drain it, so only the runtime's memory is counted.
 * Prints one JSON line: peak RSS (getrusage), RSS after the upload ended, and what is still held after a GC.
 *   node --expose-gc --import tsx packages/runtime/test/support/serve-memory.ts <workbook>
 */
import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalRuntime } from "../../src/local-runtime.ts";

const [workbook] = process.argv.slice(2);
if (!workbook) throw new Error("usage: serve-memory.ts <workbook>");

const mb = (bytes: number) => Math.round(bytes / 1048576);
let peakRss = 0;
let phase = "start";
const peaks: Record<string, number> = {};
/** What made up the highest sample: heap, ArrayBuffers and other external memory. */
let atPeak: NodeJS.MemoryUsage | undefined;
const sampler = setInterval(() => {
  const usage = process.memoryUsage();
  const rss = usage.rss;
  if (rss > peakRss) atPeak = usage;
  peakRss = Math.max(peakRss, rss);
  peaks[phase] = Math.max(peaks[phase] ?? 0, mb(rss));
}, 100);

const out = await mkdtemp(join(tmpdir(), "sluice-serve-memory-"));
const started = performance.now();
const runtime = await LocalRuntime.start({ outDir: out, retryIntervalMs: 500 });
const startedRssMB = mb(process.memoryUsage().rss);
runtime.on("progress", (event: { type: string }) => {
  if (event.type === "converted") phase = "delivering";
});
const consumer = spawn(
  process.execPath,
  [
    "--import",
    "tsx",
    process.env.SERVE_MEMORY_CONSUMER ??
      fileURLToPath(new URL("./serve-memory-consumer.ts", import.meta.url)),
  ],
  {
    stdio: ["ignore", "inherit", "inherit"],
    env: {
      ...process.env,
      QUEUE_URL: runtime.queueUrls.chunks,
      SQS_S3_ENDPOINT: runtime.emulator.endpoint,
      SFN_ENDPOINT: runtime.stepFunctionsEndpoint,
    },
  },
);
try {
  phase = "uploading";
  // SERVE_MEMORY_STREAM=1: the body handed on as a stream, as serve could pass its HTTP request.
  const upload = process.env.SERVE_MEMORY_STREAM
    ? await runtime.upload(createReadStream(workbook), basename(workbook))
    : await runtime.upload(await readFile(workbook), basename(workbook));
  phase = "converting";
  const record = await runtime.waitForExecution(upload.executionArn);
  const seconds = (performance.now() - started) / 1000;
  const rssAfter = process.memoryUsage().rss;
  await new Promise((r) => setTimeout(r, 1000));
  (globalThis as { gc?: () => void }).gc?.();
  const heldAfterGc = process.memoryUsage();
  clearInterval(sampler);
  process.stdout.write(
    `${JSON.stringify({
      status: record.status,
      output: record.output,
      seconds: Math.round(seconds),
      startedRssMB,
      peakRssMB: mb(Math.max(peakRss, process.resourceUsage().maxRSS * 1024)),
      peakRssMBByPhase: peaks,
      atPeakMB: atPeak && {
        heapTotal: mb(atPeak.heapTotal),
        heapUsed: mb(atPeak.heapUsed),
        external: mb(atPeak.external),
        arrayBuffers: mb(atPeak.arrayBuffers),
      },
      rssAfterMB: mb(rssAfter),
      afterGc: {
        rssMB: mb(heldAfterGc.rss),
        heapUsedMB: mb(heldAfterGc.heapUsed),
        heapTotalMB: mb(heldAfterGc.heapTotal),
        externalMB: mb(heldAfterGc.external),
        buffersMB: mb(heldAfterGc.arrayBuffers),
      },
    })}\n`,
  );
} finally {
  consumer.kill("SIGTERM");
  await runtime.stop();
  await rm(out, { recursive: true, force: true });
}
