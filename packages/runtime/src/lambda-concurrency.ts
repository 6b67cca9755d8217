import { randomUUID } from "node:crypto";
import { StatesError } from "./task-tokens.ts";

/** Lambda's throttling error, as a Lambda task reports it ("Handle Lambda service exceptions"). */
export const LAMBDA_THROTTLED_ERROR = "Lambda.TooManyRequestsException";

/**
 * How many invocations of each local Lambda function run at once, and the throttling past that: "if your function
 * is at maximum concurrency, then additional requests fail with a throttling error (429 status code)", which a
 * Lambda task reports as `Lambda.TooManyRequestsException`. The limit stands for the account's concurrency (or a
 * function's reserved concurrency): a burst of uploads larger than it is throttled locally as in AWS, so the
 * workflow's Retry of that error is what lets them through.
 */
export class LambdaConcurrency {
  readonly #inFlight = new Map<string, number>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`Lambda concurrency must be an integer of 1 or more, got ${limit}`);
  }

  /** A slot for one invocation of `functionName` (call it back when the invocation ends), or a throttle error. */
  acquire(functionName: string): (() => void) | StatesError {
    const running = this.#inFlight.get(functionName) ?? 0;
    if (running >= this.limit) {
      return new StatesError(
        LAMBDA_THROTTLED_ERROR,
        `Rate Exceeded. (Service: AWSLambda; Status Code: 429; Error Code: TooManyRequestsException; Request ID: ${randomUUID()}; Proxy: null)`,
      );
    }
    this.#inFlight.set(functionName, running + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight.set(functionName, (this.#inFlight.get(functionName) ?? 1) - 1);
    };
  }

  /** Invocations of `functionName` running now. */
  running(functionName: string): number {
    return this.#inFlight.get(functionName) ?? 0;
  }
}
