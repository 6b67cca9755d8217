/** Bound on the cause a failure record carries (Step Functions allows 32 KiB; a person reads far less). */
export const CAUSE_LIMIT = 4096;

export interface ParsedCause {
  /** The human message. */
  message: string;
  chunkIndex?: number;
  /** The chunk's rows, when the Cause names them (a TaskFailureCause). */
  firstRow?: number;
  lastRow?: number;
  rows?: number;
  /** The errorType of a Lambda error, or the code of a TaskFailureCause, when the Cause was one. */
  errorType?: string;
}

const count = (value: unknown, min: number): number | undefined =>
  typeof value === "number" && Number.isInteger(value) && value >= min ? value : undefined;

function truncateCause(text: string): string {
  return text.length <= CAUSE_LIMIT ? text : `${text.slice(0, CAUSE_LIMIT - 1)}…`;
}

/**
 * Reads the Cause Step Functions put beside an Error: a Lambda error's JSON (`{"errorType","errorMessage",
 * "trace"}`) gives its errorMessage; a chunk's TaskFailureCause (`{"message","code","chunkIndex","firstRow",
 * "lastRow","rows"}`, what the consumer and the chunk dead-letter handler send) gives the chunk, its rows and
 * message; an older chunk failure's JSON (`{"chunkIndex":N,"cause":"..."}`) gives the chunk and its cause (itself
 * possibly a Lambda error); anything else is the message as it is.
 */
export function parseCause(cause: string | null | undefined): ParsedCause {
  const raw = (cause ?? "").trim();
  let parsed: unknown;
  try {
    parsed = raw.startsWith("{") ? JSON.parse(raw) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return { message: truncateCause(raw) };
  }
  const object = parsed as Record<string, unknown>;
  const result: ParsedCause = { message: "" };
  const chunkIndex = object.chunkIndex;
  if (typeof chunkIndex === "number" && Number.isInteger(chunkIndex) && chunkIndex >= 0) {
    result.chunkIndex = chunkIndex;
    const firstRow = count(object.firstRow, 1);
    const lastRow = count(object.lastRow, 1);
    const rows = count(object.rows, 0);
    if (firstRow !== undefined) result.firstRow = firstRow;
    if (lastRow !== undefined) result.lastRow = lastRow;
    if (rows !== undefined) result.rows = rows;
    // The workflow's failed chunk: { chunkIndex, firstRow, lastRow, failure: { Error, Cause } }.
    const failure = object.failure as { Error?: unknown; Cause?: unknown } | undefined;
    const innerCause = typeof object.cause === "string" ? object.cause : failure?.Cause;
    const inner = typeof innerCause === "string" ? parseCause(innerCause) : undefined;
    const errorName = typeof failure?.Error === "string" ? failure.Error : undefined;
    result.message =
      inner?.message ||
      (typeof object.message === "string" ? object.message : "") ||
      (typeof object.error === "string" ? object.error : "") ||
      errorName ||
      raw;
    if (inner?.errorType) result.errorType = inner.errorType;
    else if (errorName) result.errorType = errorName;
    else if (typeof object.code === "string" && object.code) result.errorType = object.code;
  } else if (typeof object.errorMessage === "string") {
    result.message = object.errorMessage;
    if (typeof object.errorType === "string") result.errorType = object.errorType;
  } else if (typeof object.message === "string") {
    result.message = object.message;
    if (typeof object.code === "string" && object.code) result.errorType = object.code;
  } else {
    result.message = raw;
  }
  result.message = truncateCause(result.message);
  return result;
}
