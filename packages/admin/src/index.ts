import type { S3Client } from "@aws-sdk/client-s3";
import type { SFNClient } from "@aws-sdk/client-sfn";
import { invalidOption } from "./errors.ts";
import { type ListUploadsQuery, UploadLister, type UploadListItem } from "./list-uploads.ts";
import { redriveUpload } from "./redrive.ts";
import { sfnBudgets } from "./status-cache.ts";
import { createUploadForm, type UploadForm, type UploadFormRequest } from "./upload-form.ts";
import { UploadStatusReader, type UploadStatusView } from "./upload-status.ts";

export { SLUICE_ADMIN_ERROR_CODES, SluiceAdminError, type SluiceAdminErrorCode } from "./errors.ts";
export {
  FAILED_STATUSES,
  type FailureRecordLookup,
  failureRecordKey,
  readFailureRecord,
} from "./failure-record.ts";
export {
  DEFAULT_LIST_LIMIT,
  EXECUTION_STATUSES,
  type ExecutionStatus,
  LIST_TTL_MS,
  type ListUploadsQuery,
  MAX_LIST_LIMIT,
  type UploadListItem,
} from "./list-uploads.ts";
export { computeProgress, type Progress, type ProgressInput } from "./progress.ts";
export { SFN_BUDGETS } from "./status-cache.ts";
export {
  DEFAULT_EXPIRES_IN_SECONDS,
  MAX_EXPIRES_IN_SECONDS,
  MAX_METADATA_BYTES,
  MAX_SINGLE_PUT_BYTES,
  type UploadForm,
  type UploadFormRequest,
} from "./upload-form.ts";
export {
  executionArnOf,
  REPORT_URL_EXPIRES_IN_SECONDS,
  type UploadFailure,
  type UploadStage,
  type UploadStatusView,
} from "./upload-status.ts";

export interface SluiceAdminOptions {
  s3: S3Client;
  sfn: SFNClient;
  /** The uploads bucket. */
  bucket: string;
  /** The upload workflow's state machine. */
  stateMachineArn: string;
  /**
   * Cache of status answers: `ttlMs` (default 2000) while an upload runs, `terminalTtlMs` (default 30000) once it
   * ended, at most `maxEntries` uploads (default 1000, least recently used first out).
   */
  cache?: { ttlMs?: number; terminalTtlMs?: number; maxEntries?: number };
  /** For tests. */
  now?: () => number;
}

export interface SluiceAdmin {
  createUploadForm(request: UploadFormRequest): Promise<UploadForm>;
  uploadStatus(uploadId: string, options?: { tenant?: string }): Promise<UploadStatusView>;
  listUploads(query?: ListUploadsQuery): Promise<UploadListItem[]>;
  redrive(uploadId: string): Promise<{ uploadId: string; redriveDate: string }>;
}

export const DEFAULT_CACHE = { ttlMs: 2_000, terminalTtlMs: 30_000, maxEntries: 1_000 } as const;

const STATE_MACHINE_ARN = /^arn:[a-z-]+:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$/;

function cacheOption(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min)
    throw invalidOption(`cache.${name} must be a whole number of at least ${min}, not ${String(value)}`);
  return value;
}

/** The admin server's helpers: signed upload forms, live status, the operators' list and redrive. */
export function createSluiceAdmin(options: SluiceAdminOptions): SluiceAdmin {
  const { s3, sfn, bucket, stateMachineArn } = options;
  if (!s3 || !sfn) throw invalidOption("s3 and sfn must be AWS SDK clients");
  if (typeof bucket !== "string" || bucket === "")
    throw invalidOption("bucket must be the uploads bucket's name");
  if (typeof stateMachineArn !== "string" || !STATE_MACHINE_ARN.test(stateMachineArn))
    throw invalidOption(`stateMachineArn ${JSON.stringify(stateMachineArn)} is not a state machine's ARN`);
  const now = options.now ?? Date.now;
  const ttlMs = cacheOption("ttlMs", options.cache?.ttlMs, DEFAULT_CACHE.ttlMs, 0);
  const terminalTtlMs = cacheOption(
    "terminalTtlMs",
    options.cache?.terminalTtlMs,
    Math.max(DEFAULT_CACHE.terminalTtlMs, ttlMs),
    0,
  );
  const maxEntries = cacheOption("maxEntries", options.cache?.maxEntries, DEFAULT_CACHE.maxEntries, 1);
  const budgets = sfnBudgets(now);
  const statuses = new UploadStatusReader(
    { s3, sfn, bucket, stateMachineArn, now, budgets, ttlMs, terminalTtlMs },
    maxEntries,
  );
  const lister = new UploadLister(
    {
      s3,
      sfn,
      bucket,
      stateMachineArn,
      now,
      budget: budgets.ListExecutions,
      converted: async (uploadId) => (await statuses.manifestOf(uploadId)) !== null,
    },
    16,
  );
  return {
    createUploadForm: (request) => createUploadForm({ s3, bucket, now }, request),
    uploadStatus: (uploadId, statusOptions) => statuses.status(uploadId, statusOptions),
    listUploads: (query) => lister.list(query),
    redrive: async (uploadId) => {
      try {
        return await redriveUpload({ sfn, stateMachineArn, now }, uploadId);
      } finally {
        // Whatever Step Functions answered, the next status asks it again.
        statuses.invalidate(uploadId);
        lister.invalidate();
      }
    },
  };
}
