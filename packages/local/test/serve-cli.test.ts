import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SQSClient } from "@aws-sdk/client-sqs";
import { createChunkConsumer } from "@sluice/consumer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runUpload } from "../src/commands/upload-command.ts";
import { fetchUploadStatus, type UploadStatus } from "../src/commands/upload-status.ts";

/** `sluice serve` as a child process: its printed endpoints are all an admin server and the CLI need. */

const BIN = new URL("../bin/sluice.js", import.meta.url).pathname;
let dir: string;
let child: ChildProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-serve-"));
});
afterAll(async () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

function cli(env: NodeJS.ProcessEnv, ...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  const lines = result.stdout.trim().split("\n");
  return { code: result.status, lines, json: JSON.parse(lines.at(-1) ?? "null"), stderr: result.stderr };
}

describe("sluice serve", () => {
  it("prints its endpoints, takes uploads over HTTP, and the execution finishes (seen through status)", async () => {
    child = spawn(
      process.execPath,
      [BIN, "serve", "--chunk-rows", "25", "--concurrency", "2", "--out", dir],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));
    const lines: string[] = [];
    const reader = createInterface({ input: child.stdout! });
    const ready = await new Promise<Record<string, string>>((resolve, reject) => {
      reader.on("line", (line) => {
        lines.push(line);
        if (line.startsWith('{"ready":true')) resolve(JSON.parse(line));
      });
      child!.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${lines.join("\n")}`)));
    });
    const exports = Object.fromEntries(
      lines
        .filter((l) => l.startsWith("export "))
        .map((l) => l.slice("export ".length).split(/=(.*)/s).slice(0, 2)),
    ) as Record<string, string>;
    expect(exports).toEqual({
      AWS_REGION: ready.region,
      AWS_ENDPOINT_URL_SQS: ready.sqsEndpoint,
      AWS_ENDPOINT_URL_S3: ready.s3Endpoint,
      AWS_ENDPOINT_URL_SFN: ready.stepFunctionsEndpoint,
      CHUNK_QUEUE_URL: ready.chunkQueueUrl,
      DEAD_LETTER_QUEUE_URL: ready.deadLetterQueueUrl,
      SLUICE_STATE_MACHINE_ARN: ready.stateMachineArn,
      SLUICE_BUCKET: ready.bucket,
      SLUICE_UPLOAD_URL: ready.uploadUrl,
    });
    expect(lines.some((l) => l.includes(`chunk queue URL         ${ready.chunkQueueUrl}`))).toBe(true);

    // An admin server, configured only from the printed endpoints.
    const credentials = { accessKeyId: "local", secretAccessKey: "local" };
    const consumer = createChunkConsumer({
      queueUrl: exports.CHUNK_QUEUE_URL!,
      sqs: new SQSClient({
        region: exports.AWS_REGION!,
        endpoint: exports.AWS_ENDPOINT_URL_SQS!,
        credentials,
      }),
      sfn: new SFNClient({
        region: exports.AWS_REGION!,
        endpoint: exports.AWS_ENDPOINT_URL_SFN!,
        credentials,
      }),
      concurrency: 2,
      waitTimeSeconds: 1,
      heartbeatSeconds: 5,
      visibilityTimeoutSeconds: 30,
      handler: async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }),
    });
    consumer.start();
    try {
      const file = join(dir, "orders.csv");
      await writeFile(file, `id,qty\n${Array.from({ length: 120 }, (_, i) => `${i + 1},1`).join("\n")}\n`);
      const said: string[] = [];
      const upload = await runUpload([file], (l) => said.push(l), {
        SLUICE_UPLOAD_URL: exports.SLUICE_UPLOAD_URL,
      });
      expect(upload).toMatchObject({ duplicate: false, key: "uploads/orders.csv" });
      expect(said).toEqual([
        `upload ${upload.uploadId}: started; follow it with: sluice status ${upload.uploadId}`,
      ]);

      const sfn = new SFNClient({
        region: exports.AWS_REGION!,
        endpoint: exports.AWS_ENDPOINT_URL_SFN!,
        credentials,
      });
      let status: UploadStatus;
      do {
        await new Promise((resolve) => setTimeout(resolve, 200));
        status = await fetchUploadStatus(sfn, exports.SLUICE_STATE_MACHINE_ARN!, upload.uploadId);
      } while (status.status === "RUNNING");
      expect(status).toMatchObject({ status: "SUCCEEDED", totalRows: 120, totalChunks: 5, chunksDone: 5 });

      // The same file again starts nothing; --force starts <uploadId>-r2.
      const again = await runUpload([file], () => {}, { SLUICE_UPLOAD_URL: exports.SLUICE_UPLOAD_URL });
      expect(again).toMatchObject({ duplicate: true, uploadId: upload.uploadId });
      expect(again.reprocessId).toBeUndefined();
      const forced = await runUpload([file, "--force"], () => {}, {
        SLUICE_UPLOAD_URL: exports.SLUICE_UPLOAD_URL,
      });
      expect(forced.reprocessId).toBe(`${upload.uploadId}-r2`);

      // The CLI's status command, configured by the exported variables alone.
      const env = { ...exports, AWS_ACCESS_KEY_ID: "", AWS_PROFILE: "" };
      let printed: ReturnType<typeof cli>;
      do {
        await new Promise((resolve) => setTimeout(resolve, 200));
        printed = cli(env, "status", forced.reprocessId!);
      } while (printed.json?.status === "RUNNING");
      expect(printed.code).toBe(0);
      expect(printed.json).toMatchObject({ status: "SUCCEEDED", totalRows: 120, chunksDone: 5 });
      expect(printed.lines[0]).toBe(`upload ${forced.reprocessId}: SUCCEEDED`);
      sfn.destroy();
    } finally {
      await consumer.stop({ timeoutMs: 2_000 });
    }

    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(lines).toContain("stopping");
  });
});
