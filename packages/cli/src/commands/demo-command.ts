import { access, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { createChunkConsumer } from "@sluice/consumer";
import { InvalidOptionError } from "@sluice/core";
import { LocalRuntime, type RuntimeEvent } from "@sluice/runtime";
import { createDemoAdminHandler, createDemoAdminStore } from "../demo-admin-handler.ts";
import { EXAMPLES_DIR } from "../paths.ts";
import { ProgressBar, UploadProgress } from "../upload-progress.ts";
import { failureRecordKey } from "./failure-record.ts";

export const DEMO_USAGE = `usage: sluice demo [file] [--fail] [--concurrency N] [--chunk-rows N] [--chunk-bytes N] [--slack-webhook URL] [--out DIR]

Runs a whole upload on this machine: the workbook lands in a local S3 bucket, the real start handler starts the
workflow's own state machine, chunk pointers go through a local SQS queue to a demo admin server, and the summary
(or the failure record and Slack alert) comes back, with the state transitions and what the upload would cost in
AWS. No AWS account needed.
  file            default: examples/orders.xlsx (20,000 orders)
  --fail          use examples/orders-with-errors.xlsx in 500-row chunks (unless --chunk-rows): rejected rows, then
                  a chunk the admin server refuses; the failure record and alert name that chunk
  --slack-webhook post alerts there (default: $SLACK_WEBHOOK_URL; unset: the Block Kit JSON is saved under --out)`;

export interface DemoSummary {
  uploadId: string;
  status: string;
  rows: number;
  accepted: number;
  rejected: number;
  chunks: number;
  seconds: number;
  /** Step Functions state transitions, counted as AWS bills Standard workflows. */
  transitions: number;
  /** What the upload would cost in AWS (us-east-1 list prices, no free tier): see `sluice demo`'s cost line. */
  estimatedCostUsd: number;
}

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new InvalidOptionError(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** `sluice demo`: one upload through the local runtime, told as it happens. Lines for people go to `say`. */
export async function runDemo(argv: string[], say: (line: string) => void): Promise<DemoSummary> {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        fail: { type: "boolean" },
        concurrency: { type: "string" },
        "chunk-rows": { type: "string" },
        "chunk-bytes": { type: "string" },
        "slack-webhook": { type: "string" },
        out: { type: "string" },
      },
    }));
  } catch (error) {
    throw new InvalidOptionError(`${(error as Error).message}\n${DEMO_USAGE}`);
  }
  if (positionals.length > 1) throw new InvalidOptionError(`expected at most one file\n${DEMO_USAGE}`);
  const file = positionals[0] ?? join(EXAMPLES_DIR, values.fail ? "orders-with-errors.xlsx" : "orders.xlsx");
  const concurrency = positiveInt("concurrency", values.concurrency as string | undefined) ?? 4;
  // The failure example is 2,000 rows: smaller chunks than the stage default show some succeeding first.
  const chunkRows =
    positiveInt("chunk-rows", values["chunk-rows"] as string | undefined) ?? (values.fail ? 500 : undefined);
  const chunkBytes = positiveInt("chunk-bytes", values["chunk-bytes"] as string | undefined);
  const bytes = await readFile(file).catch((error: NodeJS.ErrnoException) => {
    throw new InvalidOptionError(
      `cannot read ${file}: ${error.code === "ENOENT" ? "no such file" : error.message}${
        positionals[0] === undefined
          ? " (the example workbooks come with the sluice repository; elsewhere, give sluice demo a workbook)"
          : ""
      }`,
    );
  });
  const slackWebhookUrl = (values["slack-webhook"] as string | undefined) ?? process.env.SLACK_WEBHOOK_URL;

  const started = performance.now();
  const runtime = await LocalRuntime.start({
    config: {
      maxConcurrency: concurrency,
      ...(chunkRows ? { chunkRows } : {}),
      ...(chunkBytes ? { chunkBytes } : {}),
    },
    ...(slackWebhookUrl ? { slackWebhookUrl } : {}),
    outDir: (values.out as string | undefined) ?? "out",
    retryIntervalMs: 500,
  });
  const progress = new UploadProgress();
  const bar = process.stderr.isTTY ? new ProgressBar() : undefined;
  let alertPath: string | undefined;
  runtime.on("progress", (event: RuntimeEvent) => {
    progress.apply(event);
    if (event.type === "converted") {
      say(
        `converted: ${event.totalRows.toLocaleString("en")} rows in ${event.totalChunks} chunks (known before delivery starts)`,
      );
    }
    // The alert is the first message saved; a follow-up (the rejected-rows report) may come after it.
    if (event.type === "alert_saved") alertPath ??= event.path;
  });
  const ticker = bar ? setInterval(() => bar.update(progress.snapshot()), 200) : undefined;

  const connection = runtime.adminServerConnection();
  const consumer = createChunkConsumer({
    ...connection,
    concurrency,
    waitTimeSeconds: 1,
    heartbeatSeconds: 10,
    visibilityTimeoutSeconds: 60,
    handler: createDemoAdminHandler(createDemoAdminStore()),
  });
  try {
    consumer.start();
    say(`uploading ${basename(file)} to s3://${runtime.bucket}/uploads/ (local emulator)`);
    const upload = await runtime.upload(bytes, basename(file));
    say(`execution ${upload.uploadId} started (Map concurrency ${runtime.config.maxConcurrency})`);
    const record = await runtime.waitForExecution(upload.executionArn);
    if (ticker) clearInterval(ticker);
    bar?.update(progress.snapshot());
    bar?.stop();
    await consumer.stop({ timeoutMs: 5_000 });

    const snapshot = progress.snapshot();
    const costOf = (executionArn: string) => {
      const cost = runtime.estimatedCost(executionArn);
      const transitions = runtime.usage(executionArn).transitions;
      say(
        `in AWS this upload would cost about $${cost.usd.toFixed(4)} (${transitions} state transitions; ${cost.region} list prices of ${cost.pricesReadOn})`,
      );
      return { transitions, estimatedCostUsd: cost.usd };
    };
    const seconds = Math.round((performance.now() - started) / 100) / 10;
    say(`execution ${record.status}: ${record.executionArn}`);
    say(`peak chunks in flight: ${progress.peakInFlight} (MaxConcurrency ${runtime.config.maxConcurrency})`);
    if (record.status === "SUCCEEDED") {
      const summary = record.output as {
        rows: number;
        accepted: number;
        rejected: number;
        chunks: number;
        summaryKey: string;
        fileWarnings?: { code: string; message: string }[];
      };
      for (const warning of summary.fileWarnings ?? []) say(`warning ${warning.code}: ${warning.message}`);
      say(
        `summary: ${summary.rows.toLocaleString("en")} rows, ${summary.chunks} chunks, ${summary.accepted.toLocaleString("en")} accepted, ${summary.rejected} rejected (s3://${runtime.bucket}/${summary.summaryKey})`,
      );
      const report = (
        summary as { rejectedRowsReport?: { bucket: string; csvKey: string; xlsxKey: string } | null }
      ).rejectedRowsReport;
      if (report) say(`rejected rows report: s3://${report.bucket}/${report.xlsxKey} (and .csv)`);
      return {
        uploadId: upload.uploadId,
        status: record.status,
        rows: summary.rows,
        accepted: summary.accepted,
        rejected: summary.rejected,
        chunks: summary.chunks,
        seconds,
        ...costOf(record.executionArn),
      };
    }
    say(`error ${record.error}: ${record.cause}`);
    // The failure record and the alert come from the execution's status change, moments after it ended.
    const notified = await runtime.failureNotification(record.executionArn);
    if (notified?.record) {
      say(`failure record: s3://${runtime.bucket}/${failureRecordKey(upload.uploadId)}`);
      say(`failure record: ${JSON.stringify(notified.record)}`);
    } else say("failure record: not written (see the errors above)");
    const alert = notified?.slack;
    say(
      alertPath
        ? `Slack alert (no webhook set): saved to ${alertPath}`
        : `Slack alert: ${alert === "posted" ? "posted to the webhook" : `not posted (${alert ?? "no notification"})`}`,
    );
    const reportPath = join(
      (values.out as string | undefined) ?? "out",
      upload.uploadId,
      "rejected-rows.xlsx",
    );
    if (
      await access(reportPath).then(
        () => true,
        () => false,
      )
    )
      say(`rejected rows report: ${reportPath} (and .csv)`);
    say(
      `the original upload stays at s3://${runtime.bucket}/uploads/${basename(file)}: nothing to upload again`,
    );
    return {
      uploadId: upload.uploadId,
      status: record.status,
      rows: snapshot.totalRows,
      accepted: snapshot.accepted,
      rejected: snapshot.rejected,
      chunks: snapshot.totalChunks,
      seconds,
      ...costOf(record.executionArn),
    };
  } finally {
    if (ticker) clearInterval(ticker);
    bar?.stop();
    if (consumer.status.running) await consumer.stop({ timeoutMs: 1_000 });
    connection.sqs.destroy();
    connection.sfn.destroy();
    connection.s3.destroy();
    await runtime.stop();
  }
}
