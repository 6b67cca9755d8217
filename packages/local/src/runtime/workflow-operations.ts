import type { ExecutionRecord, LocalWorkflow } from "./local-workflow.ts";
import { type MapRunRecord, mapRunCounts } from "./map-run.ts";
import type { ExecutionHost } from "./step-functions-api.ts";
import { StatesError } from "./task-tokens.ts";

const seconds = (date: Date) => date.getTime() / 1000;

/** DescribeMapRun's answer for a live local Map Run. */
export function describeMapRun(run: MapRunRecord): Record<string, unknown> {
  const counts = mapRunCounts(run);
  return {
    mapRunArn: run.mapRunArn,
    executionArn: run.executionArn,
    status: run.status,
    startDate: seconds(run.startDate),
    ...(run.stopDate ? { stopDate: seconds(run.stopDate) } : {}),
    maxConcurrency: run.maxConcurrency,
    toleratedFailurePercentage: run.toleratedFailurePercentage,
    toleratedFailureCount: run.toleratedFailureCount,
    // Each item is one child execution locally, so both count the same.
    itemCounts: counts,
    executionCounts: counts,
    redriveCount: run.redriveCount,
    ...(run.redriveDate ? { redriveDate: seconds(run.redriveDate) } : {}),
  };
}

/** The redrive fields DescribeExecution adds to an execution's description. */
export function redriveFields(record: ExecutionRecord): Record<string, unknown> {
  return {
    redriveCount: record.redriveCount,
    ...(record.redriveDate ? { redriveDate: seconds(record.redriveDate) } : {}),
    redriveStatus:
      record.status === "FAILED" || record.status === "ABORTED" ? "REDRIVABLE" : "NOT_REDRIVABLE",
  };
}

/**
 * The redrive fields of DescribeExecution, and the Map Run, history and redrive operations of the loopback Step Functions API, answered from the local
 * workflow's live records. Spread into the ExecutionHost the runtime gives StepFunctionsApi.
 */
export function workflowOperations(
  workflow: LocalWorkflow,
): Required<
  Pick<
    ExecutionHost,
    "describeRedrive" | "listMapRuns" | "describeMapRun" | "getExecutionHistory" | "redriveExecution"
  >
> {
  const execution = (executionArn: string) => {
    const record = workflow.get(executionArn);
    if (!record) throw new StatesError("ExecutionDoesNotExist", `Execution does not exist: ${executionArn}`);
    return record;
  };
  return {
    describeRedrive: (executionArn) => redriveFields(execution(executionArn)),
    listMapRuns: (executionArn) => {
      execution(executionArn);
      return workflow
        .mapRunsOf(executionArn)
        .toReversed()
        .map((run) => ({
          executionArn: run.executionArn,
          mapRunArn: run.mapRunArn,
          stateMachineArn: run.mapRunArn,
          startDate: seconds(run.startDate),
          ...(run.stopDate ? { stopDate: seconds(run.stopDate) } : {}),
        }));
    },
    describeMapRun: (mapRunArn) => {
      const run = workflow.mapRun(mapRunArn);
      if (!run) throw new StatesError("ResourceNotFound", `Map Run does not exist: ${mapRunArn}`);
      return describeMapRun(run);
    },
    getExecutionHistory: (executionArn) => {
      execution(executionArn);
      return (workflow.history(executionArn) ?? []) as unknown as Record<string, unknown>[];
    },
    redriveExecution: (executionArn) => {
      const record = workflow.redrive(executionArn);
      return { redriveDate: record.redriveDate ?? new Date() };
    },
  };
}
