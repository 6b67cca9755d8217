export {
  type ChildExecution,
  chunkOfChild,
  durationStats,
  emptyTally,
  type FailedChild,
  findFirstFailedChild,
  findMapRunManifest,
  MAX_RESULT_LINE_BYTES,
  type MapRunManifest,
  type MapRunResults,
  type MapRunTally,
  REJECTED_ROWS_CAP,
  RejectedRowCollector,
  readMapRunManifest,
  resultLines,
  tallyMapRun,
} from "./adapters/map-run-results.ts";
export * from "./adapters/s3-byte-source.ts";
export * from "./adapters/s3-chunk-sink.ts";
export * from "./adapters/s3-report-link.ts";
export * from "./alerts/failure-alert.ts";
export * from "./alerts/slack-notifier.ts";
export * from "./alerts/success-alert.ts";
export * from "./config.ts";
export * from "./cost/cost-model.ts";
export * from "./cost/prices.ts";
export * from "./failure-cause.ts";
export {
  CHUNK_DEAD_LETTERED,
  type ChunkDeadLetterDeps,
  type ChunkDeadLetterOutput,
  createHandler as createChunkDeadLetterHandler,
  deadLetterCause,
  MESSAGE_INVALID,
  SqsEventSchema,
} from "./handlers/create-chunk-dead-letter-handler.ts";
export {
  type ConvertDeps,
  createHandler as createConvertHandler,
} from "./handlers/create-convert-handler.ts";
export {
  buildFailureRecord,
  createHandler as createNotifyFailureHandler,
  type ExecutionStatusChangeEvent,
  ExecutionStatusChangeEventSchema,
  type FailureRecordInput,
  FailureRecordWriteError,
  type InvocationContext,
  type NotifyFailureDeps,
  type NotifyFailureOutput,
} from "./handlers/create-notify-failure-handler.ts";
export {
  createHandler as createStartHandler,
  decodeS3Key,
  executionInputFor,
  type StartDeps,
  type StartResult,
} from "./handlers/create-start-handler.ts";
export {
  ChildExecutionSchema,
  createHandler as createSummarizeHandler,
  MapRunManifestSchema,
  ResultInvalidError,
  type SummarizeDeps,
  type SummarizeOutput,
} from "./handlers/create-summarize-handler.ts";
export * from "./lambda-error.ts";
export * from "./logger.ts";
export * from "./reports/csv-writer.ts";
export * from "./reports/rejected-rows-report.ts";
