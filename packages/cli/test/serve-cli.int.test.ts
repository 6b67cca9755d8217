import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SQSClient } from "@aws-sdk/client-sqs";
import { ChunkRejectedError, createChunkConsumer } from "@sluice/consumer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runUpload } from "../src/commands/upload-command.ts";
import { fetchUploadStatus, type UploadStatus } from "../src/commands/upload-status.ts";
import { strictEnv } from "./support/cli-process.ts";

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
    env: strictEnv({ ...process.env, ...env }),
  });
  const lines = result.stdout.trim().split("\n");
  let json: ReturnType<typeof JSON.parse> = null;
  try {
    json = JSON.parse(lines.at(-1) || "null");
  } catch {
    // The last line is not JSON: a usage error printed nothing on stdout.
  }
  return { code: result.status, lines, json, stderr: result.stderr };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the operator commands' usage errors", () => {
  it("refuses sluice redrive --dlq with exit code 2, saying why and what to run instead", () => {
    for (const args of [
      ["redrive", "--dlq"],
      ["redrive", "orders-3f9c2a1b7e4d", "--dlq"],
    ]) {
      const printed = cli({}, ...args);
      expect(printed.code).toBe(2);
      expect(printed.stderr).toMatch(
        /^error INVALID_OPTION: --dlq is gone: .*CHUNK_DEAD_LETTERED.*"sluice redrive <upload-id>"/,
      );
      expect(printed.json).toBeNull();
    }
    const help = cli({}, "redrive", "--help");
    expect(help.code).toBe(0);
    expect(help.lines[0]).toBe("usage: sluice redrive <upload-id> [options]");
    expect(help.lines.some((l) => /^\s+--dlq/.test(l))).toBe(false);
    expect(help.lines.join(" ")).toContain("(--dlq is gone:");
  });
});

describe("sluice serve", () => {
  it("prints its endpoints, takes uploads over HTTP, and the execution finishes (seen through status)", async () => {
    child = spawn(
      process.execPath,
      [BIN, "serve", "--chunk-rows", "25", "--concurrency", "2", "--out", dir],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: strictEnv(),
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
      // The chunk pointers name objects in the bucket: the emulator's S3 endpoint, path-style.
      s3: new S3Client({
        region: exports.AWS_REGION!,
        endpoint: exports.AWS_ENDPOINT_URL_S3!,
        credentials,
        forcePathStyle: true,
      }),
      concurrency: 2,
      waitTimeSeconds: 1,
      heartbeatSeconds: 5,
      visibilityTimeoutSeconds: 30,
      handler: async (chunk) => {
        const refused = chunk.rows.find((r) => r.data.qty === "refuse");
        if (refused) throw new ChunkRejectedError(`row ${refused.row}: quantity "refuse" is not a number`);
        return { accepted: chunk.rows.length, rejected: [] };
      },
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
        await sleep(200);
        status = await fetchUploadStatus(sfn, exports.SLUICE_STATE_MACHINE_ARN!, upload.uploadId);
      } while (status.status === "RUNNING");
      expect(status).toMatchObject({ status: "SUCCEEDED", totalRows: 120, totalChunks: 5, chunksDone: 5 });

      // The same file again is a new object version and a new upload, as on AWS; `reprocess --force` runs the
      // first upload's own version again as <uploadId>-r2.
      const again = await runUpload([file], () => {}, { SLUICE_UPLOAD_URL: exports.SLUICE_UPLOAD_URL });
      expect(again.duplicate).toBe(false);
      expect(again.uploadId).not.toBe(upload.uploadId);
      const reprocessed = cli(
        { ...exports, AWS_ACCESS_KEY_ID: "", AWS_PROFILE: "" },
        "reprocess",
        upload.uploadId,
        "--force",
      );
      expect(reprocessed.code).toBe(0);
      const forced = { reprocessId: reprocessed.json?.reprocessId as string | undefined };
      expect(forced.reprocessId).toBe(`${upload.uploadId}-r2`);

      // The CLI's status command, configured by the exported variables alone.
      const env = { ...exports, AWS_ACCESS_KEY_ID: "", AWS_PROFILE: "" };
      let printed: ReturnType<typeof cli>;
      do {
        await sleep(200);
        printed = cli(env, "status", forced.reprocessId!);
      } while (printed.json?.status === "RUNNING");
      expect(printed.code).toBe(0);
      expect(printed.json).toMatchObject({ status: "SUCCEEDED", totalRows: 120, chunksDone: 5 });
      expect(printed.lines[0]).toBe(`upload ${forced.reprocessId}: SUCCEEDED`);
      expect(printed.json?.failureRecord).toBeUndefined();

      // An upload the admin server refuses a chunk of: status reads its failure record from the bucket, through
      // the printed S3 endpoint and bucket (AWS_ENDPOINT_URL_S3, SLUICE_BUCKET).
      const bad = join(dir, "bad-orders.csv");
      await writeFile(
        bad,
        `id,qty\n${Array.from({ length: 60 }, (_, i) => `${i + 1},${i === 29 ? "refuse" : "1"}`).join("\n")}\n`,
      );
      const badUpload = await runUpload([bad], () => {}, { SLUICE_UPLOAD_URL: exports.SLUICE_UPLOAD_URL });
      for (let attempt = 0; ; attempt++) {
        await sleep(200);
        printed = cli(env, "status", badUpload.uploadId);
        if (printed.json?.status !== "RUNNING" && printed.json?.failureRecord?.found) break;
        if (attempt === 50) throw new Error(`no failure record: ${printed.lines.join("\n")}`);
      }
      expect(printed.code).toBe(0);
      expect(printed.json).toMatchObject({
        status: "FAILED",
        failureRecord: {
          found: true,
          bucket: exports.SLUICE_BUCKET,
          key: `processed/${badUpload.uploadId}/failure.json`,
          record: {
            error: { code: "CHUNK_REJECTED" },
            failedChunk: { index: 1, firstRow: 27, lastRow: 51, rows: 25 },
          },
        },
      });
      expect(printed.lines).toContain(
        'failed chunk: index 1, rows 27-51 (25 rows): CHUNK_REJECTED: row 31: quantity "refuse" is not a number',
      );
      sfn.destroy();
    } finally {
      await consumer.stop({ timeoutMs: 2_000 });
    }

    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(lines).toContain("stopping");
  });

  it("keeps serving when whoever read its stdout went away (EPIPE), and still stops cleanly", async () => {
    const serve = spawn(process.execPath, [BIN, "serve", "--out", dir], {
      stdio: ["ignore", "pipe", "pipe"],
      env: strictEnv(),
    });
    let stderr = "";
    serve.stderr!.on("data", (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => serve.once("exit", (code) => resolve(code)));
    const reader = createInterface({ input: serve.stdout! });
    const ready = await new Promise<{ uploadUrl: string }>((resolve, reject) => {
      reader.on("line", (line) => line.startsWith('{"ready":true') && resolve(JSON.parse(line)));
      serve.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    });
    // `sluice serve | head -1`, a closed terminal: the next line it prints meets a closed pipe.
    reader.close();
    serve.stdout!.destroy();
    try {
      for (const name of ["a.csv", "b.csv"]) {
        const response = await fetch(`${ready.uploadUrl}?name=${name}`, {
          method: "POST",
          body: "id,n\n1,2\n",
        });
        expect(response.status).toBe(201);
        await sleep(200);
      }
      expect(serve.exitCode).toBeNull();
      expect(stderr).toBe("");
      serve.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (serve.exitCode === null) serve.kill("SIGKILL");
    }
  });
});
