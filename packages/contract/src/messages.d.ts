import { z } from "zod";
export declare const CellValueSchema: z.ZodUnion<
  readonly [z.ZodString, z.ZodNumber, z.ZodBoolean, z.ZodNull]
>;
export declare const RowWarningSchema: z.ZodObject<
  {
    column: z.ZodString;
    code: z.ZodString;
    message: z.ZodString;
  },
  z.core.$strip
>;
export declare const ChunkRowSchema: z.ZodObject<
  {
    row: z.ZodNumber;
    data: z.ZodRecord<z.ZodString, z.ZodUnion<readonly [z.ZodString, z.ZodNumber, z.ZodBoolean, z.ZodNull]>>;
    warnings: z.ZodOptional<
      z.ZodArray<
        z.ZodObject<
          {
            column: z.ZodString;
            code: z.ZodString;
            message: z.ZodString;
          },
          z.core.$strip
        >
      >
    >;
  },
  z.core.$strip
>;
export declare const ChunkSchema: z.ZodObject<
  {
    v: z.ZodLiteral<2>;
    uploadId: z.ZodString;
    index: z.ZodNumber;
    chunkId: z.ZodString;
    firstRow: z.ZodNumber;
    lastRow: z.ZodNumber;
    rows: z.ZodArray<
      z.ZodObject<
        {
          row: z.ZodNumber;
          data: z.ZodRecord<
            z.ZodString,
            z.ZodUnion<readonly [z.ZodString, z.ZodNumber, z.ZodBoolean, z.ZodNull]>
          >;
          warnings: z.ZodOptional<
            z.ZodArray<
              z.ZodObject<
                {
                  column: z.ZodString;
                  code: z.ZodString;
                  message: z.ZodString;
                },
                z.core.$strip
              >
            >
          >;
        },
        z.core.$strip
      >
    >;
  },
  z.core.$strip
>;
export declare const SampleListSchema: <T extends z.ZodType>(
  item: T,
) => z.ZodObject<
  {
    count: z.ZodNumber;
    samples: z.ZodArray<T>;
  },
  z.core.$strip
>;
export declare const RowIssueSchema: z.ZodObject<
  {
    row: z.ZodNumber;
    column: z.ZodOptional<z.ZodString>;
    code: z.ZodString;
    message: z.ZodString;
  },
  z.core.$strip
>;
export declare const ManifestSchema: z.ZodObject<
  {
    v: z.ZodLiteral<2>;
    uploadId: z.ZodString;
    source: z.ZodObject<
      {
        name: z.ZodString;
        bytes: z.ZodNumber;
      },
      z.core.$strip
    >;
    format: z.ZodEnum<{
      xlsx: "xlsx";
      csv: "csv";
    }>;
    sheet: z.ZodString;
    sheets: z.ZodArray<
      z.ZodObject<
        {
          name: z.ZodString;
          visible: z.ZodBoolean;
        },
        z.core.$strip
      >
    >;
    header: z.ZodArray<z.ZodString>;
    headerRow: z.ZodNumber;
    totalRows: z.ZodNumber;
    totalChunks: z.ZodNumber;
    bytes: z.ZodNumber;
    chunking: z.ZodObject<
      {
        rows: z.ZodNumber;
        bytes: z.ZodNumber;
      },
      z.core.$strip
    >;
    details: z.ZodRecord<z.ZodString, z.ZodUnion<readonly [z.ZodString, z.ZodNumber, z.ZodBoolean]>>;
    warnings: z.ZodObject<
      {
        count: z.ZodNumber;
        samples: z.ZodArray<
          z.ZodObject<
            {
              row: z.ZodNumber;
              column: z.ZodOptional<z.ZodString>;
              code: z.ZodString;
              message: z.ZodString;
            },
            z.core.$strip
          >
        >;
      },
      z.core.$strip
    >;
    rowErrors: z.ZodObject<
      {
        count: z.ZodNumber;
        samples: z.ZodArray<
          z.ZodObject<
            {
              row: z.ZodNumber;
              column: z.ZodOptional<z.ZodString>;
              code: z.ZodString;
              message: z.ZodString;
            },
            z.core.$strip
          >
        >;
      },
      z.core.$strip
    >;
  },
  z.core.$strip
