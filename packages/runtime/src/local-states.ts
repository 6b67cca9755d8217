import { setImmediate as nextTurn } from "node:timers/promises";
import type { Usage } from "./execution.ts";
import type { LambdaConcurrency } from "./lambda-concurrency.ts";
import { checkedJson, toJson } from "./payload-limits.ts";
import {
  applyResultPath,
  canEvaluate,
  evaluatePayload,
  isSupportedPath,
  readPath,
  selectPath,
} from "./payload-template.ts";
import type { LocalStateHandler, StateDefinition } from "./state-machine-adapter.ts";
import { StatesError, type TaskTokens, timerMs } from "./task-tokens.ts";

/** A Lambda function run in-process: the real handler, with clients pointed at the local emulator. */
export type LocalLambda = (event: unknown) => Promise<unknown>;

/**
 * The SQS SendMessage call behind `arn:aws:states:::sqs:sendMessage[.waitForTaskToken]`: the task's evaluated
 * Parameters (MessageBody already a string, as Step Functions serializes a JSON body) in, SendMessage's response
 * out. A rejection fails the attempt (see sqsIntegrationError for the error name).
 */
export type SendMessage = (
  parameters: Record<string, unknown> & { QueueUrl: string; MessageBody: string },
) => Promise<Record<string, unknown>>;

/** What local Task states call. */
export interface LocalServices {
  /** Lambda functions by name (the last part of the ARN in a Task's Resource). */
  lambdas: Record<string, LocalLambda>;
  /** How many invocations of each function run at once; past it an invocation is throttled. None: no limit. */
  lambdaConcurrency?: LambdaConcurrency;
  sendMessage: SendMessage;
  tokens: TaskTokens;
}

/** The context object's parts that belong to the run (`$$.Execution`, `$$.StateMachine`). */
export interface RunContext {
  Execution: {
    Id: string;
    Name: string;
    Input: unknown;
    StartTime: string;
    RedriveCount: number;
    RedriveTime?: string;
  };
  StateMachine: { Id: string; Name: string };
}

/** The state a run is in, as its event log reports it. */
export interface CurrentState {
  name: string;
  input: unknown;
  enteredTime: string;
  retryCount: number;
}

/** A callback task's message went out, or its token was settled (events of LocalWorkflow). */
export interface CallbackEvent {
  executionArn: string;
  parentExecutionArn?: string;
  state: string;
  taskToken: string;
  /** The SendMessage body as sent (JSON text for a JSON MessageBody). */
  messageBody: string;
  /** 1 for the first attempt, one more per Retry. */
  attempt: number;
}

export type CallbackSettledEvent = CallbackEvent &
  ({ status: "SUCCEEDED"; output: unknown } | { status: "FAILED"; error: string; cause: string });

/** One run of a state machine (an execution's run, or a child execution) as its local states see it. */
export interface StateRun {
  readonly executionArn: string;
  readonly parentExecutionArn?: string;
  readonly context: RunContext;
  /** Aborted when the run stops (execution stopped or failed, child aborted). */
  readonly signal: AbortSignal;
  /** Where the run's usage is counted (a child counts into its parent execution's). */
  readonly usage: Usage;
  /** Updated from the run's event log. */
  current?: CurrentState;
  /** Records a history event (a no-op for child executions, whose histories are not kept). */
  record(type: string, details?: Record<string, unknown>): void;
  emit(event: "task_succeeded", payload: { executionArn: string; state: string; output: unknown }): void;
  emit(event: "callback_sent", payload: CallbackEvent): void;
  emit(event: "callback_settled", payload: CallbackSettledEvent): void;
}

const LAMBDA_FUNCTION = /^arn:aws:lambda:[^:]*:[^:]*:function:([^:]+)(:[^:]+)?$/;
const SQS_SEND = /^arn:aws:states:::sqs:sendMessage(\.waitForTaskToken)?$/;

export type LocalStateKind =
  | { kind: "lambda"; functionName: string }
  | { kind: "sqs"; waitForTaskToken: boolean }
  | { kind: "pass" }
  | { kind: "distributedMap" }
  | { kind: "parallel" };

