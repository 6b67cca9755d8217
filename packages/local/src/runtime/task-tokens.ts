import { randomBytes } from "node:crypto";

/** Errors with the names the Step Functions API and its state machines use. */
export class StatesError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

interface Waiter {
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
  heartbeatTimer?: NodeJS.Timeout;
  timeoutTimer?: NodeJS.Timeout;
  heartbeatMs?: number;
  onHeartbeat?: () => void;
}

export interface WaitOptions {
  heartbeatSeconds?: number;
  timeoutSeconds?: number;
  signal?: AbortSignal;
  onHeartbeat?: () => void;
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

  /** Waits for the callback on `token`; rejects with a StatesError on failure, timeout or abort. */
  wait(token: string, options: WaitOptions = {}): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        ...(options.onHeartbeat ? { onHeartbeat: options.onHeartbeat } : {}),
      };
      const finish = (error: Error) => this.settle(token, (w) => w.reject(error));
      if (options.heartbeatSeconds) {
        waiter.heartbeatMs = options.heartbeatSeconds * 1000;
        waiter.heartbeatTimer = setTimeout(
          () => finish(new StatesError("States.HeartbeatTimeout", "No heartbeat within HeartbeatSeconds")),
          waiter.heartbeatMs,
        );
      }
      if (options.timeoutSeconds) {
        waiter.timeoutTimer = setTimeout(
          () => finish(new StatesError("States.Timeout", "The task did not finish within TimeoutSeconds")),
          options.timeoutSeconds * 1000,
        );
      }
      options.signal?.addEventListener(
        "abort",
        () => finish(new StatesError("States.Aborted", "The execution stopped")),
        {
          once: true,
        },
      );
      this.waiting.set(token, waiter);
    });
  }

  succeed(token: string, output: unknown): void {
    this.settle(token, (w) => w.resolve(output), true);
  }

  fail(token: string, error: string, cause: string): void {
    this.settle(token, (w) => w.reject(new StatesError(error || "States.TaskFailed", cause)), true);
  }

  heartbeat(token: string): void {
    const waiter = this.lookup(token);
    if (waiter.heartbeatTimer && waiter.heartbeatMs) waiter.heartbeatTimer.refresh();
    waiter.onHeartbeat?.();
  }

  get pending(): number {
    return this.waiting.size;
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
    this.waiting.delete(token);
    this.finished.add(token);
    apply(waiter);
  }
}
