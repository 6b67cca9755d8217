import "./promise-with-resolvers.ts";
import { EventEmitter } from "node:events";
import type { S3Client } from "@aws-sdk/client-s3";
import { StateMachine } from "aws-local-stepfunctions";
import { createMapRunRecord, type DistributedMapState, type MapRunRecord, runMapRun } from "./map-run.ts";
import { evaluatePayload, usesJsonToString } from "./payload-template.ts";
import { StatesError } from "./task-tokens.ts";

type StateDefinition = Record<string, unknown> & { Type: string };
export interface Asl {
  StartAt: string;
  States: Record<string, StateDefinition>;
  [key: string]: unknown;
}

export type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "ABORTED";

export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  input: unknown;
  output?: unknown;
  error?: string;
  cause?: string;
  /** How many times RedriveExecution restarted it (same ARN). */
  redriveCount: number;
  redriveDate?: Date;
  done: Promise<ExecutionRecord>;
}

/** One event of GetExecutionHistory, in the API's shape (timestamps in epoch seconds). */
export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: string;
  [details: string]: unknown;
}

/** A Lambda function run in-process: the real handler, with clients pointed at the local emulator. */
export type LocalLambda = (event: unknown) => Promise<unknown>;

/** Sends one waitForTaskToken message and waits for its callback (fresh token per attempt). */
export type WaitForTaskToken = (
  parameters: { QueueUrl: string; MessageBody: Record<string, unknown> },
  state: { HeartbeatSeconds?: number; TimeoutSeconds?: number },
  signal: AbortSignal,
) => Promise<unknown>;

export interface LocalWorkflowOptions {
  asl: Asl;
  stateMachineArn: string;
  /** Lambda functions by name (the last part of the ARN in a Task's Resource). */
  lambdas: Record<string, LocalLambda>;
  waitForTaskToken: WaitForTaskToken;
  s3: S3Client;
  /** Replaces every Retry interval (ms), so failure paths run in seconds in tests and demos. */
  retryIntervalMs?: number;
}

const LOCAL_MAP_RUN_RESOURCE = "arn:aws:lambda:us-east-1:000000000000:function:sluice-local-map-run";
const MAP_RUN_TIMEOUT_SECONDS = 2_000_000;
const LOCAL_PASS_RESOURCE = "arn:aws:lambda:us-east-1:000000000000:function:sluice-local-pass";

/**
 * aws-local-stepfunctions' States.JsonToString does not escape quotes inside nested strings (its output is not
 * JSON), so a Pass state that uses it runs as a Task of the same name whose handler evaluates the very same
 * Parameters correctly. Returns the rewritten states and the handlers for them.
 */
/**
 * AWS lets a Task with no TimeoutSeconds wait (99,999,999 s); aws-local-stepfunctions would stop it at 60 s. The
 * longest a Node timer can wait (about 24 days) stands in for AWS's value.
 */
const AWS_DEFAULT_TASK_TIMEOUT = Math.floor(2 ** 31 / 1000) - 1;

function withAwsTaskTimeouts(states: Record<string, StateDefinition>): Record<string, StateDefinition> {
  return Object.fromEntries(
    Object.entries(states).map(([name, state]) => [
      name,
      state.Type === "Task" && state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined
        ? { ...state, TimeoutSeconds: AWS_DEFAULT_TASK_TIMEOUT }
        : state,
    ]),
  );
}

function withLocalJsonToString(states: Record<string, StateDefinition>) {
  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  const rewritten: Record<string, StateDefinition> = {};
  for (const [name, state] of Object.entries(states)) {
    if (state.Type !== "Pass" || !usesJsonToString(state.Parameters)) {
      rewritten[name] = state;
      continue;
    }
    const kept = ["InputPath", "ResultPath", "OutputPath", "Next", "End", "Comment"];
    rewritten[name] = {
      Type: "Task",
      Resource: LOCAL_PASS_RESOURCE,
      ...Object.fromEntries(kept.filter((k) => k in state).map((k) => [k, state[k]])),
    };
    const parameters = state.Parameters;
    handlers[name] = async (input) => evaluatePayload(parameters, input, {});
  }
  return { states: withAwsTaskTimeouts(rewritten), handlers };
}
const WAIT_FOR_TOKEN = /^arn:aws:states:::sqs:sendMessage\.waitForTaskToken$/;

