import {
  type ErrorCode as ContractErrorCode,
  ERROR_CODES,
  type errorCodesOf,
} from "@sluice/contract/constants";

/**
 * Every failure sluice reports has a stable `code` (Step Functions Retry/Catch match on it, alerts show it),
 * a human message, and whether retrying the same input can help.
 */
/** The codes the converter raises: the contract's workbook, usage and I/O codes. */
export type ErrorCode = Extract<
  ContractErrorCode,
  ReturnType<typeof errorCodesOf<"workbook" | "usage" | "io">>[number]
>;

export interface SluiceErrorOptions {
  cause?: unknown;
  details?: Record<string, unknown>;
}

/** Base of every error core throws. `retryable` is false for anything caused by the input itself. */
export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    // Whether a retry can help is the code's, in the contract's one table.
    this.retryable = ERROR_CODES[code].retryable;
    this.details = options.details ?? {};
  }

  toJSON(): { code: ErrorCode; message: string; retryable: boolean; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, retryable: this.retryable, details: this.details };
  }
}

/** The bytes are not a workbook sluice reads (ODS, legacy .xls, binary). */
export class UnsupportedFormatError extends SluiceError {
  constructor(message: string, options?: SluiceErrorOptions) {
    super("UNSUPPORTED_FORMAT", message, options);
  }
}

export class WorkbookEncryptedError extends SluiceError {
  constructor(options?: SluiceErrorOptions) {
    super(
      "WORKBOOK_ENCRYPTED",
      "The workbook is password-protected (encrypted); remove the password in Excel and upload it again",
      options,
    );
  }
}

/** The container or its XML is broken: a zip that does not open, a missing part, malformed markup. */
export class WorkbookCorruptError extends SluiceError {
  constructor(message: string, options?: SluiceErrorOptions) {
    super("WORKBOOK_CORRUPT", message, options);
  }
}

export class EmptyWorkbookError extends SluiceError {
  constructor(
    message = "The workbook has no data: no non-empty row was found",
    options?: SluiceErrorOptions,
  ) {
    super("EMPTY_WORKBOOK", message, options);
  }
}

export class SheetNotFoundError extends SluiceError {
  readonly sheets: string[];
  constructor(name: string, sheets: string[]) {
    const list = sheets.length ? sheets.map((s) => JSON.stringify(s)).join(", ") : "(none)";
    super("SHEET_NOT_FOUND", `Sheet ${JSON.stringify(name)} not found; the workbook has: ${list}`, {
      details: { sheet: name, sheets },
    });
    this.sheets = sheets;
  }
}

/** A DOCTYPE in workbook XML: never resolved or expanded (XXE, billion laughs). */
export class XmlDtdForbiddenError extends SluiceError {
  constructor(part: string) {
    super("XML_DTD_FORBIDDEN", `The workbook part ${part} declares a DTD, which is never processed`, {
      details: { part },
    });
  }
}

export class EncodingInvalidError extends SluiceError {
  constructor(message: string, options?: SluiceErrorOptions) {
    super("ENCODING_INVALID", message, options);
  }
}

export type LimitCode =
  | "INFLATED_SIZE_EXCEEDED"
  | "INFLATION_RATIO_EXCEEDED"
  | "TOO_MANY_COLUMNS"
  | "TOO_MANY_ROWS"
  | "CELL_TOO_LONG";

/** A safety limit was reached; `details.limit` says which setting to raise if the file is legitimate. */
export class LimitExceededError extends SluiceError {
  constructor(code: LimitCode, message: string, details: Record<string, unknown>) {
    super(code, message, { details });
  }
}

export class InvalidOptionError extends SluiceError {
  constructor(message: string) {
    super("INVALID_OPTION", message);
  }
}

/** Reading the source failed for reasons outside the file's content (I/O, network): retrying can help. */
export class SourceReadError extends SluiceError {
  constructor(message: string, options?: SluiceErrorOptions) {
    super("SOURCE_READ_FAILED", message, options);
  }
}

export class OutputWriteError extends SluiceError {
  constructor(message: string, options?: SluiceErrorOptions) {
    super("OUTPUT_WRITE_FAILED", message, options);
  }
}

export function isSluiceError(error: unknown): error is SluiceError {
  return error instanceof SluiceError;
}
