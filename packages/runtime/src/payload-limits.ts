import { StatesError } from "./task-tokens.ts";

/**
 * "Maximum input or output size for a task, state, or execution: 256 KiB of data as a UTF-8 encoded string"
 * (Step Functions service quotas); SendTaskSuccess's `output` and StartExecution's `input` have the same
 * 262,144-byte length constraint in the API reference.
 */
export const MAX_PAYLOAD_BYTES = 262_144;

/** The JSON text of a value as Step Functions passes it (`undefined` is `null`). */
export function toJson(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/**
 * The value's JSON text, or States.DataLimitExceeded when it is over the quota. That error is terminal:
 * States.ALL does not catch it (see awsErrorMatches).
 */
export function checkedJson(value: unknown, what: string): string {
  const json = toJson(value);
  const bytes = utf8Bytes(json);
  if (bytes > MAX_PAYLOAD_BYTES) {
    throw new StatesError(
      "States.DataLimitExceeded",
      `${what} has a size of ${bytes} bytes, more than the ${MAX_PAYLOAD_BYTES} bytes (256 KiB) Step Functions allows`,
    );
  }
  return json;
}

/** The API's own check of a payload parameter (StartExecution input, SendTaskSuccess output): ValidationException. */
export function checkParameterLength(text: string, parameter: string, max = MAX_PAYLOAD_BYTES): void {
  if (utf8Bytes(text) > max) {
    throw new StatesError(
      "ValidationException",
      `1 validation error detected: Value at '${parameter}' failed to satisfy constraint: Member must have length less than or equal to ${max}`,
    );
  }
}
