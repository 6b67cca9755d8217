import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  type SFNClient,
} from "@aws-sdk/client-sfn";
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import {
  ChunkEnvelopeSchema,
  ChunkSchema,
  FailureRecordSchema,
  SummarySchema,
  TaskFailureCauseSchema,
  TaskResultSchema,
} from "@sluice/contract";
import { LocalRuntime, type RuntimeEvent } from "@sluice/runtime";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterEach, describe, expect, it } from "vitest";

/**
 * docs/protocol.md, followed by an admin server that has nothing but the AWS SDK clients and node:crypto (no
 * @sluice/consumer, no contract schemas): the reference implementation of that page, run against the local
 * runtime (the stack's own workflow and handlers). The tests below may use the contract's schemas to check what
 * it received and sent; `RawAdminServer` itself never does.
 */

// ---------------------------------------------------------------------------------------------------------------
// The admin server: AWS SDK and node:crypto only.
// ---------------------------------------------------------------------------------------------------------------

type Cell = string | number | boolean | null;
/** A row as the import gets it: keyed by column name (the chunk carries it compact, see `fetchChunk`). */
interface ChunkRow {
  row: number;
  data: Record<string, Cell>;
  warnings?: { column: string; code: string; message: string }[];
}
interface Pointer {
  index: number;
  chunkId: string;
  firstRow: number;
  lastRow: number;
  rows: number;
  bucket: string;
  key: string;
  offset: number;
  length: number;
  sha256: string;
}
interface ChunkMessage {
  v: 3;
  kind: "chunk";
  taskToken: string;
  uploadId: string;
  source: { bucket: string; key: string; versionId?: string };
  totals: { totalRows: number; totalChunks: number };
  chunk: Pointer;
}

/** What the import answers: rows accepted, and each rejected row with its code and message. */
interface ImportOutcome {
  accepted: number;
  rejected: { row: number; code: string; message: string }[];
}

/** Thrown by an import to refuse a chunk for good (SendTaskFailure); anything else is transient. */
class PermanentFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The import failed after committing, before the answer: as if the process died there. */
class CrashAfterCommit extends Error {}

interface RawAdminServerOptions {
  queueUrl: string;
  sqs: SQSClient;
  s3: S3Client;
  sfn: SFNClient;
  /** N: messages in hand at most. */
  concurrency: number;
  /** V: the visibility timeout asked for on receive and renewed by each heartbeat. */
  visibilityTimeoutSeconds: number;
  heartbeatMs: number;
  maxChunkBytes: number;
  /** Imports a verified chunk idempotently by (uploadId, index). */
  importChunk(uploadId: string, index: number, rows: ChunkRow[]): Promise<ImportOutcome>;
}

const STALE_TOKEN = new Set(["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"]);
const OUTPUT_LIMIT_BYTES = 262_144;
const ERROR_LIMIT = 256;
const CAUSE_LIMIT = 32_768;

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value);
const isInt = (value: unknown, min: number): value is number =>
  typeof value === "number" && Number.isInteger(value) && value >= min;
const isCell = (value: unknown): value is Cell =>
  value === null || ["string", "number", "boolean"].includes(typeof value);
const errorName = (error: unknown): string =>
  isObject(error) && typeof error.name === "string" ? error.name : "";

/** Step 2: the body is a chunk message of contract version 3 (the checks a JSON Schema validator would make). */
function parseMessage(body: string | undefined): {
  message?: ChunkMessage;
  taskToken?: string;
  problem?: string;
} {
  let value: unknown;
  try {
    value = JSON.parse(body ?? "");
  } catch {
    return { problem: "the body is not JSON" };
  }
  const taskToken =
    isObject(value) && typeof value.taskToken === "string" && value.taskToken !== ""
      ? value.taskToken
      : undefined;
  const p = isObject(value) ? value.chunk : undefined;
  const ok =
    isObject(value) &&
    value.v === 3 &&
    value.kind === "chunk" &&
    taskToken !== undefined &&
    typeof value.uploadId === "string" &&
    value.uploadId !== "" &&
    isObject(value.source) &&
    isObject(value.totals) &&
    isObject(p) &&
    isInt(p.index, 0) &&
    typeof p.chunkId === "string" &&
    isInt(p.firstRow, 1) &&
    isInt(p.lastRow, 1) &&
    isInt(p.rows, 1) &&
    typeof p.bucket === "string" &&
    typeof p.key === "string" &&
    isInt(p.offset, 0) &&
    isInt(p.length, 1) &&
    typeof p.sha256 === "string" &&
    /^[A-Za-z0-9+/]{43}=$/.test(p.sha256);
  if (!ok)
    return { ...(taskToken ? { taskToken } : {}), problem: "the body is not a chunk message of version 3" };
  return { message: value as unknown as ChunkMessage, taskToken };
}

