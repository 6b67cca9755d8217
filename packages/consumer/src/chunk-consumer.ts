import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
} from "@aws-sdk/client-sfn";
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
} from "@aws-sdk/client-sqs";
import {
  type ChunkEnvelope,
  ChunkEnvelopeSchema,
  ChunkPointerSchema,
  type KeyedChunk,
} from "@sluice/contract";
import type { z } from "zod";
import { fetchChunk } from "./chunk-fetch.ts";
import {
  ConsumerError,
  ConsumerStoppingError,
  HandlerTimedOutError,
  InvalidOptionError,
  TaskTokenStaleError,
} from "./errors.ts";
import { type ConsumerEvents, type ConsumerOperation, TypedEmitter } from "./events.ts";
import {
  type ChunkConsumerOptions,
  type ChunkContext,
  type ResolvedOptions,
  resolveOptions,
} from "./options.ts";
import { backoffDelay, sleep, withRetry } from "./retry.ts";
import {
  buildSuccessOutput,
  describeFailure,
  type FailureReport,
  failureCode,
  type SuccessOutput,
  thrownMessage,
} from "./task-output.ts";

export interface ConsumerStatus {
  /** start() was called and stop() was not. */
  running: boolean;
  /** Messages in hand: received and not yet reported and deleted (or abandoned by a timed-out stop). */
  inFlight: number;
  /** Chunks answered with SendTaskSuccess. */
  processed: number;
  /**
   * Everything else that finished: SendTaskFailure, stale tokens, malformed messages, answers not delivered,
   * chunks released for redelivery (a transient handler error, a handler past its timeout, a fetch that failed).
   */
  failed: number;
  /**
   * Handlers past `handlerTimeoutSeconds` that have not settled yet (their chunks already released): each still
   * holds what it holds, its chunk included. Up to `concurrency` of them give their slots back; beyond that each
   * keeps its slot until it settles, so at most 2 × concurrency chunks are ever held.
   */
  abandonedHandlers: number;
}

export interface StopOptions {
  /**
   * How long to wait for in-flight handlers. When it runs out their `ctx.signal` aborts (ConsumerStoppingError),
   * their answers are no longer reported and their messages are not deleted: SQS redelivers them. Default: wait
   * (at most about handlerTimeoutSeconds: a handler past it is released).
   */
  timeoutMs?: number;
}

export interface StopResult {
  timedOut: boolean;
  /** In-flight chunks left for redelivery because the timeout ran out. */
  abandoned: number;
}

/** Step Functions errors meaning the token will never be accepted again. */
export const STALE_TOKEN_ERRORS: ReadonlySet<string> = new Set([
  "TaskTimedOut",
  "TaskDoesNotExist",
  "InvalidToken",
]);

