/**
 * Every error code sluice reports, in one table: what raises it, whether trying the same thing again can help,
 * and what it means. Step Functions Retry/Catch, alerts, failure records, the consumer SDK and the CLI's exit codes
 * all read their codes from here; every list of codes elsewhere is derived from this table.
 */
export const ERROR_CODES = {
  // The workbook (raised by the converter; a property of the file, so never retried).
  UNSUPPORTED_FORMAT: {
    area: "workbook",
    retryable: false,
    meaning: "not an xlsx or csv workbook (ODS, legacy .xls, binary)",
  },
  WORKBOOK_ENCRYPTED: { area: "workbook", retryable: false, meaning: "the workbook is password-protected" },
  WORKBOOK_CORRUPT: {
    area: "workbook",
    retryable: false,
    meaning: "the zip or its XML is broken, or a zip entry fails its CRC",
  },
  EMPTY_WORKBOOK: { area: "workbook", retryable: false, meaning: "no non-empty row" },
  SHEET_NOT_FOUND: { area: "workbook", retryable: false, meaning: "the requested sheet does not exist" },
  XML_DTD_FORBIDDEN: {
    area: "workbook",
    retryable: false,
    meaning: "a workbook part declares a DTD (never processed)",
  },
  ENCODING_INVALID: { area: "workbook", retryable: false, meaning: "the csv's text encoding cannot be read" },
  INFLATED_SIZE_EXCEEDED: {
    area: "workbook",
    retryable: false,
    meaning: "a zip entry inflates past the size limit",
  },
  INFLATION_RATIO_EXCEEDED: {
    area: "workbook",
    retryable: false,
    meaning: "a zip entry inflates past the ratio limit (zip bomb)",
  },
  TOO_MANY_COLUMNS: { area: "workbook", retryable: false, meaning: "more columns than the limit" },
  TOO_MANY_ROWS: { area: "workbook", retryable: false, meaning: "more rows than the limit" },
  CELL_TOO_LONG: { area: "workbook", retryable: false, meaning: "a cell longer than the limit" },
  INVALID_OPTION: {
    area: "usage",
    retryable: false,
    meaning: "a bad option, setting or input shape: a wiring or usage error",
  },
  // I/O around the converter: worth trying again as it is.
  SOURCE_READ_FAILED: {
    area: "io",
    retryable: true,
    meaning: "reading the source or a result failed (network, throttling)",
  },
  OUTPUT_WRITE_FAILED: {
    area: "io",
    retryable: true,
    meaning: "writing chunks, a summary or a report failed",
  },
  // Rows and cells (in the manifest and reports; the row is skipped or kept, the upload goes on).
  ROW_TOO_LARGE: {
    area: "row",
    retryable: false,
    meaning: "a row serializes to more than a chunk's byte bound",
  },
  CELL_ERROR: { area: "row", retryable: false, meaning: "an Excel error value (#DIV/0!) became null" },
  // A chunk's answer (the JSON cause of its SendTaskFailure names the chunk).
  CHUNK_REJECTED: { area: "chunk", retryable: false, meaning: "the admin server refused the chunk for good" },
  CHUNK_CHECKSUM_MISMATCH: {
    area: "chunk",
    retryable: false,
    meaning: "the chunk's bytes are not the ones its pointer names (size or SHA-256)",
  },
  CHUNK_INVALID: {
    area: "chunk",
    retryable: false,
    meaning: "the chunk's bytes are not the chunk its pointer names",
  },
  CHUNK_TOO_LARGE: {
    area: "chunk",
    retryable: false,
    meaning: "the chunk is over the consumer's maxChunkBytes",
  },
  CHUNK_DEAD_LETTERED: {
    area: "chunk",
    retryable: false,
    meaning: "delivered maxReceiveCount times without an answer",
  },
  MESSAGE_INVALID: {
    area: "chunk",
    retryable: false,
    meaning: "the queue message is not a chunk message of this contract",
  },
  HANDLER_ERROR: {
    area: "chunk",
    retryable: true,
    meaning: "the admin server's handler threw (the chunk is delivered again)",
  },
  HANDLER_RESULT_INVALID: {
    area: "chunk",
    retryable: false,
    meaning: "the handler's answer is not { accepted, rejected }",
  },
  TASK_RESULT_TOO_LARGE: {
    area: "chunk",
    retryable: false,
    meaning: "the answer does not fit Step Functions' 256 KiB output",
  },
  // The consumer SDK's own conditions (never sent to Step Functions).
  TASK_TOKEN_STALE: {
    area: "consumer",
    retryable: false,
    meaning: "Step Functions no longer accepts the chunk's task token",
  },
  CONSUMER_STOPPING: {
    area: "consumer",
    retryable: true,
    meaning: "the consumer stopped before the chunk was answered",
  },
  HANDLER_TIMED_OUT: {
    area: "consumer",
    retryable: true,
    meaning: "the handler did not finish within handlerTimeoutSeconds (the chunk is delivered again)",
  },
  // The admin server's helpers (@sluice/admin): answers to the admin server's own callers, never sent to Step Functions.
  UPLOAD_TOO_LARGE: {
    area: "admin",
    retryable: false,
    meaning: "a signed upload form was asked for a file over its maxBytes",
  },
  UPLOAD_TYPE_NOT_ALLOWED: {
    area: "admin",
    retryable: false,
    meaning: "a signed upload form was asked for a file that is not xlsx or csv",
  },
  UPLOAD_NOT_FOUND: { area: "admin", retryable: false, meaning: "no upload has this id" },
  UPLOAD_NOT_REDRIVABLE: {
    area: "admin",
    retryable: false,
    meaning:
      "the upload is not in a state Step Functions can redrive (running, succeeded, or past redrive limits)",
  },
  // The workflow's functions.
  TASK_RESULT_INVALID: {
    area: "workflow",
    retryable: false,
    meaning:
      "a Map Run result is not a TaskResult of this upload's chunk, or its counts or rows do not fit that chunk",
  },
  CONFIG_INVALID: {
    area: "workflow",
    retryable: false,
    meaning: "a function's environment is missing or malformed",
  },
  FAILURE_RECORD_WRITE_FAILED: {
    area: "workflow",
    retryable: true,
    meaning: "the failure record could not be written",
  },
} as const satisfies Record<string, { area: string; retryable: boolean; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
export type ErrorArea = (typeof ERROR_CODES)[ErrorCode]["area"];

/** The codes of one area, in table order. */
export function errorCodesOf<A extends ErrorArea>(
  ...areas: A[]
): { [K in ErrorCode]: (typeof ERROR_CODES)[K]["area"] extends A ? K : never }[ErrorCode][] {
  return (Object.keys(ERROR_CODES) as ErrorCode[]).filter((code) =>
    (areas as string[]).includes(ERROR_CODES[code].area),
  ) as never;
}

/** Whether trying the same input again can help. */
export function isRetryableCode(code: string): boolean {
  return (ERROR_CODES as Record<string, { retryable: boolean }>)[code]?.retryable === true;
}

/** Codes a Lambda task's Retry matches: the converter's transient I/O (the other retryable codes never reach one). */
export const RETRYABLE_ERROR_CODES: readonly ErrorCode[] = Object.freeze(
  errorCodesOf("io").filter((code) => ERROR_CODES[code].retryable),
);
