import { z } from "zod";

/**
 * The message contract, version 3: every component that writes or reads a chunk, a manifest, a task result or
 * a failure record imports these schemas, so there is one shape of each message.
 */
import { CONTRACT_VERSION } from "./contract-version.ts";
import { REJECTED_SAMPLE_LIMIT, RejectedSampleSchema } from "./rejected-sample.ts";

export const CellValueSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const RowWarningSchema = z.object({
  column: z.string(),
  code: z.string(),
  message: z.string(),
});

/** A warning about one cell of a row (e.g. an Excel error value read as null); the row still counts. */
export const ChunkWarningSchema = RowWarningSchema.extend({
  /** The row it is about (one of the chunk's rows). */
  row: z.number().int().positive(),
});

/** A chunk's row: its 1-based row number in the source sheet (csv: record number), then one value per column. */
export const ChunkRecordSchema = z.tuple([z.number().int().positive()]).rest(CellValueSchema);

/**
 * One chunk of rows, compact: the column names once, then each row as an array `[row, value, ...]` with one value
 * per column in that order (null where the cell is empty). Names are never repeated per row, so a chunk is about
 * 40% smaller than rows keyed by name, and the admin server decodes and parses that much less. `chunkRows` gives
 * the rows keyed by name, as the consumer SDK hands them to a handler.
 */
export const ChunkSchema = z
  .object({
    v: z.literal(CONTRACT_VERSION),
    uploadId: z.string().min(1),
    index: z.number().int().nonnegative(),
    /** Deterministic: the same upload converted again yields the same ids. */
    chunkId: z.string().min(1),
    firstRow: z.number().int().positive(),
    lastRow: z.number().int().positive(),
    /** The header's names in sheet order as of this chunk (a later chunk may have more: the header grew). */
    columns: z
      .array(z.string())
      .min(1)
      .refine((names) => new Set(names).size === names.length, { message: "column names repeat" })
      // A key JavaScript objects cannot hold as data: the converter never names a column so.
      .refine((names) => !names.includes("__proto__"), { message: 'a column is named "__proto__"' }),
    /** `[row, value per column]`: each exactly one longer than `columns`. */
    rows: z.array(ChunkRecordSchema).min(1),
    /** Cell warnings of this chunk's rows, by row; absent when there are none. */
    warnings: z.array(ChunkWarningSchema).min(1).optional(),
  })
  .superRefine((chunk, ctx) => {
    const width = chunk.columns.length + 1;
    const bad = chunk.rows.findIndex((record) => record.length !== width);
    if (bad >= 0) {
      ctx.addIssue({
        code: "custom",
        path: ["rows", bad],
        message: `has ${chunk.rows[bad]!.length - 1} values, the chunk has ${chunk.columns.length} columns`,
      });
    }
  });

/** A row keyed by column name, as a handler gets it (see `chunkRows`). */
export interface ChunkRow {
  /** 1-based row number in the source sheet (csv: record number), for error reports. */
  row: number;
  /** Values keyed by column name, every column of the chunk present (null where the cell is empty). */
  data: Record<string, CellValue>;
  warnings?: RowWarning[];
}

/** A chunk as the consumer SDK hands it to a handler: the same chunk, its rows keyed by column name. */
export type KeyedChunk = Omit<Chunk, "rows" | "warnings"> & { rows: ChunkRow[] };

export const SampleListSchema = <T extends z.ZodType>(item: T) =>
  z.object({ count: z.number().int().nonnegative(), samples: z.array(item) });

export const RowIssueSchema = z.object({
  row: z.number().int().positive(),
  column: z.string().optional(),
  code: z.string(),
  message: z.string(),
});

/**
 * A warning about the file as a whole (not one row), e.g. FORMAT_EXTENSION_MISMATCH: the upload goes on. `code`
 * is one of WARNING_CODES (warning-codes.ts); a reader shows a code it does not know as it is.
 */
export const FileWarningSchema = z.object({
  code: z.string().min(1),
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
  /** Warnings about the file as a whole (a name that says another format...). Absent in older manifests. */
  fileWarnings: z.array(FileWarningSchema).default([]),
  /**
   * The name the file had on the uploader's machine (any Unicode), from the object's x-amz-meta-original-name
   * (percent-encoded: S3 metadata is ASCII) when an upload form wrote it; absent otherwise (the key names it).
   */
  originalName: z.string().min(1).optional(),
});

