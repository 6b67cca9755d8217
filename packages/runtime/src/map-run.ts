import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { checkedJson, MAX_PAYLOAD_BYTES, toJson, utf8Bytes } from "./payload-limits.ts";
import { evaluatePayload, readPath } from "./payload-template.ts";
import type { RunOutcome, StateDefinition } from "./state-machine-adapter.ts";
import { StatesError } from "./task-tokens.ts";

/** The parts of a Distributed Map state the local Map Run reads. */
export interface DistributedMapState {
  ItemReader?: {
    Resource: string;
    ReaderConfig?: { InputType?: string; MaxItems?: number; MaxItemsPath?: string };
    Parameters?: Record<string, unknown>;
  };
  ItemsPath?: string;
  ItemSelector?: unknown;
  /** The older name of ItemSelector. */
  Parameters?: unknown;
  ItemProcessor: {
    ProcessorConfig?: { Mode?: string; ExecutionType?: string };
    StartAt: string;
    States: Record<string, StateDefinition>;
  };
  ItemBatcher?: unknown;
  MaxConcurrency?: number;
  MaxConcurrencyPath?: string;
  ToleratedFailurePercentage?: number;
  ToleratedFailurePercentagePath?: string;
  ToleratedFailureCount?: number;
  ToleratedFailureCountPath?: string;
  ResultWriter?: {
    Resource: string;
    Parameters: Record<string, unknown>;
    WriterConfig?: { OutputType?: string; Transformation?: string };
  };
  Label?: string;
}

/** Where an unsuccessful child execution stopped: a redrive of the Map Run resumes it there (same ARN). */
export interface ChildResume {
  /** The child's state with no Exited event, and the input it entered with (none: it never ran a state). */
  state?: string;
  input?: unknown;
  startDate: Date;
  redriveCount: number;
}

export interface ChildRequest {
  index: number;
  name: string;
  executionArn: string;
  /** The item after ItemSelector: the child's execution input. */
  input: unknown;
  /** Set when this child ran before and is redriven. */
  resume?: ChildResume;
  signal: AbortSignal;
}

/** How a child ended; an unsuccessful one tells where it stopped (the state it had entered and not exited). */
export type ChildOutcome = RunOutcome & { stoppedAt?: { state: string; input: unknown } };

export interface MapRunEnvironment {
  s3: S3Client;
  /** Where the Map Run keeps its spool files (items, results) between runs and redrives. */
  workDir: string;
  /** Starts (or redrives) one child execution of the ItemProcessor. */
  startChild(request: ChildRequest): Promise<ChildOutcome>;
  /** Aborted when the execution stops: no more children start, the running ones are aborted. */
  signal: AbortSignal;
  /** Children per result file (AWS splits by size; locally by count and at most RESULT_FILE_MAX_BYTES). */
  resultsPerFile?: number;
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

/** "MaxConcurrency: If you don't specify a concurrency value or set it to zero, ... 10,000" (Distributed mode). */
const UNLIMITED_CONCURRENCY = 10_000;
/** "You haven't exceeded the hard limit of 1000 redrives of a given Map Run" (Redriving Map Runs). */
const MAX_MAP_RUN_REDRIVES = 1000;
/** A result file is cut at this size (the local emulator takes single PUTs up to 10 MiB). */
const RESULT_FILE_MAX_BYTES = 8 * 1024 * 1024;

/** Indexes of the items that succeeded: a bit each, so a million items take 125 KB. */
class IndexSet {
  private bits = new Uint8Array(1024);

  has(index: number): boolean {
    return ((this.bits[index >> 3] ?? 0) & (1 << (index & 7))) !== 0;
  }

  add(index: number): void {
    if (index >> 3 >= this.bits.length) {
      const grown = new Uint8Array(Math.max(this.bits.length * 2, (index >> 3) + 1));
      grown.set(this.bits);
      this.bits = grown;
    }
    this.bits[index >> 3]! |= 1 << (index & 7);
  }
}

/** Lines `<index>\t<json>` appended to a file, read back one at a time. */
class Spool {
  private readonly stream: WriteStream;
  private failure?: Error;
  count = 0;

  constructor(
    readonly path: string,
    flags: "a" | "w",
  ) {
    this.stream = createWriteStream(path, { flags });
    this.stream.on("error", (error) => {
      this.failure = error;
    });
  }

