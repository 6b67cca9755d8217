import { PutObjectCommand } from "@aws-sdk/client-s3";
import { GetExecutionHistoryCommand } from "@aws-sdk/client-sfn";
import { createLogger, createStartHandler } from "@sluice/functions";
import { failOnCrash } from "@sluice/test-support/crash-watch";
import { consume, ordersCsv, runtimeWith, useRuntimeCleanup } from "@sluice/test-support/runtime-harness";
import { describe, expect, it } from "vitest";
import type { LocalRuntime, RuntimeEvent } from "../../src/local-runtime.ts";

useRuntimeCleanup();
failOnCrash();

/**
 * Writes an object under uploads/ and returns the S3 event the runtime delivered for it to the start handler, and
 * that handler's outcome: S3 delivers events at least once, so the same event (same object version, same
 * eventTime) may arrive again. It names the version, as S3 does for a versioned bucket.
 */
async function putWithEvent(runtime: LocalRuntime, key: string, body: Buffer) {
  const delivered = new Promise<Extract<RuntimeEvent, { type: "upload_started" }>>((resolve) =>
    runtime.on("progress", (e: RuntimeEvent) => e.type === "upload_started" && e.key === key && resolve(e)),
  );
  const put = await runtime.emulator.s3.send(
    new PutObjectCommand({ Bucket: runtime.bucket, Key: key, Body: body }),
  );
  const first = await delivered;
  expect(first.versionId).toBe(put.VersionId);
  return first;
}

describe("the same upload twice, and many at once", () => {
  it("a duplicate S3 event for the same object version starts one execution and imports every row once", async () => {
    const runtime = await runtimeWith({ config: { chunkRows: 50 } });
    const sent: RuntimeEvent[] = [];
    runtime.on("progress", (e: RuntimeEvent) => e.type === "chunk_sent" && sent.push(e));
    const rows = new Map<number, number>();
    consume(runtime, async (chunk) => {
      for (const { row } of chunk.rows) rows.set(row, (rows.get(row) ?? 0) + 1);
      return { accepted: chunk.rows.length, rejected: [] };
    });
    const start = createStartHandler({
      sfn: runtime.sfnClient(),
      stateMachineArn: runtime.stateMachineArn,
      logger: createLogger("sluice-start", { logLevel: "SILENT" }),
    });
    const first = await putWithEvent(runtime, "uploads/orders.csv", ordersCsv(200));
    expect(first.duplicate).toBe(false);
    const event = first.notification;
    const uploadId = first.uploadId;
    // The same event again, twice at once, while the execution runs: StartExecution with the same name and
    // input is idempotent while it runs, ExecutionAlreadyExists once it closed; either way nothing new starts.
    const again = await Promise.all([start(event), start(event)]);
    for (const result of again) expect([...result.started, ...result.duplicates]).toEqual([uploadId]);

    const executionArn = `${runtime.stateMachineArn.replace(":stateMachine:", ":execution:")}:${uploadId}`;
    expect((await runtime.waitForExecution(executionArn)).status).toBe("SUCCEEDED");
    // And once more after it finished.
    expect(await start(event)).toEqual({ started: [], duplicates: [uploadId] });
    expect(runtime.workflow.all).toHaveLength(1);
    expect(rows.size).toBe(200);
    expect([...rows.values()].every((n) => n === 1)).toBe(true);
    expect(sent).toHaveLength(4);
  });

  it("ten uploads at once: all succeed, each in its own execution, every row of each once", async () => {
    // Four conversions at a time (the default): the others are throttled and retried, 20 times 200 ms apart here.
    const runtime = await runtimeWith({ config: { chunkRows: 40, maxConcurrency: 4 }, retryIntervalMs: 200 });
    const rows = new Map<string, number>();
    consume(
      runtime,
      async (chunk, ctx) => {
        for (const { row } of chunk.rows) {
          const key = `${ctx.uploadId}#${row}`;
          rows.set(key, (rows.get(key) ?? 0) + 1);
        }
        return { accepted: chunk.rows.length, rejected: [] };
      },
      8,
    );
    const sizes = Array.from({ length: 10 }, (_, i) => 100 + i * 13);
    const uploads = await Promise.all(
      sizes.map((size, i) => runtime.upload(ordersCsv(size), `orders-${i}.csv`)),
    );
    expect(new Set(uploads.map((u) => u.executionArn)).size).toBe(10);
    expect(uploads.every((u) => !u.duplicate)).toBe(true);
    const records = await Promise.all(uploads.map((u) => runtime.waitForExecution(u.executionArn)));
    expect(records.map((r) => r.status)).toEqual(Array(10).fill("SUCCEEDED"));
    for (const [i, upload] of uploads.entries()) {
      const mine = [...rows.entries()].filter(([key]) => key.startsWith(`${upload.uploadId}#`));
      expect(mine).toHaveLength(sizes[i]!);
      expect(mine.every(([, n]) => n === 1)).toBe(true);
      const summary = records[i]!.output as { summary?: { rows?: number; accepted?: number } } | undefined;
      expect(JSON.stringify(summary)).toContain(`"accepted":${sizes[i]}`);
    }
    expect(rows.size).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(runtime.workflow.all).toHaveLength(10);
  });

  it("more uploads than the Lambda concurrency: a conversion is throttled, and the workflow's Retry runs it later", async () => {
    // One convert environment at a time, as with a reserved concurrency of 1: the second upload's Convert is
    // refused while the first converts (Lambda.TooManyRequestsException), and succeeds on a later attempt. The
    // other retries' intervals are 10 ms here, but not the throttle's: shortened too, its 20 tries would be over
    // long before the first conversion (about a second).
    const runtime = await runtimeWith({ lambdaConcurrency: 1, retryIntervalMs: 10 });
    consume(runtime, async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }));
    const uploads = await Promise.all(
      ["a", "b"].map((name) => runtime.upload(ordersCsv(300_000), `orders-${name}.csv`)),
    );
    const records = await Promise.all(uploads.map((u) => runtime.waitForExecution(u.executionArn)));
    expect(records.map((r) => r.status)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    const refused = [];
    for (const upload of uploads) {
      const { events = [] } = await runtime
        .sfnClient()
        .send(new GetExecutionHistoryCommand({ executionArn: upload.executionArn, maxResults: 1000 }));
      refused.push(...events.filter((e) => e.type === "LambdaFunctionStartFailed"));
    }
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.lambdaFunctionStartFailedEventDetails).toMatchObject({
      error: "Lambda.TooManyRequestsException",
      cause: expect.stringMatching(/^Rate Exceeded\. \(Service: AWSLambda; Status Code: 429;/),
    });
  });
});
