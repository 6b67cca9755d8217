import { DescribeMapRunCommand, ListMapRunsCommand } from "@aws-sdk/client-sfn";
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { ReceiveSendDeleteMover } from "../src/commands/dead-letter-mover.ts";
import { runRedrive } from "../src/commands/redrive-command.ts";
import { reprocessUpload } from "../src/commands/reprocess.ts";
import { runReprocess } from "../src/commands/reprocess-command.ts";
import { runStatus } from "../src/commands/status-command.ts";
import { fetchUploadStatus, type UploadStatus } from "../src/commands/upload-status.ts";
import type { LocalRuntime } from "../src/runtime/local-runtime.ts";
import {
  consume,
  ordersCsv,
  runtimeWith,
  stopAfterTest,
  useRuntimeCleanup,
} from "./support/runtime-harness.ts";

/**
 * The operator commands end to end on the local runtime, through an unmodified SFNClient at the loopback
 * Step Functions API: the same calls `sluice status`, `redrive` and `reprocess` make against AWS.
 */

const csv = (rows: number) => ordersCsv(rows, "id,quantity");
useRuntimeCleanup();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The command's own flags for the local runtime. */
const localFlags = (runtime: LocalRuntime) => [
  "--state-machine-arn",
  runtime.stateMachineArn,
  "--endpoint",
  runtime.stepFunctionsEndpoint,
];

describe("sluice status on the local runtime", () => {
  it("reports the totals up front, chunks done and in flight (at most MaxConcurrency), then SUCCEEDED", async () => {
    const runtime = await runtimeWith({ config: { chunkRows: 20, maxConcurrency: 2 } });
    consume(runtime, async (chunk) => {
      await sleep(150);
      return { accepted: chunk.rows.length, rejected: [] };
    });
    const sfn = runtime.sfnClient();
    const upload = await runtime.upload(csv(200), "orders.csv");
    const seen: UploadStatus[] = [];
    for (;;) {
      const status = await fetchUploadStatus(sfn, runtime.stateMachineArn, upload.uploadId);
      seen.push(status);
      if (status.status !== "RUNNING") break;
      await sleep(100);
    }
    const during = seen.filter((s) => s.status === "RUNNING" && s.mapRun);
    expect(during.length).toBeGreaterThan(2);
    // Totals known before delivery is done, while chunks are still in flight.
    expect(during.some((s) => s.totalChunks === 10 && s.totalRows === 200 && s.chunksDone < 10)).toBe(true);
    expect(during.some((s) => s.chunksInFlight > 0)).toBe(true);
    expect(Math.max(...seen.map((s) => s.chunksInFlight))).toBeLessThanOrEqual(2);
    expect(during.some((s) => s.chunksPerSecond !== null && s.etaSeconds !== null && s.etaSeconds > 0)).toBe(
      true,
    );
    const done = seen.at(-1)!;
    expect(done).toMatchObject({
      status: "SUCCEEDED",
      totalRows: 200,
      totalChunks: 10,
      chunksDone: 10,
      chunksInFlight: 0,
      chunksFailed: 0,
      chunksPending: 0,
      percent: 100,
      etaSeconds: 0,
      mapRun: { status: "SUCCEEDED", maxConcurrency: 2 },
      summary: { rows: 200, chunks: 10, accepted: 200 },
    });

    // The command itself: human lines, then the status it prints as JSON.
    const lines: string[] = [];
    const status = await runStatus([upload.uploadId, ...localFlags(runtime)], (l) => lines.push(l));
    expect(status).toMatchObject({ status: "SUCCEEDED", chunksDone: 10 });
    expect(lines[0]).toBe(`upload ${upload.uploadId}: SUCCEEDED`);
    expect(lines).toContain("totals: 200 rows in 10 chunks");
    expect(lines.some((l) => l.startsWith("chunks: 10 done, 0 in flight (MaxConcurrency 2), 0 failed"))).toBe(
      true,
    );
    await expect(runStatus(["no-such-upload", ...localFlags(runtime)], () => {})).rejects.toThrow(
      /no upload "no-such-upload"/,
    );
  });
});

