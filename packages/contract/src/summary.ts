import { z } from "zod";
import { CONTRACT_VERSION } from "./contract-version.ts";
import { FileWarningSchema, RejectedRowsReportSchema } from "./messages.ts";
import { REJECTED_SAMPLE_LIMIT, RejectedSampleSchema } from "./rejected-sample.ts";

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
  /**
   * What the admin server reported it spent on the chunk (TaskResult.durationMs, rounded); null when it did not
   * say, and for failed chunks. The Map's results (COMPACT) carry no start and stop dates for succeeded chunks,
   * so time spent waiting in the queue is not in it.
   */
  durationMs: z.number().int().nonnegative().nullable(),
  accepted: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
});

/** One priced item of the cost estimate (see src/cost/cost-model.ts). */
export const CostLineSchema = z.object({
  item: z.enum(["transitions", "sqsRequests", "lambdaGbSeconds", "lambdaRequests", "s3Get", "s3Put"]),
  quantity: z.number().nonnegative(),
  unit: z.string(),
  unitPriceUsd: z.number().nonnegative(),
  usd: z.number().nonnegative(),
  source: z.string(),
});

/** processed/<uploadId>/summary.json: the outcome of one upload once every chunk was answered. */
export const SummarySchema = z.object({
  v: z.literal(CONTRACT_VERSION),
  uploadId: z.string().min(1),
  status: z.literal("SUCCEEDED"),
  /** The file's name on the uploader's machine (manifest.originalName), when an upload form recorded it. */
  originalName: z.string().min(1).optional(),
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
  /** The manifest's warnings about the file as a whole (manifest.fileWarnings). Absent in older summaries. */
  fileWarnings: z.array(FileWarningSchema).default([]),
  /** From receivedAt to the summary. */
  durationMs: z.number().int().nonnegative(),
  rowsPerSecond: z.number().nonnegative(),
  /**
   * The admin server's reported time per delivered chunk (TaskResult.durationMs); null when nothing was
   * delivered or no TaskResult reported a duration.
   */
  chunkDurationMs: DurationStatsSchema.nullable(),
  /** Step Functions state transitions of the execution: the parent's 5 and 2 per child run (estimated shape). */
  transitions: z.number().int().nonnegative(),
  /** What the upload cost in AWS requests, by `costModel` (us-east-1 list prices, no free tier). */
  estimatedCostUsd: z.number().nonnegative(),
  /** How `transitions` and `estimatedCostUsd` were obtained: an estimate from the workflow's shape, not a bill. */
  costModel: z.literal("estimate"),
  /** The estimate's priced items. Only in summary.json, like `chunkResults`. */
  costLines: z.array(CostLineSchema),
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
export type DurationStats = z.infer<typeof DurationStatsSchema>;
export type ChunkOutcome = z.infer<typeof ChunkOutcomeSchema>;
export type CostLineRecord = z.infer<typeof CostLineSchema>;