function isDistributedMap(state: StateDefinition): boolean {
  const processor = state.ItemProcessor as { ProcessorConfig?: { Mode?: string } } | undefined;
  return state.Type === "Map" && processor?.ProcessorConfig?.Mode === "DISTRIBUTED";
}

/**
 * aws-local-stepfunctions has no Distributed Map: each one becomes a Task of the same name that keeps the Map's
 * paths, Retry, Catch and transition, and whose local handler performs the Map Run.
 */
function withLocalMapRuns(asl: Asl): { asl: Asl; maps: Record<string, DistributedMapState> } {
  const maps: Record<string, DistributedMapState> = {};
  const states: Record<string, StateDefinition> = {};
  for (const [name, state] of Object.entries(asl.States)) {
    if (!isDistributedMap(state)) {
      states[name] = state;
      continue;
    }
    maps[name] = state as unknown as DistributedMapState;
    const kept = [
      "InputPath",
      "ResultSelector",
      "ResultPath",
      "OutputPath",
      "Retry",
      "Catch",
      "Next",
      "End",
      "Comment",
    ];
    states[name] = {
      Type: "Task",
      Resource: LOCAL_MAP_RUN_RESOURCE,
      // aws-local-stepfunctions gives a Task without TimeoutSeconds 60 s; a Map Run has no such limit in AWS.
      // (At most ~24 days: a longer timer overflows Node's setTimeout.)
      TimeoutSeconds: MAP_RUN_TIMEOUT_SECONDS,
      ...Object.fromEntries(kept.filter((k) => k in state).map((k) => [k, state[k]])),
    };
  }
  return { asl: { ...asl, States: states }, maps };
}

function functionName(resource: unknown): string | undefined {
  return typeof resource === "string" ? /:function:([^:]+)/.exec(resource)?.[1] : undefined;
}

/**
 * Lambda errors reach Step Functions as `{ Error: errorType, Cause: JSON of errorType/errorMessage }`;
 * the local runtime gives handlers' errors the same shape so the failure branch sees what it sees in AWS.
 */
function asLambdaError(error: unknown): StatesError {
  const e = error instanceof Error ? error : new Error(String(error));
  return new StatesError(
    e.name || "Error",
    JSON.stringify({ errorType: e.name || "Error", errorMessage: e.message }),
  );
}

/**
 * Executes the workflow's ASL locally with aws-local-stepfunctions, bridging what it lacks: Lambda tasks run
 * the real handlers, waitForTaskToken tasks send a real message and wait for the callback with heartbeat and
 * timeout, and Distributed Maps run as local Map Runs against the local bucket.
 */
export class LocalWorkflow extends EventEmitter {
  private readonly machine: StateMachine;
  private readonly maps: Record<string, DistributedMapState>;
  private readonly executions = new Map<string, ExecutionRecord>();
  private mapRunCounter = 0;
  private readonly passHandlers: Record<string, (input: unknown) => Promise<unknown>>;
  private readonly localAsl: Asl;
  /** Machines that start at a given state: what a redrive resumes from. */
  private readonly resumeMachines = new Map<string, StateMachine>();
  private readonly histories = new Map<string, HistoryEvent[]>();
  private readonly mapRunsByExecution = new Map<string, MapRunRecord[]>();
  private readonly mapRunsByArn = new Map<string, MapRunRecord>();
  /** The Task or Map state whose failure ended the execution, and the raw input it last entered with. */
  private readonly failedStates = new Map<string, string>();
  private readonly enteredInputs = new Map<string, Map<string, unknown>>();
  /** Executions being redriven from this (Map) state: the Map Run that failed there runs again. */
  private readonly redriving = new Map<string, string>();

  constructor(private readonly options: LocalWorkflowOptions) {
    super();
    const prepared = withLocalMapRuns(options.asl);
    this.maps = prepared.maps;
    const local = withLocalJsonToString(prepared.asl.States);
    this.passHandlers = local.handlers;
    this.localAsl = { ...prepared.asl, States: local.states };
    this.machine = new StateMachine(this.localAsl as never, {
      validationOptions: { checkPaths: true, checkArn: true },
    });
  }

