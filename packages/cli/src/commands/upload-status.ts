import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListMapRunsCommand,
  type SFNClient,
} from "@aws-sdk/client-sfn";
import { computeProgress, type FailureRecordLookup, type Progress } from "@sluice/admin";
import { InvalidOptionError } from "@sluice/core";
import { describeFailureRecord } from "./failure-record.ts";
import { executionArnFor } from "./step-functions-options.ts";

export interface UploadStatus extends Progress {
  uploadId: string;
  executionArn: string;
  status: string;
  startDate: string;
  stopDate?: string;
  error?: string;
  cause?: string;
  redriveCount: number;
  totalRows: number | null;
  totalChunks: number | null;
  mapRun?: { mapRunArn: string; status: string; maxConcurrency: number; redriveCount: number };
  /** The completion summary (the execution's output) once it SUCCEEDED. */
  summary?: unknown;
  /** The uploaded object, from the execution's input. */
  source?: { bucket: string; key: string; versionId?: string };
  /** processed/<uploadId>/failure.json, read by `sluice status` once the execution FAILED/TIMED_OUT/ABORTED. */
  failureRecord?: FailureRecordLookup;
}

/** The uploaded object named in the execution's input (the start handler's `source`), if it names one. */
export function sourceOf(input: string | undefined): UploadStatus["source"] {
  try {
    const source = (JSON.parse(input ?? "null") as { source?: Record<string, unknown> } | null)?.source;
    if (typeof source?.bucket !== "string" || typeof source.key !== "string") return undefined;
    return {
      bucket: source.bucket,
      key: source.key,
      ...(typeof source.versionId === "string" ? { versionId: source.versionId } : {}),
    };
  } catch {
    return undefined;
  }
}

interface ConvertTotals {
  totalRows: number;
  totalChunks: number;
}

/** The convert step's totals, from its state-exited event (`Convert workbook`: output.convert). */
export function totalsFromHistory(events: HistoryEvent[]): ConvertTotals | undefined {
  for (const event of events) {
    const output = event.stateExitedEventDetails?.output;
    if (!event.type?.endsWith("StateExited") || !output) continue;
    try {
      const convert = (JSON.parse(output) as { convert?: Partial<ConvertTotals> })?.convert;
      if (typeof convert?.totalRows === "number" && typeof convert.totalChunks === "number")
        return { totalRows: convert.totalRows, totalChunks: convert.totalChunks };
    } catch {
      // Not JSON: not the convert step's output.
    }
  }
  return undefined;
}

async function convertTotals(sfn: SFNClient, executionArn: string): Promise<ConvertTotals | undefined> {
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({
        executionArn,
        maxResults: 100,
        includeExecutionData: true,
        nextToken,
      }),
    );
    const totals = totalsFromHistory(page.events ?? []);
    if (totals) return totals;
    nextToken = page.nextToken;
  } while (nextToken);
  return undefined;
}

/**
 * Where an upload stands, from the Step Functions API alone (the same calls against AWS and the local
 * runtime): DescribeExecution for its status, GetExecutionHistory for the convert step's totals (known before
 * any chunk is delivered), ListMapRuns + DescribeMapRun for the chunks done, in flight and failed.
 */
export async function fetchUploadStatus(
  sfn: SFNClient,
  stateMachineArn: string,
  uploadId: string,
  now = Date.now(),
): Promise<UploadStatus> {
  const executionArn = executionArnFor(stateMachineArn, uploadId);
  const execution = await sfn.send(new DescribeExecutionCommand({ executionArn })).catch((error: Error) => {
    if (error.name === "ExecutionDoesNotExist")
      throw new InvalidOptionError(`no upload ${JSON.stringify(uploadId)}: ${executionArn} does not exist`);
    throw error;
  });
  const totals = await convertTotals(sfn, executionArn);
  const [latest] = (await sfn.send(new ListMapRunsCommand({ executionArn, maxResults: 1 }))).mapRuns ?? [];
  const mapRun = latest?.mapRunArn
    ? await sfn.send(new DescribeMapRunCommand({ mapRunArn: latest.mapRunArn }))
    : undefined;
  const counts = mapRun?.itemCounts;
  const progress = computeProgress({
    totalRows: totals?.totalRows ?? null,
    totalChunks: totals?.totalChunks ?? null,
    succeeded: counts?.succeeded ?? 0,
    running: counts?.running ?? 0,
    failed: (counts?.failed ?? 0) + (counts?.timedOut ?? 0) + (counts?.aborted ?? 0),
    startedAt: mapRun?.startDate?.getTime() ?? null,
    stoppedAt: mapRun?.stopDate?.getTime() ?? (mapRun ? null : (execution.stopDate?.getTime() ?? null)),
    now,
  });
  const status = execution.status ?? "UNKNOWN";
  const source = sourceOf(execution.input);
  return {
    uploadId,
    executionArn,
    status,
    startDate: (execution.startDate ?? new Date(now)).toISOString(),
    ...(execution.stopDate ? { stopDate: execution.stopDate.toISOString() } : {}),
    ...(execution.error ? { error: execution.error } : {}),
    ...(execution.cause ? { cause: execution.cause } : {}),
    redriveCount: execution.redriveCount ?? 0,
    totalRows: totals?.totalRows ?? null,
    totalChunks: totals?.totalChunks ?? null,
    ...progress,
    ...(mapRun?.mapRunArn
      ? {
          mapRun: {
            mapRunArn: mapRun.mapRunArn,
            status: mapRun.status ?? "UNKNOWN",
            maxConcurrency: mapRun.maxConcurrency ?? 0,
            redriveCount: mapRun.redriveCount ?? 0,
          },
        }
      : {}),
    ...(status === "SUCCEEDED" && execution.output ? { summary: JSON.parse(execution.output) } : {}),
    ...(source ? { source } : {}),
  };
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

/** The human summary `sluice status` prints before its JSON line. */
export function describeStatus(status: UploadStatus): string[] {
  const n = (value: number) => value.toLocaleString("en");
  const lines = [
    `upload ${status.uploadId}: ${status.status}${status.redriveCount ? ` (redriven ${status.redriveCount}x)` : ""}`,
  ];
  if (status.totalRows === null || status.totalChunks === null) lines.push("totals: not converted yet");
  else lines.push(`totals: ${n(status.totalRows)} rows in ${n(status.totalChunks)} chunks`);
  if (status.mapRun) {
    lines.push(
      `chunks: ${n(status.chunksDone)} done, ${n(status.chunksInFlight)} in flight (MaxConcurrency ${status.mapRun.maxConcurrency}), ${n(status.chunksFailed)} failed${status.chunksPending === null ? "" : `, ${n(status.chunksPending)} pending`}${status.percent === null ? "" : ` (${status.percent}%)`}`,
    );
    const rate =
      status.chunksPerSecond === null
        ? "rate: not measured yet"
        : `rate: ${status.chunksPerSecond} chunks/s${status.rowsPerSecond === null ? "" : ` (~${n(status.rowsPerSecond)} rows/s)`}`;
    lines.push(status.etaSeconds === null ? rate : `${rate}, ETA ${duration(status.etaSeconds)}`);
  } else if (status.totalChunks !== null) {
    lines.push("chunks: delivery not started");
  }
  if (status.error) lines.push(`error ${status.error}: ${status.cause ?? ""}`);
  if (status.failureRecord) lines.push(...describeFailureRecord(status.failureRecord, status.uploadId));
  return lines;
}
