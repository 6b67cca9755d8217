import type { ListedExecution } from "./list-executions.ts";
import type { ExecutionRecord, LocalWorkflow } from "./local-workflow.ts";
import type { MapRun } from "./map-run.ts";
import type { ExecutionHost } from "./step-functions-api.ts";
import { StatesError } from "./task-tokens.ts";

const seconds = (date: Date) => date.getTime() / 1000;

/** DescribeMapRun's answer for a live local Map Run. */
export function describeMapRun(run: MapRun): Record<string, unknown> {
  const counts = run.counts();
  return {
    mapRunArn: run.mapRunArn,
    executionArn: run.executionArn,
    status: run.status,
    startDate: seconds(run.startDate),
    ...(run.stopDate ? { stopDate: seconds(run.stopDate) } : {}),
    maxConcurrency: run.maxConcurrency,
    toleratedFailurePercentage: run.toleratedFailurePercentage,
    toleratedFailureCount: run.toleratedFailureCount,
    // Each item is one child execution locally (no ItemBatcher), so both count the same.
    itemCounts: counts,
    executionCounts: counts,
    redriveCount: run.redriveCount,
    ...(run.redriveDate ? { redriveDate: seconds(run.redriveDate) } : {}),
  };
}

/** The redrive fields DescribeExecution adds to an execution's description. */
export function redriveFields(record: ExecutionRecord): Record<string, unknown> {
  const reason = record.notRedrivableReason();
  return {
    redriveCount: record.redriveCount,
    ...(record.redriveDate ? { redriveDate: seconds(record.redriveDate) } : {}),
    redriveStatus: reason ? "NOT_REDRIVABLE" : "REDRIVABLE",
    ...(reason ? { redriveStatusReason: reason } : {}),
  };
}

/** What ListExecutions and DescribeExecution both say of an execution: which it is, its status and dates. */
function executionIdentity(record: ExecutionRecord) {
  return {
    executionArn: record.executionArn,
    stateMachineArn: record.stateMachineArn,
    name: record.name,
    status: record.status,
    startDate: seconds(record.startDate),
    ...(record.stopDate ? { stopDate: seconds(record.stopDate) } : {}),
  };
}

/** An execution as ListExecutions lists it (ExecutionListItem: no input, output or error). */
export function listedExecution(record: ExecutionRecord): ListedExecution {
  return {
    ...executionIdentity(record),
    redriveCount: record.redriveCount,
    ...(record.redriveDate ? { redriveDate: seconds(record.redriveDate) } : {}),
  };
}

/** DescribeExecution's answer (without the redrive fields, see redriveFields). */
export function describeExecution(record: ExecutionRecord): Record<string, unknown> {
  return {
    ...executionIdentity(record),
    input: JSON.stringify(record.input),
    inputDetails: { included: true },
    ...(record.output === undefined
      ? {}
      : { output: JSON.stringify(record.output), outputDetails: { included: true } }),
    ...(record.error ? { error: record.error } : {}),
    ...(record.cause ? { cause: record.cause } : {}),
  };
}

/**
 * DescribeExecution, ListExecutions, StopExecution and the Map Run, history and redrive operations of the
 * loopback Step Functions API, answered from the local workflow's live records. Spread into the ExecutionHost
 * the runtime gives StepFunctionsApi (StartExecution stays the runtime's: it knows the state machine ARN).
 */
export function workflowOperations(
  workflow: LocalWorkflow,
): Required<
  Pick<
    ExecutionHost,
    | "describeExecution"
    | "listExecutions"
    | "describeRedrive"
    | "listMapRuns"
    | "describeMapRun"
    | "getExecutionHistory"
    | "redriveExecution"
    | "stopExecution"
  >
> {
  const execution = (executionArn: string) => {
    const record = workflow.get(executionArn);
    if (!record) throw new StatesError("ExecutionDoesNotExist", `Execution does not exist: ${executionArn}`);
    return record;
  };
  return {
    describeExecution: (executionArn) => describeExecution(execution(executionArn)),
    listExecutions: (stateMachineArn) => {
      if (stateMachineArn !== workflow.stateMachineArn)
        throw new StatesError(
          "StateMachineDoesNotExist",
          `State Machine Does Not Exist: '${stateMachineArn}'`,
        );
      return workflow.all.map(listedExecution);
    },
    describeRedrive: (executionArn) => redriveFields(execution(executionArn)),
    listMapRuns: (executionArn) => {
      execution(executionArn);
      return workflow
        .mapRunsOf(executionArn)
        .toReversed()
        .map((run) => ({
          executionArn: run.executionArn,
          mapRunArn: run.mapRunArn,
          stateMachineArn: run.stateMachineArn,
          startDate: seconds(run.startDate),
          ...(run.stopDate ? { stopDate: seconds(run.stopDate) } : {}),
        }));
    },
    describeMapRun: (mapRunArn) => {
      const run = workflow.mapRun(mapRunArn);
      if (!run) throw new StatesError("ResourceNotFound", `Map Run does not exist: ${mapRunArn}`);
      return describeMapRun(run);
    },
    getExecutionHistory: (executionArn) =>
      execution(executionArn).history as unknown as Record<string, unknown>[],
    redriveExecution: (executionArn) => {
      const record = workflow.redrive(executionArn);
      return { redriveDate: record.redriveDate ?? new Date() };
    },
    stopExecution: (executionArn, reason) => {
      const record = workflow.stop(executionArn, reason);
      return { stopDate: record.stopDate ?? new Date() };
    },
  };
}
