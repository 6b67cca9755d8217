import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { evaluatePayload } from "./payload-template.ts";
import { StatesError } from "./task-tokens.ts";

/** The parts of a Distributed Map state the local Map Run reads. */
export interface DistributedMapState {
  ItemReader: {
    Resource: string;
    ReaderConfig?: { InputType?: string };
    Parameters: Record<string, unknown>;
  };
  ItemSelector?: Record<string, unknown>;
  ItemProcessor: { StartAt: string; States: Record<string, unknown> };
  MaxConcurrency?: number;
  ToleratedFailurePercentage?: number;
  ToleratedFailureCount?: number;
  ResultWriter?: { Resource: string; Parameters: Record<string, unknown> };
}

export interface ChildRun {
  result: Promise<unknown>;
  abort(): void;
}

/** Item counts as DescribeMapRun reports them (`itemCounts`; locally `executionCounts` are the same numbers). */
export interface MapRunCounts {
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  timedOut: number;
  aborted: number;
  total: number;
  resultsWritten: number;
  failuresNotRedrivable: number;
  pendingRedrive: number;
}

export type MapRunStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "ABORTED";

/**
 * One Map Run as the local Step Functions API describes it, updated live while it runs. It outlives the run:
 * a redrive runs the same Map Run again, skipping the items in `succeeded` and keeping their results.
 */
export interface MapRunRecord {
  mapRunArn: string;
  mapRunId: string;
  executionArn: string;
  stateName: string;
  status: MapRunStatus;
  startDate: Date;
  stopDate?: Date;
  maxConcurrency: number;
  toleratedFailureCount: number;
  toleratedFailurePercentage: number;
  /** Items read from the ItemReader so far (the whole file once the reader is done). */
  total: number;
  running: number;
  failed: number;
  timedOut: number;
  aborted: number;
  resultsWritten: number;
  redriveCount: number;
  redriveDate?: Date;
  /** The child results of the items that succeeded, by item index; kept across redrives. */
  succeeded: Map<number, ChildRecord>;
}

/** A new Map Run record for `state`, RUNNING, with nothing read yet. */
export function createMapRunRecord(
  state: DistributedMapState,
  stateName: string,
  executionArn: string,
  mapRunId: string,
): MapRunRecord {
  return {
    mapRunArn: `${executionArn.replace(":execution:", ":mapRun:")}/${mapRunId}`,
    mapRunId,
    executionArn,
    stateName,
    status: "RUNNING",
    startDate: new Date(),
    maxConcurrency: state.MaxConcurrency ?? 0,
    toleratedFailureCount: state.ToleratedFailureCount ?? 0,
    toleratedFailurePercentage: state.ToleratedFailurePercentage ?? 0,
    total: 0,
    running: 0,
    failed: 0,
    timedOut: 0,
    aborted: 0,
    resultsWritten: 0,
    redriveCount: 0,
    succeeded: new Map(),
  };
}

/** The counts DescribeMapRun returns, from a live record. */
export function mapRunCounts(run: MapRunRecord): MapRunCounts {
  const succeeded = run.succeeded.size;
  const unsuccessful = run.failed + run.timedOut + run.aborted;
  const pending = Math.max(0, run.total - succeeded - run.running - unsuccessful);
  return {
    pending,
    running: run.running,
    succeeded,
    failed: run.failed,
    timedOut: run.timedOut,
    aborted: run.aborted,
    total: run.total,
    resultsWritten: run.resultsWritten,
    failuresNotRedrivable: 0,
    pendingRedrive: run.status === "RUNNING" ? 0 : unsuccessful,
  };
}

export interface MapRunOptions {
  s3: S3Client;
  /**
   * The Map Run's live record (see createMapRunRecord). When it already holds succeeded items (a redrive),
   * only the other items run again, and the results written count every item once.
   */
  run: MapRunRecord;
  /** Starts one child execution of the ItemProcessor with the selected item as its input. */
  startChild(input: unknown, name: string): ChildRun;
  /** Children per result file (AWS splits by size; locally by count, to keep memory flat). */
  resultsPerFile?: number;
}

