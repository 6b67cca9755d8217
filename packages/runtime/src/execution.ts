import type { MapRun } from "./map-run.ts";

export type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

/** One event of GetExecutionHistory, in the API's shape (timestamps in epoch seconds). */
export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: string;
  [details: string]: unknown;
}

/**
 * What an execution used, counted the way AWS bills a Standard workflow: a transition per state entered and per
 * Retry attempt, one per child execution a Distributed Map starts (or redrives) plus the transitions inside it,
 * one per redrive; Lambda invocations and their wall time (each call rounded up to 1 ms, as Lambda bills).
 */
export interface Usage {
  transitions: number;
  childExecutions: number;
  lambdaInvocations: number;
  lambdaMs: number;
}

/**
 * One branch of a Parallel state as its latest run left it: SUCCEEDED with its output (a redrive keeps it), or
 * stopped (FAILED, or ABORTED because another branch failed or the execution stopped) at the state it was in,
 * where a redrive resumes it (at its StartAt when it had entered none).
 */
export interface BranchProgress {
  status: "RUNNING" | "SUCCEEDED" | "FAILED" | "ABORTED";
  output?: unknown;
  stoppedAt?: { name: string; input: unknown };
}

export const REDRIVABLE: ReadonlySet<ExecutionStatus> = new Set(["FAILED", "TIMED_OUT", "ABORTED"]);

/** "This period starts from the day a state machine completes its execution" (RedriveExecution). */
const REDRIVABLE_PERIOD_MS = 14 * 24 * 3600 * 1000;

/**
 * One execution of the workflow: what DescribeExecution reports, its history, its Map Runs and its usage. The
 * same object lives on across redrives (same ARN); `done` is the promise of the current run.
 */
export class Execution {
  status: ExecutionStatus = "RUNNING";
  stopDate?: Date;
  output?: unknown;
  error?: string;
  cause?: string;
  /** How many times RedriveExecution restarted it. */
  redriveCount = 0;
  redriveDate?: Date;
  /** Settles when the current run (the start or the latest redrive) ends. */
  done!: Promise<Execution>;
  readonly history: HistoryEvent[] = [];
  /** Its Map Runs, oldest first (ListMapRuns answers newest first). */
  readonly mapRuns: MapRun[] = [];
  readonly usage: Usage = { transitions: 0, childExecutions: 0, lambdaInvocations: 0, lambdaMs: 0 };
  /** @internal Stops the current run (StopExecution). */
  control?: { abort(): void };
  /** @internal What StopExecution gave as the reason. */
  stopRequest?: { error?: string; cause?: string };
  /**
   * @internal The Distributed Map and Parallel states a redrive resumes at (a Parallel's branches may resume at
   * a Map of their own): each takes its name out on entering, and runs its unfinished part again (the failed
   * Map Run; the branches that did not succeed).
   */
  readonly redriveStates = new Set<string>();
  /** @internal Each Parallel state's branches as its latest run left them, by state name (what a redrive resumes). */
  readonly parallels = new Map<string, BranchProgress[]>();

  constructor(
    readonly executionArn: string,
    readonly stateMachineArn: string,
    readonly name: string,
    readonly input: unknown,
    readonly startDate: Date = new Date(),
  ) {}

  /** Appends a history event (ids from 1, each pointing at the one before). */
  record(type: string, details: Record<string, unknown> = {}): void {
    const id = this.history.length + 1;
    this.history.push({ id, previousEventId: id - 1, timestamp: Date.now() / 1000, type, ...details });
  }

  /** Why RedriveExecution refuses this execution now, or undefined when it can be redriven. */
  notRedrivableReason(now = Date.now()): string | undefined {
    if (!REDRIVABLE.has(this.status)) return `Execution is ${this.status} and cannot be redriven.`;
    if (this.stopDate && now - this.stopDate.getTime() > REDRIVABLE_PERIOD_MS)
      return "Execution redrivable period exceeded.";
    return undefined;
  }

  /**
   * Where a redrive resumes, by AWS's rule: the state of the last run (since ExecutionStarted or the latest
   * ExecutionRedriven) with an `<type>StateEntered` event and no matching `<type>StateExited`, with the input it
   * entered with. A state whose error a Catch handled has its Exited event, so it is not run again. `{}` when
   * the last run entered no state at all (it resumes at StartAt); undefined when every state it entered exited.
   * `topLevel`: the names of the machine's own states, so a Parallel branch's events (in the same history) are
   * not taken for them.
   */
  unfinishedState(
    topLevel?: ReadonlySet<string>,
  ): { name: string; input: unknown } | Record<string, never> | undefined {
    const start = this.history.findLastIndex(
      (e) => e.type === "ExecutionStarted" || e.type === "ExecutionRedriven",
    );
    const open = new Map<string, unknown>();
    let entered = false;
    for (const event of this.history.slice(start + 1)) {
      if (event.type.endsWith("StateEntered")) {
        const details = event.stateEnteredEventDetails as { name: string; input: string };
        // A Parallel branch's states share the history; the branches keep their own progress (`parallels`).
        if (topLevel && !topLevel.has(details.name)) continue;
        open.delete(details.name);
        open.set(details.name, JSON.parse(details.input));
        entered = true;
      } else if (event.type.endsWith("StateExited")) {
        open.delete((event.stateExitedEventDetails as { name: string }).name);
      }
    }
    if (!entered) return {};
    const last = [...open].at(-1);
    return last ? { name: last[0], input: last[1] } : undefined;
  }
}
