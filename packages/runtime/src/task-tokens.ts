import { randomBytes } from "node:crypto";

/** Errors with the names the Step Functions API and its state machines use. */
export class StatesError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/**
 * The longest delay Node's setTimeout holds (2^31 - 1 ms, about 24.8 days); a longer one overflows and fires after
 * 1 ms. Every local timer (task timeouts, heartbeats, the library's own Task timer) is capped here, so a Task
 * attempt or Distributed Map state runs at most this long locally even where AWS allows more (up to the 1-year
 * execution limit): past it, it fails with States.Timeout.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer delay for `seconds`, capped at MAX_TIMER_MS. */
export function timerMs(seconds: number): number {
  return Math.min(Math.max(1, Math.round(seconds * 1000)), MAX_TIMER_MS);
}

/** How many settled tokens are remembered to answer TaskTimedOut rather than TaskDoesNotExist. */
const REMEMBERED_TOKENS = 100_000;

interface Waiter {
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
  heartbeatTimer?: NodeJS.Timeout;
  timeoutTimer?: NodeJS.Timeout;
  dispose: () => void;
  onHeartbeat?: () => void;
}

export interface WaitOptions {
  /** HeartbeatSeconds: without it there is no heartbeat clock (a SendTaskHeartbeat is still accepted). */
  heartbeatSeconds?: number;
  /** TimeoutSeconds, counted from the call (the task's start). */
  timeoutSeconds?: number;
  signal?: AbortSignal;
  onHeartbeat?: () => void;
}

export interface CallbackOptions extends WaitOptions {
  /**
   * The service integration's request carrying the token (e.g. SQS SendMessage). Its rejection fails the attempt
   * with that error; its result goes to onSubmitted.
   */
  send: () => Promise<unknown>;
  /** The request went out and the task is still waiting for its token (TaskSubmitted). */
  onSubmitted?: (response: unknown) => void;
}

/**
 * Task tokens of waitForTaskToken states: each attempt gets a fresh token, the callback settles it, and the
 * heartbeat and timeout are enforced the way Step Functions does (States.HeartbeatTimeout, States.Timeout).
 * A token that was settled, timed out or aborted answers TaskTimedOut, an unknown one TaskDoesNotExist.
 */
export class TaskTokens {
  private readonly waiting = new Map<string, Waiter>();
  private readonly finished = new Set<string>();

  issue(): string {
    return `sluice-local-${randomBytes(24).toString("base64url")}`;
  }

  /**
   * One attempt of a callback task: starts its clocks (TimeoutSeconds counts from the task's start), sends the
   * request with `send`, and waits for the token. It resolves once the request was sent and the token
   * succeeded (in that order, whichever came first), so the submission is always seen before the result. The
   * returned promise is the only one left behind: a send that throws settles the token and rejects with the
   * send's error, and no timer outlives the attempt.
   */
  callback(token: string, options: CallbackOptions): Promise<unknown> {
    const waiting = this.wait(token, options);
    if (!this.waiting.has(token)) return waiting;
    let settledWithError = false;
    waiting.catch(() => {
      settledWithError = true;
    });
    const submitted = Promise.resolve()
      .then(() => options.send())
      .then((response) => {
        if (!settledWithError) options.onSubmitted?.(response);
      })
      .catch((error: unknown) => {
        const e = error instanceof Error ? error : new Error(String(error));
        this.settle(token, (w) => w.reject(e));
        throw e;
      });
    return Promise.all([waiting, submitted]).then(([output]) => output);
  }

  /** Waits for the callback on `token`; rejects with a StatesError on failure, timeout or abort. */
  wait(token: string, options: WaitOptions = {}): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const aborted = () =>
        this.settle(token, (w) => w.reject(new StatesError("States.Aborted", "The execution stopped")));
      const waiter: Waiter = {
        resolve,
        reject,
        dispose: () => options.signal?.removeEventListener("abort", aborted),
        ...(options.onHeartbeat ? { onHeartbeat: options.onHeartbeat } : {}),
      };
      this.waiting.set(token, waiter);
      if (options.signal?.aborted) {
        aborted();
        return;
      }
      options.signal?.addEventListener("abort", aborted, { once: true });
      if (options.heartbeatSeconds) {
        waiter.heartbeatTimer = setTimeout(
          () =>
            this.settle(token, (w) =>
              w.reject(new StatesError("States.HeartbeatTimeout", "No heartbeat within HeartbeatSeconds")),
            ),
          timerMs(options.heartbeatSeconds),
        );
      }
      if (options.timeoutSeconds) {
        waiter.timeoutTimer = setTimeout(
          () =>
            this.settle(token, (w) =>
              w.reject(new StatesError("States.Timeout", "The task did not finish within TimeoutSeconds")),
            ),
          timerMs(options.timeoutSeconds),
        );
      }
    });
  }

  succeed(token: string, output: unknown): void {
    this.settle(token, (w) => w.resolve(output), true);
  }

  fail(token: string, error: string, cause: string): void {
    this.settle(token, (w) => w.reject(new StatesError(error || "States.TaskFailed", cause)), true);
  }

  /** Resets the heartbeat clock; accepted for a task without HeartbeatSeconds too (it has no clock to reset). */
  heartbeat(token: string): void {
    const waiter = this.lookup(token);
    waiter.heartbeatTimer?.refresh();
    waiter.onHeartbeat?.();
  }

  /** Tokens still waiting for their callback. */
  get pending(): number {
    return this.waiting.size;
  }

  isWaiting(token: string): boolean {
    return this.waiting.has(token);
  }

  private lookup(token: string): Waiter {
    if (!token.startsWith("sluice-local-"))
      throw new StatesError("InvalidToken", "Invalid Token: not a task token");
    const waiter = this.waiting.get(token);
    if (waiter) return waiter;
    if (this.finished.has(token))
      throw new StatesError("TaskTimedOut", "Task Timed Out: the task is no longer waiting");
    throw new StatesError("TaskDoesNotExist", "Task does not exist anymore");
  }

  private settle(token: string, apply: (waiter: Waiter) => void, fromCallback = false): void {
    const waiter = fromCallback ? this.lookup(token) : this.waiting.get(token);
    if (!waiter) return;
    clearTimeout(waiter.heartbeatTimer);
    clearTimeout(waiter.timeoutTimer);
    waiter.dispose();
    this.waiting.delete(token);
    this.finished.add(token);
    if (this.finished.size > REMEMBERED_TOKENS) {
      const oldest = this.finished.values().next().value;
      if (oldest !== undefined) this.finished.delete(oldest);
    }
    apply(waiter);
  }
}
