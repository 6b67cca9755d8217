import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { EventBridgeEvent } from "aws-lambda";

/*
 * What EventBridge and Lambda do with the workflow's failure notifications: the status-change event Step Functions
 * sends, the rule's pattern that selects it, and the asynchronous invocation of the target function.
 */

// ---------------------------------------------------------------------------------------------------------------
// (a) The "Step Functions Execution Status Change" event
// ---------------------------------------------------------------------------------------------------------------

export const EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change";

export type ExecutionStatus =
  | "RUNNING"
  | "SUCCEEDED"
  | "FAILED"
  | "TIMED_OUT"
  | "ABORTED"
  | "PENDING_REDRIVE";
export type ExecutionRedriveStatus = "REDRIVABLE" | "NOT_REDRIVABLE" | "REDRIVABLE_BY_MAP_RUN";

/** An execution at a status change: what DescribeExecution would return for it. Dates as Date or epoch ms. */
export interface ExecutionStatusChange {
  executionArn: string;
  stateMachineArn: string;
  /** Default: the execution ARN's last segment. */
  name?: string;
  status: ExecutionStatus;
  startDate: Date | number;
  stopDate?: Date | number | null;
  /** The execution input, a JSON string. */
  input?: string | null;
  /** The execution output, a JSON string; kept only for SUCCEEDED (DescribeExecution sets it for no other status). */
  output?: string | null;
  error?: string | null;
  cause?: string | null;
  stateMachineVersionArn?: string | null;
  stateMachineAliasArn?: string | null;
  /** Default 0. */
  redriveCount?: number;
  redriveDate?: Date | number | null;
  /** Default: REDRIVABLE for FAILED, TIMED_OUT and ABORTED; NOT_REDRIVABLE otherwise. */
  redriveStatus?: ExecutionRedriveStatus;
  /** Default: DescribeExecution's reason for a RUNNING or SUCCEEDED execution; null when redrivable. */
  redriveStatusReason?: string | null;
}

export interface ExecutionStatusChangeDetail {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  /** Epoch milliseconds. */
  startDate: number;
  /** Epoch milliseconds; null while RUNNING. */
  stopDate: number | null;
  input: string | null;
  inputDetails: { included: boolean } | null;
  output: string | null;
  outputDetails: { included: boolean } | null;
  error: string | null;
  cause: string | null;
  stateMachineVersionArn: string | null;
  stateMachineAliasArn: string | null;
  redriveCount: number;
  /** Epoch milliseconds; null if never redriven. */
  redriveDate: number | null;
  redriveStatus: ExecutionRedriveStatus;
  redriveStatusReason: string | null;
}

export type ExecutionStatusChangeEvent = EventBridgeEvent<
  typeof EXECUTION_STATUS_CHANGE,
  ExecutionStatusChangeDetail
>;

/**
 * The EventBridge quota behind the status-change event's payload cap: "If the combined escaped input and escaped
 * output sent to EventBridge exceeds 248KB, then the input will be excluded. Similarly, if the escaped output
 * exceeds 248KB, then the output will be excluded."
 */
export const STATUS_CHANGE_PAYLOAD_LIMIT_BYTES = 248 * 1024;

const epochMs = (date: Date | number) => (typeof date === "number" ? date : date.getTime());
const escapedBytes = (json: string | null) => (json === null ? 0 : Buffer.byteLength(JSON.stringify(json)));

/** `arn:partition:states:region:account:execution:...` → its region and account. */
function arnRegionAccount(arn: string): { region: string; account: string } {
  const parts = arn.split(":");
  if (parts.length < 7 || parts[0] !== "arn" || parts[2] !== "states") {
    throw new Error(`not a Step Functions execution ARN: ${arn}`);
  }
  return { region: parts[3] ?? "", account: parts[4] ?? "" };
}

