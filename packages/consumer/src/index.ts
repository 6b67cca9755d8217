export type { ChunkEnvelope, RejectedRow, TaskResult } from "@sluice/core/contract";
export {
  ChunkConsumer,
  type ConsumerStatus,
  createChunkConsumer,
  STALE_TOKEN_ERRORS,
  type StopOptions,
  type StopResult,
} from "./chunk-consumer.ts";
export {
  ConsumerError,
  type ConsumerErrorCode,
  ConsumerStoppingError,
  InvalidOptionError,
  TaskTokenStaleError,
} from "./errors.ts";
export type { ConsumerEventName, ConsumerEvents, ConsumerListener, ConsumerOperation } from "./events.ts";
export type {
  ChunkConsumerOptions,
  ChunkContext,
  ChunkHandler,
  ChunkHandlerResult,
  ConsumerLogger,
} from "./options.ts";
export { DEFAULT_RETRY, isTransientAwsError, type RetryOptions } from "./retry.ts";
export { buildSuccessOutput, describeFailure, TASK_OUTPUT_LIMIT_BYTES } from "./task-output.ts";