/**
 * Steps 3 and 4: the ranged GET, read into exactly `length` bytes, then size, SHA-256, JSON, the same chunk. The
 * chunk is compact (`columns` once, each row `[row, value per column]`, cell warnings in `warnings` by row): the
 * rows are handed to the import keyed by column name.
 */
async function fetchChunk(s3: S3Client, message: ChunkMessage, maxChunkBytes: number): Promise<ChunkRow[]> {
  const p = message.chunk;
  if (p.length > maxChunkBytes) {
    throw new PermanentFailure(
      "CHUNK_TOO_LARGE",
      `chunk ${p.index} is ${p.length} bytes, over ${maxChunkBytes}`,
    );
  }
  let body: unknown;
  try {
    const out = await s3.send(
      new GetObjectCommand({
        Bucket: p.bucket,
        Key: p.key,
        Range: `bytes=${p.offset}-${p.offset + p.length - 1}`,
      }),
    );
    body = out.Body;
  } catch (error) {
    if (errorName(error) === "InvalidRange") {
      throw new PermanentFailure(
        "CHUNK_CHECKSUM_MISMATCH",
        `the object ends before chunk ${p.index}'s range`,
      );
    }
    throw error; // transient (network, throttling, AccessDenied, NoSuchKey)
  }
  const bytes = Buffer.alloc(p.length);
  let received = 0;
  for await (const part of body as AsyncIterable<Uint8Array>) {
    if (received + part.byteLength > p.length) {
      throw new PermanentFailure(
        "CHUNK_CHECKSUM_MISMATCH",
        `more than ${p.length} bytes for chunk ${p.index}`,
      );
    }
    bytes.set(part, received);
    received += part.byteLength;
  }
  if (received !== p.length) {
    throw new PermanentFailure("CHUNK_CHECKSUM_MISMATCH", `${received} bytes, the pointer says ${p.length}`);
  }
  const digest = createHash("sha256").update(bytes).digest("base64");
  if (digest !== p.sha256) {
    throw new PermanentFailure("CHUNK_CHECKSUM_MISMATCH", `SHA-256 ${digest}, the pointer says ${p.sha256}`);
  }
  let chunk: unknown;
  try {
    chunk = JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw new PermanentFailure("CHUNK_INVALID", `chunk ${p.index} is not JSON: ${(error as Error).message}`);
  }
  const columns: unknown = isObject(chunk) ? chunk.columns : undefined;
  const records: unknown = isObject(chunk) ? chunk.rows : undefined;
  const warnings: unknown = isObject(chunk) ? chunk.warnings : undefined;
  const same =
    isObject(chunk) &&
    chunk.v === 3 &&
    chunk.uploadId === message.uploadId &&
    chunk.index === p.index &&
    chunk.chunkId === p.chunkId &&
    chunk.firstRow === p.firstRow &&
    chunk.lastRow === p.lastRow &&
    Array.isArray(columns) &&
    columns.length > 0 &&
    columns.every((name) => typeof name === "string") &&
    new Set(columns).size === columns.length &&
    Array.isArray(records) &&
    records.length === p.rows &&
    records.every(
      (r) =>
        Array.isArray(r) && r.length === columns.length + 1 && isInt(r[0], 1) && r.slice(1).every(isCell),
    ) &&
    (warnings === undefined ||
      (Array.isArray(warnings) &&
        warnings.every(
          (w) =>
            isObject(w) &&
            isInt(w.row, 1) &&
            typeof w.column === "string" &&
            typeof w.code === "string" &&
            typeof w.message === "string",
        )));
  if (!same)
    throw new PermanentFailure("CHUNK_INVALID", `chunk ${p.index} is not the chunk the message names`);
  return keyedRows(
    columns as string[],
    records as [number, ...Cell[]][],
    (warnings ?? []) as { row: number; column: string; code: string; message: string }[],
  );
}

