import { DescribeMapRunCommand, ListMapRunsCommand } from "@aws-sdk/client-sfn";
import { ChunkRejectedError } from "@sluice/consumer";
import type { LocalRuntime } from "@sluice/runtime";
import {
  consume,
  ordersCsv,
  runtimeWith,
  stopAfterTest,
  useRuntimeCleanup,
} from "@sluice/test-support/runtime-harness";
import { describe, expect, it } from "vitest";
import { runRedrive } from "../src/commands/redrive-command.ts";
import { reprocessUpload } from "../src/commands/reprocess.ts";
import { runReprocess } from "../src/commands/reprocess-command.ts";
import { runStatus } from "../src/commands/status-command.ts";
import { fetchUploadStatus, type UploadStatus } from "../src/commands/upload-status.ts";

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
  it("an upload a refused chunk failed: status shows its failure record; redrive runs only the chunks that did not succeed", async () => {
    const runtime = await runtimeWith({ config: { chunkRows: 100, maxConcurrency: 1 } });
    // The chunk indexes the handler saw in each run, and the ones it answered successfully.
    const seen: number[][] = [[], []];
    const answered: number[][] = [[], []];
    let run = 0;
    consume(runtime, async (chunk) => {
      seen[run]!.push(chunk.index);
      if (chunk.index === 2 && run === 0)
        throw new ChunkRejectedError("order ORD-250 is already in the orders table");
      answered[run]!.push(chunk.index);
      return { accepted: chunk.rows.length, rejected: [] };
    });
    const upload = await runtime.upload(csv(500), "orders.csv");
    const failed = await runtime.waitForExecution(upload.executionArn);
    expect(failed.status).toBe("FAILED");
    expect(failed.error).toBe("States.ExceedToleratedFailureThreshold");
    // Refused for good: the failed chunk was not delivered again, and delivery stopped there (MaxConcurrency 1).
    expect(seen[0]).toEqual([0, 1, 2]);
    expect(answered[0]).toEqual([0, 1]);
    const sfn = runtime.sfnClient();
    stopAfterTest(async () => sfn.destroy());
    expect(await fetchUploadStatus(sfn, runtime.stateMachineArn, upload.uploadId)).toMatchObject({
      status: "FAILED",
      chunksDone: 2,
      chunksFailed: 1,
      chunksPending: 2,
      etaSeconds: null,
      source: { bucket: runtime.bucket, key: "uploads/orders.csv" },
    });

    // The failure record NotifyFailure wrote from the status change, read from the emulator's S3 endpoint; the
    // bucket comes from the execution's input.
    await runtime.failureNotification(upload.executionArn);
    const s3Flags = ["--s3-endpoint", runtime.emulator.endpoint];
    const lines: string[] = [];
    const status = await runStatus(
      [upload.uploadId, ...localFlags(runtime), ...s3Flags],
      (l) => lines.push(l),
      {},
    );
    const key = `processed/${upload.uploadId}/failure.json`;
    expect(status).toMatchObject({
      status: "FAILED",
      failureRecord: {
        found: true,
        bucket: runtime.bucket,
        key,
        record: {
          uploadId: upload.uploadId,
          executionArn: upload.executionArn,
          redriveCount: 0,
          error: { code: "CHUNK_REJECTED", cause: "order ORD-250 is already in the orders table" },
          failedChunk: { index: 2, firstRow: 202, lastRow: 301, rows: 100 },
        },
      },
    });
    expect(lines).toContain(`failure record: s3://${runtime.bucket}/${key}`);
    expect(lines).toContain(
      "failed chunk: index 2, rows 202-301 (100 rows): CHUNK_REJECTED: order ORD-250 is already in the orders table",
    );
    expect(lines.at(-1)).toBe(`run what failed again (no re-upload): sluice redrive ${upload.uploadId}`);

    // A record that cannot be read never fails the status.
    const missing: string[] = [];
    const withoutRecord = await runStatus(
      [upload.uploadId, ...localFlags(runtime), ...s3Flags, "--bucket", "no-such-bucket"],
      (l) => missing.push(l),
      {},
    );
    expect(withoutRecord).toMatchObject({
      status: "FAILED",
      chunksFailed: 1,
      failureRecord: { found: false, bucket: "no-such-bucket", key },
    });
    expect(missing.at(-1)).toMatch(
      new RegExp(`^failure record not found \\(s3://no-such-bucket/${key}: NoSuchBucket`),
    );

    // The admin server is fixed; the redrive runs the refused chunk and the two never delivered, nothing else.
    run = 1;
    const said: string[] = [];
    const result = await runRedrive([upload.uploadId, ...localFlags(runtime)], (l) => said.push(l), {});
    expect(result).toMatchObject({ uploadId: upload.uploadId, executionArn: upload.executionArn });
    expect(said).toEqual([
      `redriven: ${upload.executionArn}: what failed runs again (follow it with: sluice status ${upload.uploadId})`,
    ]);
    expect(runtime.workflow.get(upload.executionArn)!.status).toBe("RUNNING");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("SUCCEEDED");
    expect(record.redriveCount).toBe(1);
    expect(runtime.workflow.all).toHaveLength(1);
    expect([...seen[1]!].sort()).toEqual([2, 3, 4]);
    expect(record.output).toMatchObject({
      rows: 500,
      chunks: 5,
      chunksDelivered: 5,
      chunksFailed: 0,
      accepted: 500,
      rejected: 0,
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
    const succeeded = await runStatus([upload.uploadId, ...localFlags(runtime), ...s3Flags], () => {}, {});
    expect(succeeded).toMatchObject({ status: "SUCCEEDED", redriveCount: 1, chunksDone: 5 });
    expect(succeeded.failureRecord).toBeUndefined();

    // A succeeded execution cannot be redriven.
    await expect(runRedrive([upload.uploadId, ...localFlags(runtime)], () => {}, {})).rejects.toThrow(
      /ExecutionNotRedrivable/,
    );
  });
});

describe("sluice reprocess on the local runtime", () => {
  it("starts nothing without --force, and a new execution <uploadId>-r2 of the same version with --force", async () => {
    const runtime = await runtimeWith();
    const seen = new Set<string>();
    consume(runtime, async (chunk) => {
      seen.add(chunk.uploadId);
      return { accepted: chunk.rows.length, rejected: [] };
    });
    const bytes = csv(30);
    const first = await runtime.upload(bytes, "orders.csv");
    await runtime.waitForExecution(first.executionArn);
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
