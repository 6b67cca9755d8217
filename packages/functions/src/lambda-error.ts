import { isSluiceError } from "@sluice/core";

/**
 * Step Functions matches Retry (on the contract's RETRYABLE_ERROR_CODES) on the Lambda error's errorType (and the execution fails with it), which the Node runtime takes from
 * `error.name`: a SluiceError leaves as an Error named by its code with its human message.
 */
export function toLambdaError(error: unknown): Error {
  if (isSluiceError(error)) {
    const mapped = new Error(error.message, { cause: error });
    mapped.name = error.code;
    return mapped;
  }
  if (error instanceof Error) return error;
  return new Error(typeof error === "string" ? error : JSON.stringify(error));
}

/** Runs `work` so that whatever it throws crosses into Step Functions through `toLambdaError`. */
export async function withLambdaErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toLambdaError(error);
  }
}