  append(index: number, json: string): void {
    this.count++;
    this.stream.write(`${index}\t${json}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.stream.end(() => (this.failure ? reject(this.failure) : resolve()));
    });
  }

  static async *read(path: string): AsyncGenerator<{ index: number; json: string }> {
    const input = createReadStream(path);
    const missing = new Promise<boolean>((resolve) => {
      input.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ENOENT"));
      input.once("open", () => resolve(false));
    });
    if (await missing) return;
    const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    try {
      for await (const line of lines) {
        if (!line) continue;
        const tab = line.indexOf("\t");
        yield { index: Number(line.slice(0, tab)), json: line.slice(tab + 1) };
      }
    } finally {
      lines.close();
      input.destroy();
    }
  }
}

interface ItemSource {
  total: number;
  items(): AsyncGenerator<unknown>;
}

async function* parsedLines(path: string): AsyncGenerator<unknown> {
  const input = createReadStream(path);
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) yield JSON.parse(line);
  } finally {
    lines.close();
    input.destroy();
  }
}

function nonNegativeInteger(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0)
    throw new StatesError(
      "States.Runtime",
      `${what} is not a non-negative integer: ${JSON.stringify(value)}`,
    );
  return value;
}

/**
 * The Map Run's items: an S3 object by the ItemReader (JSONL, spooled to a local file in one GET so the total is
 * known up front and memory stays flat; or JSON), else the array at ItemsPath in the effective input.
 */
async function openItems(
  state: DistributedMapState,
  input: unknown,
  context: unknown,
  s3: S3Client,
  dir: string,
): Promise<ItemSource> {
  const reader = state.ItemReader;
  if (!reader) {
    const items = readPath(state.ItemsPath ?? "$", input, context);
    if (!Array.isArray(items))
      throw new StatesError("States.Runtime", "The Map state's items (ItemsPath) are not an array");
    return {
      total: items.length,
      items: async function* () {
        yield* items;
      },
    };
  }
  const config = reader.ReaderConfig ?? {};
  const maxItems =
    config.MaxItems ??
    (config.MaxItemsPath === undefined
      ? undefined
      : nonNegativeInteger(readPath(config.MaxItemsPath, input, context), "MaxItemsPath"));
  const limit = maxItems ? maxItems : Number.POSITIVE_INFINITY;
  const type = config.InputType;
  if (reader.Resource !== "arn:aws:states:::s3:getObject" || (type !== "JSONL" && type !== "JSON")) {
    throw new StatesError(
      "States.Runtime",
      `The local Map Run reads JSON and JSONL objects with s3:getObject only (ItemReader ${reader.Resource}, InputType ${type ?? "none"})`,
    );
  }
  const target = evaluatePayload(reader.Parameters ?? {}, input, context) as {
    Bucket: string;
    Key: string;
    VersionId?: string;
  };
  const where = `s3://${target.Bucket}/${target.Key}`;
  const readerFailed = (message: string) => new StatesError("States.ItemReaderFailed", message);
  let body: Readable;
  try {
    body = (
      await s3.send(
        new GetObjectCommand({
          Bucket: target.Bucket,
          Key: target.Key,
          ...(target.VersionId ? { VersionId: target.VersionId } : {}),
        }),
      )
    ).Body as Readable;
  } catch (error) {
    throw readerFailed(`Reading ${where} failed: ${(error as Error).message}`);
  }
  if (type === "JSON") {
    let items: unknown;
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      items = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch (error) {
      throw readerFailed(`${where} is not a JSON array: ${(error as Error).message}`);
    }
    if (!Array.isArray(items)) throw readerFailed(`${where} is not a JSON array`);
    const selected = items.slice(0, Math.min(items.length, limit));
    return {
      total: selected.length,
      items: async function* () {
        yield* selected;
      },
    };
  }
  const path = join(dir, "items.jsonl");
  const out = createWriteStream(path);
  const written = new Promise<void>((resolve, reject) => {
    out.once("finish", resolve);
    out.once("error", reject);
  });
  // A read that fails part-way destroys `out` with writes in flight: that rejection is the read's error, not a crash.
  written.catch(() => {});
  let total = 0;
  try {
    const lines = createInterface({ input: body, crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      if (line.trim() === "") continue;
      try {
        JSON.parse(line);
      } catch {
        throw readerFailed(`Line ${total + 1} of ${where} is not JSON`);
      }
      // events.once rejects on "error", so a failing disk cannot leave the read waiting for a drain forever.
      if (!out.write(`${line}\n`)) await once(out, "drain");
      if (++total >= limit) break;
    }
  } catch (error) {
    out.destroy();
    body.destroy();
    throw error instanceof StatesError
      ? error
      : readerFailed(`Reading ${where} failed: ${(error as Error).message}`);
  }
  body.destroy();
  out.end();
  await written;
  return { total, items: () => parsedLines(path) };
}

type Transformation = "NONE" | "COMPACT";

/** ResultWriter's WriterConfig (or the Map's result when there is no ResultWriter: COMPACT, a JSON array). */
function writerConfig(state: DistributedMapState): {
  outputType: "JSON" | "JSONL";
  transformation: Transformation;
} {
  const config = state.ResultWriter?.WriterConfig;
  const outputType = config?.OutputType ?? "JSON";
  // "NONE ... Default when exporting the child workflow execution results to Amazon S3 and WriterConfig is not
  // specified. COMPACT ... Default when ResultWriter is not specified." (ResultWriter (Map))
  const transformation = config?.Transformation ?? (state.ResultWriter ? "NONE" : "COMPACT");
  if (outputType !== "JSON" && outputType !== "JSONL")
    throw new StatesError("States.Runtime", `Unknown ResultWriter OutputType ${JSON.stringify(outputType)}`);
  if (transformation === "FLATTEN")
    throw new StatesError(
      "States.Runtime",
      "ResultWriter Transformation FLATTEN is not supported by the local runtime (use NONE or COMPACT)",
    );
  if (transformation !== "NONE" && transformation !== "COMPACT")
    throw new StatesError(
      "States.Runtime",
      `Unknown ResultWriter Transformation ${JSON.stringify(transformation)}`,
    );
  return { outputType, transformation };
}

/** Identifies a Map Run: its ARN, and the state machine ARN of its children. */
export interface MapRunIdentity {
  executionArn: string;
  /** The parent's state machine ARN. */
  stateMachineArn: string;
  stateName: string;
  label: string;
}

/**
 * One Map Run: what DescribeMapRun reports, updated live, and what a redrive needs. It outlives its run: a
 * redrive of the parent runs the same Map Run again, only for the items that did not succeed, keeping the
 * earlier results. Memory does not grow with the items that succeed: a bit per item, their results in a spool
 * file on disk (`workDir/<mapRunId>/succeeded.jsonl`); only unsuccessful children keep where they stopped.
 */
export class MapRun {
  readonly mapRunArn: string;
  readonly mapRunId: string;
  readonly executionArn: string;
  readonly stateName: string;
  readonly label: string;
  /** The children's state machine: `<parent state machine ARN>/<label>`. */
  readonly stateMachineArn: string;
  status: MapRunStatus = "RUNNING";
  startDate = new Date();
  stopDate?: Date;
  error?: string;
  cause?: string;
  maxConcurrency = 0;
  toleratedFailureCount = 0;
  toleratedFailurePercentage = 0;
  /** Items the ItemReader gave (known before the first child starts). */
  total = 0;
  running = 0;
  succeeded = 0;
  failed = 0;
  timedOut = 0;
  aborted = 0;
  resultsWritten = 0;
  redriveCount = 0;
  redriveDate?: Date;
  private readonly done = new IndexSet();
  private readonly unfinished = new Map<number, ChildResume>();
  private started = false;
  private dir?: string;

  constructor(identity: MapRunIdentity) {
    this.mapRunId = randomUUID();
    this.executionArn = identity.executionArn;
    this.stateName = identity.stateName;
    this.label = identity.label;
    this.stateMachineArn = `${identity.stateMachineArn}/${identity.label}`;
    this.mapRunArn = `${this.stateMachineArn.replace(":stateMachine:", ":mapRun:")}:${this.mapRunId}`;
  }

  /**
   * Marks the Map Run RUNNING for a run: the first, or a redrive (redriveCount + 1; the failed, timed out and
   * aborted items go back to pending). Returns true for a redrive. Throws States.Runtime past 1,000 redrives.
   */
  begin(): boolean {
    const redrive = this.started;
    if (redrive && this.redriveCount >= MAX_MAP_RUN_REDRIVES) {
      throw new StatesError(
        "States.Runtime",
        `The Map Run ${this.mapRunArn} was redriven ${MAX_MAP_RUN_REDRIVES} times already`,
      );
    }
    this.started = true;
    if (redrive) {
      this.redriveCount++;
      this.redriveDate = new Date();
    }
    Object.assign(this, {
      status: "RUNNING",
      running: 0,
      failed: 0,
      timedOut: 0,
      aborted: 0,
      resultsWritten: 0,
    });
    delete this.stopDate;
    delete this.error;
    delete this.cause;
    return redrive;
  }

  /** The counts DescribeMapRun returns. */
  counts(): MapRunCounts {
    const unsuccessful = this.failed + this.timedOut + this.aborted;
    return {
      pending: Math.max(0, this.total - this.succeeded - this.running - unsuccessful),
      running: this.running,
      succeeded: this.succeeded,
      failed: this.failed,
      timedOut: this.timedOut,
      aborted: this.aborted,
      total: this.total,
      resultsWritten: this.resultsWritten,
      failuresNotRedrivable: 0,
      pendingRedrive: this.status === "RUNNING" ? 0 : unsuccessful,
    };
  }

  /** Removes the spool files (the workflow is closing). */
  async dispose(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  private finish(status: MapRunStatus, error?: Error): void {
    this.status = status;
    this.stopDate = new Date();
    if (error) {
      this.error = error.name;
      this.cause = error.message;
    }
  }

  /**
   * Runs the items (see begin): reads them, runs each through `startChild` with the ItemSelector applied, at most
   * MaxConcurrency at once, stops starting items once the tolerated failures are exceeded (and aborts the
   * running ones), writes the results where the ResultWriter says (also when the run fails), and returns the
   * Map's result: `{ MapRunArn, ResultWriterDetails }`, or the children's outputs without a ResultWriter.
   */
  async execute(
    state: DistributedMapState,
    input: unknown,
    context: Record<string, unknown>,
    env: MapRunEnvironment,
  ) {
    try {
      return await this.executeItems(state, input, context, env);
    } catch (error) {
      if (this.status === "RUNNING") this.finish(env.signal.aborted ? "ABORTED" : "FAILED", error as Error);
      throw error;
    } finally {
      if (this.dir) {
        if (this.status === "SUCCEEDED") await rm(this.dir, { recursive: true, force: true });
        else {
          await rm(join(this.dir, "items.jsonl"), { force: true });
          await rm(join(this.dir, "failed.jsonl"), { force: true });
        }
      }
    }
  }

  private async executeItems(
    state: DistributedMapState,
    input: unknown,
    context: Record<string, unknown>,
    env: MapRunEnvironment,
  ): Promise<unknown> {
    const writer = writerConfig(state);
    const setting = (value: number | undefined, path: string | undefined, what: string) =>
      value ?? (path === undefined ? undefined : nonNegativeInteger(readPath(path, input, context), what));
    const concurrency = setting(state.MaxConcurrency, state.MaxConcurrencyPath, "MaxConcurrencyPath");
    const count = setting(
      state.ToleratedFailureCount,
      state.ToleratedFailureCountPath,
      "ToleratedFailureCountPath",
    );
    const percentage = setting(
      state.ToleratedFailurePercentage,
      state.ToleratedFailurePercentagePath,
      "ToleratedFailurePercentagePath",
    );
    this.maxConcurrency = concurrency ?? 0;
    this.toleratedFailureCount = count ?? 0;
    this.toleratedFailurePercentage = percentage ?? 0;
    const limit = concurrency ? concurrency : UNLIMITED_CONCURRENCY;
    this.dir = join(env.workDir, this.mapRunId);
    await mkdir(this.dir, { recursive: true });

    const source = await openItems(state, input, context, env.s3, this.dir);
    this.total = source.total;
    const succeededSpool = new Spool(join(this.dir, "succeeded.jsonl"), "a");
    const failedSpool = new Spool(join(this.dir, "failed.jsonl"), "w");
    const selector = state.ItemSelector ?? state.Parameters;
    // "If you specify both values, the workflow fails when it exceeds either value"; with neither, any failure
    // (or timeout) fails it (the default percentage is 0).
    const exceeded = () => {
      const failures = this.failed + this.timedOut;
      if (count === undefined && percentage === undefined) return failures > 0;
      return (
        (count !== undefined && failures > count) ||
        (percentage !== undefined && this.total > 0 && failures * 100 > percentage * this.total)
      );
    };
    const children = new Map<number, AbortController>();
    let wake: (() => void) | undefined;
    const wakeUp = () => wake?.();
    env.signal.addEventListener("abort", wakeUp);
    const nextEvent = () =>
      new Promise<void>((resolve) => {
        wake = resolve;
      });
    let fatal: Error | undefined;
    const stopping = () => fatal !== undefined || env.signal.aborted || exceeded();

    const record = (
      index: number,
      base: Record<string, unknown>,
      outcome: ChildOutcome,
      resume?: ChildResume,
    ) => {
      const stopDate = new Date().toISOString();
      if (outcome.status === "SUCCEEDED") {
        this.done.add(index);
        this.succeeded++;
        this.unfinished.delete(index);
        const output = toJson(outcome.output);
        succeededSpool.append(
          index,
          writer.transformation === "COMPACT"
            ? output
            : JSON.stringify({
                ...base,
                Output: output,
                OutputDetails: { Included: true },
                StopDate: stopDate,
                Status: "SUCCEEDED",
              }),
        );
        return;
      }
      if (outcome.status === "TIMED_OUT") this.timedOut++;
      else if (outcome.status === "ABORTED") this.aborted++;
      else this.failed++;
      this.unfinished.set(index, {
        ...(outcome.stoppedAt ? { state: outcome.stoppedAt.state, input: outcome.stoppedAt.input } : {}),
        startDate: resume?.startDate ?? new Date(String(base.StartDate)),
        redriveCount: resume ? resume.redriveCount : 0,
      });
      // "If a child workflow execution fails, Step Functions returns its execution result unchanged" (as NONE).
      failedSpool.append(
        index,
        JSON.stringify({
          ...base,
          StopDate: stopDate,
          Status: outcome.status,
          ...(outcome.status === "ABORTED" ? {} : { Error: outcome.error, Cause: outcome.cause }),
        }),
      );
    };

    const launch = (index: number, item: unknown) => {
      const selected =
        selector === undefined
          ? item
          : evaluatePayload(selector, input, { ...context, Map: { Item: { Index: index, Value: item } } });
      const name = `${this.mapRunId}_${index}`;
      const executionArn = `${this.stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
      const earlier = this.unfinished.get(index);
      const resume = earlier ? { ...earlier, redriveCount: earlier.redriveCount + 1 } : undefined;
      const base = {
        ExecutionArn: executionArn,
        Input: toJson(selected),
        InputDetails: { Included: true },
        Name: name,
        RedriveCount: resume?.redriveCount ?? 0,
        StartDate: (resume?.startDate ?? new Date()).toISOString(),
        StateMachineArn: this.stateMachineArn,
      };
      try {
        checkedJson(selected, `The input of child execution ${name}`);
      } catch (error) {
        const e = error as Error;
        record(index, base, { status: "FAILED", error: e.name, cause: e.message }, resume);
        return;
      }
      const controller = new AbortController();
      children.set(index, controller);
      this.running++;
      env
        .startChild({
          index,
          name,
          executionArn,
          input: selected,
          ...(resume ? { resume } : {}),
          signal: controller.signal,
        })
        .catch(
          (error: Error): ChildOutcome => ({ status: "FAILED", error: error.name, cause: error.message }),
        )
        .then((outcome) => record(index, base, outcome, resume))
        .finally(() => {
          children.delete(index);
          this.running--;
          wakeUp();
        });
    };

    let index = 0;
    try {
      for await (const item of source.items()) {
        const at = index++;
        // A redrive runs only the items that did not succeed before.
        if (this.done.has(at)) continue;
        while (children.size >= limit && !stopping()) await nextEvent();
        if (stopping()) break;
        try {
          launch(at, item);
        } catch (error) {
          fatal = error as Error;
        }
      }
    } catch (error) {
      fatal =
        error instanceof StatesError
          ? error
          : new StatesError("States.ItemReaderFailed", (error as Error).message);
    }
    let abortedAll = false;
    while (children.size > 0) {
      if (stopping() && !abortedAll) {
        abortedAll = true;
        for (const controller of children.values()) controller.abort();
      }
      await nextEvent();
    }
    env.signal.removeEventListener("abort", wakeUp);
    await Promise.all([succeededSpool.close(), failedSpool.close()]);
    if (env.signal.aborted) throw new StatesError("States.Aborted", "The execution stopped");
    if (fatal) throw fatal;
    const failure = exceeded()
      ? new StatesError(
          "States.ExceedToleratedFailureThreshold",
          `The specified tolerated failure threshold was exceeded: ${this.failed + this.timedOut} of ${this.total} items failed`,
        )
      : undefined;
    const output = state.ResultWriter
      ? await this.writeResults(state.ResultWriter, writer.outputType, input, context, env, [
          succeededSpool,
          failedSpool,
        ])
      : failure
        ? undefined
        : await this.collectOutputs([succeededSpool, failedSpool]);
    if (failure) {
      this.finish("FAILED", failure);
      throw failure;
    }
    this.finish("SUCCEEDED");
    return output;
  }

  /** Without a ResultWriter, the Map's result: every child's entry in item order (it must fit in 256 KiB). */
  private async collectOutputs(spools: Spool[]): Promise<unknown[]> {
    const entries: { index: number; json: string }[] = [];
    let bytes = 2;
    for (const spool of spools) {
      for await (const entry of Spool.read(spool.path)) {
        bytes += utf8Bytes(entry.json) + 1;
        if (bytes > MAX_PAYLOAD_BYTES) {
          throw new StatesError(
            "States.DataLimitExceeded",
            `The Map state's result is more than ${MAX_PAYLOAD_BYTES} bytes (256 KiB); a ResultWriter writes it to S3 instead`,
          );
        }
        entries.push(entry);
      }
    }
    return entries.sort((a, b) => a.index - b.index).map((e) => JSON.parse(e.json));
  }

  /**
   * Writes `<Prefix>/<mapRunId>/SUCCEEDED_<n>.json` and `FAILED_<n>.json` (a JSON array each, or JSON Lines; the
   * name keeps `.json` either way: readers follow the manifest), then `manifest.json` listing them. Each file is
   * built from the spools in bounded pieces (resultsPerFile entries, at most RESULT_FILE_MAX_BYTES).
   */
  private async writeResults(
    resultWriter: NonNullable<DistributedMapState["ResultWriter"]>,
    outputType: "JSON" | "JSONL",
    input: unknown,
    context: unknown,
    env: MapRunEnvironment,
    [succeeded, failed]: Spool[],
  ): Promise<{ MapRunArn: string; ResultWriterDetails: { Bucket: string; Key: string } }> {
    const target = evaluatePayload(resultWriter.Parameters, input, context) as {
      Bucket: string;
      Prefix?: string;
    };
    const base = `${(target.Prefix ?? "").replace(/\/+$/, "")}/${this.mapRunId}`.replace(/^\/+/, "");
    const perFile = env.resultsPerFile ?? 1000;
    const put = async (Key: string, Body: string) => {
      try {
        await env.s3.send(
          new PutObjectCommand({ Bucket: target.Bucket, Key, Body, ContentType: "application/json" }),
        );
      } catch (error) {
        throw new StatesError(
          "States.ResultWriterFailed",
          `Writing s3://${target.Bucket}/${Key} failed: ${(error as Error).message}`,
        );
      }
    };
    const body = (entries: string[]) =>
      outputType === "JSON" ? `[${entries.join(",")}]` : `${entries.join("\n")}\n`;
    const files: Record<"SUCCEEDED" | "FAILED" | "PENDING", { Key: string; Size: number }[]> = {
      SUCCEEDED: [],
      FAILED: [],
      PENDING: [],
    };
    let written = 0;
    for (const [status, spool] of [
      ["SUCCEEDED", succeeded!],
      ["FAILED", failed!],
    ] as const) {
      let part: string[] = [];
      let bytes = 0;
      const flush = async () => {
        const Key = `${base}/${status}_${files[status].length}.json`;
        const text = body(part);
        await put(Key, text);
        files[status].push({ Key, Size: utf8Bytes(text) });
        written += part.length;
        part = [];
        bytes = 0;
      };
      for await (const { json } of Spool.read(spool.path)) {
        if (part.length > 0 && (part.length >= perFile || bytes + json.length > RESULT_FILE_MAX_BYTES))
          await flush();
        part.push(json);
        bytes += json.length + 1;
      }
      if (part.length > 0) await flush();
    }
    const Key = `${base}/manifest.json`;
    await put(
      Key,
      JSON.stringify({ DestinationBucket: target.Bucket, MapRunArn: this.mapRunArn, ResultFiles: files }),
    );
    this.resultsWritten = written;
    return { MapRunArn: this.mapRunArn, ResultWriterDetails: { Bucket: target.Bucket, Key } };
  }
}
