import "./promise-with-resolvers.ts";
import { LAMBDA_THROTTLED } from "@sluice/workflow";
import {
  ExecutionAbortedError,
  ExecutionTimeoutError,
  type RunOptions,
  StateMachine,
  type StateMachineDefinition,
} from "aws-local-stepfunctions";
import { MAX_TIMER_MS } from "./task-tokens.ts";

/**
 * The one place that talks to aws-local-stepfunctions 3.0.0 (and holds every cast to its types). The library
 * runs the transitions, Choice, Wait, Succeed and Fail states, Retry and Catch; every Task, Pass and Distributed
 * Map state is a "local state" instead: the library sees a bare Task (its Retry, Catch, Next/End only) whose
 * handler receives the state's raw input and returns the state's output, so input/output processing, the
 * context object, payload limits and timers are the local runtime's own (see local-states.ts).
 */

export type StateDefinition = Record<string, unknown> & { Type: string };

export interface Asl {
  StartAt: string;
  States: Record<string, StateDefinition>;
  TimeoutSeconds?: number;
  [key: string]: unknown;
}

/** A local state's handler: the state's raw input in, the state's output (after ResultPath/OutputPath) out. */
export type LocalStateHandler = (rawInput: unknown) => Promise<unknown>;

/** What the library's event log reports, in the order it happened. */
export type MachineEvent =
  | { type: "StateEntered"; name: string; input: unknown; timestamp: number }
  | { type: "StateExited"; name: string; output: unknown; timestamp: number }
  | { type: "StateRetried"; name: string; timestamp: number };

/** How a run ended. */
export type RunOutcome =
  | { status: "SUCCEEDED"; output: unknown }
  | { status: "FAILED" | "TIMED_OUT"; error: string; cause: string }
  | { status: "ABORTED" };

export interface MachineRun {
  /** Settles once the run ended and every event of its log was delivered to onEvent. */
  outcome: Promise<RunOutcome>;
  abort(): void;
}

export interface RunRequest {
  /** The state to start at (a redrive resumes at the unfinished state); default StartAt. */
  startAt?: string;
  input: unknown;
  /** One handler per local state (see LocalStateMachine.localStates). */
  handlers: Record<string, LocalStateHandler>;
  /** Replaces every Retry interval (ms) but a throttle's (see `retryIntervals`). */
  retryIntervalMs?: number;
  /** Called for each event, in order, before `outcome` settles. */
  onEvent(event: MachineEvent): void;
  /**
   * Called as soon as the library's run has ended (before its last events are delivered): from then on, what
   * the still-running local handlers do belongs to no run (an aborted task finishing late).
   */
  onEnd?(): void;
}

/** The Task the library runs in place of a local state: it needs a valid Lambda ARN, its handler overrides it. */
const LOCAL_STATE_RESOURCE = "arn:aws:lambda:us-east-1:000000000000:function:sluice-local-state";
/** The library gives every Task a timer (60 s without TimeoutSeconds); ours stay the real ones (see MAX_TIMER_MS). */
const LIBRARY_TASK_TIMEOUT_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/** Errors no Retry or Catch handles, and the one only an explicit ErrorEquals does (Developer Guide, "Handling errors"). */
const NEVER_HANDLED = "States.Runtime";
const ONLY_BY_NAME = "States.DataLimitExceeded";

/**
 * Whether a retrier's or catcher's ErrorEquals matches an error, as AWS decides it: the error's own name; else
 * `States.ALL` (not for States.DataLimitExceeded); else `States.TaskFailed` in a Task state (not for
 * States.Timeout). States.Runtime matches nothing ("A States.Runtime error isn't retriable, and will always cause
 * the execution to fail").
 */
