import { readFile } from "node:fs/promises";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { ChunkRejectedError } from "@sluice/consumer";
import { FailureRecordSchema, ManifestSchema } from "@sluice/contract";
import { WORKFLOW_TRANSITIONS } from "@sluice/functions";
import { LoopbackSlack } from "@sluice/test-support/loopback-slack";
import { consume, ordersCsv, runtimeWith, useRuntimeCleanup } from "@sluice/test-support/runtime-harness";
import { corpusFile, hasCorpus } from "@sluice/test-support/shared-corpus";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { LocalRuntime, RuntimeEvent } from "../src/local-runtime.ts";

/**
 * End to end on the local runtime: the stack's own ASL, the real handlers, the consumer SDK, all over the
 * emulator's real SQS/S3 wire protocol and the loopback Step Functions API. Failures are notified as in AWS:
 * from the execution's status-change event, after the execution ended.
 */

const csv = (rows: number) => ordersCsv(rows);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
useRuntimeCleanup();

let slack: LoopbackSlack;
beforeAll(async () => {
  slack = await LoopbackSlack.start();
});
afterAll(async () => {
  await slack.stop();
});

afterEach(() => {
  slack.received.length = 0;
});

/** A runtime posting alerts to the loopback Slack. */
const runtimeWithSlack = (options: Parameters<typeof runtimeWith>[0] = {}) =>
  runtimeWith({ slackWebhookUrl: slack.url, ...options });

async function readObject(runtime: LocalRuntime, key: string): Promise<string> {
  const object = await runtime.emulator.s3.send(new GetObjectCommand({ Bucket: runtime.bucket, Key: key }));
  return object.Body!.transformToString();
}

async function failureRecord(runtime: LocalRuntime, uploadId: string) {
  return FailureRecordSchema.parse(
    JSON.parse(await readObject(runtime, `processed/${uploadId}/failure.json`)),
  );
}

async function originalStillThere(runtime: LocalRuntime, key: string) {
  const head = await runtime.emulator.s3.send(new HeadObjectCommand({ Bucket: runtime.bucket, Key: key }));
  return (head.ContentLength ?? 0) > 0;
}

async function queueDepth(runtime: LocalRuntime, url: string) {
  const { Attributes = {} } = await runtime.emulator.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["All"] }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible)
  );
}

function events(runtime: LocalRuntime): RuntimeEvent[] {
  const seen: RuntimeEvent[] = [];
  runtime.on("progress", (e: RuntimeEvent) => seen.push(e));
  return seen;
}

