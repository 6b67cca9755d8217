import {
  CONTRACT_VERSION,
  packRejectedRows,
  RejectedRowSchema,
  TASK_FAILURE_LIMITS,
  type TaskFailureCause,
  type TaskResult,
  TaskResultSchema,
} from "@sluice/contract";
import { z } from "zod";
import { ConsumerError } from "./errors.ts";

/** Step Functions' bound on SendTaskSuccess `output`, in UTF-8 bytes. */
export const TASK_OUTPUT_LIMIT_BYTES = 262_144;

const CODE_MAX = RejectedRowSchema.shape.code.maxLength ?? 64;
const MESSAGE_MAX = RejectedRowSchema.shape.message.maxLength ?? 1000;
const ELLIPSIS = "…";

/** Cuts `text` to at most `max` UTF-16 units without splitting a surrogate pair; marks a cut with "…". */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return "";
  let end = max - ELLIPSIS.length;
  if (end <= 0) return text.slice(0, max);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}${ELLIPSIS}`;
}

export interface SuccessOutput {
  result: TaskResult;
  /** The JSON string sent as SendTaskSuccess `output`: at most 256 KiB of UTF-8. */
  output: string;
  /** The longest rejected-row message kept (after the 256 KiB rule), or undefined when none was shortened. */
  messagesShortenedTo: number | undefined;
}

function bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

function issuesText(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`).join("; ");
}

/**
 * Turns a handler's answer into the TaskResult sent with SendTaskSuccess.
 *
 * - Rejected rows' `code` and `message` are cut to the schema's bounds (64 and 1000 characters), then packed
 *   (`packRejectedRows`: each distinct reason once, each row as `[row, reason]`).
 * - If the JSON is still over 256 KiB, every message is cut to one common length, the longest that fits (cut
 *   messages that become equal share one reason): every rejected row stays with its row number and code, so
 *   `accepted` and the rejected count stay true. A 10,000-row chunk whose every row is rejected fits.
 * - If even empty messages do not fit (about 18,000 rejected rows in one chunk), TASK_RESULT_TOO_LARGE is thrown
 *   (the consumer reports it with SendTaskFailure).
 *
 * Throws ConsumerError HANDLER_RESULT_INVALID when the answer is not { accepted, rejected } of the right shape, or,
 * when `chunk.rows` is given, when it does not account for the chunk's rows (see `resultProblems`).
 */
export function buildSuccessOutput(
  answer: unknown,
  chunk: { uploadId: string; index: number; rows?: readonly { row: number }[] },
  durationMs: number,
): SuccessOutput {
  const candidate = answer as { accepted?: unknown; rejected?: unknown } | null | undefined;
  const rejectedIn = candidate?.rejected;
  const rows = z.array(RejectedRowSchema).safeParse(
    Array.isArray(rejectedIn)
      ? rejectedIn.map((row: unknown) => {
          if (row === null || typeof row !== "object") return row;
          const r = row as { row?: unknown; code?: unknown; message?: unknown };
          return {
            row: r.row,
            code: typeof r.code === "string" ? truncate(r.code, CODE_MAX) : r.code,
            message: typeof r.message === "string" ? truncate(r.message, MESSAGE_MAX) : r.message,
          };
        })
      : rejectedIn,
  );
  const parsed = TaskResultSchema.safeParse({
    v: CONTRACT_VERSION,
    uploadId: chunk.uploadId,
    chunkIndex: chunk.index,
    accepted: candidate?.accepted,
    rejected: rows.success ? packRejectedRows(rows.data) : { reasons: [], rows: [] },
    durationMs: Math.max(0, Math.round(durationMs)),
  });
  if (!rows.success || !parsed.success) {
    const issues = [
      ...(rows.success ? [] : prefixed(rows.error.issues, "rejected")),
      ...(parsed.error?.issues ?? []),
    ];
    throw new ConsumerError(
      "HANDLER_RESULT_INVALID",
      `The handler's result for chunk ${chunk.index} is not { accepted: integer >= 0, rejected: { row, code, message }[] }: ${issuesText(issues)}`,
    );
  }
  if (chunk.rows) {
    // Before the 256 KiB rule: a result that cannot be true is a handler bug, whatever its size.
    const problems = resultProblems(parsed.data.accepted, rows.data, chunk.rows);
    if (problems.length > 0) {
      throw new ConsumerError(
        "HANDLER_RESULT_INVALID",
        `The handler's result for chunk ${chunk.index} does not fit the chunk's ${chunk.rows.length} rows: ${problems.join("; ")}`,
      );
    }
  }
  const result = parsed.data;
  const output = JSON.stringify(result);
  if (bytes(output) <= TASK_OUTPUT_LIMIT_BYTES) return { result, output, messagesShortenedTo: undefined };

  const original = rows.data;
  const withMessagesCutTo = (max: number): TaskResult => ({
    ...result,
    rejected: packRejectedRows(original.map((r) => ({ ...r, message: truncate(r.message, max) }))),
  });
  const fits = (max: number) => bytes(JSON.stringify(withMessagesCutTo(max))) <= TASK_OUTPUT_LIMIT_BYTES;
  if (!fits(0)) {
    throw new ConsumerError(
      "TASK_RESULT_TOO_LARGE",
      `The result for chunk ${chunk.index} (${result.accepted} accepted, ${original.length} rejected rows) exceeds Step Functions' 256 KiB output limit even without rejection messages`,
    );
  }
  let lo = 0;
  let hi = MESSAGE_MAX;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  const shortened = withMessagesCutTo(lo);
  return { result: shortened, output: JSON.stringify(shortened), messagesShortenedTo: lo };
}