function staleTokenError(error: unknown): TaskTokenStaleError | undefined {
  const name = (error as { name?: unknown } | null)?.name;
  if (typeof name !== "string" || !STALE_TOKEN_ERRORS.has(name)) return undefined;
  const message = (error as { message?: unknown }).message;
  return new TaskTokenStaleError(name, typeof message === "string" && message ? message : name, {
    cause: error,
  });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A handler error that must not be tried again: `retryable: false` (ChunkRejectedError, ConsumerError style). */
function isPermanent(thrown: unknown): boolean {
  return (
    thrown !== null && typeof thrown === "object" && (thrown as { retryable?: unknown }).retryable === false
  );
}

/** How long a released chunk stays invisible: 2^receiveCount seconds, at least 1, at most the visibility timeout. */
export function releaseDelaySeconds(receiveCount: number, visibilityTimeoutSeconds: number): number {
  return Math.max(1, Math.min(visibilityTimeoutSeconds, 2 ** Math.max(0, receiveCount)));
}

/** What the handler-timeout race resolves to when the time runs out first. */
const HANDLER_EXPIRED = Symbol("handler expired");

interface InFlight {
  abort: AbortController;
  abandoned: boolean;
  stopHeartbeats: () => void;
  done: Promise<void>;
}

/** Consumes sluice chunk messages from SQS and answers each chunk's Step Functions task token. */
export class ChunkConsumer extends TypedEmitter {
  readonly #o: ResolvedOptions;
  #running = false;
  #pollAbort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #stopping: Promise<StopResult> | undefined;
  readonly #inFlight = new Map<number, InFlight>();
  #nextId = 0;
  #slotWaiter: (() => void) | undefined;
  #processed = 0;
  #failed = 0;
  /** Handlers abandoned at their timeout and still running. */
  #abandonedHandlers = 0;

  constructor(options: ChunkConsumerOptions) {
    const resolved = resolveOptions(options);
    super((error, event) => this.#listenerFailed(error, event));
    this.#o = resolved;
  }

  get status(): ConsumerStatus {
    return {
      running: this.#running,
      inFlight: this.#inFlight.size,
      processed: this.#processed,
      failed: this.#failed,
      abandonedHandlers: this.#abandonedHandlers,
    };
  }

  /** Starts polling. Calling it while running does nothing; calling it while a stop() is pending throws. */
  start(): void {
    if (this.#running) return;
    if (this.#stopping) {
      throw new ConsumerError(
        "INVALID_OPTION",
        "start() was called while stop() is in progress; await stop() first",
      );
    }
    this.#running = true;
    const abort = new AbortController();
    this.#pollAbort = abort;
    this.#loop = this.#poll(abort.signal);
  }

  /**
   * Stops polling at once (the pending ReceiveMessage is aborted), lets in-flight chunks finish, report and be
   * deleted, then resolves. Messages not yet received stay on the queue.
   */
  stop(options: StopOptions = {}): Promise<StopResult> {
    const timeoutMs = options.timeoutMs;
    if (
      timeoutMs !== undefined &&
      (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs < 0)
    ) {
      return Promise.reject(
        new InvalidOptionError(`stop timeoutMs must be an integer of 0 or more, got ${String(timeoutMs)}`),
      );
    }
    if (this.#stopping) return this.#stopping;
    if (!this.#running) return Promise.resolve({ timedOut: false, abandoned: 0 });
    this.#running = false;
    this.#pollAbort?.abort();
    this.#wakePoller();
    this.#stopping = this.#drain(timeoutMs).finally(() => {
      this.#stopping = undefined;
    });
    return this.#stopping;
  }

  async #drain(timeoutMs: number | undefined): Promise<StopResult> {
    await this.#loop;
    const drained = Promise.all([...this.#inFlight.values()].map((entry) => entry.done));
    let timedOut = false;
    let abandoned = 0;
    if (timeoutMs === undefined) {
      await drained;
    } else {
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      });
      timedOut = await Promise.race([drained.then(() => false), expired]);
      clearTimeout(timer);
      if (timedOut) {
        for (const entry of this.#inFlight.values()) {
          if (entry.abandoned) continue;
          entry.abandoned = true;
          entry.stopHeartbeats();
          entry.abort.abort(new ConsumerStoppingError());
          abandoned++;
        }
      }
    }
    const result = { timedOut, abandoned };
    this.emit("stopped", { processed: this.#processed, failed: this.#failed, ...result });
    return result;
  }

  async #poll(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      const free = this.#freeSlots();
      if (free <= 0) {
        await this.#slotFreed(signal);
        continue;
      }
      let messages: Message[];
      try {
        const out = await this.#o.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.#o.queueUrl,
            MaxNumberOfMessages: Math.min(10, free),
            WaitTimeSeconds: this.#o.waitTimeSeconds,
            VisibilityTimeout: this.#o.visibilityTimeoutSeconds,
            MessageSystemAttributeNames: ["ApproximateReceiveCount"],
          }),
          { abortSignal: signal },
        );
        messages = out.Messages ?? [];
        failures = 0;
      } catch (error) {
        if (signal.aborted) break;
        failures++;
        this.#reportError("receive", error);
        await sleep(Math.max(10, backoffDelay(failures, this.#o.retry)), signal);
        continue;
      }
      for (const message of messages) this.#track(message);
    }
  }

  /**
   * Slots for new chunks. A handler abandoned at its timeout gives its slot back, up to `concurrency` of them:
   * past that each keeps one until it settles, else handlers that never settle would each keep a chunk in memory
   * while new ones are received, without bound.
   */
  #freeSlots(): number {
    const held = Math.max(0, this.#abandonedHandlers - this.#o.concurrency);
    return this.#o.concurrency - this.#inFlight.size - held;
  }

  #slotFreed(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted || this.#freeSlots() > 0) return resolve();
      this.#slotWaiter = resolve;
    });
  }

  #wakePoller(): void {
    const waiter = this.#slotWaiter;
    this.#slotWaiter = undefined;
    waiter?.();
  }

  #track(message: Message): void {
    const id = this.#nextId++;
    const entry: InFlight = {
      abort: new AbortController(),
      abandoned: false,
      stopHeartbeats: () => {},
      done: Promise.resolve(),
    };
    this.#inFlight.set(id, entry);
    entry.done = this.#handle(message, entry)
      .catch((error: unknown) => this.#reportError("listener", error, message.MessageId))
      .finally(() => {
        this.#inFlight.delete(id);
        this.#wakePoller();
      });
  }

  async #handle(message: Message, entry: InFlight): Promise<void> {
    const messageId = message.MessageId ?? "(no MessageId)";
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? "1") || 1;
    this.emit("chunk_received", { messageId, receiveCount });
    const envelope = await this.#parse(message, messageId, receiveCount);
    if (!envelope) return;
    const { taskToken, uploadId } = envelope;
    const pointer = envelope.chunk;
    const receiptHandle = message.ReceiptHandle ?? "";
    const started = performance.now();

    let stale: { error: TaskTokenStaleError; during: "receive" | "heartbeat" } | undefined;
    const markStale = (error: TaskTokenStaleError, during: "receive" | "heartbeat") => {
      if (stale) return;
      stale = { error, during };
      entry.stopHeartbeats();
      entry.abort.abort(error);
    };
    // The last heartbeat started: a release waits for it, so its visibility extension cannot undo the release's.
    let lastBeat: Promise<unknown> = Promise.resolve();
    const beat = (): Promise<void> => {
      const run = beatOnce();
      lastBeat = run.catch(() => {});
      return run;
    };
    const beatOnce = async (): Promise<void> => {
      // Stale, timed out or abandoned by stop(): nothing to keep alive (and the message may be released).
      if (entry.abort.signal.aborted) throw entry.abort.signal.reason;
      const [heartbeat, visibility] = await Promise.allSettled([
        this.#call(() => this.#o.sfn.send(new SendTaskHeartbeatCommand({ taskToken }))),
        this.#call(() =>
          this.#o.sqs.send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: this.#o.queueUrl,
              ReceiptHandle: receiptHandle,
              VisibilityTimeout: this.#o.visibilityTimeoutSeconds,
            }),
          ),
        ),
      ]);
      if (visibility.status === "rejected")
        this.#reportError("change_visibility", visibility.reason, messageId);
      if (heartbeat.status === "rejected") {
        const tokenError = staleTokenError(heartbeat.reason);
        if (!tokenError) {
          this.#reportError("heartbeat", heartbeat.reason, messageId);
          throw heartbeat.reason;
        }
        markStale(tokenError, "heartbeat");
        throw tokenError;
      }
    };

    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    const schedule = () => {
      timer = setTimeout(async () => {
        timer = undefined;
        await beat().catch(() => {});
        if (!finished && !stale && !entry.abandoned) schedule();
      }, this.#o.heartbeatSeconds * 1000);
    };
    entry.stopHeartbeats = () => {
      finished = true;
      clearTimeout(timer);
    };
    schedule();

    // Is the task still waiting for an answer? A token that died while its message waited in the queue (the
    // execution failed or was stopped, the deadline passed, another delivery answered it) can never be answered:
    // skip the chunk rather than fetch and import it for nothing. Any other error cannot tell: go on.
    try {
      await this.#call(() =>
        this.#o.sfn.send(new SendTaskHeartbeatCommand({ taskToken }), { abortSignal: entry.abort.signal }),
      );
    } catch (error) {
      const tokenError = staleTokenError(error);
      if (tokenError) markStale(tokenError, "receive");
      else if (!entry.abort.signal.aborted) this.#reportError("heartbeat", error, messageId);
    }

    const failureContext = { chunk: pointer, receiveCount };
    let success: SuccessOutput | undefined;
    let failure: FailureReport | undefined;
    // Set when the chunk is to be tried again later: not answered, not deleted, released for redelivery.
    let retryLater: { error: unknown; fetch: boolean } | undefined;
    try {
      let chunk: KeyedChunk | undefined;
      if (!stale && !entry.abandoned) {
        try {
          chunk = await fetchChunk(this.#o.s3, envelope, {
            maxChunkBytes: this.#o.maxChunkBytes,
            signal: entry.abort.signal,
            call: (fn) => this.#call(fn),
          });
        } catch (error) {
          if (error instanceof ConsumerError && !error.retryable)
            failure = describeFailure(error, failureContext);
          else retryLater = { error, fetch: true };
        }
      }
      if (chunk) {
        const ctx: ChunkContext = {
          uploadId,
          source: envelope.source,
          totals: envelope.totals,
          receiveCount,
          signal: entry.abort.signal,
          heartbeat: beat,
        };
        const timeoutSeconds = this.#o.handlerTimeoutSeconds;
        let timeout: NodeJS.Timeout | undefined;
        const expired = new Promise<typeof HANDLER_EXPIRED>((resolve) => {
          timeout = setTimeout(resolve, timeoutSeconds * 1000, HANDLER_EXPIRED);
        });
        const running = Promise.resolve().then(() => this.#o.handler(chunk, ctx));
        // A handler abandoned at its timeout may still settle: what it answers or throws then is ignored.
        running.catch(() => {});
        try {
          const answer = await Promise.race([running, expired]);
          if (answer === HANDLER_EXPIRED) {
            // Free the slot and leave the message for redelivery; the handler keeps running until it sees
            // ctx.signal, and its answer (if any) is never sent.
            const error = new HandlerTimedOutError(timeoutSeconds);
            entry.stopHeartbeats();
            entry.abort.abort(error);
            retryLater = { error, fetch: false };
            this.#abandonedHandlers++;
            const settled = () => {
              this.#abandonedHandlers--;
              this.#wakePoller();
            };
            running.then(settled, settled);
          } else {
            try {
              success = buildSuccessOutput(
                answer,
                { uploadId, index: pointer.index, rows: chunk.rows },
                performance.now() - started,
              );
            } catch (error) {
              failure = describeFailure(error, failureContext);
            }
          }
        } catch (thrown) {
          if (isPermanent(thrown)) failure = describeFailure(thrown, failureContext);
          else retryLater = { error: thrown, fetch: false };
        } finally {
          clearTimeout(timeout);
        }
      }
    } finally {
      entry.stopHeartbeats();
    }
    const durationMs = Math.round(performance.now() - started);
    if (entry.abandoned) return;
    const where = { messageId, uploadId, chunkIndex: pointer.index };

    if (stale) {
      const deleted = await this.#delete(receiptHandle, messageId);
      this.#failed++;
      this.emit("token_stale", {
        ...where,
        during: stale.during,
        awsErrorName: stale.error.awsErrorName,
        message: stale.error.message,
        deleted,
      });
      return;
    }

    if (retryLater) {
      if (retryLater.fetch) this.#reportError("fetch_chunk", retryLater.error, messageId);
      await lastBeat;
      await this.#release(receiptHandle, { ...where, receiveCount }, retryLater.error);
      return;
    }

    const operation: ConsumerOperation = success ? "report_success" : "report_failure";
    try {
      if (success) {
        const output = success.output;
        await this.#call(() => this.#o.sfn.send(new SendTaskSuccessCommand({ taskToken, output })));
      } else if (failure) {
        const { error, cause } = failure;
        await this.#call(() => this.#o.sfn.send(new SendTaskFailureCommand({ taskToken, error, cause })));
      }
    } catch (error) {
      this.#failed++;
      const tokenError = staleTokenError(error);
      if (!tokenError) {
        // Not delivered and not deleted: SQS redelivers the message and the chunk is tried again.
        this.#reportError(operation, error, messageId);
        return;
      }
      const deleted = await this.#delete(receiptHandle, messageId);
      this.emit("token_stale", {
        ...where,
        during: operation === "report_success" ? "report_success" : "report_failure",
        awsErrorName: tokenError.awsErrorName,
        message: tokenError.message,
        deleted,
      });
      return;
    }
    await this.#delete(receiptHandle, messageId);
    if (success) {
      this.#processed++;
      this.emit("chunk_succeeded", {
        ...where,
        accepted: success.result.accepted,
        rejected: success.result.rejected.rows.length,
        durationMs,
        ...(success.messagesShortenedTo === undefined
          ? {}
          : { messagesShortenedTo: success.messagesShortenedTo }),
      });
    } else if (failure) {
      this.#failed++;
      this.emit("chunk_failed", { ...where, error: failure.error, cause: failure.cause, durationMs });
    }
  }

  /**
   * Leaves a chunk for redelivery: its visibility is set to a short backoff (2^receiveCount seconds, capped by the
   * visibility timeout) so it comes back soon; after the queue's maxReceiveCount receives SQS dead-letters it.
   */
  async #release(
    receiptHandle: string,
    where: { messageId: string; uploadId: string; chunkIndex: number; receiveCount: number },
    thrown: unknown,
  ): Promise<void> {
    const retryInSeconds = releaseDelaySeconds(where.receiveCount, this.#o.visibilityTimeoutSeconds);
    try {
      await this.#call(() =>
        this.#o.sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: this.#o.queueUrl,
            ReceiptHandle: receiptHandle,
            VisibilityTimeout: retryInSeconds,
          }),
        ),
      );
    } catch (error) {
      // The message still comes back, when the visibility its last heartbeat gave it runs out.
      this.#reportError("change_visibility", error, where.messageId);
    }
    this.#failed++;
    this.emit("chunk_released", {
      ...where,
      error: failureCode(thrown),
      message: thrownMessage(thrown),
      retryInSeconds,
    });
  }

  /** Validates the body; a malformed message is reported (SendTaskFailure if it has a token) and left on the queue. */
  async #parse(
    message: Message,
    messageId: string,
    receiveCount: number,
  ): Promise<ChunkEnvelope | undefined> {
    let body: unknown;
    let reason: "json" | "schema";
    let issues: z.core.$ZodIssue[] = [];
    let text: string;
    try {
      body = JSON.parse(message.Body ?? "");
      const parsed = ChunkEnvelopeSchema.safeParse(body);
      if (parsed.success) return parsed.data;
      reason = "schema";
      issues = parsed.error.issues;
      text = `The message is not a sluice ChunkEnvelope: ${issues
        .slice(0, 20)
        .map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
        .join("; ")}`;
    } catch (error) {
      reason = "json";
      text = `The message body is not JSON: ${errorMessage(error)}`;
    }
    this.#failed++;
    const token = (body as { taskToken?: unknown } | null | undefined)?.taskToken;
    let taskFailureSent = false;
    if (typeof token === "string" && token.length > 0) {
      // Name the chunk in the cause when the pointer itself is intact.
      const pointer = ChunkPointerSchema.safeParse((body as { chunk?: unknown }).chunk);
      const { cause } = describeFailure(
        new ConsumerError("MESSAGE_INVALID", `${text} (SQS message ${messageId})`),
        pointer.success ? { chunk: pointer.data, receiveCount } : { receiveCount },
      );
      try {
        await this.#call(() =>
          this.#o.sfn.send(new SendTaskFailureCommand({ taskToken: token, error: "MESSAGE_INVALID", cause })),
        );
        taskFailureSent = true;
      } catch (error) {
        const tokenError = staleTokenError(error);
        if (tokenError) {
          this.emit("token_stale", {
            messageId,
            during: "report_failure",
            awsErrorName: tokenError.awsErrorName,
            message: tokenError.message,
            deleted: false,
          });
        } else {
          this.#reportError("report_failure", error, messageId);
        }
      }
    }
    this.emit("message_invalid", { messageId, receiveCount, reason, issues, message: text, taskFailureSent });
    return undefined;
  }

  async #delete(receiptHandle: string, messageId: string): Promise<boolean> {
    try {
      await this.#call(() =>
        this.#o.sqs.send(
          new DeleteMessageCommand({ QueueUrl: this.#o.queueUrl, ReceiptHandle: receiptHandle }),
        ),
      );
      return true;
    } catch (error) {
      this.#reportError("delete", error, messageId);
      return false;
    }
  }

  #call<T>(fn: () => Promise<T>): Promise<T> {
    return withRetry(fn, this.#o.retry, (error, attempt, delayMs) => {
      this.#o.logger?.debug?.(
        `sluice consumer: transient AWS error, try ${attempt + 1} in ${delayMs} ms`,
        error,
      );
    });
  }

  #reportError(operation: ConsumerOperation, error: unknown, messageId?: string): void {
    const payload: ConsumerEvents["error"] =
      messageId === undefined ? { operation, error } : { operation, error, messageId };
    if (this.#o.logger) this.#o.logger.error(`sluice consumer: ${operation} failed`, error);
    else if (this.listenerCount("error") === 0) console.error(`sluice consumer: ${operation} failed`, error);
    this.emit("error", payload);
  }

  #listenerFailed(error: unknown, event: string): void {
    const text = `sluice consumer: a listener of "${event}" threw`;
    if (this.#o.logger) this.#o.logger.error(text, error);
    else console.error(text, error);
  }
}

/** Creates a consumer; every option is checked here (InvalidOptionError names the option and the value). */
export function createChunkConsumer(options: ChunkConsumerOptions): ChunkConsumer {
  return new ChunkConsumer(options);
}