>;
export type Chunk = z.infer<typeof ChunkSchema>;
export type ChunkRow = z.infer<typeof ChunkRowSchema>;
export type Manifest = z.infer<typeof ManifestSchema>;
export type RowIssue = z.infer<typeof RowIssueSchema>;
/** Totals known once the workbook is converted, before any chunk is delivered. */
export declare const UploadTotalsSchema: z.ZodObject<
  {
    totalRows: z.ZodNumber;
    totalChunks: z.ZodNumber;
  },
  z.core.$strip
>;
/**
 * Where one chunk's bytes are (claim check): the Map hands these small pointers out and the message carries one,
 * so rows stay in the encrypted bucket and never pass through Step Functions. `offset`/`length` are the byte
 * range of the chunk's JSON line in `key` (newline excluded); `sha256` is the base64 SHA-256 of those bytes.
 */
export declare const ChunkPointerSchema: z.ZodObject<
  {
    index: z.ZodNumber;
    chunkId: z.ZodString;
    firstRow: z.ZodNumber;
    lastRow: z.ZodNumber;
    rows: z.ZodNumber;
    bucket: z.ZodString;
    key: z.ZodString;
    offset: z.ZodNumber;
    length: z.ZodNumber;
    sha256: z.ZodString;
  },
  z.core.$strip
>;
/**
 * What the admin server receives on the chunk queue: a pointer to one chunk, the task token to answer with, and
 * the upload's totals so progress can be shown from the first message on.
 */
export declare const ChunkEnvelopeSchema: z.ZodObject<
  {
    v: z.ZodLiteral<2>;
    kind: z.ZodLiteral<"chunk">;
    taskToken: z.ZodString;
    uploadId: z.ZodString;
    source: z.ZodObject<
      {
        bucket: z.ZodString;
        key: z.ZodString;
        versionId: z.ZodOptional<z.ZodString>;
      },
      z.core.$strip
    >;
    totals: z.ZodObject<
      {
        totalRows: z.ZodNumber;
        totalChunks: z.ZodNumber;
      },
      z.core.$strip
    >;
    chunk: z.ZodObject<
      {
        index: z.ZodNumber;
        chunkId: z.ZodString;
        firstRow: z.ZodNumber;
        lastRow: z.ZodNumber;
        rows: z.ZodNumber;
        bucket: z.ZodString;
        key: z.ZodString;
        offset: z.ZodNumber;
        length: z.ZodNumber;
        sha256: z.ZodString;
      },
      z.core.$strip
    >;
  },
  z.core.$strip
>;
export declare const RejectedRowSchema: z.ZodObject<
  {
    row: z.ZodNumber;
    code: z.ZodString;
    message: z.ZodString;
  },
  z.core.$strip
>;
/**
 * Rejected rows as they travel in a TaskResult: each distinct (code, message) once in `reasons`, and each rejected
 * row as `[row, index into reasons]`. A chunk of 10,000 rows all rejected for one reason is ~130 KB this way, so
 * the answer fits Step Functions' 256 KiB SendTaskSuccess output however many rows a chunk refuses.
 */
export declare const RejectedRowsSchema: z.ZodObject<
  {
    reasons: z.ZodArray<
      z.ZodObject<
        {
          code: z.ZodString;
          message: z.ZodString;
        },
        z.core.$strip
      >
    >;
    rows: z.ZodArray<z.ZodTuple<[z.ZodNumber, z.ZodNumber], null>>;
  },
  z.core.$strip
>;
/** What the admin server reports with SendTaskSuccess for a chunk it consumed. */
export declare const TaskResultSchema: z.ZodObject<
  {
    v: z.ZodLiteral<2>;
    uploadId: z.ZodString;
    chunkIndex: z.ZodNumber;
    accepted: z.ZodNumber;
    rejected: z.ZodObject<
      {
        reasons: z.ZodArray<
          z.ZodObject<
            {
              code: z.ZodString;
              message: z.ZodString;
            },
            z.core.$strip
          >
        >;
        rows: z.ZodArray<z.ZodTuple<[z.ZodNumber, z.ZodNumber], null>>;
      },
      z.core.$strip
    >;
    durationMs: z.ZodOptional<z.ZodNumber>;
  },
  z.core.$strip
