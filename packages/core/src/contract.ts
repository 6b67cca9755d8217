import { z } from "zod";

/**
 * The message contract, version 1: every component that writes or reads a chunk, a manifest, a task result or
 * a dead-letter record imports these schemas, so there is one shape of each message.
 */
export const CONTRACT_VERSION = 1 as const;

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

export function chunkIdFor(uploadId: string, index: number): string {
  return `${uploadId}/${String(index).padStart(6, "0")}`;
}
