// @sluice/consumer as a user gets it: `npm pack` of the contract and the consumer, installed into an empty project
// with AWS SDK clients of another minor than the repository's, then run with plain `node` (no TypeScript, no tsx)
// against the local runtime, and type-checked as a TypeScript user would compile against it.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { LocalRuntime } from "@sluice/runtime";
import {
  installedPackages,
  installScratchProject,
  type PackedWorkspace,
  packWorkspaces,
  REPO_ROOT,
  requireRegistry,
} from "@sluice/test-support/pack-workspaces";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** A 3.x line clearly apart from the repository's (client-sqs 3.1169, client-sfn 3.1164, client-s3 3.1173). */
const SDK_VERSION = "3.899.0";
const SDK_CLIENTS = ["@aws-sdk/client-s3", "@aws-sdk/client-sfn", "@aws-sdk/client-sqs"] as const;
const PARSERS = ["papaparse", "yauzl", "iconv-lite", "exceljs", "xlsx"];
const CDK = ["aws-cdk-lib", "constructs", "sst"];
const SLOW = 300_000;

let packDir: string;
let project: string;
let packed: Map<string, PackedWorkspace>;

beforeAll(async () => {
  packDir = await mkdtemp(join(tmpdir(), "sluice-consumer-pack-"));
  project = await mkdtemp(join(tmpdir(), "sluice-consumer-user-"));
  await requireRegistry(`@aws-sdk/client-sqs@${SDK_VERSION}`);
  packed = await packWorkspaces(["packages/contract", "packages/consumer"], packDir);
  await installScratchProject(project, [
    tarball("@sluice/contract"),
    tarball("@sluice/consumer"),
    ...SDK_CLIENTS.map((name) => `${name}@${SDK_VERSION}`),
  ]);
}, 2 * SLOW);

afterAll(async () => {
  await Promise.all([packDir, project].map((dir) => dir && rm(dir, { recursive: true, force: true })));
});

function tarball(name: string): string {
  const found = packed.get(name);
  if (!found) throw new Error(`npm pack made no tarball for ${name}`);
  return found.tarball;
}

