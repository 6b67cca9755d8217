import { randomUUID } from "node:crypto";
import { LAMBDA_THROTTLED } from "@sluice/workflow";
import { StatesError } from "./task-tokens.ts";

/**
 * How many invocations of each local Lambda function run at once, and the throttling past that: at its maximum
 * concurrency a function's further requests fail with a throttling error (429; "Lambda scaling behavior"), which a
 * Lambda task reports as `Lambda.TooManyRequestsException` (`LAMBDA_THROTTLED`, the error the workflow retries).
 * The limit stands for the account's concurrency (or a function's reserved concurrency): a burst of uploads
 * larger than it is throttled locally as in AWS, so the workflow's Retry of that error is what lets them through.
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
        LAMBDA_THROTTLED,
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
