import type { Readable } from "node:stream";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import type { ChunkOutcome, DurationStats, RejectedSample } from "@sluice/contract";
import {
  ChunkPointerSchema,
  type RejectedRow,
  type TaskResult,
  TaskResultSchema,
  unpackRejectedRows,
} from "@sluice/contract";
import { SourceReadError } from "@sluice/core";
import { z } from "zod";
import { parseCause } from "../failure-cause.ts";
import { bodyToBuffer, bodyToReadable } from "./s3-body.ts";

/**
 * The Map Run's results, read once for both ends of the workflow: summarize (every chunk answered) and
 * notify-failure (the failed chunk, and what was answered before the Map failed). A Distributed Map's
 * ResultWriter writes a manifest.json naming its SUCCEEDED / FAILED / PENDING result files. With the workflow's
 * WriterConfig (OutputType JSONL, Transformation COMPACT) each file holds one JSON value per line: a SUCCEEDED
 * line is the child's output alone (a TaskResult); FAILED and PENDING lines are full child execution records
 * (ExecutionArn, Input, Status, Error, Cause, StartDate, StopDate...), whatever the transformation. Files are
 * streamed line by line: one line is in memory at a time, whatever the upload's size.
 */

const ResultFileRefSchema = z.object({ Key: z.string().min(1), Size: z.number().optional() });

/** The manifest.json a Distributed Map's ResultWriter writes. */
export const MapRunManifestSchema = z.object({
  DestinationBucket: z.string().optional(),
  MapRunArn: z.string().optional(),
  ResultFiles: z.object({
    SUCCEEDED: z.array(ResultFileRefSchema).default([]),
    FAILED: z.array(ResultFileRefSchema).default([]),
    PENDING: z.array(ResultFileRefSchema).default([]),
  }),
});

export type MapRunManifest = z.infer<typeof MapRunManifestSchema>;
export type ResultStatus = keyof MapRunManifest["ResultFiles"];
export const RESULT_STATUSES: readonly ResultStatus[] = Object.freeze(["SUCCEEDED", "FAILED", "PENDING"]);

/**
 * One child execution as a full record: every FAILED / PENDING line, and a SUCCEEDED line when the ResultWriter
 * has no COMPACT transformation (`Output` is then the TaskResult as a JSON string).
 */
export const ChildExecutionSchema = z.object({
  ExecutionArn: z.string().optional(),
  Name: z.string().optional(),
  /** The child's input as a JSON string: `{ uploadId, source, totals, chunk: <pointer> }`. */
  Input: z.string().optional().nullable(),
  Status: z.string(),
  Output: z.string().optional().nullable(),
  Error: z.string().optional().nullable(),
  Cause: z.string().optional().nullable(),
  StartDate: z.string().optional().nullable(),
  StopDate: z.string().optional().nullable(),
});

export type ChildExecution = z.infer<typeof ChildExecutionSchema>;

export class ResultInvalidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TASK_RESULT_INVALID";
  }
}

/** How many rejected rows a report holds at most; the tally keeps no more than this many in memory. */
export const REJECTED_ROWS_CAP = 100_000;

/**
 * Longest result line read. A line is one child's TaskResult (at most 256 KiB, SendTaskSuccess's limit) or one
 * record (input and output at most 256 KiB each, a cause at most 32 KiB): 2 MiB leaves room for JSON escaping.
 */
export const MAX_RESULT_LINE_BYTES = 2 * 1024 * 1024;

/**
 * Rejected rows by chunk, bounded: past the cap the rows of the highest chunks (then rows) are dropped, so
 * what is kept is always the first `cap` rejected rows of the upload in row order, whatever order the
 * result files come in. Memory stays within about twice the cap between trims.
 */
export class RejectedRowCollector {
  private readonly byChunk = new Map<number, RejectedRow[]>();
  private kept = 0;
  /** Every rejected row seen, kept or not. */
  total = 0;

  constructor(readonly cap: number = REJECTED_ROWS_CAP) {}