export function awsErrorMatches(name: string, errorEquals: readonly string[], stateType: string): boolean {
  if (name === NEVER_HANDLED) return false;
  if (errorEquals.includes(name)) return true;
  if (name === ONLY_BY_NAME) return false;
  if (errorEquals.includes("States.ALL")) return true;
  return stateType === "Task" && name !== "States.Timeout" && errorEquals.includes("States.TaskFailed");
}

/**
 * Makes the library match a local state's error by AWS's rules. The library tests
 * `error.isRetryable ?? true` once per retrier and `error.isCatchable ?? true` once per catcher, in order,
 * before its own name match (StateExecutor.shouldRetry / catchError in its source), so a getter that answers
 * for the n-th retrier/catcher on its n-th read gives exactly awsErrorMatches: AWS's match implies the
 * library's, and where they differ (States.TaskFailed vs our States.Timeout, States.ALL vs the terminal
 * errors) AWS's wins.
 */
function withAwsMatching(error: unknown, state: StateDefinition): Error {
  const e = error instanceof Error ? error : new Error(String(error));
  const retriers = (state.Retry as { ErrorEquals: string[] }[] | undefined) ?? [];
  const catchers = (state.Catch as { ErrorEquals: string[] }[] | undefined) ?? [];
  let retrier = 0;
  let catcher = 0;
  Object.defineProperties(e, {
    isRetryable: {
      configurable: true,
      get: () => awsErrorMatches(e.name, retriers[retrier++]?.ErrorEquals ?? [], state.Type),
    },
    isCatchable: {
      configurable: true,
      get: () => awsErrorMatches(e.name, catchers[catcher++]?.ErrorEquals ?? [], state.Type),
    },
  });
  return e;
}

interface LibraryEvent {
  type: string;
  timestamp: number;
  index?: number;
  state?: { name: string; input?: unknown; output?: unknown };
}

function toMachineEvent(event: LibraryEvent): MachineEvent | undefined {
  const state = event.state;
  if (!state || event.index !== undefined) return undefined;
  if (event.type === "StateEntered")
    return { type: "StateEntered", name: state.name, input: state.input, timestamp: event.timestamp };
  if (event.type === "StateExited")
    return { type: "StateExited", name: state.name, output: state.output, timestamp: event.timestamp };
  if (event.type === "StateRetried")
    return { type: "StateRetried", name: state.name, timestamp: event.timestamp };
  return undefined;
}

function outcomeOf(error: unknown): RunOutcome {
  if (error instanceof ExecutionAbortedError) return { status: "ABORTED" };
  if (error instanceof ExecutionTimeoutError)
    return {
      status: "TIMED_OUT",
      error: "States.Timeout",
      cause: "The execution timed out (TimeoutSeconds)",
    };
  const e = error as Error & { cause?: unknown };
  const failure = e?.cause instanceof Error ? e.cause : e;
  return { status: "FAILED", error: failure?.name ?? "Error", cause: failure?.message ?? String(error) };
}

/**
 * One state machine (the workflow, a Parallel state's branch, or a Distributed Map's ItemProcessor) prepared for
 * the library. `isLocal` picks the states the local runtime runs itself; an inline Map, or a Parallel state
 * `isLocal` does not take, is refused, since the library would not redrive them as AWS does (only the failed
 * iterations or branches).
 */
export class LocalStateMachine {
  readonly startAt: string;
  readonly states: Record<string, StateDefinition>;
  readonly localStates: ReadonlySet<string>;
  private readonly definition: Asl;
  private readonly machines = new Map<string, StateMachine>();