describe("the local runtime", () => {
  it("delivers every row to the admin server exactly once, and the summary matches the manifest", async () => {
    const runtime = await runtimeWithSlack({ config: { chunkRows: 100 } });
    const seen = new Map<number, number>();
    consume(runtime, async (chunk) => {
      for (const { row } of chunk.rows) seen.set(row, (seen.get(row) ?? 0) + 1);
      return { accepted: chunk.rows.length, rejected: [] };
    });
    const upload = await runtime.upload(csv(1234), "orders.csv");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("SUCCEEDED");

    const manifest = ManifestSchema.parse(
      JSON.parse(await readObject(runtime, `processed/${upload.uploadId}/manifest.json`)),
    );
    expect(manifest).toMatchObject({ totalRows: 1234, totalChunks: 13 });
    expect(seen.size).toBe(1234);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 1234 }, (_, i) => i + 2));
    expect(record.output).toMatchObject({
      rows: 1234,
      chunks: 13,
      accepted: 1234,
      rejected: 0,
      chunksFailed: 0,
    });
    expect(await runtime.failureNotification(upload.executionArn)).toBeUndefined();
  });

  it("keeps the rows in the bucket: messages and the execution carry pointers, never rows", async () => {
    const runtime = await runtimeWithSlack({ config: { chunkRows: 100 } });
    const bodies: string[] = [];
    runtime.workflow.on("callback_sent", (e: { messageBody: string }) => bodies.push(e.messageBody));
    consume(runtime, async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }));
    const upload = await runtime.upload(csv(300), "orders.csv");
    expect((await runtime.waitForExecution(upload.executionArn)).status).toBe("SUCCEEDED");
    expect(bodies).toHaveLength(3);
    for (const body of bodies) {
      expect(body).not.toContain("ORD-");
      expect(JSON.parse(body).chunk).toMatchObject({ key: `processed/${upload.uploadId}/chunks.jsonl` });
    }
    const history = JSON.stringify(runtime.workflow.history(upload.executionArn));
    expect(history).not.toContain("ORD-");
  });

  it("counts the state transitions AWS bills, as the cost model has them, and prices the upload", async () => {
    const runtime = await runtimeWithSlack({ config: { chunkRows: 100 } });
    consume(runtime, async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }));
    const upload = await runtime.upload(csv(1000), "orders.csv");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("SUCCEEDED");
    const usage = runtime.usage(upload.executionArn);
    expect(usage.transitions).toBe(WORKFLOW_TRANSITIONS.parent + 10 * WORKFLOW_TRANSITIONS.perChunk);
    expect(usage.childExecutions).toBe(10);
    // summary.json's estimate follows the same shape as what the runtime counted.
    expect(record.output).toMatchObject({ transitions: usage.transitions });
    expect(usage.requests.sqs.byAction.SendMessage).toBe(10);
    expect(usage.requests.s3.get).toBeGreaterThanOrEqual(10);
    expect(runtime.estimatedCost(upload.executionArn).usd).toBeGreaterThan(0);
  });

  it("reports rejected rows in the summary without failing the upload", async () => {
    const runtime = await runtimeWithSlack({ config: { chunkRows: 50 } });
    consume(runtime, async (chunk) => {
      const bad = chunk.rows.filter((r) => r.data.quantity === "5");
      return {
        accepted: chunk.rows.length - bad.length,
        rejected: bad.map((r) => ({ row: r.row, code: "QUANTITY_LIMIT", message: "at most 4 a customer" })),
      };
    });
    const upload = await runtime.upload(csv(200), "orders.csv");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("SUCCEEDED");
    expect(record.output).toMatchObject({ rows: 200, accepted: 160, rejected: 40 });
  });

  it("lets chunks wait in the queue for an admin server that starts long after the upload", async () => {
    // Every timer but the deadline would long have fired: the queue's visibility timeout is 1 s.
    const runtime = await runtimeWithSlack({
      config: { chunkRows: 100, visibilityTimeoutSeconds: 1, uploadDeadlineSeconds: 120 },
    });
    const seen = events(runtime);
    const upload = await runtime.upload(csv(500), "orders.csv");
    await sleep(5_000);
    expect(runtime.workflow.get(upload.executionArn)!.status).toBe("RUNNING");
    const rows = new Map<number, number>();
    consume(runtime, async (chunk) => {
      for (const { row } of chunk.rows) rows.set(row, (rows.get(row) ?? 0) + 1);
      return { accepted: chunk.rows.length, rejected: [] };
    });
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("SUCCEEDED");
    expect(rows.size).toBe(500);
    expect([...rows.values()].every((n) => n === 1)).toBe(true);
    // Each chunk was sent once: waiting cost nothing, no retry, no new token.
    expect(seen.filter((e) => e.type === "chunk_sent")).toHaveLength(5);
    expect(seen.filter((e) => e.type === "chunk_failed")).toEqual([]);
  });

  it("fails the upload naming the chunk the admin server refuses for good: failure record, Slack alert, file kept", async () => {
    const runtime = await runtimeWithSlack({ config: { chunkRows: 100 } });
    consume(runtime, async (chunk) => {
      if (chunk.index === 1) throw new ChunkRejectedError("the orders table refuses this chunk");
      return { accepted: chunk.rows.length, rejected: [] };
    });
    const upload = await runtime.upload(csv(500), "orders.csv");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("FAILED");
    expect(record.error).toBe("States.ExceedToleratedFailureThreshold");

    const notified = await runtime.failureNotification(upload.executionArn);
    expect(notified?.record).toMatchObject({ uploadId: upload.uploadId, failedChunk: { index: 1 } });
    expect(await failureRecord(runtime, upload.uploadId)).toMatchObject({
      kind: "upload-failure",
      status: "FAILED",
      uploadId: upload.uploadId,
      executionArn: upload.executionArn,
      source: { bucket: runtime.bucket, key: upload.key },
      processed: { bucket: runtime.bucket, prefix: `processed/${upload.uploadId}/` },
      failedChunk: { index: 1, firstRow: 102, lastRow: 201, rows: 100 },
      error: { code: "CHUNK_REJECTED", cause: "the orders table refuses this chunk" },
    });
    expect(slack.received.length).toBeGreaterThanOrEqual(1);
    const alert = JSON.stringify(slack.received[0]!.json);
    expect(alert).toContain("CHUNK_REJECTED");
    expect(alert).toContain(upload.uploadId);
    expect(await originalStillThere(runtime, upload.key)).toBe(true);
    // Failure records never go to the chunk dead-letter queue.
    expect(await queueDepth(runtime, runtime.queueUrls.deadLetters)).toBe(0);
  });

  it("dead-letters a chunk the admin server keeps failing on, and fails the upload naming it", async () => {
    const runtime = await runtimeWithSlack({
      config: { chunkRows: 100, maxReceiveCount: 2, visibilityTimeoutSeconds: 1 },
    });
    const seen = events(runtime);
    const attempts: number[] = [];
    const consumer = consume(runtime, async (chunk, ctx) => {
      if (chunk.index === 2) {
        attempts.push(ctx.receiveCount);
        throw new Error("the database is down");
      }
      return { accepted: chunk.rows.length, rejected: [] };
    });
    const released: number[] = [];
    consumer.on("chunk_released", (e) => released.push(e.chunkIndex ?? -1));
    const upload = await runtime.upload(csv(500), "orders.csv");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("FAILED");
    // Received maxReceiveCount times, never answered by the consumer, then SQS moved it to the DLQ.
    expect(attempts).toEqual([1, 2]);
    expect(released).toEqual([2, 2]);
    const deadLettered = seen.filter((e) => e.type === "dead_lettered");
    expect(deadLettered).toEqual([
      expect.objectContaining({ chunk: { uploadId: upload.uploadId, index: 2 } }),
    ]);

    await runtime.failureNotification(upload.executionArn);
    const failure = await failureRecord(runtime, upload.uploadId);
    expect(failure).toMatchObject({
      failedChunk: { index: 2, firstRow: 202, lastRow: 301, rows: 100 },
      error: { code: "CHUNK_DEAD_LETTERED" },
    });
    expect(failure.error.cause).toContain("received 2 times");
    expect(JSON.stringify(slack.received[0]?.json)).toContain("CHUNK_DEAD_LETTERED");
    expect(await queueDepth(runtime, runtime.queueUrls.deadLetters)).toBe(0);
  });

  it("fails a chunk whose bytes were changed in the bucket without importing any of it", async () => {
    const runtime = await runtimeWithSlack({ config: { chunkRows: 100 } });
    const converted = new Promise<void>((resolve) =>
      runtime.on("progress", (e: RuntimeEvent) => e.type === "converted" && resolve()),
    );
    const upload = await runtime.upload(csv(300), "orders.csv");
    await converted;
    // Tamper with the chunks object before any admin server reads it: one digit of one row.
    const key = `processed/${upload.uploadId}/chunks.jsonl`;
    const text = await readObject(runtime, key);
    await runtime.emulator.s3.send(
      new PutObjectCommand({
        Bucket: runtime.bucket,
        Key: key,
        Body: text.replace(`"ORD-150"`, `"ORD-151"`),
      }),
    );
    const imported: number[] = [];
    consume(runtime, async (chunk) => {
      imported.push(chunk.index);
      return { accepted: chunk.rows.length, rejected: [] };
    });
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("FAILED");
    expect(imported).not.toContain(1);
    await runtime.failureNotification(upload.executionArn);
    expect(await failureRecord(runtime, upload.uploadId)).toMatchObject({
      failedChunk: { index: 1 },
      error: { code: "CHUNK_CHECKSUM_MISMATCH" },
    });
  });

  it("keeps a slow chunk in the admin server's hands with heartbeats (no redelivery)", async () => {
    const runtime = await runtimeWithSlack({ config: { chunkRows: 100, visibilityTimeoutSeconds: 2 } });
    let calls = 0;
    consume(runtime, async (chunk, ctx) => {
      calls++;
      for (let i = 0; i < 6; i++) {
        await sleep(500);
        await ctx.heartbeat();
      }
      return { accepted: chunk.rows.length, rejected: [] };
    });
    const upload = await runtime.upload(csv(50), "orders.csv");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("SUCCEEDED");
    expect(calls).toBe(1);
  });

  it("sends nothing more once a chunk has failed the upload", async () => {
    const runtime = await runtimeWithSlack({ config: { chunkRows: 10, maxConcurrency: 2 } });
    const sent: { index: number; at: number }[] = [];
    runtime.on("progress", (e: RuntimeEvent) => {
      if (e.type === "chunk_sent") sent.push({ index: e.index, at: Date.now() });
    });
    const stale: number[] = [];
    const consumer = consume(runtime, async (chunk) => {
      if (chunk.index === 1) throw new ChunkRejectedError("refused");
      await sleep(150);
      return { accepted: chunk.rows.length, rejected: [] };
    });
    consumer.on("token_stale", (e) => stale.push(e.chunkIndex ?? -1));
    const upload = await runtime.upload(csv(200), "orders.csv");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("FAILED");
    const failedAt = record.stopDate!.getTime();
    await sleep(500);
    expect(sent.length).toBeLessThan(20);
    expect(sent.filter((s) => s.at > failedAt)).toEqual([]);
    // The chunk still in the admin server's hands when the upload failed: its answer finds a stale token.
    expect(stale).toContain(0);
  });

  it("never has more chunks in flight than the Map's MaxConcurrency", async () => {
    const runtime = await runtimeWithSlack({ config: { chunkRows: 20, maxConcurrency: 3 } });
    // What the runtime saw: chunks sent and not yet answered.
    const out = new Set<number>();
    let peakOut = 0;
    runtime.on("progress", (e: RuntimeEvent) => {
      if (e.type === "chunk_sent") out.add(e.index);
      if (e.type === "chunk_done" || e.type === "chunk_failed") out.delete(e.index);
      peakOut = Math.max(peakOut, out.size);
    });
    let inHand = 0;
    let peak = 0;
    consume(
      runtime,
      async (chunk) => {
        peak = Math.max(peak, ++inHand);
        await sleep(60);
        inHand--;
        return { accepted: chunk.rows.length, rejected: [] };
      },
      10,
    );
    const upload = await runtime.upload(csv(400), "orders.csv");
    expect((await runtime.waitForExecution(upload.executionArn)).status).toBe("SUCCEEDED");
    expect(peak).toBe(3);
    expect(peakOut).toBe(3);
  });

  it.each([
    ...(hasCorpus
      ? [["an encrypted workbook", corpusFile("excelize__encryptAES.xlsx"), "WORKBOOK_ENCRYPTED"] as const]
      : []),
    ["a file that is no workbook", undefined, "UNSUPPORTED_FORMAT"] as const,
  ])(
    "fails %s at Convert with its code in the failure record and the alert, and keeps the file",
    async (_, path, code) => {
      const runtime = await runtimeWithSlack();
      const bytes = path ? await readFile(path) : Buffer.from([0x00, 0x01, 0x02, 0xff, 0x00]);
      const upload = await runtime.upload(bytes, "upload.xlsx");
      const record = await runtime.waitForExecution(upload.executionArn);
      expect(record.status).toBe("FAILED");
      expect(record.error).toBe(code);
      await runtime.failureNotification(upload.executionArn);
      const failure = await failureRecord(runtime, upload.uploadId);
      expect(failure).toMatchObject({ error: { code }, source: { key: upload.key } });
      expect(failure.failedChunk).toBeUndefined();
      expect(JSON.stringify(slack.received[0]?.json)).toContain(code);
      expect(await originalStillThere(runtime, upload.key)).toBe(true);
    },
  );

  it("the same bytes uploaded again are a new object version and a new upload, as in the versioned bucket on AWS", async () => {
    const runtime = await runtimeWithSlack();
    consume(runtime, async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }));
    const bytes = csv(10);
    const first = await runtime.upload(bytes, "orders.csv");
    await runtime.waitForExecution(first.executionArn);
    const again = await runtime.upload(bytes, "orders.csv");
    expect(again.duplicate).toBe(false);
    expect(again.executionArn).not.toBe(first.executionArn);
    expect((await runtime.waitForExecution(again.executionArn)).status).toBe("SUCCEEDED");
    const versions = runtime.workflow.all.map(
      (e) => (e.input as { source: { versionId?: string } }).source.versionId,
    );
    expect(new Set(versions).size).toBe(2);
  });
});
