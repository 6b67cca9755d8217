import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { type RejectedRow, SourceReadError, TaskResultSchema } from "@sluice/core";
import { z } from "zod";
import { parseCause } from "../failure-cause.ts";
import type { ChunkOutcome, DurationStats, RejectedSample } from "../summary.ts";
import { bodyToBuffer } from "./s3-body.ts";

/**
 * The Map Run's results, tallied once for both ends of the workflow: summarize (every chunk answered) and
 * notify-failure (what was answered before the Map failed). A Distributed Map's ResultWriter writes a
 * manifest.json naming its SUCCEEDED / FAILED / PENDING result files, each a JSON array of child executions.
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

/** One child execution in a result file. */
export const ChildExecutionSchema = z.object({
  ExecutionArn: z.string().optional(),
  Status: z.string(),
  Output: z.string().optional().nullable(),
  Error: z.string().optional().nullable(),
  Cause: z.string().optional().nullable(),
  StartDate: z.string().optional(),
  StopDate: z.string().optional(),
});

export class ResultInvalidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TASK_RESULT_INVALID";
  }
}

/** How many rejected rows a report holds at most; the tally keeps no more than this many in memory. */
export const REJECTED_ROWS_CAP = 100_000;

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

export interface MapRunTally {
  /** Chunks answered with a TaskResult. */
  delivered: number;
  /** Child executions listed as failed, aborted or pending. */
  failed: number;
  accepted: number;
  rejected: number;
  /** One entry per chunk whose index is known, by index: delivered ones and failed ones. */
  chunks: ChunkOutcome[];
  rejectedRows: RejectedRowCollector;
  /** The first FAILED child that carries an error: the Map's real failure. */
  firstFailure?: { error: string; cause: string } | undefined;
  /** Child outputs that were not a TaskResult for this upload (lenient mode only; strict mode throws). */
  unreadable: number;
}

export function emptyTally(rejectedRowCap: number = REJECTED_ROWS_CAP): MapRunTally {
  return {
    delivered: 0,
    failed: 0,
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
  rejectedRowCap?: number;
}

export interface ObjectLocation {
  bucket: string;
  key: string;
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

/** Reads a small JSON object; a read failure is a retryable SOURCE_READ_FAILED. */
export async function readJsonObject(s3: S3Client, bucket: string, key: string): Promise<unknown> {
  let text: string;
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    text = (await bodyToBuffer(response.Body)).toString("utf8");
  } catch (error) {
    throw new SourceReadError(
      `Reading s3://${bucket}/${key} failed: ${(error as Error)?.name}: ${(error as Error)?.message}`,
      { cause: error },
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ResultInvalidError(`s3://${bucket}/${key} is not JSON`);
  }
}

/**
 * The Map Run manifest under an upload's processed prefix: `<prefix><map-run-id>/manifest.json` (the
 * upload's own manifest.json sits directly under the prefix and is not one). The newest wins when a redrive
 * left more than one.
 */
export async function findMapRunManifest(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<ObjectLocation | undefined> {
  let token: string | undefined;
  let newest: { key: string; at: number } | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      const key = object.Key ?? "";
      if (!key.startsWith(prefix) || !/^[^/]+\/manifest\.json$/.test(key.slice(prefix.length))) continue;
      const at = object.LastModified ? new Date(object.LastModified).getTime() : 0;
      if (!newest || at > newest.at) newest = { key, at };
    }
    token = page.NextContinuationToken;
  } while (token);
  return newest ? { bucket, key: newest.key } : undefined;
}

function durationOf(child: z.infer<typeof ChildExecutionSchema>): number | null {
  const started = Date.parse(child.StartDate ?? "");
  const stopped = Date.parse(child.StopDate ?? "");
  return Number.isNaN(started) || Number.isNaN(stopped) ? null : Math.max(0, stopped - started);
}

/**
 * Reads the Map Run's manifest and its result files one at a time and tallies the TaskResults they carry.
 * Only one result file is in memory at a time; rejected rows are kept up to the cap.
 */
export async function tallyMapRun(
  s3: S3Client,
  manifestAt: ObjectLocation,
  options: TallyOptions,
): Promise<MapRunTally> {
  const tally = emptyTally(options.rejectedRowCap);
  const { bucket: Bucket, key: Key } = manifestAt;
  const manifest = parseAs(
    MapRunManifestSchema,
    await readJsonObject(s3, Bucket, Key),
    `s3://${Bucket}/${Key}`,
  );
  const bucket = manifest.DestinationBucket ?? Bucket;
  const files = [
    ...manifest.ResultFiles.SUCCEEDED,
    ...manifest.ResultFiles.FAILED,
    ...manifest.ResultFiles.PENDING,
  ];
  const seen = new Set<number>();
  for (const file of files) {
    const children = parseAs(
      z.array(ChildExecutionSchema),
      await readJsonObject(s3, bucket, file.Key),
      `s3://${bucket}/${file.Key}`,
    );
    for (const child of children) {
      if (child.Status !== "SUCCEEDED") {
        tally.failed++;
        if (child.Status === "FAILED" && child.Error && !tally.firstFailure) {
          tally.firstFailure = { error: child.Error, cause: child.Cause ?? "" };
        }
        const index = parseCause(child.Cause).chunkIndex;
        if (index !== undefined && !seen.has(index)) {
          seen.add(index);
          tally.chunks.push({
            index,
            status: "FAILED",
            durationMs: durationOf(child),
            accepted: 0,
            rejected: 0,
          });
        }
        continue;
      }
      const what = `The output of ${child.ExecutionArn ?? "a child execution"}`;
      let result: z.infer<typeof TaskResultSchema>;
      try {
        let output: unknown;
        try {
          output = JSON.parse(child.Output ?? "null");
        } catch {
          throw new ResultInvalidError(`${what} is not JSON`);
        }
        result = parseAs(TaskResultSchema, output, what);
        if (result.uploadId !== options.uploadId) {
          throw new ResultInvalidError(
            `A TaskResult names upload ${result.uploadId}, expected ${options.uploadId}`,
          );
        }
      } catch (error) {
        if (options.strict) throw error;
        tally.unreadable++;
        continue;
      }
      // A chunk answered twice (a redriven Map Run) counts once.
      if (seen.has(result.chunkIndex)) continue;
      seen.add(result.chunkIndex);
      tally.delivered++;
      tally.accepted += result.accepted;
      tally.rejected += result.rejected.length;
      tally.rejectedRows.add(result.chunkIndex, result.rejected);
      tally.chunks.push({
        index: result.chunkIndex,
        status: "SUCCEEDED",
        durationMs: durationOf(child),
        accepted: result.accepted,
        rejected: result.rejected.length,
        ...(result.durationMs === undefined ? {} : { processingMs: Math.round(result.durationMs) }),
      });
    }
  }
  tally.chunks.sort((a, b) => a.index - b.index);
  return tally;
}

/** Count, min, max, mean and p95 of the delivered chunks' durations; null when there is none. */
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
