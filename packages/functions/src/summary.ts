import { CONTRACT_VERSION } from "@sluice/core";
import { z } from "zod";

/** How many rejected rows the summary keeps verbatim (the lowest chunk index and row first). */
export const REJECTED_SAMPLE_LIMIT = 20;

export const RejectedSampleSchema = z.object({
  chunkIndex: z.number().int().nonnegative(),
  row: z.number().int().positive(),
  code: z.string(),
  message: z.string(),
});

export const DurationStatsSchema = z.object({
  count: z.number().int().nonnegative(),
  min: z.number().nonnegative(),
  max: z.number().nonnegative(),
  mean: z.number().nonnegative(),
  p95: z.number().nonnegative(),
});

/** One chunk's outcome: summary.json lists one per chunk (small and bounded: a few numbers each). */
export const ChunkOutcomeSchema = z.object({
  index: z.number().int().nonnegative(),
  status: z.enum(["SUCCEEDED", "FAILED"]),
  /** StopDate - StartDate of the chunk's child execution (queueing, admin server, retries); null if unknown. */
  durationMs: z.number().int().nonnegative().nullable(),
  accepted: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  /** What the admin server reported it spent on the chunk (TaskResult.durationMs), when it did. */
  processingMs: z.number().int().nonnegative().optional(),
});

/** Where the rejected rows were written: one line per rejected row with its original values and reason. */
export const RejectedRowsReportSchema = z.object({
  bucket: z.string().min(1),
  csvKey: z.string().min(1),
  xlsxKey: z.string().min(1),
  /** Lines written (at most the cap). */
  rows: z.number().int().nonnegative(),
  /** True when there were more rejected rows than the report holds; the files say so too. */
  capped: z.boolean(),
});

/** processed/<uploadId>/summary.json: the outcome of one upload once every chunk was answered. */
export const SummarySchema = z.object({
  v: z.literal(CONTRACT_VERSION),
  uploadId: z.string().min(1),
  status: z.literal("SUCCEEDED"),
  /** Rows converted into chunks. */
  rows: z.number().int().nonnegative(),
  /** Chunks converted. */
  chunks: z.number().int().nonnegative(),
  /** Chunks the admin server answered with SendTaskSuccess (a TaskResult each). */
  chunksDelivered: z.number().int().nonnegative(),
  /** Child executions the Map listed as failed or pending (tolerated failures). */
  chunksFailed: z.number().int().nonnegative(),
  accepted: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  /** Rows that never became part of a chunk (manifest.rowErrors.count). */
  rowErrors: z.number().int().nonnegative(),
  /** From receivedAt to the summary. */
  durationMs: z.number().int().nonnegative(),
  rowsPerSecond: z.number().nonnegative(),
  /** StopDate - StartDate of each delivered chunk's child execution; null when nothing was delivered. */
  chunkDurationMs: DurationStatsSchema.nullable(),
  rejectedSamples: z.array(RejectedSampleSchema).max(REJECTED_SAMPLE_LIMIT),
  /**
   * Every chunk whose outcome is known, sorted by index. Only in summary.json: the handler's output (the
   * execution's output, bounded at 256 KiB) leaves it out. `chunks` above stays the count.
   */
  chunkResults: z.array(ChunkOutcomeSchema),
  /** The rejected-rows report, or null when no row was rejected (or writing it failed: see the logs). */
  rejectedRowsReport: RejectedRowsReportSchema.nullable(),
  summaryKey: z.string().min(1),
  finishedAt: z.string(),
});

export type Summary = z.infer<typeof SummarySchema>;
export type RejectedSample = z.infer<typeof RejectedSampleSchema>;
export type DurationStats = z.infer<typeof DurationStatsSchema>;
export type ChunkOutcome = z.infer<typeof ChunkOutcomeSchema>;
export type RejectedRowsReport = z.infer<typeof RejectedRowsReportSchema>;
