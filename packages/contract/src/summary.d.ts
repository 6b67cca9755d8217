import { z } from "zod";
/** How many rejected rows the summary keeps verbatim (the lowest chunk index and row first). */
export declare const REJECTED_SAMPLE_LIMIT = 20;
export declare const RejectedSampleSchema: z.ZodObject<
  {
    chunkIndex: z.ZodNumber;
    row: z.ZodNumber;
    code: z.ZodString;
    message: z.ZodString;
  },
  z.core.$strip
>;
export declare const DurationStatsSchema: z.ZodObject<
  {
    count: z.ZodNumber;
    min: z.ZodNumber;
    max: z.ZodNumber;
    mean: z.ZodNumber;
    p95: z.ZodNumber;
  },
  z.core.$strip
>;
/** One chunk's outcome: summary.json lists one per chunk (small and bounded: a few numbers each). */
export declare const ChunkOutcomeSchema: z.ZodObject<
  {
    index: z.ZodNumber;
    status: z.ZodEnum<{
      FAILED: "FAILED";
      SUCCEEDED: "SUCCEEDED";
    }>;
    durationMs: z.ZodNullable<z.ZodNumber>;
    accepted: z.ZodNumber;
    rejected: z.ZodNumber;
  },
  z.core.$strip
>;
/** One priced item of the cost estimate (see src/cost/cost-model.ts). */
export declare const CostLineSchema: z.ZodObject<
  {
    item: z.ZodEnum<{
      transitions: "transitions";
      sqsRequests: "sqsRequests";
      lambdaGbSeconds: "lambdaGbSeconds";
      lambdaRequests: "lambdaRequests";
      s3Get: "s3Get";
      s3Put: "s3Put";
    }>;
    quantity: z.ZodNumber;
    unit: z.ZodString;
    unitPriceUsd: z.ZodNumber;
    usd: z.ZodNumber;
    source: z.ZodString;
  },
  z.core.$strip
>;
/** processed/<uploadId>/summary.json: the outcome of one upload once every chunk was answered. */
export declare const SummarySchema: z.ZodObject<
  {
    v: z.ZodLiteral<2>;
    uploadId: z.ZodString;
    status: z.ZodLiteral<"SUCCEEDED">;
    rows: z.ZodNumber;
    chunks: z.ZodNumber;
    chunksDelivered: z.ZodNumber;
    chunksFailed: z.ZodNumber;
    accepted: z.ZodNumber;
    rejected: z.ZodNumber;
    rowErrors: z.ZodNumber;
    durationMs: z.ZodNumber;
    rowsPerSecond: z.ZodNumber;
    chunkDurationMs: z.ZodNullable<
      z.ZodObject<
        {
          count: z.ZodNumber;
          min: z.ZodNumber;
          max: z.ZodNumber;
          mean: z.ZodNumber;
          p95: z.ZodNumber;
        },
        z.core.$strip
      >
    >;
    transitions: z.ZodNumber;
    estimatedCostUsd: z.ZodNumber;
    costModel: z.ZodLiteral<"estimate">;
    costLines: z.ZodArray<
      z.ZodObject<
        {
          item: z.ZodEnum<{
            transitions: "transitions";
            sqsRequests: "sqsRequests";
            lambdaGbSeconds: "lambdaGbSeconds";
            lambdaRequests: "lambdaRequests";
            s3Get: "s3Get";
            s3Put: "s3Put";
          }>;
          quantity: z.ZodNumber;
          unit: z.ZodString;
          unitPriceUsd: z.ZodNumber;
          usd: z.ZodNumber;
          source: z.ZodString;
        },
        z.core.$strip
      >
    >;
    rejectedSamples: z.ZodArray<
      z.ZodObject<
        {
          chunkIndex: z.ZodNumber;
          row: z.ZodNumber;
          code: z.ZodString;
          message: z.ZodString;
        },
        z.core.$strip
      >
    >;
    chunkResults: z.ZodArray<
      z.ZodObject<
        {
          index: z.ZodNumber;
          status: z.ZodEnum<{
            FAILED: "FAILED";
            SUCCEEDED: "SUCCEEDED";
          }>;
          durationMs: z.ZodNullable<z.ZodNumber>;
          accepted: z.ZodNumber;
          rejected: z.ZodNumber;
        },
        z.core.$strip
      >
    >;
    rejectedRowsReport: z.ZodNullable<
      z.ZodObject<
        {
          bucket: z.ZodString;
          csvKey: z.ZodString;
          xlsxKey: z.ZodString;
          rows: z.ZodNumber;
          capped: z.ZodBoolean;
        },
        z.core.$strip
      >
    >;
    summaryKey: z.ZodString;
    finishedAt: z.ZodString;
  },
  z.core.$strip
>;
export type Summary = z.infer<typeof SummarySchema>;
export type RejectedSample = z.infer<typeof RejectedSampleSchema>;
export type DurationStats = z.infer<typeof DurationStatsSchema>;
export type ChunkOutcome = z.infer<typeof ChunkOutcomeSchema>;
export type CostLineRecord = z.infer<typeof CostLineSchema>;