/**
 * The event Step Functions sends to the default event bus when a Standard workflow's execution changes status.
 *
 * Shape: "Automating Step Functions event delivery with EventBridge"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html, formerly cw-events.html),
 * whose example events carry `version` "0", `id`, `detail-type`, `source` "aws.states", `account`, `time` (ISO
 * 8601 to the second), `region`, `resources: [executionArn]`, and a `detail` that "provides the same information
 * as the DescribeExecution API" with `startDate`/`stopDate` as epoch milliseconds; the same page gives the 248 KB
 * input/output exclusion reported through `inputDetails`/`outputDetails`. The detail's other fields (error, cause,
 * the version and alias ARNs, redriveCount/redriveDate/redriveStatus/redriveStatusReason) are DescribeExecution's
 * ("DescribeExecution", https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html:
 * `output` "is set only if the execution succeeds"; `redriveCount` is 0 until a redrive; `redriveStatusReason`
 * explains a NOT_REDRIVABLE status, e.g. "Execution is RUNNING and cannot be redriven"). Absent values are null.
 */
export function executionStatusChangeEvent(
  change: ExecutionStatusChange,
  options: { id?: string; time?: Date } = {},
): ExecutionStatusChangeEvent {
  const { region, account } = arnRegionAccount(change.executionArn);
  const status = change.status;
  let input = change.input ?? null;
  let output = status === "SUCCEEDED" ? (change.output ?? null) : null;
  let inputDetails: { included: boolean } | null = input === null ? null : { included: true };
  let outputDetails: { included: boolean } | null = output === null ? null : { included: true };
  const inputBytes = escapedBytes(input);
  const outputBytes = escapedBytes(output);
  if (input !== null && inputBytes + outputBytes > STATUS_CHANGE_PAYLOAD_LIMIT_BYTES) {
    input = null;
    inputDetails = { included: false };
  }
  if (output !== null && outputBytes > STATUS_CHANGE_PAYLOAD_LIMIT_BYTES) {
    output = null;
    outputDetails = { included: false };
  }
  const redrivable = status === "FAILED" || status === "TIMED_OUT" || status === "ABORTED";
  const redriveStatus = change.redriveStatus ?? (redrivable ? "REDRIVABLE" : "NOT_REDRIVABLE");
  const defaultReason =
    redriveStatus === "NOT_REDRIVABLE" && (status === "RUNNING" || status === "SUCCEEDED")
      ? `Execution is ${status} and cannot be redriven`
      : null;
  const detail: ExecutionStatusChangeDetail = {
    executionArn: change.executionArn,
    stateMachineArn: change.stateMachineArn,
    name: change.name ?? change.executionArn.split(":").at(-1) ?? "",
    status,
    startDate: epochMs(change.startDate),
    stopDate: change.stopDate === undefined || change.stopDate === null ? null : epochMs(change.stopDate),
    input,
    inputDetails,
    output,
    outputDetails,
    error: change.error ?? null,
    cause: change.cause ?? null,
    stateMachineVersionArn: change.stateMachineVersionArn ?? null,
    stateMachineAliasArn: change.stateMachineAliasArn ?? null,
    redriveCount: change.redriveCount ?? 0,
    redriveDate:
      change.redriveDate === undefined || change.redriveDate === null ? null : epochMs(change.redriveDate),
    redriveStatus,
    redriveStatusReason:
      change.redriveStatusReason === undefined ? defaultReason : change.redriveStatusReason,
  };
  return {
    version: "0",
    id: options.id ?? randomUUID(),
    "detail-type": EXECUTION_STATUS_CHANGE,
    source: "aws.states",
    account,
    time: (options.time ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z"),
    region,
    resources: [change.executionArn],
    detail,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// (b) Event patterns
// ---------------------------------------------------------------------------------------------------------------

export type PatternLiteral = string | number | boolean | null;
/** An event pattern of literal values: each leaf lists the values its field may have, nested objects nest fields. */
export interface EventPattern {
  readonly [field: string]: readonly PatternLiteral[] | EventPattern;
}

/** EventBridge's content filters (and `$or`), which this matcher does not implement. */
const OPERATORS = [
  "prefix",
  "suffix",
  "anything-but",
  "numeric",
  "exists",
  "cidr",
  "equals-ignore-case",
  "wildcard",
];

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function assertSupported(pattern: unknown, path: string): void {
  if (!isObject(pattern)) {
    throw new Error(
      `event pattern ${path || "(root)"}: expected an object of fields, got ${JSON.stringify(pattern)}`,
    );
  }
  for (const [field, value] of Object.entries(pattern)) {
    const at = path ? `${path}.${field}` : field;
    if (field === "$or") {
      throw new Error(`event pattern ${at}: the $or operator is not implemented by the local matcher`);
    }
    if (Array.isArray(value)) {
      if (value.length === 0) {
        throw new Error(`event pattern ${at}: an empty list of values is not supported by the local matcher`);
      }
      for (const item of value) {
        if (isObject(item)) {
          const name = Object.keys(item)[0] ?? "";
          throw new Error(
            `event pattern ${at}: the ${JSON.stringify(name)} ${OPERATORS.includes(name) ? "operator" : "filter"} ` +
              "is not implemented by the local matcher (only lists of literal values are)",
          );
        }
        if (Array.isArray(item))
          throw new Error(`event pattern ${at}: nested lists are not valid in a pattern`);
      }
    } else {
      assertSupported(value, at);
    }
  }
}

function matchValues(allowed: readonly PatternLiteral[], value: unknown): boolean {
  if (Array.isArray(value)) return value.some((item) => allowed.some((literal) => literal === item));
  return allowed.some((literal) => literal === value);
}

function matchFields(pattern: EventPattern, value: unknown): boolean {
  if (Array.isArray(value)) return value.some((item) => matchFields(pattern, item));
  if (!isObject(value)) return false;
  for (const [field, expected] of Object.entries(pattern)) {
    if (!Object.hasOwn(value, field)) return false;
    const actual = value[field];
    const ok = Array.isArray(expected)
      ? matchValues(expected as readonly PatternLiteral[], actual)
      : matchFields(expected as EventPattern, actual);
    if (!ok) return false;
  }
  return true;
}

/**
 * Whether an EventBridge rule with `pattern` matches `event`, for patterns made of literal values, per "Event
 * pattern syntax" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html): "the event must
 * contain all the field names listed in the event pattern" "with the same nesting structure", and the value to
 * match is a JSON array of alternatives; "Matching on multiple field values"
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html): when the event's value
 * is an array, the pattern matches "if the intersection of the event pattern array and the event array is
 * non-empty"; "Matching events on null values and empty strings"
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-null-values.html): `[null]` matches a
 * null value and `[""]` an empty string, and the two are not interchangeable. Values compare exactly (strings
 * case-sensitively, a number never equals a string). A nested pattern against an array of objects matches when one
 * element matches it.
 *
 * Content filters (prefix, suffix, anything-but, numeric, exists, cidr, equals-ignore-case, wildcard) and `$or`
 * throw an Error: they are not implemented here, so a rule using them must not silently match differently.
 */
export function matchesPattern(pattern: EventPattern, event: unknown): boolean {
  assertSupported(pattern, "");
  if (!isObject(event)) return false;
  return matchFields(pattern, event);
}

// ---------------------------------------------------------------------------------------------------------------
// (c) Asynchronous invocation
// ---------------------------------------------------------------------------------------------------------------

/** Lambda's defaults: two retries, one minute before the first, two minutes before the second; events kept 6 h. */
export const ASYNC_INVOKE_DEFAULTS = {
  maximumRetryAttempts: 2,
  retryDelaysMs: [60_000, 120_000],
  maximumEventAgeMs: 6 * 60 * 60 * 1000,
} as const;

/** The on-failure destination's `requestContext` fields: why the event was given up, after how many attempts. */
export interface AsyncFailureContext {
  condition: "RetriesExhausted" | "EventAgeExceeded";
  approximateInvokeCount: number;
}

export interface AsyncInvokeOptions<E> {
  /** 0 to 2 (the function's MaximumRetryAttempts). Default 2. */
  maximumRetryAttempts?: number;
  /** Wait before each retry; the last value repeats if the list is short. Default one minute, then two. */
  retryDelaysMs?: readonly number[];
  /** Events older than this are not retried (MaximumEventAgeInSeconds, 60 s to 6 h). Default 6 hours. */
  maximumEventAgeMs?: number;
  /** The on-success destination. */
  onSuccess?: (event: E, result: unknown) => void | Promise<void>;
  /** The on-failure destination: called once, after the last attempt. */
  onFailure?: (event: E, error: unknown, context: AsyncFailureContext) => void | Promise<void>;
  /** Where a destination callback's own error goes. Default: console.error. */
  onError?: (error: unknown) => void;
  /** Abandons pending retries (the local runtime shutting down): settles with status "aborted", no destination. */
  signal?: AbortSignal;
}

export type AsyncInvokeResult<R> =
  | { status: "succeeded"; attempts: number; result: R }
  | { status: "failed"; attempts: number; error: unknown; condition: AsyncFailureContext["condition"] }
  | { status: "aborted"; attempts: number };

/**
 * Invokes `handler` with `event` the way Lambda runs an asynchronous invocation ("How Lambda handles errors and
 * retries with asynchronous invocation", https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html):
 * "If the function returns an error, by default Lambda attempts to run it two more times, with a one-minute wait
 * between the first two attempts, and two minutes between the second and third attempts"; "When an event expires
 * or all processing attempts fail, Lambda discards it". The retries and the event's maximum age are the function's
 * MaximumRetryAttempts ("between 0 and 2") and MaximumEventAgeInSeconds ("up to 6 hours"), per "Configuring
 * error handling settings for Lambda asynchronous invocations"
 * (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-configuring.html).
 * After the last attempt `onFailure` receives the event and the last error, with the `condition` and
 * `approximateInvokeCount` of the invocation record Lambda sends to an on-failure destination ("Capturing records of
 * Lambda asynchronous invocations", https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
 *
 * The returned promise settles when the event is done and never rejects. Throttling and system errors, which Lambda
 * retries for up to six hours, do not occur locally.
 */
export async function invokeAsync<E, R>(
  handler: (event: E) => R | Promise<R>,
  event: E,
  options: AsyncInvokeOptions<E> = {},
): Promise<AsyncInvokeResult<Awaited<R>>> {
  const maximumRetryAttempts = options.maximumRetryAttempts ?? ASYNC_INVOKE_DEFAULTS.maximumRetryAttempts;
  if (!Number.isInteger(maximumRetryAttempts) || maximumRetryAttempts < 0 || maximumRetryAttempts > 2) {
    // Not a rejection: a wrong option is reported and the default used, so the promise still never rejects.
    report(options, new RangeError(`maximumRetryAttempts must be 0, 1 or 2, not ${maximumRetryAttempts}`));
  }
  const retries =
    Number.isInteger(maximumRetryAttempts) && maximumRetryAttempts >= 0 && maximumRetryAttempts <= 2
      ? maximumRetryAttempts
      : ASYNC_INVOKE_DEFAULTS.maximumRetryAttempts;
  const delays = options.retryDelaysMs?.length ? options.retryDelaysMs : ASYNC_INVOKE_DEFAULTS.retryDelaysMs;
  const maximumEventAgeMs = options.maximumEventAgeMs ?? ASYNC_INVOKE_DEFAULTS.maximumEventAgeMs;
  const queuedAt = Date.now();

  let attempts = 0;
  let lastError: unknown;
  for (;;) {
    if (options.signal?.aborted) return { status: "aborted", attempts };
    attempts += 1;
    try {
      const result = await handler(event);
      await deliver(options, () => options.onSuccess?.(event, result));
      return { status: "succeeded", attempts, result };
    } catch (error) {
      lastError = error;
    }
    if (attempts > retries) break;
    const delay = delays[Math.min(attempts - 1, delays.length - 1)] ?? 0;
    try {
      await sleep(delay, undefined, options.signal ? { signal: options.signal } : {});
    } catch {
      return { status: "aborted", attempts };
    }
    if (Date.now() - queuedAt > maximumEventAgeMs) {
      await deliver(options, () =>
        options.onFailure?.(event, lastError, {
          condition: "EventAgeExceeded",
          approximateInvokeCount: attempts,
        }),
      );
      return { status: "failed", attempts, error: lastError, condition: "EventAgeExceeded" };
    }
  }
  await deliver(options, () =>
    options.onFailure?.(event, lastError, {
      condition: "RetriesExhausted",
      approximateInvokeCount: attempts,
    }),
  );
  return { status: "failed", attempts, error: lastError, condition: "RetriesExhausted" };
}

function report(options: { onError?: (error: unknown) => void }, error: unknown): void {
  try {
    (options.onError ?? ((e: unknown) => console.error("async invocation:", e)))(error);
  } catch {
    // nothing left to tell
  }
}

async function deliver(
  options: { onError?: (error: unknown) => void },
  send: () => void | Promise<void> | undefined,
): Promise<void> {
  try {
    await send();
  } catch (error) {
    report(options, error);
  }
}
