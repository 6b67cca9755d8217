import { ERROR_CODES, errorCodesOf } from "@sluice/contract";

/**
 * Every failure the consumer reports or throws has a stable `code` from the contract's error-code table (its chunk,
 * consumer and usage codes): Step Functions and alerts see the codes that reach SendTaskFailure; the others are for
 * the admin server's own logs. Whether a retry can help is the table's too.
 */
export const CONSUMER_ERROR_CODES = Object.freeze(errorCodesOf("chunk", "consumer", "usage"));

export type ConsumerErrorCode = (typeof CONSUMER_ERROR_CODES)[number];

/** Base of every error the consumer throws or hands to a handler. */
export class ConsumerError extends Error {
  readonly code: ConsumerErrorCode;
  readonly retryable: boolean;

  constructor(code: ConsumerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = ERROR_CODES[code].retryable;
  }
}

/** An option given to `createChunkConsumer` is missing or out of range; thrown at creation, never later. */
export class InvalidOptionError extends ConsumerError {
  constructor(message: string) {
    super("INVALID_OPTION", message);
  }
}

/**
 * Step Functions no longer accepts the task token (the task timed out, the execution ended, the token is
 * malformed). The chunk's answer cannot be delivered; the message is deleted. `ctx.signal` aborts with this.
 */
export class TaskTokenStaleError extends ConsumerError {
  /** The AWS error name: TaskTimedOut, TaskDoesNotExist or InvalidToken. */
  readonly awsErrorName: string;
  constructor(awsErrorName: string, message: string, options?: { cause?: unknown }) {
    super("TASK_TOKEN_STALE", message, options);
    this.awsErrorName = awsErrorName;
  }
}

/** The consumer is stopping and its stop timeout ran out: `ctx.signal` aborts with this. */
export class ConsumerStoppingError extends ConsumerError {
  constructor() {
    super(
      "CONSUMER_STOPPING",
      "The consumer is stopping and the stop timeout ran out; the chunk is left on the queue for redelivery",
    );
  }
}

/**
 * The handler did not settle within `handlerTimeoutSeconds`: `ctx.signal` aborts with this, the slot is freed, the
 * message is released for redelivery and whatever the handler answers later is ignored.
 */
export class HandlerTimedOutError extends ConsumerError {
  readonly timeoutSeconds: number;
  constructor(timeoutSeconds: number) {
    super(
      "HANDLER_TIMED_OUT",
      `The handler did not finish within handlerTimeoutSeconds (${timeoutSeconds} s); the chunk is left on the queue for redelivery and a later answer is ignored`,
    );
    this.timeoutSeconds = timeoutSeconds;
  }
}

/**
 * Thrown by a handler to refuse a chunk for good (e.g. the upload names a tenant that does not exist): the consumer
 * answers the task with SendTaskFailure `CHUNK_REJECTED` at once and deletes the message, so the upload fails
 * without waiting for redeliveries. Any other error a handler throws is treated as transient (the chunk is
 * delivered again) unless its `retryable` property is `false`.
 */
export class ChunkRejectedError extends ConsumerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("CHUNK_REJECTED", message, options);
  }
}