/** Row numbers for a message: the first few, then how many more. */
function someRows(rows: readonly number[], shown = 10): string {
  const head = rows.slice(0, shown).join(", ");
  return rows.length > shown ? `${head} and ${rows.length - shown} more` : head;
}

/**
 * What makes a result impossible for the chunk it answers (empty when it fits): every row of a chunk is either
 * accepted or rejected, once, so `accepted` + rejected rows must equal the chunk's rows, every rejected row must be
 * one of the chunk's row numbers, and no row may be rejected twice.
 */
export function resultProblems(
  accepted: number,
  rejected: readonly { row: number }[],
  chunkRows: readonly { row: number }[],
): string[] {
  const problems: string[] = [];
  const total = accepted + rejected.length;
  if (total !== chunkRows.length) {
    problems.push(
      `accepted (${accepted}) + rejected (${rejected.length}) = ${total} rows, ${total > chunkRows.length ? "more" : "fewer"} than the chunk's ${chunkRows.length}`,
    );
  }
  // Nothing rejected: only the count can be wrong (no need to index the chunk's 10,000 row numbers).
  if (rejected.length === 0) return problems;
  const inChunk = new Set(chunkRows.map((r) => r.row));
  const seen = new Set<number>();
  const outside = new Set<number>();
  const twice = new Set<number>();
  for (const { row } of rejected) {
    if (!inChunk.has(row)) outside.add(row);
    else if (seen.has(row)) twice.add(row);
    seen.add(row);
  }
  const plural = (rows: Set<number>, one: string, many: string) =>
    `${rows.size > 1 ? many : one} ${someRows([...rows])} ${rows.size > 1 ? "are" : "is"}`;
  if (outside.size > 0) {
    const first = chunkRows[0]?.row;
    const last = chunkRows[chunkRows.length - 1]?.row;
    problems.push(
      `${plural(outside, "rejected row", "rejected rows")} not in the chunk (rows ${first} to ${last})`,
    );
  }
  if (twice.size > 0) problems.push(`${plural(twice, "row", "rows")} rejected more than once`);
  return problems;
}

function prefixed(issues: readonly z.core.$ZodIssue[], key: string): z.core.$ZodIssue[] {
  return issues.map((i) => ({ ...i, path: [key, ...i.path] }));
}

export interface FailureReport {
  /** SendTaskFailure `error`: at most 256 characters. */
  error: string;
  /**
   * SendTaskFailure `cause`: a JSON TaskFailureCause `{ message, code, chunkIndex?, firstRow?, lastRow?, rows?,
   * receiveCount? }`, at most 32,768 characters, always valid JSON.
   */
  cause: string;
}

/** What the consumer knows about the failed chunk, for the cause: the pointer's fields and the receive count. */
export interface FailureContext {
  chunk?: { index: number; firstRow: number; lastRow: number; rows: number };
  receiveCount?: number;
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

/** The message of anything thrown: an Error's message, a string, else its String() (never throws). */
export function thrownMessage(thrown: unknown): string {
  const e = thrown as { message?: unknown } | null | undefined;
  if (e !== null && typeof e === "object" && typeof e.message === "string") return e.message;
  if (typeof thrown === "string") return thrown;
  try {
    return String(thrown);
  } catch {
    return "(unprintable error)";
  }
}

/** The SendTaskFailure `error` of anything thrown: its string `code`, else its `name` (not "Error"), else HANDLER_ERROR. */
export function failureCode(thrown: unknown): string {
  const e = thrown as { code?: unknown; name?: unknown } | null | undefined;
  const isObject = e !== null && typeof e === "object";
  const code = isObject && nonEmptyString(e.code) ? e.code : undefined;
  const name = isObject && nonEmptyString(e.name) && e.name !== "Error" ? e.name : undefined;
  return truncate(code ?? name ?? "HANDLER_ERROR", TASK_FAILURE_LIMITS.errorLength);
}

/**
 * What a failure becomes in SendTaskFailure: `error` is the thrown value's string `code`, else its `name`, else
 * HANDLER_ERROR; `cause` is the contract's TaskFailureCause as JSON: the message (cut so the JSON fits), the same
 * code, and the chunk's index, rows and receive count when `context` gives them.
 */
export function describeFailure(thrown: unknown, context: FailureContext = {}): FailureReport {
  const error = failureCode(thrown);
  const message = thrownMessage(thrown);
  const { chunk, receiveCount } = context;
  const render = (m: string) => {
    const cause: TaskFailureCause = { message: m, code: error };
    if (chunk) {
      cause.chunkIndex = chunk.index;
      cause.firstRow = chunk.firstRow;
      cause.lastRow = chunk.lastRow;
      cause.rows = chunk.rows;
    }
    if (receiveCount !== undefined) cause.receiveCount = receiveCount;
    return JSON.stringify(cause);
  };
  const limit = TASK_FAILURE_LIMITS.causeLength;
  let cause = render(message);
  if (cause.length > limit) {
    // The longest cut of the message whose JSON (escapes included) fits.
    let lo = 0;
    let hi = Math.min(message.length, limit);
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (render(truncate(message, mid)).length <= limit) lo = mid;
      else hi = mid - 1;
    }
    cause = render(truncate(message, lo));
  }
  return { error, cause };
}