/** The compact rows keyed by column name, each with its cell warnings. */
function keyedRows(
  columns: string[],
  records: [number, ...Cell[]][],
  warnings: { row: number; column: string; code: string; message: string }[],
): ChunkRow[] {
  const byRow = new Map<number, NonNullable<ChunkRow["warnings"]>>();
  for (const { row, column, code, message } of warnings) {
    byRow.set(row, [...(byRow.get(row) ?? []), { column, code, message }]);
  }
  return records.map(([row, ...values]) => {
    // fromEntries defines each name as the row's own property, whatever the name.
    const data: Record<string, Cell> = Object.fromEntries(columns.map((name, k) => [name, values[k]!]));
    const rowWarnings = byRow.get(row);
    return rowWarnings ? { row, data, warnings: rowWarnings } : { row, data };
  });
}

/** Step 6: the TaskResult, rejected rows packed (each distinct reason once, each row as [row, reason]). */
function taskOutput(message: ChunkMessage, outcome: ImportOutcome, durationMs: number): string {
  const reasons: { code: string; message: string }[] = [];
  const indexOf = new Map<string, number>();
  const rows: [number, number][] = [];
  for (const r of outcome.rejected) {
    const code = r.code.slice(0, 64);
    const text = r.message.slice(0, 1000);
    const key = `${code}\u0000${text}`;
    let reason = indexOf.get(key);
    if (reason === undefined) {
      reason = reasons.push({ code, message: text }) - 1;
      indexOf.set(key, reason);
    }
    rows.push([r.row, reason]);
  }
  const output = JSON.stringify({
    v: 3,
    uploadId: message.uploadId,
    chunkIndex: message.chunk.index,
    accepted: outcome.accepted,
    rejected: { reasons, rows },
    durationMs: Math.round(durationMs),
  });
  if (Buffer.byteLength(output, "utf8") > OUTPUT_LIMIT_BYTES) {
    throw new PermanentFailure(
      "TASK_RESULT_TOO_LARGE",
      `the result of chunk ${message.chunk.index} is over 256 KiB`,
    );
  }
  return output;
}

function failureCause(message: ChunkMessage, code: string, text: string, receiveCount: number): string {
  const p = message.chunk;
  const render = (m: string) =>
    JSON.stringify({
      message: m,
      code,
      chunkIndex: p.index,
      firstRow: p.firstRow,
      lastRow: p.lastRow,
      rows: p.rows,
      receiveCount,
    });
  let cut = text;
  while (render(cut).length > CAUSE_LIMIT) cut = cut.slice(0, Math.floor(cut.length / 2));
  return render(cut);
}

/** What the raw admin server saw and did, for the tests. */
interface Observations {
  bodies: string[];
  receiveCounts: Map<number, number[]>;
  maxInHand: number;
  heartbeats: number;
  staleTokens: number;
  released: number[];
  outputs: string[];
  failures: { error: string; cause: string }[];
  deleted: number;
  errors: unknown[];
}

class RawAdminServer {
  readonly seen: Observations = {
    bodies: [],
    receiveCounts: new Map(),
    maxInHand: 0,
    heartbeats: 0,
    staleTokens: 0,
    released: [],
    outputs: [],
    failures: [],
    deleted: 0,
    errors: [],
  };
  readonly #inHand = new Set<Promise<void>>();
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #slotFreed: (() => void) | undefined;

  constructor(private readonly o: RawAdminServerOptions) {}

  start(): void {
    this.#loop = this.#poll();
  }

