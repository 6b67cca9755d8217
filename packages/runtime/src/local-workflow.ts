import { EventEmitter } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  type BranchProgress,
  Execution,
  type ExecutionStatus,
  type HistoryEvent,
  type Usage,
} from "./execution.ts";
import type { LambdaConcurrency } from "./lambda-concurrency.ts";
import {
  type CurrentState,
  checkLocalState,
  type LocalLambda,
  type LocalServices,
  localHandlers,
  localStateKind,
  type RunContext,
  runLocalState,
  type SendMessage,
  type StateRun,
} from "./local-states.ts";
import { type ChildOutcome, type ChildRequest, type DistributedMapState, MapRun } from "./map-run.ts";
import { checkedJson, checkParameterLength, toJson } from "./payload-limits.ts";
import {
  type Asl,
  type LocalStateHandler,
  LocalStateMachine,
  type MachineEvent,
  type RunOutcome,
  type StateDefinition,
} from "./state-machine-adapter.ts";
import { StatesError, type TaskTokens } from "./task-tokens.ts";

export type { ExecutionStatus, HistoryEvent, Usage } from "./execution.ts";
export type { CallbackEvent, CallbackSettledEvent, LocalLambda, SendMessage } from "./local-states.ts";
export type { Asl } from "./state-machine-adapter.ts";
/** An execution as the local API describes it: the execution object itself. */
export type ExecutionRecord = Execution;

export interface LocalWorkflowOptions {
  asl: Asl;
  stateMachineArn: string;
  /** Lambda functions by name (the last part of the ARN in a Task's Resource). */
  lambdas: Record<string, LocalLambda>;
  /** How many invocations of each function run at once; past it an invocation is throttled. None: no limit. */
  lambdaConcurrency?: LambdaConcurrency;
  /** The SQS SendMessage call of `sqs:sendMessage` and `sqs:sendMessage.waitForTaskToken` tasks. */
  sendMessage: SendMessage;
  /** The task tokens the Step Functions API's SendTaskSuccess/Failure/Heartbeat settle. */
  tokens: TaskTokens;
  s3: S3Client;
  /** Replaces every Retry interval (ms) but a throttle's, so failure paths run in seconds in tests and demos. */
  retryIntervalMs?: number;
  /** Where Map Runs keep their spool files; default a new directory under the OS temp dir (removed by close). */
  workDir?: string;
  /** Child results per ResultWriter file (default 1000). */
  resultsPerFile?: number;
}

interface ChildMachine {
  state: DistributedMapState;
  machine: LocalStateMachine;
  label: string;
}

/** How a nested run ended, and where it stopped unless it succeeded. */
interface NestedOutcome {
  outcome: RunOutcome;
  stoppedAt?: { name: string; input: unknown };
}

/** Where a state sits: the workflow's own states, a Parallel state's branch, a Map Run's child execution. */
type Scope = "top" | "branch" | "child";

