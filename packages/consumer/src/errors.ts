/**
 * Every failure the consumer reports or throws has a stable `code`: Step Functions Catch/Retry states and
 * alerts match on the codes that reach SendTaskFailure; the others are for the admin server's own logs.
 */
export const CONSUMER_ERROR_CODES = Object.freeze([
  "INVALID_OPTION",
  "MESSAGE_INVALID",
  "HANDLER_ERROR",
  "HANDLER_RESULT_INVALID",
  "TASK_RESULT_TOO_LARGE",
  "TASK_TOKEN_STALE",
  "CONSUMER_STOPPING",
  /** The handler refused the chunk for good (ChunkRejectedError). */
  "CHUNK_REJECTED",
  /** The bytes fetched from S3 are not the bytes the pointer names: wrong size or SHA-256. */
  "CHUNK_CHECKSUM_MISMATCH",
  /** The fetched bytes are not a ChunkSchema object, or not the chunk the pointer names. */
  "CHUNK_INVALID",
  /** The pointer's length is over the consumer's maxChunkBytes. */
  "CHUNK_TOO_LARGE",
] as const);

export type ConsumerErrorCode = (typeof CONSUMER_ERROR_CODES)[number];

/** Base of every error the consumer throws or hands to a handler. */
export class ConsumerError extends Error {
  readonly code: ConsumerErrorCode;
  readonly retryable: boolean;

  constructor(code: ConsumerErrorCode, message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = retryable;
  }
}

/** An option given to `createChunkConsumer` is missing or out of range; thrown at creation, never later. */
export class InvalidOptionError extends ConsumerError {
  constructor(message: string) {
    super("INVALID_OPTION", message, false);
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
    super("TASK_TOKEN_STALE", message, false, options);
    this.awsErrorName = awsErrorName;
  }
}

/** The consumer is stopping and its stop timeout ran out: `ctx.signal` aborts with this. */
export class ConsumerStoppingError extends ConsumerError {
  constructor() {
    super(
      "CONSUMER_STOPPING",
      "The consumer is stopping and the stop timeout ran out; the chunk is left on the queue for redelivery",
      true,
    );
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
    super("CHUNK_REJECTED", message, false, options);
  }
}
