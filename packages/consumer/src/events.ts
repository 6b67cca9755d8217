import type { z } from "zod";

/** Where an AWS call or a listener failed, for the `error` event. */
export type ConsumerOperation =
  | "receive"
  | "fetch_chunk"
  | "heartbeat"
  | "change_visibility"
  | "report_success"
  | "report_failure"
  | "delete"
  | "listener";

export interface ConsumerEvents {
  /** A message was received and is now in hand (before validation). */
  chunk_received: { messageId: string; receiveCount: number };
  /** The handler's result was reported with SendTaskSuccess and the message deleted. */
  chunk_succeeded: {
    messageId: string;
    uploadId: string;
    chunkIndex: number;
    accepted: number;
    rejected: number;
    durationMs: number;
    /** Set when the 256 KiB rule cut rejection messages to this many characters. */
    messagesShortenedTo?: number;
  };
  /**
   * The chunk was answered with SendTaskFailure and the message deleted: a permanent failure (ChunkRejectedError or
   * another error with `retryable: false`, an invalid or too large result, a chunk object that fails its checksum,
   * is invalid or is over maxChunkBytes).
   */
  chunk_failed: {
    messageId: string;
    uploadId: string;
    chunkIndex: number;
    error: string;
    cause: string;
    durationMs: number;
  };
  /**
   * The chunk was not answered and its message was left for redelivery: the handler threw a transient error, ran
   * past handlerTimeoutSeconds (`error: "HANDLER_TIMED_OUT"`), or the chunk could not be fetched from S3. The message's visibility was set to `retryInSeconds`, so SQS delivers it
   * again then (with a higher receive count); after the queue's maxReceiveCount receives it goes to the chunk
   * dead-letter queue and the upload fails naming the chunk.
   */
  chunk_released: {
    messageId: string;
    uploadId: string;
    chunkIndex: number;
    receiveCount: number;
    /** The error's code (else its name, else HANDLER_ERROR), as it would have been reported. */
    error: string;
    message: string;
    retryInSeconds: number;
  };
  /**
   * Step Functions refused the task token (TaskTimedOut, TaskDoesNotExist, InvalidToken). `during: "receive"`: the
   * heartbeat sent on receipt found it dead, so the chunk was neither fetched nor handled.
   */
  token_stale: {
    messageId: string;
    uploadId?: string;
    chunkIndex?: number;
    during: "receive" | "heartbeat" | "report_success" | "report_failure";
    awsErrorName: string;
    message: string;
    /** True when the message was deleted (a valid chunk); false for a malformed message left for the DLQ. */
    deleted: boolean;
  };
  /** The body is not JSON or not a ChunkEnvelope; it stays on the queue until redrive dead-letters it. */
  message_invalid: {
    messageId: string;
    receiveCount: number;
    reason: "json" | "schema";
    /** Zod issues (empty for a JSON syntax error). */
    issues: z.core.$ZodIssue[];
    message: string;
    /** True when a string taskToken was found and SendTaskFailure(MESSAGE_INVALID) was accepted. */
    taskFailureSent: boolean;
  };
  /**
   * Something failed that the consumer survives: a receive, a chunk fetch (the chunk is released for redelivery), a
   * heartbeat, a report, a delete, a listener.
   */
  error: { operation: ConsumerOperation; error: unknown; messageId?: string };
  /** `stop()` finished: no receive in flight, no chunk in hand (or abandoned after the stop timeout). */
  stopped: { processed: number; failed: number; timedOut: boolean; abandoned: number };
}

export type ConsumerEventName = keyof ConsumerEvents;
export type ConsumerListener<K extends ConsumerEventName> = (payload: ConsumerEvents[K]) => void;

/**
 * A small typed emitter. Unlike node's EventEmitter, an `error` event with no listener never throws, and a
 * listener that throws is reported (as an `error` event, or to the logger) instead of breaking the loop.
 */
export class TypedEmitter {
  readonly #listeners = new Map<ConsumerEventName, Set<(payload: never) => void>>();
  readonly #onListenerError: (error: unknown, event: ConsumerEventName) => void;

  constructor(onListenerError: (error: unknown, event: ConsumerEventName) => void) {
    this.#onListenerError = onListenerError;
  }

  on<K extends ConsumerEventName>(event: K, listener: ConsumerListener<K>): this {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as (payload: never) => void);
    return this;
  }

  once<K extends ConsumerEventName>(event: K, listener: ConsumerListener<K>): this {
    const wrapped: ConsumerListener<K> = (payload) => {
      this.off(event, wrapped);
      listener(payload);
    };
    return this.on(event, wrapped);
  }

  off<K extends ConsumerEventName>(event: K, listener: ConsumerListener<K>): this {
    this.#listeners.get(event)?.delete(listener as (payload: never) => void);
    return this;
  }

  listenerCount(event: ConsumerEventName): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  protected emit<K extends ConsumerEventName>(event: K, payload: ConsumerEvents[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as ConsumerListener<K>)(payload);
      } catch (error) {
        this.#onListenerError(error, event);
      }
    }
  }
}