/** The workflow's states and its Parallel states' branches' states (state names are unique across them). */
function statesOf(asl: Asl): [string, StateDefinition][] {
  return Object.entries(asl.States).flatMap(([name, state]) => [
    [name, state] as [string, StateDefinition],
    ...(state.Type === "Parallel" ? (state.Branches as Asl[]).flatMap((branch) => statesOf(branch)) : []),
  ]);
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A Label as AWS allows it (at most 40 characters, no whitespace or special characters), from the state name. */
function labelFor(name: string, state: StateDefinition): string {
  if (typeof state.Label === "string") return state.Label;
  return name.replace(/[^A-Za-z0-9_-]+/g, "-").slice(0, 40) || "Map";
}

/**
 * Executes the workflow's ASL locally as AWS documents it, with aws-local-stepfunctions behind
 * state-machine-adapter.ts: Lambda tasks run the real handlers, SQS callback tasks send a real message and wait
 * for their token, Distributed Maps run as local Map Runs against the local bucket, and RedriveExecution resumes
 * at the state the history shows unfinished.
 *
 * Events: `execution_started` (Execution), `execution_finished` (Execution, after every run, redrives too),
 * `task_succeeded` ({ executionArn, state, output } of a Lambda task), `callback_sent` (CallbackEvent: a
 * waitForTaskToken message went out) and `callback_settled` (CallbackSettledEvent: its token came back, failed
 * or timed out).
 */
export class LocalWorkflow extends EventEmitter {
  private readonly machine: LocalStateMachine;
  private readonly maps = new Map<string, ChildMachine>();
  /** Each Parallel state's branches, by state name. */
  private readonly parallels = new Map<string, LocalStateMachine[]>();
  /** The workflow's own state names (a redrive resumes at one of them). */
  private readonly topLevel: ReadonlySet<string>;
  private readonly executions = new Map<string, Execution>();
  /** Map Runs by ARN (DescribeMapRun); each also belongs to its execution. */
  private readonly mapRunIndex = new Map<string, MapRun>();
  private readonly services: LocalServices;
  private readonly stateMachineName: string;
  private workDir?: Promise<string>;

  constructor(private readonly options: LocalWorkflowOptions) {
    super();
    this.services = {
      lambdas: options.lambdas,
      ...(options.lambdaConcurrency ? { lambdaConcurrency: options.lambdaConcurrency } : {}),
      sendMessage: options.sendMessage,
      tokens: options.tokens,
    };
    this.stateMachineName = options.stateMachineArn.split(":").at(-1) ?? "";
    this.topLevel = new Set(Object.keys(options.asl.States));
    this.machine = new LocalStateMachine(options.asl, (name, state) => this.isLocal(name, state, "top"));
    for (const [name, state] of Object.entries(options.asl.States)) {
      if (state.Type !== "Parallel") continue;
      this.parallels.set(
        name,
        (state.Branches as Asl[]).map(
          (branch) =>
            new LocalStateMachine(branch, (child, childState) => this.isLocal(child, childState, "branch")),
        ),
      );
    }
    for (const [name, state] of statesOf(options.asl)) {
      if (localStateKind(name, state)?.kind !== "distributedMap") continue;
      const map = state as unknown as DistributedMapState;
      if (map.ItemBatcher !== undefined)
        throw new Error(`state ${JSON.stringify(name)}: the local runtime has no ItemBatcher`);
      const type = map.ItemProcessor.ProcessorConfig?.ExecutionType ?? "STANDARD";
      if (type !== "STANDARD")
        throw new Error(
          `state ${JSON.stringify(name)}: the local runtime runs STANDARD child executions only (EXPRESS ones are restarted, not redriven, and billed differently in AWS)`,
        );
      const { ProcessorConfig: _config, ...definition } = map.ItemProcessor;
      this.maps.set(name, {
        state: map,
        machine: new LocalStateMachine(definition, (child, childState) =>
          this.isLocal(child, childState, "child"),
        ),
        label: labelFor(name, state),
      });
    }
  }

  /** Whether the local runtime runs this state itself; refuses what it cannot run as AWS does. */
  private isLocal(name: string, state: StateDefinition, scope: Scope): boolean {
    const kind = localStateKind(name, state);
    if (!kind) return false;
    checkLocalState(name, state);
    if (kind.kind === "distributedMap" && scope === "child")
      throw new Error(
        `state ${JSON.stringify(name)}: the local runtime has no Distributed Map inside a child execution`,
      );
    if (kind.kind === "parallel" && scope !== "top")
      throw new Error(
        `state ${JSON.stringify(name)}: the local runtime has no Parallel state inside a ${scope === "branch" ? "Parallel branch" : "child execution"}`,
      );
    if (kind.kind === "lambda" && !this.options.lambdas[kind.functionName])
      throw new Error(
        `no local handler for the Lambda function ${kind.functionName} (state ${JSON.stringify(name)})`,
      );
    return true;
  }

  /** The state machine this workflow runs (StartExecution and ListExecutions name it). */
  get stateMachineArn(): string {
    return this.options.stateMachineArn;
  }

  /** Every execution, in start order. */
  get all(): ExecutionRecord[] {
    return [...this.executions.values()];
  }

  get(executionArn: string): ExecutionRecord | undefined {
    return this.executions.get(executionArn);
  }

  /** GetExecutionHistory's events, oldest first. */
  history(executionArn: string): HistoryEvent[] | undefined {
    return this.executions.get(executionArn)?.history;
  }

  /** The Map Runs an execution started (ListMapRuns), oldest first. */
  mapRunsOf(executionArn: string): MapRun[] {
    return this.executions.get(executionArn)?.mapRuns ?? [];
  }

  mapRun(mapRunArn: string): MapRun | undefined {
    return this.mapRunIndex.get(mapRunArn);
  }

  /** What the execution used so far, as AWS bills a Standard workflow (a copy). */
  usage(executionArn: string): Usage | undefined {
    const usage = this.executions.get(executionArn)?.usage;
    return usage ? { ...usage } : undefined;
  }

  /**
   * StartExecution. The input is checked as the API does (ValidationException over 256 KiB); a name already
   * used answers ExecutionAlreadyExists.
   */
  start(name: string, input: unknown): ExecutionRecord {
    const executionArn = `${this.options.stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
    if (this.executions.has(executionArn))
      throw new StatesError("ExecutionAlreadyExists", `Execution already exists: ${executionArn}`);
    const json = toJson(input);
    checkParameterLength(json, "input");
    const execution = new Execution(executionArn, this.options.stateMachineArn, name, JSON.parse(json));
    this.executions.set(executionArn, execution);
    execution.record("ExecutionStarted", {
      executionStartedEventDetails: { input: json, inputDetails: { truncated: false } },
    });
    this.launch(execution, undefined, execution.input);
    this.emit("execution_started", execution);
    return execution;
  }

  /**
   * RedriveExecution, by AWS's rule: a FAILED, TIMED_OUT or ABORTED execution (same ARN, RUNNING again) resumes
   * at the state of its last run that has an Entered event and no Exited event, with the input it entered with.
   * States that exited (a caught error exits its state) do not run again; a Distributed Map resumed this way
   * redrives its Map Run (only the items that did not succeed). Throws ExecutionDoesNotExist,
   * ExecutionNotRedrivable.
   */
  redrive(executionArn: string): ExecutionRecord {
    const execution = this.executions.get(executionArn);
    if (!execution)
      throw new StatesError("ExecutionDoesNotExist", `Execution does not exist: ${executionArn}`);
    const reason = execution.notRedrivableReason();
    if (reason) throw new StatesError("ExecutionNotRedrivable", `${reason} (${executionArn})`);
    const from = execution.unfinishedState(this.topLevel);
    if (!from) {
      throw new StatesError(
        "ExecutionNotRedrivable",
        `Every state the last run of ${executionArn} entered has exited: there is no unsuccessful state to redrive`,
      );
    }
    const startAt = "name" in from ? from.name : undefined;
    delete execution.stopDate;
    delete execution.output;
    delete execution.error;
    delete execution.cause;
    delete execution.stopRequest;
    execution.status = "RUNNING";
    execution.redriveCount++;
    execution.redriveDate = new Date();
    execution.record("ExecutionRedriven", {
      executionRedrivenEventDetails: { redriveCount: execution.redriveCount },
    });
    // "When you redrive an execution, it's considered as a state transition."
    execution.usage.transitions++;
    if (startAt !== undefined && (this.maps.has(startAt) || this.parallels.has(startAt)))
      execution.redriveStates.add(startAt);
    this.launch(execution, startAt, startAt === undefined ? execution.input : from.input);
    return execution;
  }

  /** StopExecution: a RUNNING execution ends ABORTED (its children and waiting tasks stop too). */
  stop(executionArn: string, reason: { error?: string; cause?: string } = {}): ExecutionRecord {
    const execution = this.executions.get(executionArn);
    if (!execution)
      throw new StatesError("ExecutionDoesNotExist", `Execution does not exist: ${executionArn}`);
    if (execution.status === "RUNNING") {
      execution.stopRequest = reason;
      execution.control?.abort();
    }
    return execution;
  }

  /** Stops what still runs and removes the Map Runs' spool files. */
  async close(): Promise<void> {
    const running = this.all.filter((e) => e.status === "RUNNING");
    for (const execution of running)
      this.stop(execution.executionArn, { cause: "The local runtime stopped" });
    await Promise.all(running.map((e) => e.done));
    await Promise.all([...this.mapRunIndex.values()].map((run) => run.dispose()));
    if (this.workDir && !this.options.workDir) await rm(await this.workDir, { recursive: true, force: true });
  }

  private spoolDir(): Promise<string> {
    this.workDir ??= this.options.workDir
      ? Promise.resolve(this.options.workDir)
      : mkdtemp(join(tmpdir(), "sluice-map-runs-"));
    return this.workDir;
  }

  private runContext(execution: Execution): RunContext {
    return {
      Execution: {
        Id: execution.executionArn,
        Name: execution.name,
        Input: execution.input,
        StartTime: execution.startDate.toISOString(),
        RedriveCount: execution.redriveCount,
        ...(execution.redriveDate ? { RedriveTime: execution.redriveDate.toISOString() } : {}),
      },
      StateMachine: { Id: this.options.stateMachineArn, Name: this.stateMachineName },
    };
  }

  /** Runs the workflow from `startAt` (default StartAt): the start, or a redrive. */
  private launch(execution: Execution, startAt: string | undefined, input: unknown): void {
    const controller = new AbortController();
    let open = true;
    const run: StateRun = {
      executionArn: execution.executionArn,
      context: this.runContext(execution),
      signal: controller.signal,
      usage: execution.usage,
      record: (type, details) => {
        if (open) execution.record(type, details);
      },
      emit: (event: string, payload: unknown) => this.emit(event, payload),
    };
    const handlers = localHandlers(this.machine.states, run, this.services, (name, state, kind) =>
      kind === "parallel"
        ? this.parallelHandler(execution, run, name, state)
        : this.mapHandler(execution, run, name, state),
    );
    const machineRun = this.machine.run({
      ...(startAt === undefined ? {} : { startAt }),
      input,
      handlers,
      ...(this.options.retryIntervalMs === undefined
        ? {}
        : { retryIntervalMs: this.options.retryIntervalMs }),
      onEvent: (event) => this.onEvent(event, this.machine, run, execution),
      onEnd: () => {
        open = false;
      },
    });
    execution.control = {
      abort: () => {
        machineRun.abort();
        controller.abort();
      },
    };
    execution.done = machineRun.outcome.then((outcome) => {
      controller.abort();
      return this.finish(execution, outcome);
    });
  }

  /** History and usage from the library's event log; keeps `run.current` (the state running now) up to date. */
  private onEvent(
    event: MachineEvent,
    machine: LocalStateMachine,
    run: StateRun,
    execution?: Execution,
  ): void {
    const state = machine.states[event.name];
    const type = state?.Type ?? "Task";
    if (event.type === "StateEntered") {
      run.usage.transitions++;
      run.current = {
        name: event.name,
        input: event.input,
        enteredTime: iso(event.timestamp),
        retryCount: 0,
      };
      execution?.record(`${type}StateEntered`, {
        stateEnteredEventDetails: {
          name: event.name,
          input: toJson(event.input),
          inputDetails: { truncated: false },
        },
      });
    } else if (event.type === "StateRetried") {
      // "each retry will be charged as an additional state transition"
      run.usage.transitions++;
      if (run.current?.name === event.name) run.current.retryCount++;
    } else {
      if (run.current?.name === event.name) delete run.current;
      execution?.record(`${type}StateExited`, {
        stateExitedEventDetails: {
          name: event.name,
          output: toJson(event.output),
          outputDetails: { truncated: false },
        },
      });
    }
  }

  private finish(execution: Execution, outcome: RunOutcome): Execution {
    if (outcome.status === "SUCCEEDED") {
      try {
        checkedJson(outcome.output, "The execution's output");
      } catch (error) {
        outcome = { status: "FAILED", error: (error as Error).name, cause: (error as Error).message };
      }
    }
    if (outcome.status === "SUCCEEDED") {
      execution.record("ExecutionSucceeded", {
        executionSucceededEventDetails: {
          output: toJson(outcome.output),
          outputDetails: { truncated: false },
        },
      });
      execution.output = outcome.output;
    } else if (outcome.status === "ABORTED") {
      const { error, cause } = execution.stopRequest ?? {};
      execution.record("ExecutionAborted", {
        executionAbortedEventDetails: { ...(error ? { error } : {}), ...(cause ? { cause } : {}) },
      });
      if (error) execution.error = error;
      if (cause) execution.cause = cause;
    } else {
      const type = outcome.status === "TIMED_OUT" ? "ExecutionTimedOut" : "ExecutionFailed";
      execution.record(type, {
        [outcome.status === "TIMED_OUT" ? "executionTimedOutEventDetails" : "executionFailedEventDetails"]: {
          error: outcome.error,
          cause: outcome.cause,
        },
      });
      execution.error = outcome.error;
      execution.cause = outcome.cause;
    }
    execution.status = outcome.status as ExecutionStatus;
    execution.stopDate = new Date();
    delete execution.control;
    this.emit("execution_finished", execution);
    return execution;
  }

  /**
   * A Parallel state: its branches run at once on the state's effective input, each from its StartAt, and the
   * state's result is their outputs in branch order. The first branch to fail stops the others, and its error is
   * the state's ("If any branch fails … the entire Parallel state is considered to have failed and all its
   * branches are stopped"). A redrive that resumes here runs only the branches that did not succeed, each from
   * the state where it stopped, and keeps the outputs of those that did ("reschedules and redrives only the
   * iterations and branches that failed or aborted"); a Retry of the state runs every branch again.
   */
  private parallelHandler(
    execution: Execution,
    run: StateRun,
    name: string,
    state: StateDefinition,
  ): LocalStateHandler {
    const branches = this.parallels.get(name)!;
    const { Branches: _branches, ...processing } = state;
    return (rawInput) =>
      runLocalState(name, processing as StateDefinition, rawInput, run, {
        invoke: async (input) => {
          const previous = execution.redriveStates.delete(name) ? execution.parallels.get(name) : undefined;
          const progress = branches.map((_, index): BranchProgress => {
            const before = previous?.[index];
            if (before?.status === "SUCCEEDED") return before;
            return { status: "RUNNING", ...(before?.stoppedAt ? { stoppedAt: before.stoppedAt } : {}) };
          });
          execution.parallels.set(name, progress);
          run.record("ParallelStateStarted");
          const stopBranches = new AbortController();
          const stop = () => stopBranches.abort();
          if (run.signal.aborted) stop();
          else run.signal.addEventListener("abort", stop, { once: true });
          let failure: { error: string; cause: string } | undefined;
          try {
            await Promise.all(
              branches.map(async (machine, index) => {
                const branch = progress[index]!;
                if (branch.status === "SUCCEEDED") return;
                const { outcome, stoppedAt } = await this.runBranch(
                  execution,
                  run,
                  machine,
                  branch.stoppedAt ?? { input },
                  stopBranches.signal,
                );
                if (outcome.status === "SUCCEEDED") {
                  progress[index] = { status: "SUCCEEDED", output: outcome.output };
                  return;
                }
                progress[index] = {
                  status: outcome.status === "ABORTED" ? "ABORTED" : "FAILED",
                  ...(stoppedAt ? { stoppedAt } : {}),
                };
                if (outcome.status !== "ABORTED" && !failure) {
                  failure = { error: outcome.error, cause: outcome.cause };
                  stopBranches.abort();
                }
              }),
            );
          } finally {
            run.signal.removeEventListener("abort", stop);
          }
          if (run.signal.aborted) throw new StatesError("States.Aborted", "The execution stopped");
          if (failure) {
            run.record("ParallelStateFailed");
            throw new StatesError(failure.error, failure.cause);
          }
          run.record("ParallelStateSucceeded");
          return progress.map((branch) => branch.output);
        },
      });
  }

  /**
   * One branch of a Parallel state, in the execution: its states' events go into the execution's history (as
   * AWS records them) and its usage into the execution's. `from` is where it starts: a redrive's resume point,
   * or the state's effective input at the branch's StartAt.
   */
  private runBranch(
    execution: Execution,
    parent: StateRun,
    machine: LocalStateMachine,
    from: { name?: string; input: unknown },
    stop: AbortSignal,
  ): Promise<NestedOutcome> {
    if (from.name !== undefined && this.maps.has(from.name)) execution.redriveStates.add(from.name);
    return this.runNested(machine, from, stop, {
      run: (signal) => ({
        executionArn: parent.executionArn,
        context: parent.context,
        signal,
        usage: parent.usage,
        record: (type, details) => parent.record(type, details),
        emit: (event: string, payload: unknown) => this.emit(event, payload),
      }),
      composite: (run) => (name, state) => this.mapHandler(execution, run, name, state),
      history: execution,
    });
  }

  /**
   * Runs a machine of its own (a Parallel branch, a Map Run's child execution) from `from` until it ends or `stop`
   * aborts. Its local states get a signal of their own, aborted with `stop` and when the run ends (so what they
   * still wait on stops with it). Returns how it ended and, unless it succeeded, the state it was in (none when
   * it was stopped between two states).
   */
  private async runNested(
    machine: LocalStateMachine,
    from: { name?: string; input: unknown },
    stop: AbortSignal,
    how: {
      run: (signal: AbortSignal) => StateRun;
      composite: (
        run: StateRun,
      ) => (name: string, state: StateDefinition, kind: "distributedMap" | "parallel") => LocalStateHandler;
      /** The execution whose history records the run's states (none: a child's history is not kept). */
      history?: Execution;
    },
  ): Promise<NestedOutcome> {
    const controller = new AbortController();
    const abort = () => controller.abort();
    if (stop.aborted) abort();
    else stop.addEventListener("abort", abort, { once: true });
    const run = how.run(controller.signal);
    const machineRun = machine.run({
      ...(from.name === undefined ? {} : { startAt: from.name }),
      input: from.input,
      handlers: localHandlers(machine.states, run, this.services, how.composite(run)),
      ...(this.options.retryIntervalMs === undefined
        ? {}
        : { retryIntervalMs: this.options.retryIntervalMs }),
      onEvent: (event) => this.onEvent(event, machine, run, how.history),
    });
    const stopRun = () => machineRun.abort();
    if (controller.signal.aborted) stopRun();
    else controller.signal.addEventListener("abort", stopRun, { once: true });
    const outcome = await machineRun.outcome;
    stop.removeEventListener("abort", abort);
    controller.abort();
    const stopped: CurrentState | undefined = run.current;
    return {
      outcome,
      ...(outcome.status !== "SUCCEEDED" && stopped
        ? { stoppedAt: { name: stopped.name, input: stopped.input } }
        : {}),
    };
  }

  /** A Distributed Map state: runs a Map Run (or redrives the failed one when a redrive resumes here). */
  private mapHandler(execution: Execution, run: StateRun, name: string, state: StateDefinition) {
    const child = this.maps.get(name)!;
    // A Distributed Map has no Parameters of its own: the older `Parameters` is its ItemSelector.
    const { Parameters: _itemSelector, ...processing } = state;
    return (rawInput: unknown) =>
      runLocalState(name, processing as StateDefinition, rawInput, run, {
        invoke: async (input, context) => {
          const redriving = execution.redriveStates.delete(name);
          // "When you retry a Map state, it creates a new Map Run"; a redrive runs the failed one again.
          let mapRun = redriving
            ? execution.mapRuns.findLast((r) => r.stateName === name && r.status !== "SUCCEEDED")
            : undefined;
          if (!mapRun) {
            mapRun = new MapRun({
              executionArn: execution.executionArn,
              stateMachineArn: this.options.stateMachineArn,
              stateName: name,
              label: child.label,
            });
            execution.mapRuns.push(mapRun);
            this.mapRunIndex.set(mapRun.mapRunArn, mapRun);
          }
          const redrive = mapRun.begin();
          run.record("MapStateStarted");
          run.record(
            redrive ? "MapRunRedriven" : "MapRunStarted",
            redrive
              ? {
                  mapRunRedrivenEventDetails: {
                    mapRunArn: mapRun.mapRunArn,
                    redriveCount: mapRun.redriveCount,
                  },
                }
              : { mapRunStartedEventDetails: { mapRunArn: mapRun.mapRunArn } },
          );
          const current = mapRun;
          try {
            const result = await mapRun.execute(child.state, input, context, {
              s3: this.options.s3,
              workDir: await this.spoolDir(),
              signal: run.signal,
              ...(this.options.resultsPerFile ? { resultsPerFile: this.options.resultsPerFile } : {}),
              startChild: (request) => this.runChild(execution, child, current, request),
            });
            run.record("MapRunSucceeded");
            run.record("MapStateSucceeded");
            return result;
          } catch (error) {
            const e = error as Error;
            run.record("MapRunFailed", { mapRunFailedEventDetails: { error: e.name, cause: e.message } });
            run.record("MapStateFailed");
            throw error;
          }
        },
      });
  }

  /**
   * One child execution of a Map Run (STANDARD): a new one, or a redrive of an unsuccessful one (same ARN, from
   * the state where it stopped). It counts into the parent's usage: one transition for its start (or redrive),
   * plus its own states and retries.
   */
  private async runChild(execution: Execution, child: ChildMachine, mapRun: MapRun, request: ChildRequest) {
    const { resume } = request;
    execution.usage.childExecutions++;
    execution.usage.transitions++;
    const nested = await this.runNested(
      child.machine,
      resume?.state ? { name: resume.state, input: resume.input } : { input: request.input },
      request.signal,
      {
        run: (signal) => ({
          executionArn: request.executionArn,
          parentExecutionArn: execution.executionArn,
          context: {
            Execution: {
              Id: request.executionArn,
              Name: request.name,
              Input: request.input,
              StartTime: (resume?.startDate ?? new Date()).toISOString(),
              RedriveCount: resume?.redriveCount ?? 0,
              ...(resume ? { RedriveTime: new Date().toISOString() } : {}),
            },
            StateMachine: { Id: mapRun.stateMachineArn, Name: `${this.stateMachineName}/${mapRun.label}` },
          },
          signal,
          usage: execution.usage,
          // Child histories are not kept (a Map Run can have millions of children).
          record: () => {},
          emit: (event: string, payload: unknown) => this.emit(event, payload),
        }),
        composite: () => (name) => {
          throw new Error(`no Distributed Map inside a child execution (${name})`);
        },
      },
    );
    let outcome = nested.outcome;
    if (outcome.status === "SUCCEEDED") {
      try {
        checkedJson(outcome.output, `The output of child execution ${request.name}`);
      } catch (error) {
        outcome = { status: "FAILED", error: (error as Error).name, cause: (error as Error).message };
      }
    }
    return {
      ...outcome,
      ...(nested.stoppedAt
        ? { stoppedAt: { state: nested.stoppedAt.name, input: nested.stoppedAt.input } }
        : {}),
    } as ChildOutcome;
  }
}
