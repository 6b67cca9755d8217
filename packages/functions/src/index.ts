export * from "./adapters/dead-letter-queue.ts";
export {
  durationStats,
  emptyTally,
  findMapRunManifest,
  type MapRunTally,
  REJECTED_ROWS_CAP,
  RejectedRowCollector,
  tallyMapRun,
} from "./adapters/map-run-results.ts";
export * from "./adapters/s3-byte-source.ts";
export * from "./adapters/s3-chunk-sink.ts";
export * from "./adapters/s3-report-link.ts";
export * from "./alerts/failure-alert.ts";
export * from "./alerts/slack-notifier.ts";
export * from "./alerts/success-alert.ts";
export * from "./config.ts";
export * from "./execution-input.ts";
export * from "./failure-cause.ts";
export {
  type ConvertDeps,
  createHandler as createConvertHandler,
} from "./handlers/create-convert-handler.ts";
export {
  createHandler as createNotifyFailureHandler,
  deadLetterRecordFor,
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
export * from "./summary.ts";