/**
 * The local states a machine has (Task, Pass, Distributed Map, Parallel); undefined for the states the library
 * runs.
 */
export function localStateKind(name: string, state: StateDefinition): LocalStateKind | undefined {
  if (state.Type === "Pass") return { kind: "pass" };
  if (state.Type === "Parallel") return { kind: "parallel" };
  if (state.Type === "Map") {
    const mode = (state.ItemProcessor as { ProcessorConfig?: { Mode?: string } } | undefined)?.ProcessorConfig
      ?.Mode;
    return mode === "DISTRIBUTED" ? { kind: "distributedMap" } : undefined;
  }
  if (state.Type !== "Task") return undefined;
  const resource = String(state.Resource);
  const lambda = LAMBDA_FUNCTION.exec(resource);
  if (lambda) return { kind: "lambda", functionName: lambda[1]! };
  const sqs = SQS_SEND.exec(resource);
  if (sqs) return { kind: "sqs", waitForTaskToken: sqs[1] !== undefined };
  throw new Error(`the local runtime has no integration for ${resource} (state ${JSON.stringify(name)})`);
}

/** Refuses, when the workflow is built, what the local evaluator would get wrong at run time. */
export function checkLocalState(name: string, state: StateDefinition): void {
  const templates = ["Parameters", "ResultSelector", "ItemSelector"] as const;
  for (const field of templates) {
    if (field in state && !canEvaluate(state[field])) {
      throw new Error(
        `state ${JSON.stringify(name)}: the local runtime evaluates ${field} itself and supports only paths and States.JsonToString`,
      );
    }
  }
  for (const field of ["InputPath", "OutputPath", "TimeoutSecondsPath", "HeartbeatSecondsPath"]) {
    const path = state[field];
    if (path !== undefined && path !== null && !isSupportedPath(path))
      throw new Error(`state ${JSON.stringify(name)}: unsupported ${field} ${JSON.stringify(path)}`);
  }
}

function seconds(
  state: StateDefinition,
  field: "TimeoutSeconds" | "HeartbeatSeconds",
  input: unknown,
  context: unknown,
) {
  if (typeof state[field] === "number") return state[field] as number;
  const path = state[`${field}Path`];
  if (typeof path !== "string") return undefined;
  const value = readPath(path, input, context);
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1)
    throw new StatesError("States.Runtime", `${field}Path ${path} is not a positive integer`);
  return value;
}

export interface LocalStateBody {
  /** Extra context object fields for this attempt (a callback task's `Task.Token`). */
  context?: Record<string, unknown>;
  /** The state's work on its effective input; its result goes through ResultSelector and ResultPath. */
  invoke(effectiveInput: unknown, context: Record<string, unknown>): Promise<unknown>;
}

/**
 * Runs one attempt of a local state the way Step Functions processes a state's data: InputPath, Parameters,
 * the work, ResultSelector, ResultPath, OutputPath, with the 256 KiB limit checked on the state's input, the
 * effective input, the task's result and the state's output (States.DataLimitExceeded).
 */
export async function runLocalState(
  name: string,
  state: StateDefinition,
  rawInput: unknown,
  run: StateRun,
  body: LocalStateBody,
): Promise<unknown> {
  // Let the event log catch up: the library dispatched StateEntered (or StateRetried) just before this call.
  await nextTurn();
  const current = run.current?.name === name ? run.current : undefined;
  const context: Record<string, unknown> = {
    ...run.context,
    State: {
      Name: name,
      ...(current ? { EnteredTime: current.enteredTime, RetryCount: current.retryCount } : {}),
    },
    ...body.context,
  };
  checkedJson(rawInput, `The input of state '${name}'`);
  let effective = selectPath(state.InputPath, rawInput, context);
  if (state.Parameters !== undefined) {
    effective = evaluatePayload(state.Parameters, effective, context);
    checkedJson(effective, `The input of state '${name}' after Parameters`);
  }
  let result = await body.invoke(effective, context);
  if (state.Type !== "Pass") checkedJson(result, `The result of state '${name}'`);
  if (state.ResultSelector !== undefined) result = evaluatePayload(state.ResultSelector, result, context);
  const output = selectPath(state.OutputPath, applyResultPath(state.ResultPath, rawInput, result), context);
  checkedJson(output, `The output of state '${name}'`);
  return output;
}

