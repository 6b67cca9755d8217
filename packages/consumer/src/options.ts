import type { S3Client } from "@aws-sdk/client-s3";
import type { SFNClient } from "@aws-sdk/client-sfn";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { ChunkEnvelope, KeyedChunk, RejectedRow } from "@sluice/contract";
import { InvalidOptionError } from "./errors.ts";
import { DEFAULT_RETRY, type RetryOptions } from "./retry.ts";

/** What the handler gets beside the chunk. */
export interface ChunkContext {
  uploadId: string;
  source: ChunkEnvelope["source"];
  totals: ChunkEnvelope["totals"];
  /** SQS ApproximateReceiveCount: 1 on first delivery, more when an earlier try did not finish. */
  receiveCount: number;
  /**
   * Aborts when the answer can no longer be delivered: a heartbeat found the task token stale (reason: a
   * TaskTokenStaleError), the handler ran past `handlerTimeoutSeconds` (reason: HandlerTimedOutError), or
   * `stop({ timeoutMs })` ran out of time (reason: ConsumerStoppingError).
   */
  signal: AbortSignal;
  /** Sends a heartbeat now (SendTaskHeartbeat + ChangeMessageVisibility); rejects with TaskTokenStaleError. */
  heartbeat(): Promise<void>;
}

/** What the handler answers: rows written, and rows refused with a code and a human message. */
export interface ChunkHandlerResult {
  accepted: number;
  rejected: RejectedRow[];
}

/**
 * Gets the chunk fetched from S3 and verified (size, SHA-256, ChunkSchema, and that it is the chunk the message
 * names), its rows keyed by column name: `chunk.rows[i]` is `{ row, data, warnings? }` and `chunk.columns` the
 * column names in sheet order. Throw ChunkRejectedError (or any error with `retryable: false`) to fail the chunk
 * for good; any other error releases the message for redelivery.
 */
export type ChunkHandler = (chunk: KeyedChunk, ctx: ChunkContext) => Promise<ChunkHandlerResult>;

/** Anything with these methods: console, pino, Powertools' Logger. */
export interface ConsumerLogger {
  debug?(message: string, ...args: unknown[]): void;
  info?(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

export interface ChunkConsumerOptions {
  queueUrl: string;
  sqs: SQSClient;
  sfn: SFNClient;
  /** Reads the chunks (GetObject by byte range on processed/<uploadId>/chunks.jsonl). */
  s3: S3Client;
  handler: ChunkHandler;
  /** Chunks in hand at once, 1 to 100. Default 4. */
  concurrency?: number;
  /** Long polling wait of ReceiveMessage, 0 to 20 seconds. Default 20. */
  waitTimeSeconds?: number;
  /**
   * The visibility timeout asked for on ReceiveMessage and what each heartbeat extends it to, 1 to 43200 seconds:
   * how soon a chunk comes back when this admin server dies holding it. Default 120.
   */
  visibilityTimeoutSeconds?: number;
  /** Seconds between heartbeats while a handler runs; more than 0, less than visibilityTimeoutSeconds. Default 30. */
  heartbeatSeconds?: number;
  /**
   * How long one handler call may run, more than 0 and at most 43200 seconds (SQS keeps a message invisible at
   * most 12 hours from its receive). When it runs out, `ctx.signal` aborts (HandlerTimedOutError), the slot is
   * freed for new work, the message is released for redelivery and a later answer is ignored. Default 900.
   * Only `concurrency` such handlers still running give their slots back: past that one keeps its slot until it
   * settles (`status.abandonedHandlers`), so handlers that never settle cannot pile up chunks in memory.
   */
  handlerTimeoutSeconds?: number;
  /**
   * The largest chunk fetched, 1 byte to 64 MiB; a pointer over it fails the chunk with CHUNK_TOO_LARGE. Memory
   * held for chunk bytes is at most concurrency × this. Default 64 MiB.
   */
  maxChunkBytes?: number;
  /** Backoff for transient AWS errors. Default { attempts: 5, baseMs: 200, maxMs: 20000 }. */
  retry?: Partial<RetryOptions>;
  logger?: ConsumerLogger;
}

export interface ResolvedOptions {
  queueUrl: string;
  sqs: SQSClient;
  sfn: SFNClient;
  s3: S3Client;
  handler: ChunkHandler;
  concurrency: number;
  waitTimeSeconds: number;
  visibilityTimeoutSeconds: number;
  heartbeatSeconds: number;
  handlerTimeoutSeconds: number;
  maxChunkBytes: number;
  retry: RetryOptions;
  logger: ConsumerLogger | undefined;
}

/** The largest chunk the consumer will fetch (and the largest sluice's chunk writer packs). */
export const MAX_CHUNK_BYTES_LIMIT = 64 * 1024 * 1024;

/** SQS's longest visibility timeout, and the longest a received message can be kept invisible in all: 12 hours. */
const MAX_VISIBILITY_SECONDS = 43_200;

export const DEFAULTS = Object.freeze({
  concurrency: 4,
  waitTimeSeconds: 20,
  visibilityTimeoutSeconds: 120,
  heartbeatSeconds: 30,
  handlerTimeoutSeconds: 900,
  maxChunkBytes: MAX_CHUNK_BYTES_LIMIT,
});

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined) {
    return String(value);
  }
  if (typeof value === "function") return "a function";
  return Array.isArray(value) ? "an array" : `an object`;
}

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(`${name} must be an integer from ${min} to ${max}, got ${show(value)}`);
  }
  return value;
}