  add(chunkIndex: number, rows: readonly RejectedRow[]): void {
    this.total += rows.length;
    if (this.cap <= 0 || rows.length === 0) return;
    const list = this.byChunk.get(chunkIndex) ?? [];
    list.push(...rows.map(({ row, code, message }) => ({ row, code, message })));
    this.byChunk.set(chunkIndex, list);
    this.kept += rows.length;
    if (this.kept > this.cap * 2) this.trim();
  }

  private trim(): void {
    if (this.kept <= this.cap) return;
    const indexes = [...this.byChunk.keys()].sort((a, b) => b - a);
    for (const index of indexes) {
      const excess = this.kept - this.cap;
      if (excess <= 0) break;
      const rows = this.byChunk.get(index)!;
      if (rows.length <= excess) {
        this.byChunk.delete(index);
        this.kept -= rows.length;
      } else {
        rows.sort((a, b) => a.row - b.row);
        rows.length -= excess;
        this.kept -= excess;
      }
    }
  }

  /** True when some rejected rows were dropped to respect the cap. */
  get capped(): boolean {
    this.trim();
    return this.total > this.kept;
  }

  /** The kept rows: chunks in index order, each chunk's rows in row order. */
  chunks(): [number, RejectedRow[]][] {
    this.trim();
    return [...this.byChunk.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, rows]) => [index, [...rows].sort((a, b) => a.row - b.row)]);
  }

  /** The first `limit` kept rows in (chunk, row) order. */
  samples(limit: number): RejectedSample[] {
    const samples: RejectedSample[] = [];
    for (const [chunkIndex, rows] of this.chunks()) {
      for (const row of rows) {
        if (samples.length >= limit) return samples;
        samples.push({ chunkIndex, ...row });
      }
    }
    return samples;
  }
}

/** The first chunk that failed in a Map Run: what the Map's own error (ExceedToleratedFailureThreshold) hides. */
export interface FailedChild {
  /** The child's Error: the admin server's code, CHUNK_DEAD_LETTERED, States.Timeout... */
  error: string;
  cause: string;
  executionArn?: string | undefined;
  /** Which chunk, from the child's input pointer (or the TaskFailureCause when the input was left out). */
  chunk?: { index: number; firstRow: number; lastRow: number; rows: number } | undefined;
}

/** Which rows a chunk holds: its pointer's row range and row count. */
export interface ChunkRange {
  index: number;
  firstRow: number;
  lastRow: number;
  rows: number;
}

/**
 * The upload's chunks as items.jsonl lists them (the pointers the Map handed out, one per line, index n on line
 * n + 1): what each TaskResult is checked against. 24 bytes per chunk, whatever the chunk's size.
 */
export class ChunkTable {
  private firstRows = new Float64Array(64);
  private lastRows = new Float64Array(64);
  private counts = new Float64Array(64);
  /** Chunks listed. */
  size = 0;

  /** Appends the next chunk; its index must be the next one. */
  add(chunk: ChunkRange): void {
    if (chunk.index !== this.size) {
      throw new ResultInvalidError(
        `The chunk list names chunk ${chunk.index} where chunk ${this.size} was expected`,
      );
    }
    if (this.size === this.counts.length) {
      const grow = (from: Float64Array) => {
        const to = new Float64Array(from.length * 2);
        to.set(from);
        return to;
      };
      this.firstRows = grow(this.firstRows);
      this.lastRows = grow(this.lastRows);
      this.counts = grow(this.counts);
    }
    this.firstRows[this.size] = chunk.firstRow;
    this.lastRows[this.size] = chunk.lastRow;
    this.counts[this.size] = chunk.rows;
    this.size++;
  }

  get(index: number): ChunkRange | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) return undefined;
    return {
      index,
      firstRow: this.firstRows[index]!,
      lastRow: this.lastRows[index]!,
      rows: this.counts[index]!,
    };
  }
}