  /** Stops receiving and lets the messages in hand finish. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#slotFreed?.();
    await this.#loop;
    await Promise.all(this.#inHand);
  }

  /** Step 1: receive while fewer than N messages are in hand, never more than the free slots. */
  async #poll(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      const free = this.o.concurrency - this.#inHand.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          this.#slotFreed = resolve;
        });
        continue;
      }
      let messages: Message[] = [];
      try {
        const out = await this.o.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.o.queueUrl,
            MaxNumberOfMessages: Math.min(10, free),
            WaitTimeSeconds: 1,
            VisibilityTimeout: this.o.visibilityTimeoutSeconds,
            MessageSystemAttributeNames: ["ApproximateReceiveCount"],
          }),
          { abortSignal: signal },
        );
        messages = out.Messages ?? [];
      } catch (error) {
        if (signal.aborted) break;
        this.seen.errors.push(error);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      for (const m of messages) {
        const done: Promise<void> = this.#handle(m)
          .catch((error: unknown) => {
            this.seen.errors.push(error);
          })
          .finally(() => {
            this.#inHand.delete(done);
            this.#slotFreed?.();
          });
        this.#inHand.add(done);
        this.seen.maxInHand = Math.max(this.seen.maxInHand, this.#inHand.size);
      }
    }
  }

  async #delete(m: Message): Promise<void> {
    await this.o.sqs.send(
      new DeleteMessageCommand({ QueueUrl: this.o.queueUrl, ReceiptHandle: m.ReceiptHandle }),
    );
    this.seen.deleted++;
  }

  /** Steps 2–7 for one message. */
  async #handle(m: Message): Promise<void> {
    const receiveCount = Number(m.Attributes?.ApproximateReceiveCount ?? "1");
    this.seen.bodies.push(m.Body ?? "");
    const parsed = parseMessage(m.Body);
    if (!parsed.message) {
      // Answered so the upload does not wait for its deadline; left for the dead-letter queue.
      if (parsed.taskToken) {
        await this.o.sfn
          .send(
            new SendTaskFailureCommand({
              taskToken: parsed.taskToken,
              error: "MESSAGE_INVALID",
              cause: JSON.stringify({ message: parsed.problem, code: "MESSAGE_INVALID", receiveCount }),
            }),
          )
          .catch((error: unknown) => this.seen.errors.push(error));
      }
      return;
    }
    const message = parsed.message;
    const { taskToken } = message;
    const index = message.chunk.index;
    this.seen.receiveCounts.set(index, [...(this.seen.receiveCounts.get(index) ?? []), receiveCount]);
    const started = performance.now();

    // Step 5: keep the message invisible and learn early when the token is dead.
    let stale = false;
    const beat = setInterval(() => {
      void Promise.allSettled([
        this.o.sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: this.o.queueUrl,
            ReceiptHandle: m.ReceiptHandle,
            VisibilityTimeout: this.o.visibilityTimeoutSeconds,
          }),
        ),
        this.o.sfn.send(new SendTaskHeartbeatCommand({ taskToken })),
      ]).then(([, heartbeat]) => {
        if (heartbeat.status === "fulfilled") this.seen.heartbeats++;
        else if (STALE_TOKEN.has(errorName(heartbeat.reason))) stale = true;
      });
    }, this.o.heartbeatMs);

    let answer: { output: string } | { error: string; cause: string };
    try {
      try {
        const rows = await fetchChunk(this.o.s3, message, this.o.maxChunkBytes);
        const outcome = await this.o.importChunk(message.uploadId, index, rows);
        answer = { output: taskOutput(message, outcome, performance.now() - started) };
      } finally {
        clearInterval(beat);
      }
    } catch (error) {
      if (error instanceof PermanentFailure) {
        answer = {
          error: error.code.slice(0, ERROR_LIMIT),
          cause: failureCause(message, error.code, error.message, receiveCount),
        };
      } else if (error instanceof CrashAfterCommit) {
        // Nothing answered, nothing deleted; the message comes back (at once here: a dead process's comes back
        // after the visibility timeout it last set).
        await this.o.sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: this.o.queueUrl,
            ReceiptHandle: m.ReceiptHandle,
            VisibilityTimeout: 0,
          }),
        );
        return;
      } else {
        // Transient: not answered, not deleted, released for redelivery after a short backoff.
        this.seen.released.push(index);
        await this.o.sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: this.o.queueUrl,
            ReceiptHandle: m.ReceiptHandle,
            VisibilityTimeout: Math.min(this.o.visibilityTimeoutSeconds, 2 ** receiveCount),
          }),
        );
        return;
      }
    }
    if (stale) {
      this.seen.staleTokens++;
      await this.#delete(m);
      return;
    }

    // Step 6, then step 7: delete only once the answer was accepted (or the token is stale).
    try {
      if ("output" in answer) {
        await this.o.sfn.send(new SendTaskSuccessCommand({ taskToken, output: answer.output }));
        this.seen.outputs.push(answer.output);
      } else {
        await this.o.sfn.send(
          new SendTaskFailureCommand({ taskToken, error: answer.error, cause: answer.cause }),
        );
        this.seen.failures.push(answer);
      }
    } catch (error) {
      if (!STALE_TOKEN.has(errorName(error))) throw error; // left on the queue: it comes back, answered again
      this.seen.staleTokens++;
    }
    await this.#delete(m);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The tests: an upload on the local runtime, answered by the raw admin server above.