export type Chunk = z.infer<typeof ChunkSchema>;
export type CellValue = z.infer<typeof CellValueSchema>;
export type RowWarning = z.infer<typeof RowWarningSchema>;
export type ChunkWarning = z.infer<typeof ChunkWarningSchema>;
export type Manifest = z.infer<typeof ManifestSchema>;
export type RowIssue = z.infer<typeof RowIssueSchema>;
export type FileWarning = z.infer<typeof FileWarningSchema>;

/** Totals known once the workbook is converted, before any chunk is delivered. */
export const UploadTotalsSchema = z.object({
  totalRows: z.number().int().nonnegative(),
  totalChunks: z.number().int().nonnegative(),
});

/**
 * Where one chunk's bytes are (claim check): the Map hands these small pointers out and the message carries one,
 * so rows stay in the encrypted bucket and never pass through Step Functions. `offset`/`length` are the byte
 * range of the chunk's JSON line in `key` (newline excluded); `sha256` is the base64 SHA-256 of those bytes.
 */
export const ChunkPointerSchema = z.object({
  index: z.number().int().nonnegative(),
  chunkId: z.string().min(1),
  firstRow: z.number().int().positive(),
  lastRow: z.number().int().positive(),
  /** Rows in the chunk. */
  rows: z.number().int().positive(),
  bucket: z.string().min(1),
  key: z.string().min(1),
  offset: z.number().int().nonnegative(),
  length: z.number().int().positive(),
  sha256: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, "a base64 SHA-256 digest"),
});

/**
 * What the admin server receives on the chunk queue: a pointer to one chunk, the task token to answer with, and
 * the upload's totals so progress can be shown from the first message on.
 */
export const ChunkEnvelopeSchema = z.object({
  v: z.literal(CONTRACT_VERSION),
  kind: z.literal("chunk"),
  taskToken: z.string().min(1),
  uploadId: z.string().min(1),
  /** The S3 (or local bucket) location of the source workbook, for reports and redrives. */
  source: z.object({ bucket: z.string(), key: z.string(), versionId: z.string().optional() }),
  totals: UploadTotalsSchema,
  chunk: ChunkPointerSchema,
});

export const RejectedRowSchema = z.object({
  row: z.number().int().positive(),
  code: z.string().min(1).max(64),
  message: z.string().max(1000),
});

/**
 * Rejected rows as they travel in a TaskResult: each distinct (code, message) once in `reasons`, and each rejected
 * row as `[row, index into reasons]`. A chunk of 10,000 rows all rejected for one reason is ~130 KB this way, so
 * the answer fits Step Functions' 256 KiB SendTaskSuccess output however many rows a chunk refuses.
 */
export const RejectedRowsSchema = z
  .object({
    reasons: z.array(
      z.object({ code: RejectedRowSchema.shape.code, message: RejectedRowSchema.shape.message }),
    ),
    rows: z.array(z.tuple([z.number().int().positive(), z.number().int().nonnegative()])),
  })
  .refine((r) => r.rows.every(([, reason]) => reason < r.reasons.length), {
    message: "every rejected row must name one of the reasons",
  });

/** What the admin server reports with SendTaskSuccess for a chunk it consumed. */
export const TaskResultSchema = z.object({
  v: z.literal(CONTRACT_VERSION),
  uploadId: z.string().min(1),
  chunkIndex: z.number().int().nonnegative(),
  accepted: z.number().int().nonnegative(),
  rejected: RejectedRowsSchema,
  /** Milliseconds the admin server spent on the chunk. */
  durationMs: z.number().nonnegative().optional(),
});

export type RejectedRows = z.infer<typeof RejectedRowsSchema>;

/** Packs rejected rows for a TaskResult: one entry per distinct (code, message), rows in the order given. */
export function packRejectedRows(rows: readonly RejectedRow[]): RejectedRows {
  const reasons: RejectedRows["reasons"] = [];
  const index = new Map<string, number>();
  const packed: RejectedRows["rows"] = [];
  for (const { row, code, message } of rows) {
    const key = `${code}\u0000${message}`;
    let reason = index.get(key);
    if (reason === undefined) {
      reason = reasons.push({ code, message }) - 1;
      index.set(key, reason);
    }
    packed.push([row, reason]);
  }
  return { reasons, rows: packed };
}