/**
 * Reads items.jsonl (streamed, one line at a time) into a ChunkTable. A read failure is the retryable
 * SOURCE_READ_FAILED; a line that is not the next chunk's pointer is TASK_RESULT_INVALID.
 */
export async function readChunkTable(
  s3: S3Client,
  at: ObjectLocation,
  options: ResultLinesOptions = {},
): Promise<ChunkTable> {
  const table = new ChunkTable();
  let lineNumber = 0;
  for await (const line of resultLines(s3, at, options)) {
    lineNumber++;
    const what = `Line ${lineNumber} of s3://${at.bucket}/${at.key}`;
    const pointer = parseAs(ChunkPointerSchema, parseLine(line, what), what);
    if (pointer.firstRow > pointer.lastRow || pointer.rows > pointer.lastRow - pointer.firstRow + 1) {
      throw new ResultInvalidError(
        `${what} is not a possible chunk: ${pointer.rows} rows in rows ${pointer.firstRow}-${pointer.lastRow}`,
      );
    }
    table.add(pointer);
  }
  return table;
}

/**
 * What is impossible about a TaskResult for the chunk it answers, or an empty list. Every row of a chunk is
 * either accepted or rejected, once (docs/protocol.md): `accepted + rejected rows` must be the chunk's row
 * count, each rejected row must be one of the chunk's row numbers (within firstRow..lastRow; the rows skipped
 * inside that range, fully empty ones, are not known here) and no row may be rejected twice. Without the chunk
 * (`chunk` undefined) only the repeats can be checked. Each kind of problem is named once, with a count.
 */
export function taskResultProblems(result: TaskResult, chunk: ChunkRange | undefined): string[] {
  const problems: string[] = [];
  const rejected = result.rejected.rows.length;
  if (chunk && result.accepted + rejected !== chunk.rows) {
    problems.push(
      `it counts ${result.accepted} accepted + ${rejected} rejected = ${result.accepted + rejected} rows, but the chunk has ${chunk.rows}`,
    );
  }
  const seen = new Set<number>();
  let outside = 0;
  let twice = 0;
  for (const [row] of result.rejected.rows) {
    if (chunk && (row < chunk.firstRow || row > chunk.lastRow)) {
      if (outside++ === 0)
        problems.push(`it rejects row ${row}, outside the chunk's rows ${chunk.firstRow}-${chunk.lastRow}`);
    } else if (seen.has(row)) {
      if (twice++ === 0) problems.push(`it rejects row ${row} more than once`);
    } else seen.add(row);
  }
  if (outside > 1) problems.push(`${outside} rejected rows in all are outside the chunk`);
  if (twice > 1) problems.push(`${twice} rejected rows in all are repeats`);
  return problems;
}

function describeChunk(index: number, chunk: ChunkRange | undefined): string {
  return chunk
    ? `chunk ${index} (rows ${chunk.firstRow}-${chunk.lastRow}, ${chunk.rows} row${chunk.rows === 1 ? "" : "s"})`
    : `chunk ${index}`;
}

export interface MapRunTally {
  /** Chunks answered with a TaskResult. */
  delivered: number;
  /** Child executions listed as failed, aborted or pending. */
  failed: number;
  /** Result lines read (one per child run the Map listed). */
  entries: number;
  accepted: number;
  rejected: number;
  /** One entry per chunk whose index is known, by index: delivered ones and failed ones. */
  chunks: ChunkOutcome[];
  rejectedRows: RejectedRowCollector;
  /** The first FAILED child that carries an error: the Map's real failure. */
  firstFailure?: FailedChild | undefined;
  /**
   * Result lines that were not a possible TaskResult for this upload (lenient mode only; strict mode throws):
   * not one, another upload's, or impossible for its chunk. They add nothing to the counts.
   */
  unreadable: number;
  /** Why the first of them was left out. */
  firstUnreadable?: string | undefined;
}

