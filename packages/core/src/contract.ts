import { z } from "zod";

/**
 * The message contract, version 1: every component that writes or reads a chunk, a manifest, a task result or
 * a dead-letter record imports these schemas, so there is one shape of each message.
 */
import { CONTRACT_VERSION } from "./contract-version.ts";

export { CONTRACT_VERSION, chunkIdFor } from "./contract-version.ts";

export const CellValueSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const RowWarningSchema = z.object({
  column: z.string(),
  code: z.string(),
  message: z.string(),
});

export const ChunkRowSchema = z.object({
  /** 1-based row number in the source sheet (csv: record number), for error reports. */
  row: z.number().int().positive(),
  /** Values keyed by header name. Keys added to the header after this chunk was cut are absent: read as null. */
  data: z.record(z.string(), CellValueSchema),
  warnings: z.array(RowWarningSchema).optional(),
});

export const ChunkSchema = z.object({
  v: z.literal(CONTRACT_VERSION),
  uploadId: z.string().min(1),
  index: z.number().int().nonnegative(),
  /** Deterministic: the same upload converted again yields the same ids. */
  chunkId: z.string().min(1),
  firstRow: z.number().int().positive(),
  lastRow: z.number().int().positive(),
  rows: z.array(ChunkRowSchema).min(1),
});

export const SampleListSchema = <T extends z.ZodType>(item: T) =>
  z.object({ count: z.number().int().nonnegative(), samples: z.array(item) });

export const RowIssueSchema = z.object({
  row: z.number().int().positive(),
  column: z.string().optional(),
  code: z.string(),
  message: z.string(),
});

export const ManifestSchema = z.object({
  v: z.literal(CONTRACT_VERSION),
  uploadId: z.string().min(1),
  source: z.object({ name: z.string(), bytes: z.number().int().nonnegative() }),
  format: z.enum(["xlsx", "csv"]),
  sheet: z.string(),
  sheets: z.array(z.object({ name: z.string(), visible: z.boolean() })),
  header: z.array(z.string()),
  headerRow: z.number().int().positive(),
  totalRows: z.number().int().nonnegative(),
  totalChunks: z.number().int().nonnegative(),
  /** Bytes of all chunk lines (the size of chunks.jsonl). */
  bytes: z.number().int().nonnegative(),
  chunking: z.object({ rows: z.number().int().positive(), bytes: z.number().int().positive() }),
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  /** Cell-level warnings (e.g. Excel error values turned into null); the row still counts. */
  warnings: SampleListSchema(RowIssueSchema),
  /** Rows that could not become part of a chunk (e.g. larger than the chunk byte bound). */
  rowErrors: SampleListSchema(RowIssueSchema),
});

export type Chunk = z.infer<typeof ChunkSchema>;
export type ChunkRow = z.infer<typeof ChunkRowSchema>;
export type Manifest = z.infer<typeof ManifestSchema>;
export type RowIssue = z.infer<typeof RowIssueSchema>;

/** Totals known once the workbook is converted, before any chunk is delivered. */
export const UploadTotalsSchema = z.object({
  totalRows: z.number().int().nonnegative(),
  totalChunks: z.number().int().nonnegative(),
});

/**
 * What the admin server receives on the chunk queue: one chunk, the task token to answer with, and the
 * upload's totals so progress can be shown from the first message on.
 */
export const ChunkEnvelopeSchema = z.object({
  v: z.literal(CONTRACT_VERSION),
  kind: z.literal("chunk"),
  taskToken: z.string().min(1),
  uploadId: z.string().min(1),
  /** The S3 (or local bucket) location of the source workbook, for reports and redrives. */
  source: z.object({ bucket: z.string(), key: z.string(), versionId: z.string().optional() }),
  totals: UploadTotalsSchema,
  chunk: ChunkSchema,
});

export const RejectedRowSchema = z.object({
  row: z.number().int().positive(),
  code: z.string().min(1).max(64),
  message: z.string().max(1000),
});

/** What the admin server reports with SendTaskSuccess for a chunk it consumed. */
export const TaskResultSchema = z.object({
  v: z.literal(CONTRACT_VERSION),
  uploadId: z.string().min(1),
  chunkIndex: z.number().int().nonnegative(),
  accepted: z.number().int().nonnegative(),
  rejected: z.array(RejectedRowSchema),
  /** Milliseconds the admin server spent on the chunk. */
  durationMs: z.number().nonnegative().optional(),
});

/** Step Functions limits on SendTaskFailure. */
export const TASK_FAILURE_LIMITS = Object.freeze({ errorLength: 256, causeLength: 32_768 });

/**
 * The record NotifyFailure puts on the dead-letter queue: enough to understand and redrive the upload without
 * asking the customer for the file again (the original stays in the bucket).
 */
export const DeadLetterRecordSchema = z.object({
  v: z.literal(CONTRACT_VERSION),
  kind: z.literal("upload-failure"),
  uploadId: z.string().min(1),
  executionArn: z.string().optional(),
  source: z.object({ bucket: z.string(), key: z.string(), versionId: z.string().optional() }),
  /** Where chunks.jsonl and manifest.json were written, if conversion got that far. */
  processed: z.object({ bucket: z.string(), prefix: z.string() }).optional(),
  chunkIndex: z.number().int().nonnegative().optional(),
  error: z.object({ code: z.string(), cause: z.string() }),
  failedAt: z.string(),
});

/** Everything that can sit on the dead-letter queue: chunks redriven after too many receives, and failure records. */
export const DeadLetterMessageSchema = z.discriminatedUnion("kind", [
  ChunkEnvelopeSchema,
  DeadLetterRecordSchema,
]);

export type UploadTotals = z.infer<typeof UploadTotalsSchema>;
export type ChunkEnvelope = z.infer<typeof ChunkEnvelopeSchema>;
export type RejectedRow = z.infer<typeof RejectedRowSchema>;
export type TaskResult = z.infer<typeof TaskResultSchema>;
export type DeadLetterRecord = z.infer<typeof DeadLetterRecordSchema>;
