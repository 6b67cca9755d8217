import {
  CONTRACT_VERSION,
  RejectedRowSchema,
  TASK_FAILURE_LIMITS,
  type TaskResult,
  TaskResultSchema,
} from "@sluice/core/contract";
import type { z } from "zod";
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
 * - Rejected rows' `code` and `message` are cut to the schema's bounds (64 and 1000 characters).
 * - If the JSON is still over 256 KiB, every message is cut to one common length, the longest that fits:
 *   every rejected row stays, with its row number and code, so `accepted` and `rejected.length` stay true.
 * - If even empty messages do not fit, nothing is cut further: TASK_RESULT_TOO_LARGE is thrown (the
 *   consumer reports it with SendTaskFailure). With sluice's chunk bounds (500 rows) this cannot happen.
 *
 * Throws ConsumerError HANDLER_RESULT_INVALID when the answer is not { accepted, rejected } of the right shape.
 */
export function buildSuccessOutput(
  answer: unknown,
  chunk: { uploadId: string; index: number },
  durationMs: number,
): SuccessOutput {
  const candidate = answer as { accepted?: unknown; rejected?: unknown } | null | undefined;
  const rejectedIn = candidate?.rejected;
  const rejected = Array.isArray(rejectedIn)
    ? rejectedIn.map((row: unknown) => {
        if (row === null || typeof row !== "object") return row;
        const r = row as { row?: unknown; code?: unknown; message?: unknown };
        return {
          row: r.row,
          code: typeof r.code === "string" ? truncate(r.code, CODE_MAX) : r.code,
          message: typeof r.message === "string" ? truncate(r.message, MESSAGE_MAX) : r.message,
        };
      })
    : rejectedIn;
  const parsed = TaskResultSchema.safeParse({
    v: CONTRACT_VERSION,
    uploadId: chunk.uploadId,
    chunkIndex: chunk.index,
    accepted: candidate?.accepted,
    rejected,
    durationMs: Math.max(0, Math.round(durationMs)),
  });
  if (!parsed.success) {
    throw new ConsumerError(
      "HANDLER_RESULT_INVALID",
      `The handler's result for chunk ${chunk.index} is not { accepted: integer >= 0, rejected: { row, code, message }[] }: ${issuesText(parsed.error.issues)}`,
      false,
    );
  }
  const result = parsed.data;
  const output = JSON.stringify(result);
  if (bytes(output) <= TASK_OUTPUT_LIMIT_BYTES) return { result, output, messagesShortenedTo: undefined };

  const withMessagesCutTo = (max: number): TaskResult => ({
    ...result,
    rejected: result.rejected.map((r) => ({ ...r, message: truncate(r.message, max) })),
  });
  const fits = (max: number) => bytes(JSON.stringify(withMessagesCutTo(max))) <= TASK_OUTPUT_LIMIT_BYTES;
  if (!fits(0)) {
    throw new ConsumerError(
      "TASK_RESULT_TOO_LARGE",
      `The result for chunk ${chunk.index} (${result.accepted} accepted, ${result.rejected.length} rejected rows) exceeds Step Functions' 256 KiB output limit even without rejection messages`,
      false,
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

export interface FailureReport {
  /** SendTaskFailure `error`: at most 256 characters. */
  error: string;
  /** SendTaskFailure `cause`: JSON `{ message, code? }`, at most 32,768 characters, always valid JSON. */
  cause: string;
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

/**
 * What a thrown error becomes in SendTaskFailure: `error` is its string `code`, else its `name`, else
 * HANDLER_ERROR; `cause` is JSON `{ "message": ..., "code": ... }` with the message cut so the JSON fits.
 */
export function describeFailure(thrown: unknown): FailureReport {
  const e = thrown as { code?: unknown; name?: unknown; message?: unknown } | null | undefined;
  const isObject = e !== null && typeof e === "object";
  const code = isObject && nonEmptyString(e.code) ? e.code : undefined;
  const name = isObject && nonEmptyString(e.name) && e.name !== "Error" ? e.name : undefined;
  const error = truncate(code ?? name ?? "HANDLER_ERROR", TASK_FAILURE_LIMITS.errorLength);
  let message: string;
  if (isObject && typeof e.message === "string") message = e.message;
  else if (typeof thrown === "string") message = thrown;
  else {
    try {
      message = String(thrown);
    } catch {
      message = "(unprintable error)";
    }
  }
  const limit = TASK_FAILURE_LIMITS.causeLength;
  const render = (m: string) =>
    JSON.stringify(code === undefined ? { message: m } : { message: m, code: error });
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