describe("the packed @sluice/contract and @sluice/consumer", () => {
  it.each(["@sluice/contract", "@sluice/consumer"])(
    "%s ships built JavaScript and types, no sources or tests",
    (name) => {
      const { files } = packed.get(name)!;
      expect(files).toContain("package.json");
      expect(files).toContain("dist/index.js");
      expect(files).toContain("dist/index.d.ts");
      for (const file of files.filter((f) => f.startsWith("dist/") && f.endsWith(".js"))) {
        expect(files).toContain(file.replace(/\.js$/, ".d.ts"));
      }
      expect(
        files.filter((f) => /^(src|test)\//.test(f) || /\.test\.|(?<!\.d)\.ts$|\.tsbuildinfo$/.test(f)),
      ).toEqual([]);
    },
  );

  it("installs with only zod beside them, the user's SDK clients as peers", async () => {
    const installed = await installedPackages(project);
    const names = [...installed.keys()];
    expect(names.filter((n) => PARSERS.includes(n))).toEqual([]);
    expect(names.filter((n) => CDK.includes(n))).toEqual([]);
    expect(names.filter((n) => n.startsWith("@sluice/")).sort()).toEqual([
      "@sluice/consumer",
      "@sluice/contract",
    ]);
    expect(installed.get("zod")?.size).toBe(1);
    // One copy of each client, the user's version, not the repository's.
    const repository = (name: string) =>
      JSON.parse(readFileSync(join(REPO_ROOT, "node_modules", name, "package.json"), "utf8"))
        .version as string;
    for (const client of SDK_CLIENTS) {
      expect([...(installed.get(client) ?? [])]).toEqual([SDK_VERSION]);
      expect(repository(client).split(".")[1]).not.toBe(SDK_VERSION.split(".")[1]);
    }
  });

  it(
    "type-checks for TypeScript users (moduleResolution nodenext) through its exports and types",
    async () => {
      await writeFile(
        join(project, "check.ts"),
        `import { S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SQSClient } from "@aws-sdk/client-sqs";
import { type ChunkEnvelope, ChunkEnvelopeSchema, CONTRACT_VERSION } from "@sluice/contract";
import {
  type Chunk,
  type ChunkConsumer,
  type ChunkHandler,
  ChunkRejectedError,
  type ChunkRow,
  createChunkConsumer,
  type KeyedChunk,
  keyedChunk,
  type RejectedRow,
} from "@sluice/consumer";

const handler: ChunkHandler = async (chunk: KeyedChunk, ctx) => {
  if (ctx.totals.totalRows > 1_000_000) throw new ChunkRejectedError("too many rows");
  if (!chunk.columns.includes("sku")) throw new ChunkRejectedError("no sku column");
  const rejected: RejectedRow[] = [];
  for (const { row, data, warnings } of chunk.rows) {
    if (data.sku === null || warnings?.length) rejected.push({ row, code: "SKU_MISSING", message: "no sku" });
  }
  return { accepted: chunk.rows.length - rejected.length, rejected };
};
// The wire chunk is compact; keyedChunk gives the rows a handler gets.
const wire: Chunk = {
  v: CONTRACT_VERSION,
  uploadId: "u",
  index: 0,
  chunkId: "u/000000",
  firstRow: 2,
  lastRow: 2,
  columns: ["sku"],
  rows: [[2, "A"]],
};
const keyed: ChunkRow[] = keyedChunk(wire).rows;
// @ts-expect-error a wire row is [row, ...values], not { row, data }
const notWire: Chunk["rows"] = [{ row: 2, data: { sku: "A" } }];
const clients = { sqs: new SQSClient({}), sfn: new SFNClient({}), s3: new S3Client({}) };
const consumer: ChunkConsumer = createChunkConsumer({ queueUrl: "https://sqs.example/q", ...clients, handler });
consumer.on("chunk_succeeded", (event) => {
  const accepted: number = event.accepted;
  return accepted;
});
const processed: number = consumer.status.processed;
const envelope: ChunkEnvelope = ChunkEnvelopeSchema.parse(JSON.parse("{}"));
// @ts-expect-error concurrency is a number: the options are typed, not any
createChunkConsumer({ queueUrl: "q", ...clients, handler, concurrency: "4" });
// @ts-expect-error the handler must return { accepted, rejected }
createChunkConsumer({ queueUrl: "q", ...clients, handler: async () => ({ ok: true }) });
export { envelope, keyed, notWire, processed };
`,
      );
      await writeFile(
        join(project, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            module: "nodenext",
            moduleResolution: "nodenext",
            target: "es2022",
            strict: true,
            noEmit: true,
            // The shipped declarations are checked too, not only used.
            skipLibCheck: false,
            types: ["node"],
            typeRoots: [join(REPO_ROOT, "node_modules/@types")],
          },
          files: ["check.ts"],
        }),
      );
      const tsc = join(REPO_ROOT, "node_modules/typescript/bin/tsc");
      const result = await run(process.execPath, [tsc, "-p", "tsconfig.json", "--listFiles"], project);
      expect(result.stdout.split("\n").filter((l) => /error TS/.test(l))).toEqual([]);
      expect(result.code).toBe(0);
      // Resolved through the installed packages' exports to their built declarations.
      const listed = result.stdout.split("\n");
      expect(listed).toContain(join(project, "node_modules/@sluice/consumer/dist/index.d.ts"));
      expect(listed).toContain(join(project, "node_modules/@sluice/contract/dist/index.d.ts"));
      expect(listed).toContain(join(project, "node_modules/@aws-sdk/client-sqs/dist-types/index.d.ts"));
    },
    SLOW,
  );

  it(
    "consumes an upload under plain node: every chunk answered, the execution SUCCEEDED",
    async () => {
      await writeFile(join(project, "consumer.mjs"), CONSUMER_MJS);
      const runtime = await LocalRuntime.start({
        config: { chunkRows: 250, maxConcurrency: 2 },
        retryIntervalMs: 50,
        outDir: join(project, "out"),
      });
      let child: ChildProcess | undefined;
      try {
        const { clientConfig } = runtime.emulator;
        const env: NodeJS.ProcessEnv = {};
        for (const [key, value] of Object.entries(process.env)) {
          // Nothing of the parent's AWS settings or Node loaders (tsx): plain node and these endpoints only.
          if (!/^(AWS_|NODE_OPTIONS$|NODE_PATH$)/.test(key)) env[key] = value;
        }
        Object.assign(env, {
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
          AWS_REGION: clientConfig.region,
          AWS_ACCESS_KEY_ID: clientConfig.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: clientConfig.credentials.secretAccessKey,
          SQS_ENDPOINT: clientConfig.endpoint,
          S3_ENDPOINT: clientConfig.endpoint,
          SFN_ENDPOINT: runtime.stepFunctionsEndpoint,
          CHUNK_QUEUE_URL: runtime.queueUrls.chunks,
        });
        const proc = spawn(process.execPath, ["consumer.mjs"], { cwd: project, env });
        child = proc;
        const output = collect(proc);
        await output.line((l) => l.event === "ready");

        const upload = await runtime.upload(ordersCsv(1000), "orders.csv");
        const execution = await within(
          120_000,
          runtime.waitForExecution(upload.executionArn),
          "the execution",
        );
        proc.kill("SIGTERM");
        const code = await output.exit;

        expect(execution.status).toBe("SUCCEEDED");
        // Quantities 0..4 in turn: every fifth row (quantity 0) rejected by the consumer's handler.
        expect(execution.output).toMatchObject({
          uploadId: upload.uploadId,
          status: "SUCCEEDED",
          rows: 1000,
          chunks: 4,
          chunksDelivered: 4,
          chunksFailed: 0,
          accepted: 800,
          rejected: 200,
        });
        // summary.json beside the manifest: the rejected rows the consumer reported, by row and code.
        const { summaryKey } = execution.output as { summaryKey: string };
        const object = await runtime
          .s3Client()
          .send(new GetObjectCommand({ Bucket: runtime.bucket, Key: summaryKey }));
        const summary = JSON.parse(await object.Body!.transformToString()) as {
          rejectedSamples: { row: number; code: string }[];
          chunkResults: { index: number; status: string; accepted: number; rejected: number }[];
        };
        expect(summary.rejectedSamples[0]).toMatchObject({ chunkIndex: 0, row: 2, code: "QUANTITY_ZERO" });
        expect(summary.chunkResults).toHaveLength(4);
        expect(summary.chunkResults.every((c) => c.status === "SUCCEEDED" && c.rejected === 50)).toBe(true);

        expect(output.stderr()).toBe("");
        expect(code).toBe(0);
        const lines = output.lines();
        expect(lines[0]).toEqual({
          event: "ready",
          node: process.version,
          // The installed build, not the repository's sources.
          consumer: pathToFileURL(join(project, "node_modules/@sluice/consumer/dist/index.js")).href,
          loaders: null,
        });
        const succeeded = lines.filter((l) => l.event === "chunk_succeeded");
        expect(succeeded.map((l) => l.chunkIndex).sort()).toEqual([0, 1, 2, 3]);
        expect(succeeded.every((l) => l.uploadId === upload.uploadId)).toBe(true);
        const handled = lines.filter((l) => l.event === "handled");
        expect(handled).toHaveLength(4);
        expect(handled.every((l) => l.rows === 250 && l.totalRows === 1000)).toBe(true);
        expect(succeeded.reduce((n, l) => n + (l.accepted as number), 0)).toBe(800);
        expect(succeeded.reduce((n, l) => n + (l.rejected as number), 0)).toBe(200);
        expect(
          lines.filter(
            (l) => !["ready", "handled", "chunk_succeeded", "stopped"].includes(l.event as string),
          ),
        ).toEqual([]);
        expect(lines.at(-1)).toEqual({
          event: "stopped",
          timedOut: false,
          abandoned: 0,
          status: { running: false, inFlight: 0, processed: 4, failed: 0, abandonedHandlers: 0 },
        });
      } finally {
        if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        await runtime.stop();
      }
    },
    SLOW,
  );
});