  constructor(asl: Asl, isLocal: (name: string, state: StateDefinition) => boolean) {
    this.startAt = asl.StartAt;
    this.states = asl.States;
    const local = new Set<string>();
    const states: Record<string, StateDefinition> = {};
    for (const [name, state] of Object.entries(asl.States)) {
      if ((state.Type === "Parallel" || state.Type === "Map") && !isLocal(name, state)) {
        throw new Error(
          `the local runtime does not run ${state.Type} state ${JSON.stringify(name)} (no redrive of only its failed ${state.Type === "Map" ? "iterations" : "branches"})`,
        );
      }
      if (!isLocal(name, state)) {
        states[name] = state;
        continue;
      }
      local.add(name);
      const kept = ["Retry", "Catch", "Next", "End", "Comment"].filter((k) => k in state);
      states[name] = {
        Type: "Task",
        Resource: LOCAL_STATE_RESOURCE,
        TimeoutSeconds: LIBRARY_TASK_TIMEOUT_SECONDS,
        ...Object.fromEntries(kept.map((k) => [k, state[k]])),
      };
    }
    this.localStates = local;
    const { TimeoutSeconds, ...rest } = asl;
    this.definition = {
      ...rest,
      States: states,
      ...(TimeoutSeconds === undefined
        ? {}
        : { TimeoutSeconds: Math.min(TimeoutSeconds, LIBRARY_TASK_TIMEOUT_SECONDS) }),
    };
    this.machines.set(
      asl.StartAt,
      new StateMachine(this.definition as unknown as StateMachineDefinition, {
        validationOptions: { checkPaths: true, checkArn: true },
      }),
    );
  }

  /** The same machine starting at `state` (validated already as a whole; the states before it are unreachable). */
  private machineFrom(state: string): StateMachine {
    let machine = this.machines.get(state);
    if (!machine) {
      if (!(state in this.definition.States)) throw new Error(`no state ${JSON.stringify(state)}`);
      machine = new StateMachine(
        { ...this.definition, StartAt: state } as unknown as StateMachineDefinition,
        {
          validationOptions: { noValidate: true },
        },
      );
      this.machines.set(state, machine);
    }
    return machine;
  }

  run(request: RunRequest): MachineRun {
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const name of this.localStates) {
      const handler = request.handlers[name];
      if (!handler) throw new Error(`no local handler for state ${JSON.stringify(name)}`);
      const state = this.states[name]!;
      handlers[name] = (input) =>
        handler(input).catch((error: unknown) => {
          throw withAwsMatching(error, state);
        });
    }
    const retryIntervalOverrides =
      request.retryIntervalMs === undefined
        ? undefined
        : Object.fromEntries(
            Object.entries(this.states)
              .filter(([, state]) => state.Retry)
              .map(([name, state]) => [name, retryIntervals(state, request.retryIntervalMs!)]),
          );
    const options = {
      overrides: {
        taskResourceLocalHandlers: handlers,
        ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}),
      },
    } as unknown as RunOptions;
    const run = this.machineFrom(request.startAt ?? this.startAt).run(
      request.input as Parameters<StateMachine["run"]>[0],
      options,
    );
    const delivered = (async () => {
      for await (const event of run.eventLogs as AsyncGenerator<LibraryEvent>) {
        const machineEvent = toMachineEvent(event);
        if (machineEvent) request.onEvent(machineEvent);
      }
    })();
    const outcome = run.result
      .then(
        (output): RunOutcome => ({ status: "SUCCEEDED", output }),
        (error: unknown) => outcomeOf(error),
      )
      .finally(() => request.onEnd?.());
    return {
      outcome: Promise.all([outcome, delivered]).then(([o]) => o),
      abort: () => run.abort(),
    };
  }
}

/**
 * Each retrier's interval under `retryIntervalMs`: that, except for a retrier of Lambda throttling, which keeps its
 * own backoff and jitter (-1: no override). Shortened, a burst of uploads larger than the Lambda concurrency would
 * run through its tries in seconds and fail, where AWS's minutes of backoff let it through.
 */
function retryIntervals(state: StateDefinition, retryIntervalMs: number): number[] {
  const retriers = state.Retry as { ErrorEquals?: string[] }[];
  return retriers.map((retrier) => (retrier.ErrorEquals?.includes(LAMBDA_THROTTLED) ? -1 : retryIntervalMs));
}
