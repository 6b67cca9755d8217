/** Bound on the cause a dead-letter record carries (SQS allows 256 KiB; a person reads far less). */
export const CAUSE_LIMIT = 4096;

export interface ParsedCause {
  /** The human message. */
  message: string;
  chunkIndex?: number;
  /** The errorType of a Lambda error, when the Cause was one. */
  errorType?: string;
}

function truncateCause(text: string): string {
  return text.length <= CAUSE_LIMIT ? text : `${text.slice(0, CAUSE_LIMIT - 1)}…`;
}

/**
 * Reads the Cause Step Functions put beside an Error: a Lambda error's JSON (`{"errorType","errorMessage",
 * "trace"}`) gives its errorMessage; a chunk failure's JSON (`{"chunkIndex":N,"cause":"..."}`) gives the chunk
 * and its cause (itself possibly a Lambda error); anything else is the message as it is.
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
    // The workflow's failed chunk: { chunkIndex, firstRow, lastRow, failure: { Error, Cause } }.
    const failure = object.failure as { Error?: unknown; Cause?: unknown } | undefined;
    const innerCause = typeof object.cause === "string" ? object.cause : failure?.Cause;
    const inner = typeof innerCause === "string" ? parseCause(innerCause) : undefined;
    const errorName = typeof failure?.Error === "string" ? failure.Error : undefined;
    result.message =
      inner?.message || (typeof object.error === "string" ? object.error : "") || errorName || raw;
    if (inner?.errorType) result.errorType = inner.errorType;
    else if (errorName) result.errorType = errorName;
  } else if (typeof object.errorMessage === "string") {
    result.message = object.errorMessage;
    if (typeof object.errorType === "string") result.errorType = object.errorType;
  } else if (typeof object.message === "string") {
    result.message = object.message;
  } else {
    result.message = raw;
  }
  result.message = truncateCause(result.message);
  return result;
}