/** What a user writes: plain JavaScript, the package and the AWS SDK clients, configured from the environment. */
const CONSUMER_MJS = `import { S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SQSClient } from "@aws-sdk/client-sqs";
import { ChunkRejectedError, createChunkConsumer } from "@sluice/consumer";

const env = process.env;
const print = (line) => process.stdout.write(JSON.stringify(line) + "\\n");
const sqs = new SQSClient({ endpoint: env.SQS_ENDPOINT });
const sfn = new SFNClient({ endpoint: env.SFN_ENDPOINT });
const s3 = new S3Client({ endpoint: env.S3_ENDPOINT, forcePathStyle: true });

const consumer = createChunkConsumer({
  queueUrl: env.CHUNK_QUEUE_URL,
  sqs,
  sfn,
  s3,
  concurrency: 2,
  waitTimeSeconds: 1,
  heartbeatSeconds: 2,
  visibilityTimeoutSeconds: 10,
  handler: async (chunk, ctx) => {
    if (ctx.totals.totalRows > 100000) throw new ChunkRejectedError("too many rows");
    const rejected = [];
    for (const { row, data } of chunk.rows) {
      if (data.quantity === "0") rejected.push({ row, code: "QUANTITY_ZERO", message: "quantity must be at least 1" });
    }
    print({ event: "handled", chunkIndex: chunk.index, rows: chunk.rows.length, totalRows: ctx.totals.totalRows });
    return { accepted: chunk.rows.length - rejected.length, rejected };
  },
});
consumer.on("chunk_succeeded", (e) =>
  print({ event: "chunk_succeeded", uploadId: e.uploadId, chunkIndex: e.chunkIndex, accepted: e.accepted, rejected: e.rejected }),
);
for (const event of ["chunk_failed", "chunk_released", "token_stale", "message_invalid"]) {
  consumer.on(event, (e) => print({ event, ...e }));
}
consumer.on("error", (e) => print({ event: "error", operation: e.operation, message: String(e.error?.message ?? e.error) }));
process.once("SIGTERM", async () => {
  const result = await consumer.stop({ timeoutMs: 5000 });
  print({ event: "stopped", ...result, status: consumer.status });
  for (const client of [sqs, sfn, s3]) client.destroy();
});
consumer.start();
print({
  event: "ready",
  node: process.version,
  consumer: import.meta.resolve("@sluice/consumer"),
  loaders: process.env.NODE_OPTIONS ?? (process.execArgv.join(" ") || null),
});
`;

