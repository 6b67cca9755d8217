export type {
  CellValue,
  Chunk,
  ChunkEnvelope,
  ChunkPointer,
  ChunkRow,
  ChunkWarning,
  KeyedChunk,
  RejectedRow,
  RowWarning,
  TaskFailureCause,
  TaskResult,
} from "@sluice/contract";
export { chunkRows, keyedChunk } from "@sluice/contract";
export {
  ChunkConsumer,
  type ConsumerStatus,
  createChunkConsumer,
  releaseDelaySeconds,
  STALE_TOKEN_ERRORS,
  type StopOptions,
  type StopResult,
} from "./chunk-consumer.ts";
export { type FetchChunkOptions, fetchChunk } from "./chunk-fetch.ts";
export {
  ChunkRejectedError,
  CONSUMER_ERROR_CODES,
  ConsumerError,
  type ConsumerErrorCode,
  ConsumerStoppingError,
  HandlerTimedOutError,
  InvalidOptionError,
  TaskTokenStaleError,
} from "./errors.ts";
export type { ConsumerEventName, ConsumerEvents, ConsumerListener, ConsumerOperation } from "./events.ts";
export {
  type ChunkConsumerOptions,
  type ChunkContext,
  type ChunkHandler,
  type ChunkHandlerResult,
  type ConsumerLogger,
  MAX_CHUNK_BYTES_LIMIT,
} from "./options.ts";
export { DEFAULT_RETRY, isTransientAwsError, type RetryOptions } from "./retry.ts";
export {
  buildSuccessOutput,
  describeFailure,
  type FailureContext,
  type FailureReport,
  TASK_OUTPUT_LIMIT_BYTES,
} from "./task-output.ts";