>;
export type RejectedRows = z.infer<typeof RejectedRowsSchema>;
/** Packs rejected rows for a TaskResult: one entry per distinct (code, message), rows in the order given. */
export declare function packRejectedRows(rows: readonly RejectedRow[]): RejectedRows;
/** The rejected rows of a TaskResult, one object each (the inverse of packRejectedRows). */
export declare function unpackRejectedRows(rejected: RejectedRows): RejectedRow[];
/** Step Functions limits on SendTaskFailure. */
export declare const TASK_FAILURE_LIMITS: Readonly<{
  errorLength: 256;
  causeLength: 32768;
}>;
/**
 * The JSON `cause` of a chunk's SendTaskFailure: a human message, the stable code, and (when the sender knows it)
 * which chunk and rows. The consumer SDK and the chunk dead-letter handler both write it.
 */
export declare const TaskFailureCauseSchema: z.ZodObject<
  {
    message: z.ZodString;
    code: z.ZodOptional<z.ZodString>;
    chunkIndex: z.ZodOptional<z.ZodNumber>;
    firstRow: z.ZodOptional<z.ZodNumber>;
    lastRow: z.ZodOptional<z.ZodNumber>;
    rows: z.ZodOptional<z.ZodNumber>;
    receiveCount: z.ZodOptional<z.ZodNumber>;
  },
  z.core.$strip
>;
/** The execution statuses that end an upload without success (Step Functions' names). */
export declare const FailedStatusSchema: z.ZodEnum<{
  FAILED: "FAILED";
  TIMED_OUT: "TIMED_OUT";
  ABORTED: "ABORTED";
}>;
/** Where the rejected rows were written: one line per rejected row with its original values and reason. */
export declare const RejectedRowsReportSchema: z.ZodObject<
  {
    bucket: z.ZodString;
    csvKey: z.ZodString;
    xlsxKey: z.ZodString;
    rows: z.ZodNumber;
    capped: z.ZodBoolean;
  },
  z.core.$strip
>;
/**
 * processed/<uploadId>/failure.json: what NotifyFailure records when an upload's execution fails, enough to
 * understand and redrive it without asking the customer for the file again (the original stays in the bucket).
 * Written before any large read; `progress` and `rejectedRowsReport` are filled in afterwards when they can be.
 */
export declare const FailureRecordSchema: z.ZodObject<
  {
    v: z.ZodLiteral<2>;
    kind: z.ZodLiteral<"upload-failure">;
    uploadId: z.ZodString;
    executionArn: z.ZodString;
    status: z.ZodEnum<{
      FAILED: "FAILED";
      TIMED_OUT: "TIMED_OUT";
      ABORTED: "ABORTED";
    }>;
    redriveCount: z.ZodNumber;
    source: z.ZodObject<
      {
        bucket: z.ZodString;
        key: z.ZodString;
        versionId: z.ZodOptional<z.ZodString>;
      },
      z.core.$strip
    >;
    processed: z.ZodOptional<
      z.ZodObject<
        {
          bucket: z.ZodString;
          prefix: z.ZodString;
        },
        z.core.$strip
      >
    >;
    error: z.ZodObject<
      {
        code: z.ZodString;
        cause: z.ZodString;
      },
      z.core.$strip
    >;
    failedChunk: z.ZodOptional<
      z.ZodObject<
        {
          index: z.ZodNumber;
          firstRow: z.ZodNumber;
          lastRow: z.ZodNumber;
          rows: z.ZodNumber;
        },
        z.core.$strip
      >
    >;
    chunks: z.ZodOptional<
      z.ZodObject<
        {
          total: z.ZodNumber;
          succeeded: z.ZodNumber;
          failed: z.ZodNumber;
          pending: z.ZodNumber;
        },
        z.core.$strip
      >
    >;
    progress: z.ZodOptional<
      z.ZodObject<
        {
          accepted: z.ZodNumber;
          rejected: z.ZodNumber;
        },
        z.core.$strip
      >
    >;
    rejectedRowsReport: z.ZodOptional<
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
    failedAt: z.ZodString;
  },
  z.core.$strip
>;
export type RejectedRowsReport = z.infer<typeof RejectedRowsReportSchema>;
export type ChunkPointer = z.infer<typeof ChunkPointerSchema>;
export type UploadTotals = z.infer<typeof UploadTotalsSchema>;
export type ChunkEnvelope = z.infer<typeof ChunkEnvelopeSchema>;
export type RejectedRow = z.infer<typeof RejectedRowSchema>;
export type TaskResult = z.infer<typeof TaskResultSchema>;
export type TaskFailureCause = z.infer<typeof TaskFailureCauseSchema>;
export type FailureRecord = z.infer<typeof FailureRecordSchema>;