/** The attempt number of a state (1 + its retries so far), from the run's event log. */
function attemptOf(run: StateRun, name: string): number {
  return run.current?.name === name ? run.current.retryCount + 1 : 1;
}

/**
 * Lambda errors reach Step Functions as `{ Error: errorType, Cause: JSON of errorType/errorMessage/trace }`;
 * the local runtime gives handlers' errors the same shape so the failure branch sees what it sees in AWS.
 */
export function asLambdaError(error: unknown): StatesError {
  const e = error instanceof Error ? error : new Error(String(error));
  const trace = (e.stack ?? "")
    .split("\n")
    .slice(1)
    .map((line) => line.trim());
  return new StatesError(
    e.name || "Error",
    JSON.stringify({ errorType: e.name || "Error", errorMessage: e.message, trace }),
  );
}

/** Rejects with States.Timeout after `timeoutSeconds` (none without it), or when the run stops. */
function withTimeout<T>(
  work: Promise<T>,
  timeoutSeconds: number | undefined,
  signal: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const stopped = () => reject(new StatesError("States.Aborted", "The execution stopped"));
    const timer =
      timeoutSeconds === undefined
        ? undefined
        : setTimeout(
            () => reject(new StatesError("States.Timeout", "The task did not finish within TimeoutSeconds")),
            timerMs(timeoutSeconds),
          );
    if (signal.aborted) stopped();
    signal.addEventListener("abort", stopped, { once: true });
    work.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener("abort", stopped);
    });
  });
}

function lambdaHandler(
  name: string,
  state: StateDefinition,
  functionName: string,
  run: StateRun,
  services: LocalServices,
): LocalStateHandler {
  const lambda = services.lambdas[functionName];
  if (!lambda)
    throw new Error(
      `no local handler for the Lambda function ${functionName} (state ${JSON.stringify(name)})`,
    );
  return (rawInput) =>
    runLocalState(name, state, rawInput, run, {
      invoke: async (event, context) => {
        const timeoutSeconds = seconds(state, "TimeoutSeconds", rawInput, context);
        const input = toJson(event);
        run.record("LambdaFunctionScheduled", {
          lambdaFunctionScheduledEventDetails: {
            resource: state.Resource,
            input,
            inputDetails: { truncated: false },
            ...(timeoutSeconds ? { timeoutInSeconds: timeoutSeconds } : {}),
          },
        });
        // Past the function's concurrency Lambda refuses the invocation: nothing runs, nothing is billed.
        const slot = services.lambdaConcurrency?.acquire(functionName) ?? (() => {});
        if (slot instanceof StatesError) {
          // Which history event AWS records for a throttled invocation is not documented (aws-sources.md §29).
          run.record("LambdaFunctionStartFailed", {
            lambdaFunctionStartFailedEventDetails: { error: slot.name, cause: slot.message },
          });
          throw slot;
        }
        run.record("LambdaFunctionStarted");
        run.usage.lambdaInvocations++;
        const started = performance.now();
        // The slot is freed when the function returns, not when the task stops waiting for it (a timeout, an
        // aborted execution): the environment stays busy until its invocation ends.
        const call = Promise.resolve()
          .then(() => lambda(JSON.parse(input)))
          .finally(() => {
            slot();
            run.usage.lambdaMs += Math.ceil(performance.now() - started);
          });
        let output: unknown;
        try {
          output = await withTimeout(call, timeoutSeconds, run.signal);
        } catch (error) {
          if (error instanceof StatesError && error.name === "States.Timeout") {
            run.record("LambdaFunctionTimedOut", {
              lambdaFunctionTimedOutEventDetails: { error: error.name, cause: error.message },
            });
            throw error;
          }
          if (error instanceof StatesError && error.name === "States.Aborted") throw error;
          const failure = asLambdaError(error);
          run.record("LambdaFunctionFailed", {
            lambdaFunctionFailedEventDetails: { error: failure.name, cause: failure.message },
          });
          throw failure;
        }
        // What comes back from Lambda is JSON; the result is checked against the limit by runLocalState.
        const json = toJson(output);
        output = JSON.parse(json);
        run.record("LambdaFunctionSucceeded", {
          lambdaFunctionSucceededEventDetails: { output: json, outputDetails: { truncated: false } },
        });
        run.emit("task_succeeded", { executionArn: run.executionArn, state: name, output });
        return output;
      },
    });
}