export function emptyTally(rejectedRowCap: number = REJECTED_ROWS_CAP): MapRunTally {
  return {
    delivered: 0,
    failed: 0,
    entries: 0,
    accepted: 0,
    rejected: 0,
    chunks: [],
    rejectedRows: new RejectedRowCollector(rejectedRowCap),
    unreadable: 0,
  };
}

export interface TallyOptions {
  uploadId: string;
  /** Summarize: an unreadable result is an error (TASK_RESULT_INVALID). Notify-failure: it is skipped. */
  strict: boolean;
  rejectedRowCap?: number | undefined;
  /** Which result files to read; all three by default. */
  statuses?: readonly ResultStatus[] | undefined;
  /** Stops the read (throws the signal's reason) between lines. */
  signal?: AbortSignal | undefined;
  /**
   * The upload's chunks (items.jsonl): each TaskResult is checked against the chunk it answers, and a result for
   * a chunk not in it is invalid. Without it, a record's own input pointer is used when it has one (a
   * ResultWriter without COMPACT); COMPACT lines carry none, so only repeats can be checked.
   */
  chunks?: ChunkTable | undefined;
}

export interface ObjectLocation {
  bucket: string;
  key: string;
}

/** A Map Run's manifest, read, with where its result files are. */
export interface MapRunResults extends ObjectLocation {
  manifest: MapRunManifest;
  /** The bucket of the result files (the manifest's DestinationBucket, else the manifest's own bucket). */
  resultsBucket: string;
}

function parseAs<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new ResultInvalidError(
      `${what} is not as expected: ${z.prettifyError(parsed.error).slice(0, 500)}`,
    );
  }
  return parsed.data;
}

function readFailed(bucket: string, key: string, error: unknown): SourceReadError {
  return new SourceReadError(
    `Reading s3://${bucket}/${key} failed: ${(error as Error)?.name}: ${(error as Error)?.message}`,
    { cause: error },
  );
}

/** Reads a small JSON object; a read failure is a retryable SOURCE_READ_FAILED. */
export async function readJsonObject(s3: S3Client, bucket: string, key: string): Promise<unknown> {
  let text: string;
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    text = (await bodyToBuffer(response.Body)).toString("utf8");
  } catch (error) {
    throw readFailed(bucket, key, error);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ResultInvalidError(`s3://${bucket}/${key} is not JSON`);
  }
}

/** Reads and checks a Map Run's manifest.json. */
export async function readMapRunManifest(s3: S3Client, at: ObjectLocation): Promise<MapRunResults> {
  const manifest = parseAs(
    MapRunManifestSchema,
    await readJsonObject(s3, at.bucket, at.key),
    `s3://${at.bucket}/${at.key}`,
  );
  return { ...at, manifest, resultsBucket: manifest.DestinationBucket ?? at.bucket };
}