export interface ChildRecord {
  ExecutionArn: string;
  Name: string;
  Input: string;
  InputDetails: { Included: boolean };
  StartDate: string;
  StopDate: string;
  Status: "SUCCEEDED" | "FAILED" | "ABORTED";
  StateMachineArn: string;
  Output?: string;
  OutputDetails?: { Included: boolean };
  Error?: string;
  Cause?: string;
}

async function* jsonLines(body: Readable): AsyncGenerator<unknown> {
  const lines = createInterface({ input: body, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    try {
      yield JSON.parse(line);
    } catch {
      throw new StatesError(
        "States.ItemReaderFailed",
        "A line of the item reader's JSONL object is not JSON",
      );
    }
  }
}

/** A child's Input as written to the results: the chunk's rows are left out so results stay small. */
function describeInput(input: unknown): string {
  const value = input as { chunk?: { rows?: unknown[] } };
  if (value?.chunk?.rows)
    return JSON.stringify({ ...value, chunk: { ...value.chunk, rows: `${value.chunk.rows.length} rows` } });
  return JSON.stringify(input);
}

/**
 * What AWS does for a Distributed Map, on the local bucket: read the items (JSONL) from the ItemReader,
 * run each through the ItemProcessor as its own execution with at most MaxConcurrency at once, stop starting
 * items once the tolerated failures are exceeded (and stop the running ones), write the results where the
 * ResultWriter says, and return the same shape AWS returns.
 */
export async function runMapRun(
  state: DistributedMapState,
  input: unknown,
  options: MapRunOptions,
): Promise<unknown> {
  const { run } = options;
  const redrive = run.succeeded.size > 0 || run.failed + run.timedOut + run.aborted > 0;
  Object.assign(run, {
    status: "RUNNING",
    running: 0,
    failed: 0,
    timedOut: 0,
    aborted: 0,
    resultsWritten: 0,
  });
  delete run.stopDate;
  if (redrive) {
    run.redriveCount++;
    run.redriveDate = new Date();
  }
  try {
    const output = await mapRunItems(state, input, options);
    Object.assign(run, { status: "SUCCEEDED", stopDate: new Date() });
    return output;
  } catch (error) {
    Object.assign(run, { status: "FAILED", stopDate: new Date() });
    throw error;
  }
}

async function mapRunItems(
  state: DistributedMapState,
  input: unknown,
  options: MapRunOptions,
): Promise<unknown> {
  const { s3, run } = options;
  const { mapRunArn, mapRunId } = run;
  if (state.ItemReader.ReaderConfig?.InputType !== "JSONL") {
    throw new StatesError("States.Runtime", "The local Map Run reads JSONL item readers only");
  }
  const reader = evaluatePayload(state.ItemReader.Parameters, input, {}) as { Bucket: string; Key: string };
  let body: Readable;
  try {
    body = (await s3.send(new GetObjectCommand({ Bucket: reader.Bucket, Key: reader.Key }))).Body as Readable;
  } catch (error) {
    throw new StatesError(
      "States.ItemReaderFailed",
      `Reading s3://${reader.Bucket}/${reader.Key} failed: ${(error as Error).message}`,
    );
  }

  const maxConcurrency = state.MaxConcurrency && state.MaxConcurrency > 0 ? state.MaxConcurrency : 1000;
  const toleratedCount = state.ToleratedFailureCount ?? 0;
  const running = new Set<ChildRun>();
  const records: ChildRecord[] = [];
  const earlier = new Set(run.succeeded.keys());
  let failures = 0;
  let items = 0;
  let stopped = false;
  let slotFreed: (() => void) | undefined;

  const launch = (item: unknown, index: number) => {
    const selected =
      state.ItemSelector === undefined
        ? item
        : evaluatePayload(state.ItemSelector, input, { Map: { Item: { Index: index, Value: item } } });
    const name = `${mapRunId}-${String(index).padStart(6, "0")}`;
    const startDate = new Date().toISOString();
    const child = options.startChild(selected, name);
    running.add(child);
    run.running++;
    const base = {
      ExecutionArn: `${mapRunArn.replace(":mapRun:", ":execution:")}:${name}`,
      Name: name,
      Input: describeInput(selected),
      InputDetails: { Included: true },
      StartDate: startDate,
      StateMachineArn: mapRunArn,
    };
    child.result
      .then(
        (output) => {
          run.succeeded.set(index, {
            ...base,
            StopDate: new Date().toISOString(),
            Status: "SUCCEEDED",
            Output: JSON.stringify(output),
            OutputDetails: { Included: true },
          });
        },
        (error: Error & { cause?: Error }) => {
          const failure = error.cause instanceof Error ? error.cause : error;
          const aborted = stopped && failure.name === "ExecutionAbortedError";
          if (!aborted) failures++;
          if (aborted) run.aborted++;
          else if (failure.name === "States.Timeout" || failure.name === "States.HeartbeatTimeout")
            run.timedOut++;
          else run.failed++;
          records.push({
            ...base,
            StopDate: new Date().toISOString(),
            Status: aborted ? "ABORTED" : "FAILED",
            Error: failure.name,
            Cause: failure.message,
          });
        },
      )
      .finally(() => {
        running.delete(child);
        run.running--;
        slotFreed?.();
      });
  };

  const waitForSlot = () =>
    new Promise<void>((resolve) => {
      slotFreed = () => {
        slotFreed = undefined;
        resolve();
      };
    });

  for await (const item of jsonLines(body)) {
    const index = items++;
    if (index >= run.total) run.total = index + 1;
    // A redrive runs only the items that did not succeed before.
    if (earlier.has(index)) continue;
    while (running.size >= maxConcurrency && failures <= toleratedCount) await waitForSlot();
    if (failures > toleratedCount) break;
    launch(item, index);
  }
  while (running.size > 0) {
    if (failures > toleratedCount && !stopped) {
      stopped = true;
      for (const child of running) child.abort();
    }
    await waitForSlot();
  }
  body.destroy();

  const succeeded = [...run.succeeded.entries()].sort(([a], [b]) => a - b).map(([, record]) => record);
  const details = await writeResults(state, input, [...succeeded, ...records], mapRunArn, mapRunId, options);
  run.resultsWritten = details ? succeeded.length + records.length : 0;
  if (failures > toleratedCount) {
    throw new StatesError(
      "States.ExceedToleratedFailureThreshold",
      `The specified tolerated failure threshold was exceeded: ${failures} of ${items} items failed`,
    );
  }
  return { MapRunArn: mapRunArn, ...(details ? { ResultWriterDetails: details } : {}) };
}

async function writeResults(
  state: DistributedMapState,
  input: unknown,
  records: ChildRecord[],
  mapRunArn: string,
  mapRunId: string,
  options: MapRunOptions,
): Promise<{ Bucket: string; Key: string } | undefined> {
  if (!state.ResultWriter) return undefined;
  const target = evaluatePayload(state.ResultWriter.Parameters, input, {}) as {
    Bucket: string;
    Prefix?: string;
  };
  const base = `${(target.Prefix ?? "").replace(/\/+$/, "")}/${mapRunId}`.replace(/^\/+/, "");
  const perFile = options.resultsPerFile ?? 1000;
  const files: Record<"SUCCEEDED" | "FAILED" | "PENDING", { Key: string; Size: number }[]> = {
    SUCCEEDED: [],
    FAILED: [],
    PENDING: [],
  };
  for (const status of ["SUCCEEDED", "FAILED"] as const) {
    const group = records.filter((r) =>
      status === "FAILED" ? r.Status !== "SUCCEEDED" : r.Status === "SUCCEEDED",
    );
    for (let i = 0; i * perFile < group.length; i++) {
      const Key = `${base}/${status}_${i}.json`;
      const body = JSON.stringify(group.slice(i * perFile, (i + 1) * perFile));
      await options.s3.send(
        new PutObjectCommand({ Bucket: target.Bucket, Key, Body: body, ContentType: "application/json" }),
      );
      files[status].push({ Key, Size: Buffer.byteLength(body) });
    }
  }
  const Key = `${base}/manifest.json`;
  const manifest = { DestinationBucket: target.Bucket, MapRunArn: mapRunArn, ResultFiles: files };
  await options.s3.send(
    new PutObjectCommand({
      Bucket: target.Bucket,
      Key,
      Body: JSON.stringify(manifest),
      ContentType: "application/json",
    }),
  );
  return { Bucket: target.Bucket, Key };
}