function hasSend(value: unknown): boolean {
  return (
    value !== null && typeof value === "object" && typeof (value as { send?: unknown }).send === "function"
  );
}

/** Checks every option once, at creation, and fills in the defaults; throws InvalidOptionError naming the option. */
export function resolveOptions(options: ChunkConsumerOptions): ResolvedOptions {
  if (options === null || typeof options !== "object") {
    throw new InvalidOptionError(`options must be an object, got ${show(options)}`);
  }
  const { queueUrl, sqs, sfn, s3, handler, logger } = options;
  if (typeof queueUrl !== "string" || !/^https?:\/\/\S+$/.test(queueUrl)) {
    throw new InvalidOptionError(`queueUrl must be an http(s) SQS queue URL, got ${show(queueUrl)}`);
  }
  if (!hasSend(sqs)) {
    throw new InvalidOptionError(`sqs must be an SQSClient from @aws-sdk/client-sqs, got ${show(sqs)}`);
  }
  if (!hasSend(sfn)) {
    throw new InvalidOptionError(`sfn must be an SFNClient from @aws-sdk/client-sfn, got ${show(sfn)}`);
  }
  if (!hasSend(s3)) {
    throw new InvalidOptionError(`s3 must be an S3Client from @aws-sdk/client-s3, got ${show(s3)}`);
  }
  if (typeof handler !== "function") {
    throw new InvalidOptionError(
      `handler must be a function (chunk, ctx) => Promise<result>, got ${show(handler)}`,
    );
  }
  const concurrency = integer("concurrency", options.concurrency, DEFAULTS.concurrency, 1, 100);
  const waitTimeSeconds = integer(
    "waitTimeSeconds",
    options.waitTimeSeconds,
    DEFAULTS.waitTimeSeconds,
    0,
    20,
  );
  const visibilityTimeoutSeconds = integer(
    "visibilityTimeoutSeconds",
    options.visibilityTimeoutSeconds,
    DEFAULTS.visibilityTimeoutSeconds,
    1,
    MAX_VISIBILITY_SECONDS,
  );
  const heartbeatSeconds = options.heartbeatSeconds ?? DEFAULTS.heartbeatSeconds;
  if (
    typeof heartbeatSeconds !== "number" ||
    !Number.isFinite(heartbeatSeconds) ||
    heartbeatSeconds <= 0 ||
    heartbeatSeconds >= visibilityTimeoutSeconds
  ) {
    throw new InvalidOptionError(
      `heartbeatSeconds must be a number greater than 0 and less than visibilityTimeoutSeconds (${visibilityTimeoutSeconds}), got ${show(heartbeatSeconds)}`,
    );
  }
  const handlerTimeoutSeconds = options.handlerTimeoutSeconds ?? DEFAULTS.handlerTimeoutSeconds;
  if (
    typeof handlerTimeoutSeconds !== "number" ||
    !Number.isFinite(handlerTimeoutSeconds) ||
    handlerTimeoutSeconds <= 0 ||
    handlerTimeoutSeconds > MAX_VISIBILITY_SECONDS
  ) {
    throw new InvalidOptionError(
      `handlerTimeoutSeconds must be a number greater than 0 and at most ${MAX_VISIBILITY_SECONDS}, got ${show(handlerTimeoutSeconds)}`,
    );
  }
  const maxChunkBytes = integer(
    "maxChunkBytes",
    options.maxChunkBytes,
    DEFAULTS.maxChunkBytes,
    1,
    MAX_CHUNK_BYTES_LIMIT,
  );
  const retryIn = options.retry ?? {};
  if (retryIn === null || typeof retryIn !== "object") {
    throw new InvalidOptionError(`retry must be an object { attempts, baseMs, maxMs }, got ${show(retryIn)}`);
  }
  const attempts = integer("retry.attempts", retryIn.attempts, DEFAULT_RETRY.attempts, 1, 20);
  const baseMs = integer("retry.baseMs", retryIn.baseMs, DEFAULT_RETRY.baseMs, 0, 60_000);
  const maxMs = integer("retry.maxMs", retryIn.maxMs, Math.max(DEFAULT_RETRY.maxMs, baseMs), baseMs, 300_000);
  if (
    logger !== undefined &&
    (logger === null ||
      typeof logger !== "object" ||
      typeof logger.warn !== "function" ||
      typeof logger.error !== "function")
  ) {
    throw new InvalidOptionError(
      `logger must have warn and error methods (console will do), got ${show(logger)}`,
    );
  }
  return {
    queueUrl,
    sqs,
    sfn,
    s3,
    handler,
    concurrency,
    waitTimeSeconds,
    visibilityTimeoutSeconds,
    heartbeatSeconds,
    handlerTimeoutSeconds,
    maxChunkBytes,
    retry: { attempts, baseMs, maxMs },
    logger,
  };
}