function isBlank(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function decodeLine(parts: Buffer[]): string {
  const line = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  const end = line.length > 0 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
  return line.toString("utf8", 0, end);
}

/**
 * Splits a byte stream into lines, pulling the next part only when the line before was taken: at most one part
 * and one line are held, however long the file. Fails on a file that is a JSON array (a ResultWriter without
 * OutputType JSONL) and on a line longer than `maxLineBytes`. (readline's async iterator reads up to 1,024 lines
 * ahead: with TaskResults of up to 256 KiB each that would be far more than one line.)
 */
async function* splitLines(body: AsyncIterable<Buffer | string>, what: string, maxLineBytes: number) {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let checked = false;
  for await (const chunk of body) {
    const part = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    if (!checked) {
      const start = part.findIndex((byte) => !isBlank(byte));
      if (start >= 0) {
        checked = true;
        if (part[start] === 0x5b) {
          throw new ResultInvalidError(
            `${what} is a JSON array, not JSON Lines: the ResultWriter must use WriterConfig OutputType JSONL`,
          );
        }
      }
    }
    let from = 0;
    for (;;) {
      const newline = part.indexOf(0x0a, from);
      const piece = part.subarray(from, newline < 0 ? part.length : newline);
      if (pendingBytes + piece.length > maxLineBytes) {
        throw new ResultInvalidError(`${what} has a line longer than ${maxLineBytes} bytes`);
      }
      if (newline < 0) {
        // Copied: the rest of the part is not kept alive by a view of it.
        if (piece.length > 0) pending.push(Buffer.from(piece));
        pendingBytes += piece.length;
        break;
      }
      const line = decodeLine([...pending, piece]);
      pending = [];
      pendingBytes = 0;
      from = newline + 1;
      yield line;
    }
  }
  if (pendingBytes > 0) yield decodeLine(pending);
}

export interface ResultLinesOptions {
  signal?: AbortSignal | undefined;
  maxLineBytes?: number | undefined;
}

/**
 * The lines of one JSONL result file, streamed from the GetObject body: one line in memory at a time. Blank
 * lines are skipped. Breaking out of the loop closes the stream. A read failure is a retryable
 * SOURCE_READ_FAILED; a file that is not JSON Lines is TASK_RESULT_INVALID.
 */
export async function* resultLines(
  s3: S3Client,
  at: ObjectLocation,
  options: ResultLinesOptions = {},
): AsyncGenerator<string> {
  const { bucket, key } = at;
  let body: Readable;
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    body = bodyToReadable(response.Body);
  } catch (error) {
    throw readFailed(bucket, key, error);
  }
  try {
    const what = `s3://${bucket}/${key}`;
    for await (const line of splitLines(body, what, options.maxLineBytes ?? MAX_RESULT_LINE_BYTES)) {
      options.signal?.throwIfAborted();
      if (line.trim() === "") continue;
      yield line;
    }
  } catch (error) {
    if (error instanceof ResultInvalidError || options.signal?.aborted) throw error;
    throw readFailed(bucket, key, error);
  } finally {
    body.destroy();
  }
}

/**
 * The Map Run manifests under an upload's processed prefix: `<prefix><map-run-id>/manifest.json` (the upload's
 * own manifest.json sits directly under the prefix and is not one). With `mapRunArn`, the one that Map Run wrote
 * wins: the folder named by the ARN's last segment, else the manifest whose MapRunArn is that ARN. Otherwise
 * (or when none matches) the newest, as when a redrive left more than one.
 */
export async function findMapRunManifest(
  s3: S3Client,
  bucket: string,
  prefix: string,
  options: { mapRunArn?: string | undefined } = {},
): Promise<ObjectLocation | undefined> {
  let token: string | undefined;
  const candidates: { key: string; folder: string; at: number }[] = [];
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      const key = object.Key ?? "";
      const match = key.startsWith(prefix)
        ? /^([^/]+)\/manifest\.json$/.exec(key.slice(prefix.length))
        : null;
      if (!match) continue;
      const at = object.LastModified ? new Date(object.LastModified).getTime() : 0;
      candidates.push({ key, folder: match[1]!, at });
    }
    token = page.NextContinuationToken;
  } while (token);
  if (candidates.length === 0) return undefined;
  candidates.sort((a, b) => b.at - a.at);
  const { mapRunArn } = options;
  if (mapRunArn) {
    const id = mapRunArn.slice(mapRunArn.lastIndexOf(":") + 1);
    const named = candidates.find((c) => c.folder === id);
    if (named) return { bucket, key: named.key };
    for (const candidate of candidates.slice(0, 10)) {
      const manifest = await readJsonObject(s3, bucket, candidate.key).catch(() => undefined);
      if (MapRunManifestSchema.safeParse(manifest).data?.MapRunArn === mapRunArn) {
        return { bucket, key: candidate.key };
      }
    }
  }
  return { bucket, key: candidates[0]!.key };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

const int = (value: unknown, min = 0): number | undefined =>
  typeof value === "number" && Number.isInteger(value) && value >= min ? value : undefined;