function ordersCsv(rows: number): Buffer {
  const lines = ["order_id,quantity", ...Array.from({ length: rows }, (_, i) => `ORD-${i + 1},${i % 5}`)];
  return Buffer.from(`${lines.join("\n")}\n`);
}

/** The child's stdout as JSON lines, its stderr, and its exit. */
function collect(child: ChildProcess) {
  let stdout = "";
  let stderr = "";
  const waiters: { match: (l: Record<string, unknown>) => boolean; resolve: () => void }[] = [];
  const lines = () =>
    stdout
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const exit = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  child.stdout?.on("data", (data) => {
    stdout += data;
    for (const waiter of [...waiters]) {
      if (lines().some(waiter.match)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  child.stderr?.on("data", (data) => {
    stderr += data;
  });
  return {
    lines,
    stderr: () => stderr,
    exit,
    line: (match: (l: Record<string, unknown>) => boolean) =>
      within(
        30_000,
        Promise.race([
          new Promise<void>((resolve) => waiters.push({ match, resolve })),
          exit.then((code) => {
            throw new Error(`consumer.mjs exited (${code}) early:\n${stderr}\n${stdout}`);
          }),
        ]),
        "consumer.mjs to start",
      ),
  };
}

function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function run(command: string, args: string[], cwd: string) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      command,
      args,
      { cwd, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) || 1 : 0, stdout, stderr });
      },
    );
  });
}