/** The rejected rows of a TaskResult, one object each (the inverse of packRejectedRows). */
export function unpackRejectedRows(rejected: RejectedRows): RejectedRow[] {
  return rejected.rows.map(([row, reason]) => ({ row, ...rejected.reasons[reason]! }));
}

/** Step Functions limits on SendTaskFailure. */
export const TASK_FAILURE_LIMITS = Object.freeze({ errorLength: 256, causeLength: 32_768 });

/**
 * The JSON `cause` of a chunk's SendTaskFailure: a human message, the stable code, and (when the sender knows it)
 * which chunk and rows. The consumer SDK and the chunk dead-letter handler both write it.
 */
export const TaskFailureCauseSchema = z.object({
  message: z.string(),
  code: z.string().optional(),
  chunkIndex: z.number().int().nonnegative().optional(),
  firstRow: z.number().int().positive().optional(),
  lastRow: z.number().int().positive().optional(),
  rows: z.number().int().nonnegative().optional(),
  receiveCount: z.number().int().nonnegative().optional(),
});

/** The execution statuses that end an upload without success (Step Functions' names). */
export const FailedStatusSchema = z.enum(["FAILED", "TIMED_OUT", "ABORTED"]);

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

/**
 * processed/<uploadId>/failure.json: what NotifyFailure records when an upload's execution fails, enough to
 * understand and redrive it without asking the customer for the file again (the original stays in the bucket).
 * Written before any large read; `progress` and `rejectedRowsReport` are filled in afterwards when they can be.
 */
export const FailureRecordSchema = z.object({
  v: z.literal(CONTRACT_VERSION),
  kind: z.literal("upload-failure"),
  uploadId: z.string().min(1),
  executionArn: z.string().min(1),
  status: FailedStatusSchema,
  /** How many times the execution had been redriven when it failed (0: its first run). */
  redriveCount: z.number().int().nonnegative(),
  source: z.object({ bucket: z.string(), key: z.string(), versionId: z.string().optional() }),
  /** Where chunks.jsonl and manifest.json are, if conversion got that far. */
  processed: z.object({ bucket: z.string(), prefix: z.string() }).optional(),
  error: z.object({ code: z.string(), cause: z.string() }),
  /** The chunk whose failure failed the upload, when a chunk did. */
  failedChunk: z
    .object({
      index: z.number().int().nonnegative(),
      firstRow: z.number().int().positive(),
      lastRow: z.number().int().positive(),
      rows: z.number().int().nonnegative(),
    })
    .optional(),
  /** The Map Run's item counts when the upload failed during delivery. */
  chunks: z
    .object({
      total: z.number().int().nonnegative(),
      succeeded: z.number().int().nonnegative(),
      failed: z.number().int().nonnegative(),
      pending: z.number().int().nonnegative(),
    })
    .optional(),
  /** Rows the admin server answered before the failure (after the large read). */
  progress: z
    .object({ accepted: z.number().int().nonnegative(), rejected: z.number().int().nonnegative() })
    .optional(),
  /** The rows rejected before the failure, when there were any (after the large read). */
  rejectedRowsReport: RejectedRowsReportSchema.optional(),
  /**
   * The first of those rows with their reasons, as the summary's `rejectedSamples` (at most REJECTED_SAMPLE_LIMIT,
   * lowest chunk and row first), so a page shows them without opening the report. Since contract 2.2.0.
   */
  rejectedSample: z.array(RejectedSampleSchema).max(REJECTED_SAMPLE_LIMIT).optional(),
  failedAt: z.string(),
});

export type RejectedRowsReport = z.infer<typeof RejectedRowsReportSchema>;
export type ChunkPointer = z.infer<typeof ChunkPointerSchema>;
export type UploadTotals = z.infer<typeof UploadTotalsSchema>;
export type ChunkEnvelope = z.infer<typeof ChunkEnvelopeSchema>;
export type RejectedRow = z.infer<typeof RejectedRowSchema>;
export type TaskResult = z.infer<typeof TaskResultSchema>;
export type TaskFailureCause = z.infer<typeof TaskFailureCauseSchema>;
export type FailureRecord = z.infer<typeof FailureRecordSchema>;
export type FailedStatus = z.infer<typeof FailedStatusSchema>;