  /** The Map Runs an execution started (ListMapRuns), oldest first. */
  mapRunsOf(executionArn: string): MapRunRecord[] {
    return this.mapRunsByExecution.get(executionArn) ?? [];
  }

  mapRun(mapRunArn: string): MapRunRecord | undefined {
    return this.mapRunsByArn.get(mapRunArn);
  }

  /** GetExecutionHistory's events: execution start/end/redrive, state entered/exited, Map Runs. */
  history(executionArn: string): HistoryEvent[] | undefined {
    return this.histories.get(executionArn);
  }

  /**
   * RedriveExecution: a FAILED or ABORTED execution resumes (same ARN, RUNNING again) from the Task or Map
   * state whose failure ended it, with the input that state had; a Map Run that failed there runs only the
   * items that did not succeed, keeping the earlier results. Steps that succeeded are not run again.
   */
  redrive(executionArn: string): ExecutionRecord {
    const record = this.executions.get(executionArn);
    if (!record) throw new StatesError("ExecutionDoesNotExist", `Execution does not exist: ${executionArn}`);
    if (record.status === "RUNNING" || record.status === "SUCCEEDED") {
      throw new StatesError(
        "ExecutionNotRedrivable",
        `Execution is ${record.status}; only a failed or aborted execution can be redriven: ${executionArn}`,
      );
    }
    const state = this.failedStates.get(executionArn);
    const input = state === undefined ? undefined : this.enteredInputs.get(executionArn)?.get(state);
    if (state === undefined || input === undefined) {
      throw new StatesError(
        "ExecutionNotRedrivable",
        `The local runtime redrives executions that failed in a Task or Map state; ${executionArn} did not`,
      );
    }
    const machine = this.machineFrom(state);
    delete record.stopDate;
    delete record.error;
    delete record.cause;
    delete record.output;
    Object.assign(record, {
      status: "RUNNING",
      redriveCount: record.redriveCount + 1,
      redriveDate: new Date(),
    });
    this.redriving.set(executionArn, state);
    this.failedStates.delete(executionArn);
    this.pushEvent(executionArn, "ExecutionRedriven", {
      executionRedrivenEventDetails: { redriveCount: record.redriveCount },
    });
    this.run(record, machine, input);
    return record;
  }

  private machineFrom(state: string): StateMachine {
    let machine = this.resumeMachines.get(state);
    if (!machine) {
      // Validated already as the whole machine; from another StartAt the states before it are unreachable.
      machine = new StateMachine({ ...this.localAsl, StartAt: state } as never, {
        validationOptions: { noValidate: true },
      });
      this.resumeMachines.set(state, machine);
    }
    return machine;
  }

  private pushEvent(executionArn: string, type: string, details: Record<string, unknown> = {}): void {
    const events = this.histories.get(executionArn);
    if (!events) return;
    const id = events.length + 1;
    events.push({ id, previousEventId: id - 1, timestamp: Date.now() / 1000, type, ...details });
  }

  /** Turns the library's event log into history events; resolves when the run's log closes. */
  private async recordHistory(
    executionArn: string,
    logs: AsyncGenerator<{ type: string; state?: { name: string; input: unknown; output?: unknown } }>,
  ): Promise<void> {
    const entered = this.enteredInputs.get(executionArn) ?? new Map<string, unknown>();
    this.enteredInputs.set(executionArn, entered);
    for await (const event of logs) {
      const state = event.state;
      if (!state || (event.type !== "StateEntered" && event.type !== "StateExited")) continue;
      const type = this.options.asl.States[state.name]?.Type ?? "Task";
      if (event.type === "StateEntered") {
        entered.set(state.name, state.input);
        this.pushEvent(executionArn, `${type}StateEntered`, {
          stateEnteredEventDetails: { name: state.name, input: JSON.stringify(state.input ?? null) },
        });
      } else {
        this.pushEvent(executionArn, `${type}StateExited`, {
          stateExitedEventDetails: { name: state.name, output: JSON.stringify(state.output ?? null) },
        });
      }
    }
  }