// ---------------------------------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const running: { stop(): Promise<unknown> }[] = [];
afterEach(async () => {
  while (running.length) await running.pop()!.stop();
});

async function startRuntime(config: Parameters<typeof LocalRuntime.start>[0] = {}): Promise<LocalRuntime> {
  const runtime = await LocalRuntime.start({
    retryIntervalMs: 50,
    outDir: "/tmp/sluice-test-out",
    ...config,
  });
  running.push(runtime);
  return runtime;
}

function startAdminServer(
  runtime: LocalRuntime,
  importChunk: RawAdminServerOptions["importChunk"],
  options: Partial<RawAdminServerOptions> = {},
): RawAdminServer {
  const server = new RawAdminServer({
    ...runtime.adminServerConnection(),
    concurrency: 3,
    visibilityTimeoutSeconds: 3,
    heartbeatMs: 400,
    maxChunkBytes: 4 * 1024 * 1024,
    importChunk,
    ...options,
  });
  server.start();
  running.push(server);
  return server;
}

/** Orders: every 37th row has no sku, every 50th a quantity of 0; the rest are valid. */
function ordersCsv(rows: number): Buffer {
  const lines = ["order_id,customer,sku,quantity"];
  for (let i = 1; i <= rows; i++) {
    const sku = i % 37 === 0 ? "" : `SKU-${i % 13}`;
    const quantity = i % 50 === 0 ? 0 : (i % 5) + 1;
    lines.push(`ORD-${i},고객 ${i},${sku},${quantity}`);
  }
  return Buffer.from(`${lines.join("\n")}\n`);
}

/** The expected outcome of ordersCsv's row `row` (source row numbers: the header is row 1). */
function expectedRejection(row: number): { code: string; message: string } | undefined {
  const i = row - 1;
  if (i % 37 === 0) return { code: "SKU_MISSING", message: "sku is empty" };
  if (i % 50 === 0)
    return { code: "QUANTITY_INVALID", message: "quantity must be a whole number of at least 1" };
  return undefined;
}

/** The admin server's database: orders by row, and the import ledger keyed by (uploadId, chunk index). */
class OrdersDatabase {
  readonly orders = new Map<string, number>();
  readonly ledger = new Map<string, ImportOutcome>();
  replays = 0;

  importChunk(uploadId: string, index: number, rows: ChunkRow[]): ImportOutcome {
    const key = `${uploadId}#${index}`;
    const done = this.ledger.get(key);
    if (done) {
      this.replays++;
      return done;
    }
    const outcome: ImportOutcome = { accepted: 0, rejected: [] };
    for (const { row, data } of rows) {
      if (typeof data.sku !== "string" || data.sku === "") {
        outcome.rejected.push({ row, code: "SKU_MISSING", message: "sku is empty" });
      } else if (!/^[1-9][0-9]*$/.test(String(data.quantity))) {
        outcome.rejected.push({
          row,
          code: "QUANTITY_INVALID",
          message: "quantity must be a whole number of at least 1",
        });
      } else {
        const id = `${uploadId}#${row}`;
        this.orders.set(id, (this.orders.get(id) ?? 0) + 1);
        outcome.accepted++;
      }
    }
    this.ledger.set(key, outcome);
    return outcome;
  }
}