/**
 * The error a failed SendMessage gives the Task: `SQS.AmazonSQSException` when SQS answered with an error,
 * `SQS.SdkClientException` when no answer came (network, client-side). These are the names the stack's own Retry
 * lists (the AWS SDK for Java exception classes Step Functions reports for its optimized integrations); no AWS
 * page in docs/aws-semantics-research.md states which name a given SQS failure gets, so this mapping is
 * an assumption to confirm against a real execution.
 */
export function sqsIntegrationError(error: unknown): StatesError {
  if (error instanceof StatesError && error.name.startsWith("SQS.")) return error;
  const e = error as {
    name?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number; requestId?: string };
  };
  const status = e?.$metadata?.httpStatusCode;
  if (status !== undefined) {
    return new StatesError(
      "SQS.AmazonSQSException",
      `${e.message ?? ""} (Service: AmazonSQS; Status Code: ${status}; Error Code: ${e.name ?? "Unknown"}; Request ID: ${e.$metadata?.requestId ?? "local"})`,
    );
  }
  return new StatesError("SQS.SdkClientException", e?.message ?? String(error));
}

function sqsHandler(
  name: string,
  state: StateDefinition,
  waitForTaskToken: boolean,
  run: StateRun,
  services: LocalServices,
): LocalStateHandler {
  const resource = waitForTaskToken ? "sendMessage.waitForTaskToken" : "sendMessage";
  const prepare = async (parameters: Record<string, unknown>) => {
    const { QueueUrl, MessageBody } = parameters;
    if (typeof QueueUrl !== "string" || MessageBody === undefined) {
      throw new StatesError("States.Runtime", `state '${name}': SendMessage needs QueueUrl and MessageBody`);
    }
    const messageBody = typeof MessageBody === "string" ? MessageBody : JSON.stringify(MessageBody);
    return { messageBody, request: { ...parameters, QueueUrl, MessageBody: messageBody } };
  };
  const send = (request: Parameters<SendMessage>[0]) =>
    Promise.resolve()
      .then(() => services.sendMessage(request))
      .catch((error: unknown) => {
        throw sqsIntegrationError(error);
      });
  const scheduled = (parameters: unknown, timeoutSeconds?: number, heartbeatSeconds?: number) => {
    run.record("TaskScheduled", {
      taskScheduledEventDetails: {
        resourceType: "sqs",
        resource,
        region: run.context.StateMachine.Id.split(":")[3] ?? "",
        parameters: toJson(parameters),
        ...(timeoutSeconds ? { timeoutInSeconds: timeoutSeconds } : {}),
        ...(heartbeatSeconds ? { heartbeatInSeconds: heartbeatSeconds } : {}),
      },
    });
    run.record("TaskStarted", { taskStartedEventDetails: { resourceType: "sqs", resource } });
  };
  const failed = (error: Error) => {
    const timedOut = error.name === "States.Timeout" || error.name === "States.HeartbeatTimeout";
    run.record(timedOut ? "TaskTimedOut" : "TaskFailed", {
      [timedOut ? "taskTimedOutEventDetails" : "taskFailedEventDetails"]: {
        resourceType: "sqs",
        resource,
        error: error.name,
        cause: error.message,
      },
    });
  };

  if (!waitForTaskToken) {
    return (rawInput) =>
      runLocalState(name, state, rawInput, run, {
        invoke: async (parameters, context) => {
          const timeoutSeconds = seconds(state, "TimeoutSeconds", rawInput, context);
          const { request } = await prepare(parameters as Record<string, unknown>);
          scheduled(parameters, timeoutSeconds);
          try {
            const response = await withTimeout(send(request), timeoutSeconds, run.signal);
            run.record("TaskSucceeded", {
              taskSucceededEventDetails: { resourceType: "sqs", resource, output: toJson(response) },
            });
            return response;
          } catch (error) {
            failed(error as Error);
            throw error;
          }
        },
      });
  }

  return (rawInput) => {
    // Each attempt (a Retry too) has its own token, in `$$.Task.Token` for the Parameters.
    const taskToken = services.tokens.issue();
    return runLocalState(name, state, rawInput, run, {
      context: { Task: { Token: taskToken } },
      invoke: async (parameters, context) => {
        const timeoutSeconds = seconds(state, "TimeoutSeconds", rawInput, context);
        const heartbeatSeconds = seconds(state, "HeartbeatSeconds", rawInput, context);
        const { messageBody, request } = await prepare(parameters as Record<string, unknown>);
        const event: CallbackEvent = {
          executionArn: run.executionArn,
          ...(run.parentExecutionArn ? { parentExecutionArn: run.parentExecutionArn } : {}),
          state: name,
          taskToken,
          messageBody,
          attempt: attemptOf(run, name),
        };
        scheduled(parameters, timeoutSeconds, heartbeatSeconds);
        try {
          const output = await services.tokens.callback(taskToken, {
            send: () =>
              run.signal.aborted
                ? Promise.reject(new StatesError("States.Aborted", "The execution stopped"))
                : send(request),
            ...(timeoutSeconds ? { timeoutSeconds } : {}),
            ...(heartbeatSeconds ? { heartbeatSeconds } : {}),
            signal: run.signal,
            onSubmitted: (response) => {
              run.record("TaskSubmitted", {
                taskSubmittedEventDetails: { resourceType: "sqs", resource, output: toJson(response) },
              });
              run.emit("callback_sent", event);
            },
          });
          run.record("TaskSucceeded", {
            taskSucceededEventDetails: { resourceType: "sqs", resource, output: toJson(output) },
          });
          run.emit("callback_settled", { ...event, status: "SUCCEEDED", output });
          return output;
        } catch (error) {
          const e = error as Error;
          failed(e);
          if (e.name !== "States.Aborted")
            run.emit("callback_settled", { ...event, status: "FAILED", error: e.name, cause: e.message });
          throw error;
        }
      },
    });
  };
}

