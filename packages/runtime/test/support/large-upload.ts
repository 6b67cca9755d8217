/**
 * Two 1,000,000-row uploads through the whole local runtime in one process, run by large-upload.int.test.ts under
 * `--max-old-space-size=256`: Convert, Summarize and NotifyFailure (and the consumer) must all fit that heap.
 * The first succeeds with 10% of its rows rejected (a 100,000-row report); in the second the admin server
 * refuses one chunk for good, so NotifyFailure records and alerts it, then reads every result and writes the
 * report of the rows rejected before the failure. Prints one JSON line.
 */
import { getHeapStatistics } from "node:v8";
import { ChunkRejectedError, createChunkConsumer } from "@sluice/consumer";
import { LocalRuntime } from "../../src/local-runtime.ts";

const ROWS = Number(process.env.LARGE_UPLOAD_ROWS ?? 1_000_000);
const REFUSED_CHUNK = 60;

/** The file's bytes, built 10,000 lines at a time: one 1M-line string would itself take ~100 MB of the heap. */
function csv(rows: number, seed: string): Buffer {
  const parts = [Buffer.from("order_id,customer,quantity\n")];
  for (let start = 1; start <= rows; start += 10_000) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(rows + 1, start + 10_000); i++)
      lines.push(`${seed}-${i},고객 ${i % 9973},${(i % 10) + 1}\n`);
    parts.push(Buffer.from(lines.join("")));
  }
  return Buffer.concat(parts);
}

let peakHeap = 0;
const sampler = setInterval(() => {
  peakHeap = Math.max(peakHeap, getHeapStatistics().used_heap_size);
}, 50);

const runtime = await LocalRuntime.start({
  outDir: process.env.LARGE_UPLOAD_OUT ?? "out",
  retryIntervalMs: 100,
});
let refuse = false;
const consumer = createChunkConsumer({
  ...runtime.adminServerConnection(),
  concurrency: 4,
  waitTimeSeconds: 1,
  handler: async (chunk) => {
    if (refuse && chunk.index === REFUSED_CHUNK) throw new ChunkRejectedError("refused for the test");
    // Quantity 10 is over the limit: every tenth row is rejected.
    const rejected = chunk.rows
      .filter((r) => r.data.quantity === "10")
      .map((r) => ({ row: r.row, code: "QUANTITY_LIMIT", message: "at most 9 a customer" }));
    return { accepted: chunk.rows.length - rejected.length, rejected };
  },
});
consumer.start();
try {
  const first = await runtime.upload(csv(ROWS, "A"), "large-ok.csv");
  const succeeded = await runtime.waitForExecution(first.executionArn);
  refuse = true;
  const second = await runtime.upload(csv(ROWS, "B"), "large-fail.csv");
  const failed = await runtime.waitForExecution(second.executionArn);
  const notified = await runtime.failureNotification(second.executionArn);
  clearInterval(sampler);
  process.stdout.write(
    `${JSON.stringify({
      succeeded: { status: succeeded.status, output: succeeded.output },
      failed: { status: failed.status, record: notified?.record, report: notified?.report },
      peakHeapMB: Math.round(peakHeap / 1048576),
      maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    })}\n`,
  );
} finally {
  await consumer.stop({ timeoutMs: 5_000 });
  await runtime.stop();
}