const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
const schemaFile = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../contract/schemas/${name}.json`, import.meta.url), "utf8")) as object;
const validChunkMessage = ajv.compile(schemaFile("chunk-message"));
const validTaskResult = ajv.compile(schemaFile("task-result"));
const validFailureCause = ajv.compile(schemaFile("task-failure-cause"));

async function readObject(runtime: LocalRuntime, key: string): Promise<string> {
  const out = await runtime.emulator.s3.send(new GetObjectCommand({ Bucket: runtime.bucket, Key: key }));
  return out.Body!.transformToString();
}

async function queueDepth(runtime: LocalRuntime): Promise<number> {
  const { Attributes = {} } = await runtime.emulator.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: runtime.queueUrls.chunks, AttributeNames: ["All"] }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible)
  );
}

async function drained(runtime: LocalRuntime, withinMs = 15_000): Promise<boolean> {
  const until = Date.now() + withinMs;
  while (Date.now() < until) {
    if ((await queueDepth(runtime)) === 0) return true;
    await sleep(200);
  }
  return false;
}

describe("docs/protocol.md with nothing but the AWS SDK", () => {
  it("consumes an upload: every row once, rejected rows packed, redeliveries answered from the ledger", async () => {
    const runtime = await startRuntime({ config: { chunkRows: 100, maxConcurrency: 4 } });
    const database = new OrdersDatabase();
    const failedOnce = new Set<number>();
    const server = startAdminServer(runtime, async (uploadId, index, rows) => {
      if (index === 2 && !failedOnce.has(2)) {
        failedOnce.add(2);
        throw new Error("the database is down"); // transient: not answered, delivered again
      }
      if (index === 5) await sleep(3_500); // longer than V = 3 s: only heartbeats keep the message
      const outcome = database.importChunk(uploadId, index, rows);
      if (index === 4 && !failedOnce.has(4)) {
        failedOnce.add(4);
        throw new CrashAfterCommit("died after the commit, before the answer");
      }
      return outcome;
    });

    const totalRows = 1_234;
    const upload = await runtime.upload(ordersCsv(totalRows), "orders.csv");
    const execution = await runtime.waitForExecution(upload.executionArn);
    expect(execution.status).toBe("SUCCEEDED");

    // Every row either imported once or rejected once; none twice, none missing.
    const rows = Array.from({ length: totalRows }, (_, i) => i + 2);
    const rejectedRows = rows.filter((row) => expectedRejection(row));
    const acceptedRows = rows.filter((row) => !expectedRejection(row));
    expect([...database.orders.keys()].sort()).toEqual(
      acceptedRows.map((row) => `${upload.uploadId}#${row}`).sort(),
    );
    expect([...database.orders.values()].every((n) => n === 1)).toBe(true);
    expect(rejectedRows.length).toBeGreaterThan(40);

    // The summary counts what the raw answers said.
    expect(execution.output).toMatchObject({
      rows: totalRows,
      chunks: 13,
      chunksDelivered: 13,
      chunksFailed: 0,
      accepted: acceptedRows.length,
      rejected: rejectedRows.length,
    });
    const summary = SummarySchema.parse(
      JSON.parse(await readObject(runtime, `processed/${upload.uploadId}/summary.json`)),
    );
    expect(summary).toMatchObject({
      accepted: acceptedRows.length,
      rejected: rejectedRows.length,
      chunksFailed: 0,
    });
    // The packed reasons were unpacked into the right rows and reasons.
    expect(summary.rejectedSamples.map(({ row, code, message }) => ({ row, code, message }))).toEqual(
      rejectedRows
        .slice(0, summary.rejectedSamples.length)
        .map((row) => ({ row, ...expectedRejection(row)! })),
    );
    expect(summary.chunkResults.every((c) => c.status === "SUCCEEDED" && c.durationMs !== null)).toBe(true);

    // The transient failure was not answered and came back; the crash was answered from the ledger.
    const seen = server.seen;
    expect(seen.released).toEqual([2]);
    expect(seen.receiveCounts.get(2)).toEqual([1, 2]);
    expect(seen.receiveCounts.get(4)).toEqual([1, 2]);
    expect(database.replays).toBe(1);
    // The slow chunk stayed in hand: heartbeats extended it, it was received once.
    expect(seen.receiveCounts.get(5)).toEqual([1]);
    expect(seen.heartbeats).toBeGreaterThan(0);
    for (const [index, counts] of seen.receiveCounts) {
      if (![2, 4].includes(index)) expect(counts, `chunk ${index}`).toEqual([1]);
    }
    expect(seen.maxInHand).toBeLessThanOrEqual(3);
    expect(seen.staleTokens).toBe(0);
    expect(seen.failures).toEqual([]);
    expect(seen.errors).toEqual([]);
    expect(seen.outputs).toHaveLength(13);
    expect(seen.deleted).toBe(13);

    // What it received and sent, checked with the contract's schemas (zod and the committed JSON Schemas).
    for (const body of seen.bodies) {
      expect(ChunkEnvelopeSchema.safeParse(JSON.parse(body)).success).toBe(true);
      expect(validChunkMessage(JSON.parse(body)), JSON.stringify(validChunkMessage.errors)).toBe(true);
    }
    for (const output of seen.outputs) {
      const result = TaskResultSchema.parse(JSON.parse(output));
      expect(validTaskResult(JSON.parse(output))).toBe(true);
      expect(result.uploadId).toBe(upload.uploadId);
      // Packed: each reason once, however many rows it covers.
      expect(result.rejected.reasons.length).toBeLessThanOrEqual(2);
    }
    const chunks = (await readObject(runtime, `processed/${upload.uploadId}/chunks.jsonl`))
      .trim()
      .split("\n");
    for (const line of chunks) expect(ChunkSchema.safeParse(JSON.parse(line)).success).toBe(true);
    expect(await queueDepth(runtime)).toBe(0);
  });

  it("refuses a chunk with SendTaskFailure: the upload fails, its failure record naming that chunk", async () => {
    const runtime = await startRuntime({ config: { chunkRows: 100, maxConcurrency: 2 } });
    const database = new OrdersDatabase();
    const server = startAdminServer(runtime, async (uploadId, index, rows) => {
      if (index === 1) {
        throw new PermanentFailure(
          "CHUNK_REJECTED",
          `Chunk ${index}: customer account 42 is closed; none of its orders can be imported`,
        );
      }
      return database.importChunk(uploadId, index, rows);
    });
    const upload = await runtime.upload(ordersCsv(500), "orders.csv");
    const execution = await runtime.waitForExecution(upload.executionArn);
    expect(execution.status).toBe("FAILED");

    expect(server.seen.failures).toHaveLength(1);
    const [failure] = server.seen.failures;
    expect(failure!.error).toBe("CHUNK_REJECTED");
    const cause = TaskFailureCauseSchema.parse(JSON.parse(failure!.cause));
    expect(validFailureCause(JSON.parse(failure!.cause))).toBe(true);
    expect(cause).toEqual({
      message: "Chunk 1: customer account 42 is closed; none of its orders can be imported",
      code: "CHUNK_REJECTED",
      chunkIndex: 1,
      firstRow: 102,
      lastRow: 201,
      rows: 100,
      receiveCount: 1,
    });

    const notified = await runtime.failureNotification(upload.executionArn);
    const expected = {
      uploadId: upload.uploadId,
      status: "FAILED",
      failedChunk: { index: 1, firstRow: 102, lastRow: 201, rows: 100 },
      error: { code: "CHUNK_REJECTED", cause: cause.message },
    };
    expect(notified?.record).toMatchObject(expected);
    const record = FailureRecordSchema.parse(
      JSON.parse(await readObject(runtime, `processed/${upload.uploadId}/failure.json`)),
    );
    expect(record).toMatchObject(expected);
    // No row of the refused chunk was imported; every message was deleted (answered, or its token stale).
    expect([...database.orders.keys()].some((id) => /#(10[2-9]|1[1-9][0-9]|20[01])$/.test(id))).toBe(false);
    expect(await drained(runtime)).toBe(true);
    expect(server.seen.errors).toEqual([]);
  });

  it("fails a chunk whose bytes are not the ones its pointer names (CHUNK_CHECKSUM_MISMATCH), importing none of it", async () => {
    const runtime = await startRuntime({ config: { chunkRows: 100, maxConcurrency: 2 } });
    const converted = new Promise<void>((resolve) =>
      runtime.on("progress", (e: RuntimeEvent) => e.type === "converted" && resolve()),
    );
    const upload = await runtime.upload(ordersCsv(300), "orders.csv");
    await converted;
    // One character of one row of chunk 1, changed before any admin server reads it: same length, other bytes.
    const key = `processed/${upload.uploadId}/chunks.jsonl`;
    const text = await readObject(runtime, key);
    expect(text).toContain(`"ORD-150"`);
    await runtime.emulator.s3.send(
      new PutObjectCommand({
        Bucket: runtime.bucket,
        Key: key,
        Body: text.replace(`"ORD-150"`, `"ORD-151"`),
      }),
    );
    const imported: number[] = [];
    const database = new OrdersDatabase();
    const server = startAdminServer(runtime, async (uploadId, index, rows) => {
      imported.push(index);
      return database.importChunk(uploadId, index, rows);
    });
    const execution = await runtime.waitForExecution(upload.executionArn);
    expect(execution.status).toBe("FAILED");
    expect(imported).not.toContain(1);
    expect(server.seen.failures.map((f) => f.error)).toEqual(["CHUNK_CHECKSUM_MISMATCH"]);
    const notified = await runtime.failureNotification(upload.executionArn);
    expect(notified?.record).toMatchObject({
      failedChunk: { index: 1, firstRow: 102, lastRow: 201 },
      error: { code: "CHUNK_CHECKSUM_MISMATCH" },
    });
    expect(await drained(runtime)).toBe(true);
  });
});