describe("sluice redrive on the local runtime", () => {
  it("runs only the chunks that did not succeed; the summary counts every row once", async () => {
    const runtime = await runtimeWith({ config: { chunkRows: 20, maxConcurrency: 1 } });
    const deliveries = new Map<string, number>();
    let broken = true;
    consume(runtime, async (chunk) => {
      const key = `${chunk.uploadId}:${chunk.index}`;
      deliveries.set(key, (deliveries.get(key) ?? 0) + 1);
      if (chunk.index === 2 && broken)
        throw Object.assign(new Error("the orders table is locked"), { code: "DB_LOCKED" });
      return { accepted: chunk.rows.length, rejected: [] };
    });
    const upload = await runtime.upload(csv(100), "orders.csv");
    const failed = await runtime.waitForExecution(upload.executionArn);
    expect(failed.status).toBe("FAILED");
    expect(failed.error).toBe("States.ExceedToleratedFailureThreshold");
    const sfn = runtime.sfnClient();
    expect(await fetchUploadStatus(sfn, runtime.stateMachineArn, upload.uploadId)).toMatchObject({
      status: "FAILED",
      chunksDone: 2,
      chunksFailed: 1,
      chunksPending: 2,
      etaSeconds: null,
    });

    broken = false;
    const lines: string[] = [];
    const result = await runRedrive([upload.uploadId, ...localFlags(runtime)], (l) => lines.push(l));
    expect(result).toMatchObject({ uploadId: upload.uploadId, executionArn: upload.executionArn });
    expect(runtime.workflow.get(upload.executionArn)!.status).toBe("RUNNING");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("SUCCEEDED");
    expect(record.redriveCount).toBe(1);
    expect(runtime.workflow.all).toHaveLength(1);
    expect(record.output).toMatchObject({
      rows: 100,
      chunks: 5,
      chunksDelivered: 5,
      chunksFailed: 0,
      accepted: 100,
      rejected: 0,
    });
    // The failed chunk was seen again; every chunk that had succeeded, only once.
    expect(Object.fromEntries(deliveries)).toEqual({
      [`${upload.uploadId}:0`]: 1,
      [`${upload.uploadId}:1`]: 1,
      [`${upload.uploadId}:2`]: 2,
      [`${upload.uploadId}:3`]: 1,
      [`${upload.uploadId}:4`]: 1,
    });
    // The same Map Run, redriven.
    const { mapRuns = [] } = await sfn.send(new ListMapRunsCommand({ executionArn: upload.executionArn }));
    expect(mapRuns).toHaveLength(1);
    const mapRun = await sfn.send(new DescribeMapRunCommand({ mapRunArn: mapRuns[0]!.mapRunArn }));
    expect(mapRun).toMatchObject({
      status: "SUCCEEDED",
      redriveCount: 1,
      itemCounts: {
        succeeded: 5,
        failed: 0,
        aborted: 0,
        running: 0,
        pending: 0,
        total: 5,
        resultsWritten: 5,
      },
    });
    expect(await fetchUploadStatus(sfn, runtime.stateMachineArn, upload.uploadId)).toMatchObject({
      status: "SUCCEEDED",
      redriveCount: 1,
      chunksDone: 5,
    });

    // A succeeded execution cannot be redriven.
    await expect(runRedrive([upload.uploadId, ...localFlags(runtime)], () => {})).rejects.toThrow(
      /ExecutionNotRedrivable/,
    );
  });
});

describe("sluice redrive --dlq on the local runtime", () => {
  it("moves only chunk messages back to the chunk queue and leaves upload-failure records", async () => {
    const runtime = await runtimeWith();
    const sqs = new SQSClient(runtime.emulator.clientConfig);
    stopAfterTest(async () => sqs.destroy());
    const dlq = runtime.queueUrls.deadLetters;
    const chunk = (index: number) => JSON.stringify({ v: 1, kind: "chunk", uploadId: "u", chunk: { index } });
    const record = JSON.stringify({ v: 1, kind: "upload-failure", uploadId: "u" });
    for (const body of [chunk(0), record, chunk(1)])
      await sqs.send(new SendMessageCommand({ QueueUrl: dlq, MessageBody: body }));

    const lines: string[] = [];
    const summary = await runRedrive(
      [
        "--dlq",
        "--queue-url",
        runtime.queueUrls.chunks,
        "--dlq-url",
        dlq,
        "--sqs-endpoint",
        runtime.emulator.endpoint,
      ],
      (l) => lines.push(l),
    );
    expect(summary.deadLetters).toEqual({ moved: 2, left: 1 });
    expect(lines).toEqual(["dead-letter queue: 2 chunk message(s) moved back, 1 other record(s) left"]);

    const receiveAll = async (queueUrl: string) => {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      return Messages.map((m) => m.Body).sort();
    };
    expect(await receiveAll(runtime.queueUrls.chunks)).toEqual([chunk(0), chunk(1)].sort());
    expect(await receiveAll(dlq)).toEqual([record]);
    // Nothing left to move.
    const again = new ReceiveSendDeleteMover({
      sqs,
      deadLetterQueueUrl: dlq,
      chunkQueueUrl: runtime.queueUrls.chunks,
    });
    await sleep(10);
    expect((await again.move()).moved).toBe(0);
  });
});

describe("sluice reprocess on the local runtime", () => {
  it("starts nothing for the same object again, and a new execution <uploadId>-r2 with --force", async () => {
    const runtime = await runtimeWith();
    const seen = new Set<string>();
    consume(runtime, async (chunk) => {
      seen.add(chunk.uploadId);
      return { accepted: chunk.rows.length, rejected: [] };
    });
    const bytes = csv(30);
    const first = await runtime.upload(bytes, "orders.csv");
    await runtime.waitForExecution(first.executionArn);
    const again = await runtime.upload(bytes, "orders.csv");
    expect(again).toMatchObject({ duplicate: true, executionArn: first.executionArn });
    expect(runtime.workflow.all).toHaveLength(1);

    const lines: string[] = [];
    const notForced = await runReprocess([first.uploadId, ...localFlags(runtime)], (l) => lines.push(l));
    expect(notForced).toMatchObject({ started: false, status: "SUCCEEDED" });
    expect(runtime.workflow.all).toHaveLength(1);

    const forced = await runReprocess([first.uploadId, "--force", ...localFlags(runtime)], () => {});
    expect(forced).toMatchObject({ started: true, reprocessId: `${first.uploadId}-r2` });
    const record = await runtime.waitForExecution(forced.executionArn);
    expect(record.status).toBe("SUCCEEDED");
    expect(record.name).toBe(`${first.uploadId}-r2`);
    expect(record.input).toMatchObject({ uploadId: `${first.uploadId}-r2`, source: { key: first.key } });
    expect(record.output).toMatchObject({ rows: 30, uploadId: `${first.uploadId}-r2` });
    expect(seen).toEqual(new Set([first.uploadId, `${first.uploadId}-r2`]));

    const third = await reprocessUpload(runtime.sfnClient(), runtime.stateMachineArn, first.uploadId);
    expect(third.reprocessId).toBe(`${first.uploadId}-r3`);
    await runtime.waitForExecution(third.executionArn);
    expect(runtime.workflow.all).toHaveLength(3);
  });
});
