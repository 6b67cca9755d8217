/**
 * The admin server of the pipeline benchmark: the real consumer SDK with a handler that accepts every row and
 * does nothing else, so its peak RSS is what consuming costs. Prints its CPU time when ready; runs until SIGTERM,
 * then stops gracefully and prints how many chunks and rows it answered and its CPU time.
 */
import { writeFileSync } from "node:fs";
import { S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SQSClient } from "@aws-sdk/client-sqs";
import { createChunkConsumer } from "@sluice/consumer";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const credentials = { accessKeyId: "local", secretAccessKey: "local" };
const region = env("AWS_REGION");
let rows = 0;
/** User and system CPU time of this process so far, in seconds. */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
const consumer = createChunkConsumer({
  queueUrl: env("CHUNK_QUEUE_URL"),
  sqs: new SQSClient({ region, endpoint: env("AWS_ENDPOINT_URL_SQS"), credentials }),
  sfn: new SFNClient({ region, endpoint: env("AWS_ENDPOINT_URL_SFN"), credentials }),
  s3: new S3Client({ region, endpoint: env("AWS_ENDPOINT_URL_S3"), credentials, forcePathStyle: true }),
  concurrency: Number(process.env.CONSUMER_CONCURRENCY ?? 4),
  waitTimeSeconds: 1,
  heartbeatSeconds: 30,
  visibilityTimeoutSeconds: 120,
  handler: async (chunk) => {
    rows += chunk.rows.length;
    return { accepted: chunk.rows.length, rejected: [] };
  },
});
// When it delivered: from the first chunk received to the last answered, in monotonic microseconds (the clock of
// V8's CPU profiles, so profile-stages.ts can report the samples of this window alone).
const micros = () => Number(process.hrtime.bigint() / 1000n);
let firstReceived: number | undefined;
let lastAnswered: number | undefined;
consumer.on("chunk_received", () => {
  firstReceived ??= micros();
});
consumer.on("chunk_succeeded", () => {
  lastAnswered = micros();
});
consumer.on("chunk_failed", () => {
  lastAnswered = micros();
});
consumer.start();
// The CPU it has used so far (mostly loading itself), so the benchmark can count what the upload cost it.
process.stdout.write(`${JSON.stringify({ ready: true, cpuSeconds: cpuSeconds() })}\n`);
process.once("SIGTERM", async () => {
  await consumer.stop({ timeoutMs: 10_000 });
  // SLUICE_BENCH_CONSUMER_WINDOW_FILE (profile-stages.ts): where to write that window, `{ from, to }`.
  const windowFile = process.env.SLUICE_BENCH_CONSUMER_WINDOW_FILE;
  if (windowFile && firstReceived !== undefined && lastAnswered !== undefined) {
    writeFileSync(windowFile, JSON.stringify({ from: firstReceived, to: lastAnswered }));
  }
  const memory = Object.fromEntries(
    Object.entries(process.memoryUsage()).map(([k, v]) => [k, Math.round(v / 1048576)]),
  );
  process.stdout.write(
    `${JSON.stringify({ chunks: consumer.status.processed, rows, memoryMB: memory, cpuSeconds: cpuSeconds() })}\n`,
  );
  process.exit(0);
});