  get all(): ExecutionRecord[] {
    return [...this.executions.values()];
  }

  get(executionArn: string): ExecutionRecord | undefined {
    return this.executions.get(executionArn);
  }

  start(name: string, input: unknown): ExecutionRecord {
    const executionArn = `${this.options.stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
    if (this.executions.has(executionArn))
      throw new StatesError("ExecutionAlreadyExists", `Execution already exists: ${executionArn}`);
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: this.options.stateMachineArn,
      name,
      status: "RUNNING",
      startDate: new Date(),
      input,
      redriveCount: 0,
      done: undefined as unknown as Promise<ExecutionRecord>,
    };
    this.executions.set(executionArn, record);
    this.histories.set(executionArn, []);
    this.pushEvent(executionArn, "ExecutionStarted", {
      executionStartedEventDetails: { input: JSON.stringify(input), inputDetails: { truncated: false } },
    });
    this.run(record, this.machine, input);
    this.emit("execution_started", record);
    return record;
  }

  private run(record: ExecutionRecord, machine: StateMachine, input: unknown): void {
    const { executionArn } = record;
    const controller = new AbortController();
    const run = machine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: this.handlers(executionArn, controller.signal) as never,
        ...(this.options.retryIntervalMs === undefined
          ? {}
          : { retryIntervalOverrides: this.retryOverrides(this.options.asl) }),
      },
      context: {
        Execution: {
          Id: executionArn,
          Name: record.name,
          StartTime: record.startDate.toISOString(),
          Input: record.input,
          RedriveCount: record.redriveCount,
        },
      } as never,
    });
    const logged = this.recordHistory(executionArn, run.eventLogs as never);
    // The log closes when the run ends; wait for it (briefly) so the history is complete when `done` settles.
    const historyComplete = () =>
      Promise.race([logged, new Promise((resolve) => setTimeout(resolve, 200).unref())]);
    record.done = run.result.then(
      async (output) => {
        await historyComplete();
        this.pushEvent(executionArn, "ExecutionSucceeded", {
          executionSucceededEventDetails: { output: JSON.stringify(output) },
        });
        return Object.assign(record, { status: "SUCCEEDED" as const, output, stopDate: new Date() });
      },
      async (error: Error & { cause?: Error }) => {
        controller.abort();
        await historyComplete();
        const failure = error.cause instanceof Error ? error.cause : error;
        this.pushEvent(executionArn, "ExecutionFailed", {
          executionFailedEventDetails: { error: failure.name, cause: failure.message },
        });
        return Object.assign(record, {
          status: "FAILED" as const,
          error: failure.name,
          cause: failure.message,
          stopDate: new Date(),
        });
      },
    );
    record.done.then((r) => this.emit("execution_finished", r));
  }

  private retryOverrides(asl: Asl): Record<string, number> {
    const names: Record<string, number> = {};
    const visit = (states: Record<string, StateDefinition>) => {
      for (const [name, state] of Object.entries(states)) {
        if (state.Retry) names[name] = this.options.retryIntervalMs!;
        const nested = (state.ItemProcessor as { States?: Record<string, StateDefinition> } | undefined)
          ?.States;
        if (nested) visit(nested);
      }
    };
    visit(asl.States);
    return names;
  }

  private handlers(executionArn: string, signal: AbortSignal) {
    const handlers = { ...this.passHandlers } as unknown as Record<string, (input: never) => Promise<never>>;
    for (const [name, state] of Object.entries(this.options.asl.States)) {
      const fn = functionName(state.Resource);
      if (state.Type === "Task" && fn) {
        const lambda = this.options.lambdas[fn];
        if (!lambda)
          throw new Error(`no local handler for the Lambda function ${fn} (state ${JSON.stringify(name)})`);
        handlers[name] = (async (event: unknown) => {
          try {
            const output = await lambda(event);
            if (this.failedStates.get(executionArn) === name) this.failedStates.delete(executionArn);
            this.emit("task_succeeded", { executionArn, state: name, output });
            return output;
          } catch (error) {
            this.failedStates.set(executionArn, name);
            throw asLambdaError(error);
          }
        }) as never;
      }
    }
    for (const [name, map] of Object.entries(this.maps)) {
      handlers[name] = (async (input: unknown) => {
        const runs = this.mapRunsByExecution.get(executionArn) ?? [];
        this.mapRunsByExecution.set(executionArn, runs);
        // A redrive from this state runs the Map Run that failed here again; otherwise a new Map Run.
        let run =
          this.redriving.get(executionArn) === name
            ? runs.findLast((r) => r.stateName === name && r.status !== "SUCCEEDED")
            : undefined;
        this.redriving.delete(executionArn);
        if (!run) {
          run = createMapRunRecord(map, name, executionArn, `run-${++this.mapRunCounter}`);
          runs.push(run);
          this.mapRunsByArn.set(run.mapRunArn, run);
        }
        this.pushEvent(
          executionArn,
          run.redriveCount > 0 || run.stopDate ? "MapRunRedriven" : "MapRunStarted",
          {
            mapRunStartedEventDetails: { mapRunArn: run.mapRunArn },
          },
        );
        try {
          const output = await runMapRun(map, input, {
            s3: this.options.s3,
            run,
            startChild: (childInput, childName) =>
              this.startChild(map, childInput, childName, executionArn, signal),
          });
          if (this.failedStates.get(executionArn) === name) this.failedStates.delete(executionArn);
          this.pushEvent(executionArn, "MapRunSucceeded");
          return output;
        } catch (error) {
          this.failedStates.set(executionArn, name);
          this.pushEvent(executionArn, "MapRunFailed", {
            mapRunFailedEventDetails: { error: (error as Error).name, cause: (error as Error).message },
          });
          throw error;
        }
      }) as never;
    }
    return handlers;
  }

  private readonly children = new WeakMap<DistributedMapState, StateMachine>();
  private readonly childPassHandlers = new WeakMap<
    DistributedMapState,
    Record<string, (input: unknown) => Promise<unknown>>
  >();

  private startChild(
    map: DistributedMapState,
    input: unknown,
    name: string,
    parentArn: string,
    parentSignal: AbortSignal,
  ) {
    let machine = this.children.get(map);
    if (!machine) {
      const { ProcessorConfig: _config, ...definition } = map.ItemProcessor as Record<string, unknown>;
      const local = withLocalJsonToString(definition.States as Record<string, StateDefinition>);
      machine = new StateMachine({ ...definition, States: local.states } as never, {
        validationOptions: { checkPaths: true, checkArn: true },
      });
      this.children.set(map, machine);
      this.childPassHandlers.set(map, local.handlers);
    }
    const controller = new AbortController();
    const abortChild = () => controller.abort();
    parentSignal.addEventListener("abort", abortChild, { once: true });
    const handlers = { ...this.childPassHandlers.get(map) } as unknown as Record<
      string,
      (input: never) => Promise<never>
    >;
    for (const [stateName, state] of Object.entries(
      map.ItemProcessor.States as Record<string, StateDefinition>,
    )) {
      if (
        state.Type === "Task" &&
        typeof state.Resource === "string" &&
        WAIT_FOR_TOKEN.test(state.Resource)
      ) {
        handlers[stateName] = ((parameters: { QueueUrl: string; MessageBody: Record<string, unknown> }) =>
          this.options.waitForTaskToken(parameters, state as never, controller.signal)) as never;
      }
    }
    const run = machine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: handlers as never,
        ...(this.options.retryIntervalMs === undefined
          ? {}
          : {
              retryIntervalOverrides: this.retryOverrides({
                StartAt: "",
                States: map.ItemProcessor.States as Record<string, StateDefinition>,
              }),
            }),
      },
      // Task.Token is replaced by a fresh token per attempt in waitForTaskToken; this one only satisfies the path.
      context: {
        Execution: {
          Id: `${parentArn}/${name}`,
          Name: name,
          StartTime: new Date().toISOString(),
          Input: input,
        },
        Task: { Token: "replaced-per-attempt" },
      } as never,
    });
    return {
      result: run.result.finally(() => parentSignal.removeEventListener("abort", abortChild)),
      abort: () => {
        controller.abort();
        run.abort();
      },
    };
  }
}
