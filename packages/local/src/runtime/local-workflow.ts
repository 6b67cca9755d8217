import "./promise-with-resolvers.ts";
import { EventEmitter } from "node:events";
import type { S3Client } from "@aws-sdk/client-s3";
import { StateMachine } from "aws-local-stepfunctions";
import { type DistributedMapState, runMapRun } from "./map-run.ts";
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
  done: Promise<ExecutionRecord>;
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
const LOCAL_PASS_RESOURCE = "arn:aws:lambda:us-east-1:000000000000:function:sluice-local-pass";

/**
 * aws-local-stepfunctions' States.JsonToString does not escape quotes inside nested strings (its output is not
 * JSON), so a Pass state that uses it runs as a Task of the same name whose handler evaluates the very same
 * Parameters correctly. Returns the rewritten states and the handlers for them.
 */
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
  return { states: rewritten, handlers };
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
  private mapRuns = 0;
  private readonly passHandlers: Record<string, (input: unknown) => Promise<unknown>>;

  constructor(private readonly options: LocalWorkflowOptions) {
    super();
    const prepared = withLocalMapRuns(options.asl);
    this.maps = prepared.maps;
    const local = withLocalJsonToString(prepared.asl.States);
    this.passHandlers = local.handlers;
    this.machine = new StateMachine({ ...prepared.asl, States: local.states } as never, {
      validationOptions: { checkPaths: true, checkArn: true },
    });
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
    const startDate = new Date();
    const controller = new AbortController();
    const run = this.machine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: this.handlers(executionArn, controller.signal) as never,
        ...(this.options.retryIntervalMs === undefined
          ? {}
          : { retryIntervalOverrides: this.retryOverrides(this.options.asl) }),
      },
      context: {
        Execution: { Id: executionArn, Name: name, StartTime: startDate.toISOString(), Input: input },
      } as never,
    });
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: this.options.stateMachineArn,
      name,
      status: "RUNNING",
      startDate,
      input,
      done: undefined as unknown as Promise<ExecutionRecord>,
    };
    record.done = run.result.then(
      (output) => Object.assign(record, { status: "SUCCEEDED" as const, output, stopDate: new Date() }),
      (error: Error & { cause?: Error }) => {
        controller.abort();
        const failure = error.cause instanceof Error ? error.cause : error;
        return Object.assign(record, {
          status: "FAILED" as const,
          error: failure.name,
          cause: failure.message,
          stopDate: new Date(),
        });
      },
    );
    record.done.then((r) => this.emit("execution_finished", r));
    this.executions.set(executionArn, record);
    this.emit("execution_started", record);
    return record;
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
            this.emit("task_succeeded", { executionArn, state: name, output });
            return output;
          } catch (error) {
            throw asLambdaError(error);
          }
        }) as never;
      }
    }
    for (const [name, map] of Object.entries(this.maps)) {
      handlers[name] = (async (input: unknown) => {
        const mapRunId = `run-${++this.mapRuns}`;
        return runMapRun(map, input, {
          s3: this.options.s3,
          executionArn,
          mapRunId,
          startChild: (childInput, childName) =>
            this.startChild(map, childInput, childName, executionArn, signal),
        });
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