/** The chunk a failed child was given: its input's pointer, else what its TaskFailureCause names. */
export function chunkOfChild(child: ChildExecution): FailedChild["chunk"] {
  let pointer: Record<string, unknown> | undefined;
  try {
    const input: unknown = child.Input ? JSON.parse(child.Input) : undefined;
    if (isRecord(input) && isRecord(input.chunk)) pointer = input.chunk;
  } catch {
    pointer = undefined;
  }
  const cause = parseCause(child.Cause);
  const index = int(pointer?.index) ?? cause.chunkIndex;
  const firstRow = int(pointer?.firstRow) ?? cause.firstRow;
  const lastRow = int(pointer?.lastRow) ?? cause.lastRow;
  if (index === undefined || firstRow === undefined || lastRow === undefined || firstRow < 1)
    return undefined;
  const rows = int(pointer?.rows) ?? cause.rows ?? lastRow - firstRow + 1;
  return { index, firstRow, lastRow, rows };
}

function failedChildOf(child: ChildExecution): FailedChild {
  return {
    error: child.Error?.trim() || child.Status,
    cause: child.Cause ?? "",
    ...(child.ExecutionArn ? { executionArn: child.ExecutionArn } : {}),
    chunk: chunkOfChild(child),
  };
}

function parseLine(line: string, what: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new ResultInvalidError(`${what} is not JSON`);
  }
}

/**
 * The first child with status FAILED (or TIMED_OUT) in the Map Run's FAILED files, streamed line by line and
 * stopping there; aborted children (stopped because the Map failed) are skipped. Undefined when there is none.
 * Lines that cannot be read are skipped.
 */
export async function findFirstFailedChild(
  s3: S3Client,
  results: MapRunResults,
  options: ResultLinesOptions = {},
): Promise<FailedChild | undefined> {
  for (const file of results.manifest.ResultFiles.FAILED) {
    for await (const line of resultLines(s3, { bucket: results.resultsBucket, key: file.Key }, options)) {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        continue;
      }
      const child = ChildExecutionSchema.safeParse(value);
      if (!child.success) continue;
      if (child.data.Status === "FAILED" || child.data.Status === "TIMED_OUT")
        return failedChildOf(child.data);
    }
  }
  return undefined;
}

/**
 * A SUCCEEDED line: the TaskResult itself (COMPACT), or a full record whose Output holds it (NONE), with the
 * chunk its input named.
 */
function successOf(
  value: unknown,
  what: string,
): { result: unknown; given?: FailedChild["chunk"] } | { child: ChildExecution } {
  if (typeof value === "string") return { result: parseLine(value, what) };
  if (isRecord(value) && typeof value.Status === "string") {
    const child = parseAs(ChildExecutionSchema, value, what);
    if (child.Status !== "SUCCEEDED") return { child };
    return {
      result: parseLine(child.Output ?? "null", `The output of ${child.ExecutionArn ?? what}`),
      given: chunkOfChild(child),
    };
  }
  return { result: value };
}

/**
 * Streams the Map Run's result files (SUCCEEDED, then FAILED, then PENDING) and tallies the TaskResults they
 * carry. One line is in memory at a time, plus the per-chunk outcomes and the bounded rejected-row collector.
 */
