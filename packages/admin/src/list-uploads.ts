import type { S3Client } from "@aws-sdk/client-s3";
import { type ExecutionListItem, ListExecutionsCommand, type SFNClient } from "@aws-sdk/client-sfn";
import { invalidOption } from "./errors.ts";
import { FAILED_STATUSES, readFailureRecord } from "./failure-record.ts";
import { type RateBudget, TtlCache } from "./status-cache.ts";
import type { UploadFailure, UploadStage } from "./upload-status.ts";

export const EXECUTION_STATUSES = [
  "RUNNING",
  "SUCCEEDED",
  "FAILED",
  "TIMED_OUT",
  "ABORTED",
  "PENDING_REDRIVE",
] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

export interface ListUploadsQuery {
  /** Uploads started at or after this. */
  since?: Date;
  status?: ExecutionStatus;
  /** Default 50, at most 1000. */
  limit?: number;
}

export interface UploadListItem {
  uploadId: string;
  executionStatus: string;
  stage: UploadStage;
  startedAt: string;
  stoppedAt: string | null;
  /** For failed ones: the failure record's code, message and failed chunk. */
  failure: UploadFailure | null;
}

export const DEFAULT_LIST_LIMIT = 50;
export const MAX_LIST_LIMIT = 1000;
/** A list is cached this long: operators look at it, they do not poll it every second. */
export const LIST_TTL_MS = 5_000;
/** Failure records read at once for one list. */
const RECORD_READS = 8;

export interface ListDeps {
  s3: S3Client;
  sfn: SFNClient;
  bucket: string;
  stateMachineArn: string;
  now: () => number;
  budget: RateBudget;
  /** Whether the upload's manifest exists (it tells converting from delivering). */
  converted: (uploadId: string) => Promise<boolean>;
}

async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The operators' list: ListExecutions, newest first, with each failed upload's failure record. */
export class UploadLister {
  private readonly cache: TtlCache<UploadListItem[]>;

  constructor(
    private readonly deps: ListDeps,
    maxEntries: number,
  ) {
    this.cache = new TtlCache(maxEntries, deps.now);
  }

  async list(query: ListUploadsQuery = {}): Promise<UploadListItem[]> {
    const limit = query.limit ?? DEFAULT_LIST_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT)
      throw invalidOption(`limit must be a whole number from 1 to ${MAX_LIST_LIMIT}, not ${String(limit)}`);
    if (query.status !== undefined && !EXECUTION_STATUSES.includes(query.status))
      throw invalidOption(`status must be one of ${EXECUTION_STATUSES.join(", ")}`);
    const since = query.since?.getTime();
    if (since !== undefined && Number.isNaN(since)) throw invalidOption("since is not a date");
    // A page asks for "the last 24 hours" with a new `since` each time: the cached list starts at the minute
    // before, and each answer is cut at its own `since`.
    const sinceMinute = since === undefined ? undefined : Math.floor(since / 60_000) * 60_000;
    const key = JSON.stringify([query.status ?? null, sinceMinute ?? null, limit]);
    const items = await this.cache.get(
      key,
      async () => ({ value: await this.fetch(query.status, sinceMinute, limit), ttlMs: LIST_TTL_MS }),
      () => this.deps.budget.tryTake(),
    );
    return since === undefined ? items : items.filter((item) => Date.parse(item.startedAt) >= since);
  }

  invalidate(): void {
    this.cache.clear();
  }

  private async fetch(
    status: ExecutionStatus | undefined,
    since: number | undefined,
    limit: number,
  ): Promise<UploadListItem[]> {
    const executions: ExecutionListItem[] = [];
    let nextToken: string | undefined;
    // ListExecutions answers newest first: once a page reaches past `since`, the later pages are all older.
    // Each page is still filtered and the whole sorted here, so an answer in another order (or one that ignores
    // statusFilter) gives the same list.
    do {
      const page = await this.deps.sfn.send(
        new ListExecutionsCommand({
          stateMachineArn: this.deps.stateMachineArn,
          ...(status ? { statusFilter: status } : {}),
          maxResults: Math.min(limit - executions.length, MAX_LIST_LIMIT),
          nextToken,
        }),
      );
      let older = false;
      for (const execution of page.executions ?? []) {
        if (status && execution.status !== status) continue;
        if (since !== undefined && (execution.startDate?.getTime() ?? 0) < since) older = true;
        else executions.push(execution);
      }
      nextToken = older ? undefined : page.nextToken;
    } while (nextToken && executions.length < limit);
    executions.sort((a, b) => (b.startDate?.getTime() ?? 0) - (a.startDate?.getTime() ?? 0));
    executions.splice(limit);
    return mapLimited(executions, RECORD_READS, (execution) => this.item(execution));
  }

  private async item(execution: ExecutionListItem): Promise<UploadListItem> {
    const uploadId = execution.name ?? "";
    const executionStatus = execution.status ?? "RUNNING";
    let stage: UploadStage;
    let failure: UploadFailure | null = null;
    if (executionStatus === "SUCCEEDED") stage = "succeeded";
    else if (FAILED_STATUSES.has(executionStatus)) {
      stage = "failed";
      const lookup = await readFailureRecord(this.deps.s3, this.deps.bucket, uploadId, {
        executionArn: execution.executionArn ?? "",
        redriveCount: execution.redriveCount ?? 0,
      });
      failure = lookup.found
        ? {
            code: lookup.record.error.code,
            message: lookup.record.error.cause,
            chunkIndex: lookup.record.failedChunk?.index ?? null,
          }
        : { code: executionStatus, message: `no failure record (${lookup.reason})`, chunkIndex: null };
    } else if (executionStatus === "PENDING_REDRIVE") stage = "delivering";
    else stage = (await this.deps.converted(uploadId)) ? "delivering" : "converting";
    return {
      uploadId,
      executionStatus,
      stage,
      startedAt: (execution.startDate ?? new Date(0)).toISOString(),
      stoppedAt: execution.stopDate?.toISOString() ?? null,
      failure,
    };
  }
}
