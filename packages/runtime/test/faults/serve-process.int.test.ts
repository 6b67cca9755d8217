import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { DescribeExecutionCommand, SFNClient } from "@aws-sdk/client-sfn";
import { DeleteQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { createChunkConsumer } from "@sluice/consumer";
import { FailureRecordSchema } from "@sluice/contract";
import { ordersCsv } from "@sluice/test-support/runtime-harness";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

/**
 * `sluice serve` as a child process under `--unhandled-rejections=strict` (any unhandled rejection or stream
 * error ends it): a send that fails must fail the upload, not the process; and what a kill -9 leaves behind.
 */

const BIN = new URL("../../../cli/bin/sluice.js", import.meta.url).pathname;
const credentials = { accessKeyId: "local", secretAccessKey: "local" };
let dir: string;
const children: ChildProcess[] = [];
const clients: { destroy(): void }[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-serve-faults-"));
});
afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Serve {
  child: ChildProcess;
  ready: Record<string, string>;
  stderr: () => string;
  exited: Promise<number | null>;
  sqs: SQSClient;
  s3: S3Client;
  sfn: SFNClient;
}

async function serve(...args: string[]): Promise<Serve> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --unhandled-rejections=strict`.trim(),
  };
  delete env.SLACK_WEBHOOK_URL;
  const child = spawn(process.execPath, [BIN, "serve", "--chunk-rows", "25", "--out", dir, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  children.push(child);
  let stderr = "";
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const reader = createInterface({ input: child.stdout! });
  const ready = await new Promise<Record<string, string>>((resolve, reject) => {
    reader.on("line", (line) => line.startsWith('{"ready":true') && resolve(JSON.parse(line)));
    child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  const config = { region: ready.region!, credentials };
  const sqs = new SQSClient({ ...config, endpoint: ready.sqsEndpoint! });
  const s3 = new S3Client({ ...config, endpoint: ready.s3Endpoint!, forcePathStyle: true });
  const sfn = new SFNClient({ ...config, endpoint: ready.stepFunctionsEndpoint! });
  clients.push(sqs, s3, sfn);
  return { child, ready, stderr: () => stderr, exited, sqs, s3, sfn };
}

async function upload(server: Serve, file: Buffer, name: string) {
  const response = await fetch(`${server.ready.uploadUrl}?name=${encodeURIComponent(name)}`, {
    method: "POST",
    body: file,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function settled(server: Serve, executionArn: string) {
  for (;;) {
    const { status } = await server.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (status !== "RUNNING") return status;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function queueDepth(server: Serve) {
  const { Attributes = {} } = await server.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: server.ready.chunkQueueUrl!, AttributeNames: ["All"] }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible)
  );
}

describe("the sluice serve process", () => {
  it("a SendMessage that throws (the chunk queue deleted) fails the upload with a record; the process serves on", async () => {
    const server = await serve();
    await server.sqs.send(new DeleteQueueCommand({ QueueUrl: server.ready.chunkQueueUrl! }));
    const started = await upload(server, ordersCsv(60), "orders.csv");
    expect(started.status).toBe(201);
    const executionArn = String(started.body.executionArn);
    expect(await settled(server, executionArn)).toBe("FAILED");

    // NotifyFailure runs after the status change: its record names the send's error.
    const key = `processed/${started.body.uploadId}/failure.json`;
    let record: unknown;
    for (let i = 0; i < 50 && record === undefined; i++) {
      record = await server.s3
        .send(new GetObjectCommand({ Bucket: server.ready.bucket!, Key: key }))
        .then(async (o) => JSON.parse(await o.Body!.transformToString()))
        .catch(() => new Promise((resolve) => setTimeout(() => resolve(undefined), 100)));
    }
    expect(FailureRecordSchema.parse(record).error.code).toBe("SQS.AmazonSQSException");

    // Still alive and serving, with nothing on stderr; a clean stop.
    expect(server.child.exitCode).toBeNull();
    expect((await upload(server, ordersCsv(61), "orders-2.csv")).status).toBe(201);
    expect(server.stderr()).toBe("");
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  });

  it("killed with -9 mid-upload and restarted: nothing survives (executions, queue, bucket); the same file uploads again", async () => {
    const first = await serve();
    const file = ordersCsv(100);
    const started = await upload(first, file, "orders.csv");
    expect(started.status).toBe(201);
    // No admin server yet: the chunks wait in the queue.
    for (let i = 0; i < 50 && (await queueDepth(first)) === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await queueDepth(first)).toBeGreaterThan(0);
    const port = new URL(first.ready.uploadUrl!).port;
    first.child.kill("SIGKILL");
    await first.exited;

    const second = await serve("--port", port);
    expect(second.ready.uploadUrl).toBe(first.ready.uploadUrl);
    // The emulator and the executions lived in the killed process's memory.
    await expect(
      second.sfn.send(new DescribeExecutionCommand({ executionArn: String(started.body.executionArn) })),
    ).rejects.toMatchObject({ name: "ExecutionDoesNotExist" });
    expect(await queueDepth(second)).toBe(0);
    const listed = await second.s3.send(new ListObjectsV2Command({ Bucket: second.ready.bucket! }));
    expect(listed.KeyCount ?? 0).toBe(0);

    // The way back: upload the file again (not a duplicate: nothing remembers it), an admin server takes it.
    const rows = new Map<number, number>();
    const consumer = createChunkConsumer({
      queueUrl: second.ready.chunkQueueUrl!,
      sqs: second.sqs,
      s3: second.s3,
      sfn: second.sfn,
      waitTimeSeconds: 1,
      handler: async (chunk) => {
        for (const { row } of chunk.rows) rows.set(row, (rows.get(row) ?? 0) + 1);
        return { accepted: chunk.rows.length, rejected: [] };
      },
    });
    consumer.start();
    try {
      const again = await upload(second, file, "orders.csv");
      expect(again).toMatchObject({ status: 201, body: { duplicate: false } });
      expect(await settled(second, String(again.body.executionArn))).toBe("SUCCEEDED");
    } finally {
      await consumer.stop({ timeoutMs: 2_000 });
    }
    expect(rows.size).toBe(100);
    expect([...rows.values()].every((n) => n === 1)).toBe(true);
    expect(second.stderr()).toBe("");
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  });
});
