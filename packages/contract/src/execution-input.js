import { z } from "zod";
/** The state machine's input, built by the start handler and passed through every state. */
export const SourceLocationSchema = z.object({
  bucket: z.string().min(1),
  key: z.string().min(1),
  versionId: z.string().min(1).optional(),
});
export const ExecutionInputSchema = z.object({
  uploadId: z.string().min(1).max(80),
  source: SourceLocationSchema,
  receivedAt: z.iso.datetime({ offset: true }),
});
/** What the convert handler returns: small, never rows. */
export const ConvertOutputSchema = z.object({
  uploadId: z.string().min(1),
  processed: z.object({
    bucket: z.string().min(1),
    prefix: z.string(),
    chunksKey: z.string().min(1),
    /** One chunk pointer per line (JSONL): the Distributed Map's ItemReader reads it. */
    itemsKey: z.string().min(1),
    manifestKey: z.string().min(1),
  }),
  totalRows: z.number().int().nonnegative(),
  totalChunks: z.number().int().nonnegative(),
  sheet: z.string(),
  format: z.enum(["xlsx", "csv"]),
  rowErrors: z.number().int().nonnegative(),
  warnings: z.number().int().nonnegative(),
  /** How long the conversion took, in milliseconds (opening the source to the manifest written). */
  durationMs: z.number().int().nonnegative(),
  /** Size of chunks.jsonl in bytes. */
  bytes: z.number().int().nonnegative(),
});
/** The Distributed Map's output when it has a ResultWriter. */
export const DeliverySchema = z.object({
  MapRunArn: z.string().min(1),
  ResultWriterDetails: z.object({ Bucket: z.string().min(1), Key: z.string().min(1) }),
});
/** Set by the workflow's first state from the context object. */
export const ExecutionInfoSchema = z.object({ arn: z.string().min(1), startTime: z.string().optional() });
export const SummarizeInputSchema = ExecutionInputSchema.extend({
  convert: ConvertOutputSchema,
  // With no chunks the workflow skips the Map and leaves an empty object (null is accepted too).
  delivery: z
    .union([DeliverySchema, z.object({}).strict(), z.null()])
    .transform((d) => (d && "MapRunArn" in d ? d : null)),
  execution: ExecutionInfoSchema.optional(),
});