function passHandler(name: string, state: StateDefinition, run: StateRun): LocalStateHandler {
  return (rawInput) =>
    runLocalState(name, state, rawInput, run, {
      invoke: async (effective) => ("Result" in state ? structuredClone(state.Result) : effective),
    });
}

/**
 * The handlers of a machine's local Task and Pass states for one run; Distributed Map and Parallel states get
 * theirs from `composite` (they run machines of their own).
 */
export function localHandlers(
  states: Record<string, StateDefinition>,
  run: StateRun,
  services: LocalServices,
  composite: (name: string, state: StateDefinition, kind: "distributedMap" | "parallel") => LocalStateHandler,
): Record<string, LocalStateHandler> {
  const handlers: Record<string, LocalStateHandler> = {};
  for (const [name, state] of Object.entries(states)) {
    const kind = localStateKind(name, state);
    if (!kind) continue;
    if (kind.kind === "lambda") handlers[name] = lambdaHandler(name, state, kind.functionName, run, services);
    else if (kind.kind === "sqs")
      handlers[name] = sqsHandler(name, state, kind.waitForTaskToken, run, services);
    else if (kind.kind === "pass") handlers[name] = passHandler(name, state, run);
    else handlers[name] = composite(name, state, kind.kind);
  }
  return handlers;
}
