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
  summaryKey: z.string().min(1),
  finishedAt: z.string(),
});

export type Summary = z.infer<typeof SummarySchema>;
export type RejectedSample = z.infer<typeof RejectedSampleSchema>;
export type DurationStats = z.infer<typeof DurationStatsSchema>;
