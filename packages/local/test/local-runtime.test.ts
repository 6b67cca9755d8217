import { readFile } from "node:fs/promises";
import { GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { DeadLetterRecordSchema, ManifestSchema } from "@sluice/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { corpusFile, hasCorpus } from "../../core/test/support/shared-corpus.ts";
import { LoopbackSlack } from "../../functions/test/slack-server.ts";
import type { LocalRuntime, RuntimeEvent } from "../src/runtime/local-runtime.ts";
import { UploadProgress } from "../src/upload-progress.ts";
import { consume, ordersCsv, runtimeWith, useRuntimeCleanup } from "./support/runtime-harness.ts";

/**
 * End to end on the local runtime: the stack's own ASL, the real handlers, the consumer SDK, all over the
 * emulator's real SQS/S3 wire protocol and the loopback Step Functions API.
 */

const csv = (rows: number) => ordersCsv(rows);
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

async function deadLetters(runtime: LocalRuntime) {
  const sqs = new SQSClient(runtime.emulator.clientConfig);
  const result = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: runtime.queueUrls.deadLetters,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
    }),
  );
  return (result.Messages ?? []).map((m) => DeadLetterRecordSchema.parse(JSON.parse(m.Body ?? "null")));
}

async function originalStillThere(runtime: LocalRuntime, key: string) {
  const head = await runtime.emulator.s3.send(new HeadObjectCommand({ Bucket: runtime.bucket, Key: key }));
  return (head.ContentLength ?? 0) > 0;
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

    const manifestObject = await runtime.emulator.s3.send(
      new GetObjectCommand({ Bucket: runtime.bucket, Key: `processed/${upload.uploadId}/manifest.json` }),
    );
    const manifest = ManifestSchema.parse(JSON.parse(await manifestObject.Body!.transformToString()));
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

  it("runs the failure branch when the admin server fails a chunk: DLQ record, Slack alert, original kept", async () => {
    const runtime = await runtimeWithSlack({ config: { chunkRows: 100 } });
    consume(runtime, async (chunk) => {
      if (chunk.index === 1)
        throw Object.assign(new Error("the orders table is locked"), { code: "DB_LOCKED" });
      return { accepted: chunk.rows.length, rejected: [] };
    });
    const upload = await runtime.upload(csv(500), "orders.csv");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("FAILED");
    expect(record.error).toBe("States.ExceedToleratedFailureThreshold");

    const [dead, ...more] = await deadLetters(runtime);
    expect(more).toEqual([]);
    expect(dead).toMatchObject({
      kind: "upload-failure",
      uploadId: upload.uploadId,
      source: { bucket: runtime.bucket, key: upload.key },
      processed: { bucket: runtime.bucket, prefix: `processed/${upload.uploadId}/` },
      chunkIndex: 1,
      error: { code: "DB_LOCKED", cause: "the orders table is locked" },
    });
    expect(slack.received).toHaveLength(1);
    const alert = JSON.stringify(slack.received[0]!.json);
    expect(alert).toContain("DB_LOCKED");
    expect(alert).toContain(upload.uploadId);
    expect(await originalStillThere(runtime, upload.key)).toBe(true);
  });

  it("times out a chunk nobody answers, re-sends it a bounded number of times, then fails the upload", async () => {
    const runtime = await runtimeWithSlack({
      config: { chunkRows: 100, heartbeatSeconds: 1, chunkTimeoutSeconds: 5, chunkRetries: 1 },
    });
    const events: RuntimeEvent[] = [];
    runtime.on("progress", (e: RuntimeEvent) => events.push(e));
    const upload = await runtime.upload(csv(50), "orders.csv");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("FAILED");
    // One send and one retry, each a fresh message with a fresh token.
    expect(events.filter((e) => e.type === "chunk_sent")).toHaveLength(2);
    expect(
      events.filter((e) => e.type === "chunk_failed").map((e) => (e as { error: string }).error),
    ).toEqual(["States.HeartbeatTimeout", "States.HeartbeatTimeout"]);
    const [dead] = await deadLetters(runtime);
    expect(dead).toMatchObject({ chunkIndex: 0, error: { code: "States.HeartbeatTimeout" } });
    expect(slack.received).toHaveLength(1);
  });

  it("keeps a slow chunk alive with heartbeats", async () => {
    const runtime = await runtimeWithSlack({
      config: { chunkRows: 100, heartbeatSeconds: 1, chunkTimeoutSeconds: 30, chunkRetries: 0 },
    });
    consume(runtime, async (chunk, ctx) => {
      for (let i = 0; i < 6; i++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        await ctx.heartbeat();
      }
      return { accepted: chunk.rows.length, rejected: [] };
    });
    const upload = await runtime.upload(csv(50), "orders.csv");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("SUCCEEDED");
  });

  it("sends nothing more once a chunk has failed the upload", async () => {
    const runtime = await runtimeWithSlack({ config: { chunkRows: 10, maxConcurrency: 2 } });
    const sent: { index: number; at: number }[] = [];
    runtime.on("progress", (e: RuntimeEvent) => {
      if (e.type === "chunk_sent") sent.push({ index: e.index, at: Date.now() });
    });
    const stale: number[] = [];
    const consumer = consume(runtime, async (chunk) => {
      if (chunk.index === 1) throw Object.assign(new Error("refused"), { code: "REFUSED" });
      await new Promise((resolve) => setTimeout(resolve, 150));
      return { accepted: chunk.rows.length, rejected: [] };
    });
    consumer.on("token_stale", (e) => stale.push(e.chunkIndex ?? -1));
    const upload = await runtime.upload(csv(200), "orders.csv");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("FAILED");
    const failedAt = record.stopDate!.getTime();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(sent.length).toBeLessThan(20);
    expect(sent.filter((s) => s.at > failedAt)).toEqual([]);
    // The chunk still in the admin server's hands when the upload failed: its answer finds a stale token.
    expect(stale).toContain(0);
  });

  it("never has more chunks in flight than the Map's MaxConcurrency", async () => {
    const runtime = await runtimeWithSlack({ config: { chunkRows: 20, maxConcurrency: 3 } });
    const progress = new UploadProgress();
    runtime.on("progress", (e: RuntimeEvent) => progress.apply(e));
    let inHand = 0;
    let peak = 0;
    consume(
      runtime,
      async (chunk) => {
        peak = Math.max(peak, ++inHand);
        await new Promise((resolve) => setTimeout(resolve, 60));
        inHand--;
        return { accepted: chunk.rows.length, rejected: [] };
      },
      10,
    );
    const upload = await runtime.upload(csv(400), "orders.csv");
    expect((await runtime.waitForExecution(upload.executionArn)).status).toBe("SUCCEEDED");
    expect(peak).toBe(3);
    expect(progress.peakInFlight).toBe(3);
  });

  it.each([
    ...(hasCorpus
      ? [["an encrypted workbook", corpusFile("excelize__encryptAES.xlsx"), "WORKBOOK_ENCRYPTED"] as const]
      : []),
    ["a file that is no workbook", undefined, "UNSUPPORTED_FORMAT"] as const,
  ])("fails %s with its code in the alert and the DLQ record, and keeps the file", async (_, path, code) => {
    const runtime = await runtimeWithSlack();
    const bytes = path ? await readFile(path) : Buffer.from([0x00, 0x01, 0x02, 0xff, 0x00]);
    const upload = await runtime.upload(bytes, "upload.xlsx");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("FAILED");
    expect(record.error).toBe(code);
    const [dead] = await deadLetters(runtime);
    expect(dead).toMatchObject({ error: { code }, source: { key: upload.key } });
    expect(dead!.processed).toBeUndefined();
    expect(JSON.stringify(slack.received[0]?.json)).toContain(code);
    expect(await originalStillThere(runtime, upload.key)).toBe(true);
  });

  it("starts nothing new for a duplicate S3 event of the same object", async () => {
    const runtime = await runtimeWithSlack();
    consume(runtime, async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }));
    const bytes = csv(10);
    const first = await runtime.upload(bytes, "orders.csv");
    await runtime.waitForExecution(first.executionArn);
    const again = await runtime.upload(bytes, "orders.csv");
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.duplicate).toBe(true);
    expect(runtime.workflow.all).toHaveLength(1);
  });
});
