/**
 * Every error code sluice reports, in one table: what raises it, whether trying the same thing again can help,
 * and what it means. Step Functions Retry/Catch, alerts, failure records, the consumer SDK and the CLI's exit codes
 * all read their codes from here; every list of codes elsewhere is derived from this table.
 */
export declare const ERROR_CODES: {
  readonly UNSUPPORTED_FORMAT: {
    readonly area: "workbook";
    readonly retryable: false;
    readonly meaning: "not an xlsx or csv workbook (ODS, legacy .xls, binary)";
  };
  readonly WORKBOOK_ENCRYPTED: {
    readonly area: "workbook";
    readonly retryable: false;
    readonly meaning: "the workbook is password-protected";
  };
  readonly WORKBOOK_CORRUPT: {
    readonly area: "workbook";
    readonly retryable: false;
    readonly meaning: "the zip or its XML is broken, or a zip entry fails its CRC";
  };
  readonly EMPTY_WORKBOOK: {
    readonly area: "workbook";
    readonly retryable: false;
    readonly meaning: "no non-empty row";
  };
  readonly SHEET_NOT_FOUND: {
    readonly area: "workbook";
    readonly retryable: false;
    readonly meaning: "the requested sheet does not exist";
  };
  readonly XML_DTD_FORBIDDEN: {
    readonly area: "workbook";
    readonly retryable: false;
    readonly meaning: "a workbook part declares a DTD (never processed)";
  };
  readonly ENCODING_INVALID: {
    readonly area: "workbook";
    readonly retryable: false;
    readonly meaning: "the csv's text encoding cannot be read";
  };
  readonly INFLATED_SIZE_EXCEEDED: {
    readonly area: "workbook";
    readonly retryable: false;
    readonly meaning: "a zip entry inflates past the size limit";
  };
  readonly INFLATION_RATIO_EXCEEDED: {
    readonly area: "workbook";
    readonly retryable: false;
    readonly meaning: "a zip entry inflates past the ratio limit (zip bomb)";
  };
  readonly TOO_MANY_COLUMNS: {
    readonly area: "workbook";
    readonly retryable: false;
    readonly meaning: "more columns than the limit";
  };
  readonly TOO_MANY_ROWS: {
    readonly area: "workbook";
    readonly retryable: false;
    readonly meaning: "more rows than the limit";
  };
  readonly CELL_TOO_LONG: {
    readonly area: "workbook";
    readonly retryable: false;
    readonly meaning: "a cell longer than the limit";
  };
  readonly INVALID_OPTION: {
    readonly area: "usage";
    readonly retryable: false;
    readonly meaning: "a bad option, setting or input shape: a wiring or usage error";
  };
  readonly SOURCE_READ_FAILED: {
    readonly area: "io";
    readonly retryable: true;
    readonly meaning: "reading the source or a result failed (network, throttling)";
  };
  readonly OUTPUT_WRITE_FAILED: {
    readonly area: "io";
    readonly retryable: true;
    readonly meaning: "writing chunks, a summary or a report failed";
  };
  readonly ROW_TOO_LARGE: {
    readonly area: "row";
    readonly retryable: false;
    readonly meaning: "a row serializes to more than a chunk's byte bound";
  };
  readonly CELL_ERROR: {
    readonly area: "row";
    readonly retryable: false;
    readonly meaning: "an Excel error value (#DIV/0!) became null";
  };
  readonly CHUNK_REJECTED: {
    readonly area: "chunk";
    readonly retryable: false;
    readonly meaning: "the admin server refused the chunk for good";
  };
  readonly CHUNK_CHECKSUM_MISMATCH: {
    readonly area: "chunk";
    readonly retryable: false;
    readonly meaning: "the chunk's bytes are not the ones its pointer names (size or SHA-256)";
  };
  readonly CHUNK_INVALID: {
    readonly area: "chunk";
    readonly retryable: false;
    readonly meaning: "the chunk's bytes are not the chunk its pointer names";
  };
  readonly CHUNK_TOO_LARGE: {
    readonly area: "chunk";
    readonly retryable: false;
    readonly meaning: "the chunk is over the consumer's maxChunkBytes";
  };
  readonly CHUNK_DEAD_LETTERED: {
    readonly area: "chunk";
    readonly retryable: false;
    readonly meaning: "delivered maxReceiveCount times without an answer";
  };
  readonly MESSAGE_INVALID: {
    readonly area: "chunk";
    readonly retryable: false;
    readonly meaning: "the queue message is not a chunk message of this contract";
  };
  readonly HANDLER_ERROR: {
    readonly area: "chunk";
    readonly retryable: true;
    readonly meaning: "the admin server's handler threw (the chunk is delivered again)";
  };
  readonly HANDLER_RESULT_INVALID: {
    readonly area: "chunk";
    readonly retryable: false;
    readonly meaning: "the handler's answer is not { accepted, rejected }";
  };
  readonly TASK_RESULT_TOO_LARGE: {
    readonly area: "chunk";
    readonly retryable: false;
    readonly meaning: "the answer does not fit Step Functions' 256 KiB output";
  };
  readonly TASK_TOKEN_STALE: {
    readonly area: "consumer";
    readonly retryable: false;
    readonly meaning: "Step Functions no longer accepts the chunk's task token";
  };
  readonly CONSUMER_STOPPING: {
    readonly area: "consumer";
    readonly retryable: true;
    readonly meaning: "the consumer stopped before the chunk was answered";
  };
  readonly TASK_RESULT_INVALID: {
    readonly area: "workflow";
    readonly retryable: false;
    readonly meaning: "a Map Run result is not a TaskResult of this upload";
  };
  readonly CONFIG_INVALID: {
    readonly area: "workflow";
    readonly retryable: false;
    readonly meaning: "a function's environment is missing or malformed";
  };
  readonly FAILURE_RECORD_WRITE_FAILED: {
    readonly area: "workflow";
    readonly retryable: true;
    readonly meaning: "the failure record could not be written";
  };
};
export type ErrorCode = keyof typeof ERROR_CODES;
export type ErrorArea = (typeof ERROR_CODES)[ErrorCode]["area"];
/** The codes of one area, in table order. */
export declare function errorCodesOf<A extends ErrorArea>(
  ...areas: A[]
): {
  [K in ErrorCode]: (typeof ERROR_CODES)[K]["area"] extends A ? K : never;
}[ErrorCode][];
/** Whether trying the same input again can help. */
export declare function isRetryableCode(code: string): boolean;
/** Codes a Lambda task's Retry matches: the converter's transient I/O (the other retryable codes never reach one). */
export declare const RETRYABLE_ERROR_CODES: readonly ErrorCode[];