export async function tallyMapRun(
  s3: S3Client,
  at: ObjectLocation | MapRunResults,
  options: TallyOptions,
): Promise<MapRunTally> {
  const tally = emptyTally(options.rejectedRowCap);
  const results = "manifest" in at ? at : await readMapRunManifest(s3, at);
  const statuses = options.statuses ?? RESULT_STATUSES;
  const seen = new Set<number>();

  const failed = (child: ChildExecution) => {
    tally.failed++;
    const failure = failedChildOf(child);
    if ((child.Status === "FAILED" || child.Status === "TIMED_OUT") && child.Error && !tally.firstFailure) {
      tally.firstFailure = failure;
    }
    const index = failure.chunk?.index;
    if (index !== undefined && !seen.has(index)) {
      seen.add(index);
      tally.chunks.push({ index, status: "FAILED", durationMs: null, accepted: 0, rejected: 0 });
    }
  };

  const succeeded = (result: TaskResult) => {
    // A chunk answered twice (a redriven Map Run) counts once.
    if (seen.has(result.chunkIndex)) return;
    seen.add(result.chunkIndex);
    const rejected = result.rejected.rows.length;
    tally.delivered++;
    tally.accepted += result.accepted;
    tally.rejected += rejected;
    // Unpacked one chunk at a time; the collector keeps no more than its cap.
    if (rejected > 0) tally.rejectedRows.add(result.chunkIndex, unpackRejectedRows(result.rejected));
    tally.chunks.push({
      index: result.chunkIndex,
      status: "SUCCEEDED",
      durationMs: result.durationMs === undefined ? null : Math.round(result.durationMs),
      accepted: result.accepted,
      rejected,
    });
  };

  /** Throws TASK_RESULT_INVALID, naming the chunk and what is wrong, for a result its chunk makes impossible. */
  const checkAgainstChunk = (result: TaskResult, given: FailedChild["chunk"], what: string) => {
    const index = result.chunkIndex;
    if (given && given.index !== index) {
      throw new ResultInvalidError(
        `${what}: the TaskResult answers chunk ${index}, but the child execution was given ${describeChunk(given.index, given)}`,
      );
    }
    const table = options.chunks;
    const chunk = table ? table.get(index) : given;
    if (table && !chunk) {
      throw new ResultInvalidError(
        `${what}: the TaskResult answers chunk ${index}, which is not one of the upload's ${table.size} chunks`,
      );
    }
    const problems = taskResultProblems(result, chunk);
    if (problems.length > 0) {
      throw new ResultInvalidError(
        `${what}: the TaskResult for ${describeChunk(index, chunk)} is impossible: ${problems.join("; ")}. Each row of a chunk must be accepted or rejected exactly once.`,
      );
    }
  };

  for (const status of RESULT_STATUSES) {
    if (!statuses.includes(status)) continue;
    for (const file of results.manifest.ResultFiles[status]) {
      const location = { bucket: results.resultsBucket, key: file.Key };
      let lineNumber = 0;
      for await (const line of resultLines(s3, location, { signal: options.signal })) {
        lineNumber++;
        tally.entries++;
        const what = `Line ${lineNumber} of s3://${location.bucket}/${location.key}`;
        try {
          const value = parseLine(line, what);
          if (status !== "SUCCEEDED") {
            failed(parseAs(ChildExecutionSchema, value, what));
            continue;
          }
          const success = successOf(value, what);
          if ("child" in success) {
            failed(success.child);
            continue;
          }
          const result = parseAs(TaskResultSchema, success.result, what);
          if (result.uploadId !== options.uploadId) {
            throw new ResultInvalidError(
              `A TaskResult names upload ${result.uploadId}, expected ${options.uploadId}`,
            );
          }
          checkAgainstChunk(result, success.given, what);
          succeeded(result);
        } catch (error) {
          if (options.strict || !(error instanceof ResultInvalidError)) throw error;
          tally.unreadable++;
          tally.firstUnreadable ??= error.message;
        }
      }
    }
  }
  tally.chunks.sort((a, b) => a.index - b.index);
  return tally;
}

/** Count, min, max, mean and p95 of the delivered chunks' durations (as the admin server reported them). */
export function durationStats(chunks: readonly ChunkOutcome[]): DurationStats | null {
  const durations = chunks
    .filter((c) => c.status === "SUCCEEDED" && c.durationMs !== null)
    .map((c) => c.durationMs as number)
    .sort((a, b) => a - b);
  if (durations.length === 0) return null;
  const sum = durations.reduce((total, d) => total + d, 0);
  return {
    count: durations.length,
    min: durations[0]!,
    max: durations[durations.length - 1]!,
    mean: Math.round(sum / durations.length),
    p95: durations[Math.min(durations.length - 1, Math.ceil(durations.length * 0.95) - 1)]!,
  };
}
