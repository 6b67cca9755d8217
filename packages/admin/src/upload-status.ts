import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import {
  DescribeExecutionCommand,
  type DescribeExecutionOutput,
  DescribeMapRunCommand,
  type DescribeMapRunOutput,
  ListMapRunsCommand,
  type SFNClient,
} from "@aws-sdk/client-sfn";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import {
  executionConsoleUrl,
  type FileWarning,
  FORM_UPLOADS_PREFIX,
  MANIFEST_OBJECT,
  type Manifest,
  ManifestSchema,
  parseCause,
  processedPrefixOf,
  REJECTED_ROWS_XLSX,
  type RejectedRowsReport,
  type RejectedSample,
  SUMMARY_OBJECT,
  SummarySchema,
  TENANT_PATTERN,
  UPLOAD_ID_PATTERN,
} from "@sluice/contract";
import { invalidOption, SluiceAdminError } from "./errors.ts";
import { FAILED_STATUSES, readFailureRecord } from "./failure-record.ts";
import { computeProgress, type ProgressInput } from "./progress.ts";
import { LruMap, type SfnBudgets, TtlCache } from "./status-cache.ts";

export type UploadStage = "waiting" | "converting" | "delivering" | "succeeded" | "failed";

export interface UploadFailure {
  code: string;
  message: string;
  chunkIndex: number | null;
}

export interface UploadStatusView {
  uploadId: string;
  stage: UploadStage;
  /** RUNNING / SUCCEEDED / FAILED / TIMED_OUT / ABORTED / PENDING_REDRIVE; null while waiting. */
  executionStatus: string | null;
  /** The original name when known (the manifest's or summary's), else the key's base name. */
  fileName: string | null;
  key: string | null;
  startedAt: string | null;
  stoppedAt: string | null;
  /** Known after conversion (manifest.json). */
  totals: { rows: number; chunks: number } | null;
  chunks: { done: number; inFlight: number; failed: number; pending: number | null };
  /** Exact accepted/rejected once summary.json exists; done is an estimate while delivering. */
  rows: { accepted: number | null; rejected: number | null; done: number | null };
  /** 0..100. */
  percent: number | null;
  rowsPerSecond: number | null;
  etaSeconds: number | null;
  /** The first rejected rows: the summary's, or for a failed upload the failure record's (rows before it failed). */
  rejectedSample: RejectedSample[];
  /** A presigned GET of the rejected-rows report (xlsx), when there is one. */
  reportUrl: string | null;
  /** From failure.json, else the execution's error and its cause as parseCause reads it. */
  failure: UploadFailure | null;
  fileWarnings: FileWarning[];
  redriveCount: number;
  /**
   * The execution in the Step Functions console of its partition (executionConsoleUrl); null while waiting, and
   * when the Step Functions client has a custom endpoint (a local emulator has no console).
   */
  consoleUrl: string | null;
  /**
   * Nothing more will change unless the upload is redriven: it succeeded (with its summary), or failed and its
   * failure record is complete (the rows answered before the failure, the first rejected ones). A page polls
   * until this is true, not merely until the stage is final: the record lands a moment after the failure.
   */
  settled: boolean;
  updatedAt: string;
}

/** How long a report link lives: a person clicks it from the page they are on. */
export const REPORT_URL_EXPIRES_IN_SECONDS = 300;

/** `arn:<partition>:states:<region>:<account>:execution:<stateMachineName>:<uploadId>`. */
export function executionArnOf(stateMachineArn: string, uploadId: string): string {
  return `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${uploadId}`;
}

/** An upload id is an execution name: anything else names no upload (and never reaches an ARN). */
export function checkUploadId(uploadId: unknown): string {
  if (typeof uploadId !== "string" || !UPLOAD_ID_PATTERN.test(uploadId))
    throw invalidOption(`upload id ${JSON.stringify(uploadId)} is not [a-z0-9-], 1 to 80 long`);
  return uploadId;
}

/** The uploaded object named in the execution's input (the start handler's `source`). */
function sourceKeyOf(input: string | undefined): string | null {
  try {
    const key = (JSON.parse(input ?? "null") as { source?: { key?: unknown } } | null)?.source?.key;
    return typeof key === "string" ? key : null;
  } catch {
    return null;
  }
}

/** An original name a manifest or summary carries (source.originalName or originalName), if any. */
function originalNameIn(raw: unknown): string | null {
  const object = raw as { originalName?: unknown; source?: { originalName?: unknown } } | null;
  const name = object?.source?.originalName ?? object?.originalName;
  return typeof name === "string" && name !== "" ? name : null;
}

const baseName = (key: string) => key.slice(key.lastIndexOf("/") + 1);

/** What the status reads of a summary: summary.json, or the execution's output (which leaves chunkResults out). */
const SummaryViewSchema = SummarySchema.pick({
  uploadId: true,
  rows: true,
  chunks: true,
  chunksDelivered: true,
  chunksFailed: true,
  accepted: true,
  rejected: true,
  fileWarnings: true,
  rowsPerSecond: true,
  rejectedSamples: true,
  rejectedRowsReport: true,
});
type SummaryView = ReturnType<typeof SummaryViewSchema.parse>;

/** What never changes once read, per upload. */
interface UploadFacts {
  /** The status cache's keys for the upload. */
  cacheKeys: Set<string>;
  manifest?: { manifest: Manifest; originalName: string | null };
  summary?: { summary: SummaryView; originalName: string | null };
  mapRunArn?: string;
  /** The last Map Run answer: served again when the DescribeMapRun budget is spent. */
  mapRun?: DescribeMapRunOutput;
  /** When DescribeMapRun may be asked again for this upload (its turn in the round). */
  mapRunDueAt?: number;
}

/** A status as cached: everything but the report link, which is signed afresh on every answer. */
type CachedStatus = Omit<UploadStatusView, "reportUrl"> & { report: RejectedRowsReport | null };

export interface StatusDeps {
  s3: S3Client;
  sfn: SFNClient;
  bucket: string;
  stateMachineArn: string;
  now: () => number;
  budgets: SfnBudgets;
  ttlMs: number;
  terminalTtlMs: number;
}

type GetResult = { found: true; text: string } | { found: false };

async function getText(s3: S3Client, bucket: string, key: string): Promise<GetResult> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return { found: true, text: (await object.Body?.transformToString("utf8")) ?? "" };
  } catch (error) {
    const name = (error as Error)?.name;
    if (name === "NoSuchKey" || name === "NotFound") return { found: false };
    throw error;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const STAGE_OF: Record<string, UploadStage> = {
  SUCCEEDED: "succeeded",
  FAILED: "failed",
  TIMED_OUT: "failed",
  ABORTED: "failed",
  PENDING_REDRIVE: "delivering",
};

/** uploadStatus, its caches and the budgets it spends. */
export class UploadStatusReader {
  readonly statuses: TtlCache<CachedStatus>;
  private readonly facts: LruMap<string, UploadFacts>;
  /** Uploads whose Map Run was described in the last minute, and when. */
  private readonly mapRunsWatched = new Map<string, number>();

  constructor(
    private readonly deps: StatusDeps,
    maxEntries: number,
  ) {
    this.statuses = new TtlCache(maxEntries, deps.now);
    this.facts = new LruMap(maxEntries);
  }

  async status(uploadId: string, options: { tenant?: string } = {}): Promise<UploadStatusView> {
    checkUploadId(uploadId);
    const tenant = options.tenant;
    if (tenant !== undefined && !TENANT_PATTERN.test(tenant))
      throw invalidOption(`tenant ${JSON.stringify(tenant)} is not [a-z0-9-], 1 to 40 long`);
    const cacheKey = `${uploadId}/${tenant ?? ""}`;
    this.factsOf(uploadId).cacheKeys.add(cacheKey);
    const { report, ...status } = await this.statuses.get(
      cacheKey,
      () => this.load(uploadId, tenant),
      () => this.deps.budgets.DescribeExecution.tryTake(),
    );
    return { ...status, reportUrl: report ? await this.reportUrl(uploadId, report) : null };
  }

  /** Forgets what may change for the upload (after a redrive); the manifest and Map Run ARN stay. */
  invalidate(uploadId: string): void {
    this.statuses.invalidate(`${uploadId}/`);
    const facts = this.facts.get(uploadId);
    if (!facts) return;
    // Answers are kept per tenant asked (the waiting check lists the tenant's folder): all of them go.
    for (const key of facts.cacheKeys) this.statuses.invalidate(key);
    facts.summary = undefined;
    facts.mapRun = undefined;
    facts.mapRunDueAt = undefined;
  }

  /** The manifest, read once (it never changes once written): null while the upload converts. */
  async manifestOf(uploadId: string): Promise<UploadFacts["manifest"] | null> {
    const facts = this.factsOf(uploadId);
    if (facts.manifest) return facts.manifest;
    const object = await getText(
      this.deps.s3,
      this.deps.bucket,
      `${processedPrefixOf(uploadId)}${MANIFEST_OBJECT}`,
    );
    if (!object.found) return null;
    const raw = parseJson(object.text);
    const parsed = ManifestSchema.safeParse(raw);
    if (!parsed.success) return null;
    facts.manifest = { manifest: parsed.data, originalName: originalNameIn(raw) };
    return facts.manifest;
  }

  private factsOf(uploadId: string): UploadFacts {
    let facts = this.facts.get(uploadId);
    if (!facts) {
      facts = { cacheKeys: new Set() };
      this.facts.set(uploadId, facts);
    }
    return facts;
  }

  private async reportUrl(uploadId: string, report: RejectedRowsReport): Promise<string | null> {
    // Only sluice's own report object, where the bucket layout puts it for this upload, is signed.
    if (
      report.bucket !== this.deps.bucket ||
      report.xlsxKey !== `${processedPrefixOf(uploadId)}${REJECTED_ROWS_XLSX}`
    )
      return null;
    return getSignedUrl(this.deps.s3, new GetObjectCommand({ Bucket: report.bucket, Key: report.xlsxKey }), {
      expiresIn: REPORT_URL_EXPIRES_IN_SECONDS,
      signingDate: new Date(this.deps.now()),
    });
  }

  private async load(
    uploadId: string,
    tenant: string | undefined,
  ): Promise<{ value: CachedStatus; ttlMs: number } | { error: unknown; ttlMs: number }> {
    const { sfn, ttlMs } = this.deps;
    const executionArn = executionArnOf(this.deps.stateMachineArn, uploadId);
    let execution: DescribeExecutionOutput;
    try {
      execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    } catch (error) {
      if ((error as Error)?.name !== "ExecutionDoesNotExist") throw error;
      const waiting = await this.waiting(uploadId, tenant);
      if (waiting) return { value: waiting, ttlMs };
      return {
        error: new SluiceAdminError("UPLOAD_NOT_FOUND", `no upload ${JSON.stringify(uploadId)}`, {
          cause: error,
        }),
        ttlMs,
      };
    }
    const { status: value, settled } = await this.fromExecution(uploadId, execution);
    value.settled = settled;
    return { value, ttlMs: settled ? this.deps.terminalTtlMs : ttlMs };
  }

  /** No execution yet: the form's object may have landed before the S3 event started one. */
  private async waiting(uploadId: string, tenant: string | undefined): Promise<CachedStatus | null> {
    const prefix = `${FORM_UPLOADS_PREFIX}${tenant === undefined ? "" : `${tenant}/`}${uploadId}.`;
    const listed = await this.deps.s3.send(
      new ListObjectsV2Command({ Bucket: this.deps.bucket, Prefix: prefix, MaxKeys: 1 }),
    );
    const key = listed.Contents?.[0]?.Key;
    if (!key) return null;
    return {
      ...this.blank(uploadId),
      stage: "waiting",
      fileName: baseName(key),
      key,
      startedAt: listed.Contents?.[0]?.LastModified?.toISOString() ?? null,
    };
  }

  private blank(uploadId: string): CachedStatus {
    return {
      uploadId,
      stage: "waiting",
      executionStatus: null,
      fileName: null,
      key: null,
      startedAt: null,
      stoppedAt: null,
      totals: null,
      chunks: { done: 0, inFlight: 0, failed: 0, pending: null },
      rows: { accepted: null, rejected: null, done: null },
      percent: null,
      rowsPerSecond: null,
      etaSeconds: null,
      rejectedSample: [],
      report: null,
      failure: null,
      fileWarnings: [],
      redriveCount: 0,
      consoleUrl: null,
      settled: false,
      updatedAt: new Date(this.deps.now()).toISOString(),
    };
  }

  private async summaryOf(uploadId: string, output: string | undefined): Promise<UploadFacts["summary"]> {
    const facts = this.factsOf(uploadId);
    if (facts.summary) return facts.summary;
    const object = await getText(
      this.deps.s3,
      this.deps.bucket,
      `${processedPrefixOf(uploadId)}${SUMMARY_OBJECT}`,
    );
    // summary.json is written before the execution succeeds; its output is the same summary, shortened.
    const raw = parseJson(object.found ? object.text : (output ?? ""));
    const parsed = SummaryViewSchema.safeParse(raw);
    if (!parsed.success) return undefined;
    facts.summary = { summary: parsed.data, originalName: originalNameIn(raw) };
    return facts.summary;
  }

  /** The Map Run's counts, within the ListMapRuns and DescribeMapRun budgets (else the last answer). */
  private async mapRunOf(uploadId: string, executionArn: string): Promise<DescribeMapRunOutput | undefined> {
    const facts = this.factsOf(uploadId);
    const { sfn, budgets, now } = this.deps;
    if (!facts.mapRunArn && budgets.ListMapRuns.tryTake()) {
      const [latest] =
        (await sfn.send(new ListMapRunsCommand({ executionArn, maxResults: 1 }))).mapRuns ?? [];
      if (latest?.mapRunArn) facts.mapRunArn = latest.mapRunArn;
    }
    const at = now();
    if (!facts.mapRunArn || at < (facts.mapRunDueAt ?? 0) || !budgets.DescribeMapRun.tryTake())
      return facts.mapRun;
    // Each watched upload gets its turn: the budget's refill shared among the uploads asked for lately.
    for (const [id, askedAt] of this.mapRunsWatched)
      if (at - askedAt > 60_000) this.mapRunsWatched.delete(id);
    this.mapRunsWatched.set(uploadId, at);
    const turnMs = (1000 * this.mapRunsWatched.size) / budgets.DescribeMapRun.refillPerSecond;
    facts.mapRunDueAt = at + Math.max(this.deps.ttlMs, turnMs);
    facts.mapRun = await sfn.send(new DescribeMapRunCommand({ mapRunArn: facts.mapRunArn }));
    return facts.mapRun;
  }

  /**
   * The execution's console page when the client talks to AWS itself. Read after a call: the SDK resolves an
   * endpoint set in the environment or config file (AWS_ENDPOINT_URL_SFN...) on the first request, and then marks
   * the client's endpoint custom too.
   */
  private consoleUrlOf(executionArn: string): string | null {
    if (this.deps.sfn.config.isCustomEndpoint !== false) return null;
    return executionConsoleUrl(executionArn);
  }

  /**
   * The status, and whether it is settled: an ended upload changes only when redriven, except that a failed one's
   * record is written a moment after the execution failed, then completed after the large read (its progress and
   * first rejected rows). Until then the answer is kept only as long as a running upload's.
   */
  private async fromExecution(
    uploadId: string,
    execution: DescribeExecutionOutput,
  ): Promise<{ status: CachedStatus; settled: boolean }> {
    const now = this.deps.now();
    const executionStatus = execution.status ?? "RUNNING";
    const executionArn = execution.executionArn ?? executionArnOf(this.deps.stateMachineArn, uploadId);
    const key = sourceKeyOf(execution.input);
    const manifest = await this.manifestOf(uploadId);
    const stage: UploadStage = STAGE_OF[executionStatus] ?? (manifest ? "delivering" : "converting");
    const status: CachedStatus = {
      ...this.blank(uploadId),
      stage,
      executionStatus,
      key,
      fileName: manifest?.originalName ?? (key ? baseName(key) : null),
      startedAt: execution.startDate?.toISOString() ?? null,
      stoppedAt: execution.stopDate?.toISOString() ?? null,
      totals: manifest ? { rows: manifest.manifest.totalRows, chunks: manifest.manifest.totalChunks } : null,
      fileWarnings: manifest?.manifest.fileWarnings ?? [],
      redriveCount: execution.redriveCount ?? 0,
      consoleUrl: this.consoleUrlOf(executionArn),
    };

    if (stage === "succeeded") {
      const found = await this.summaryOf(uploadId, execution.output);
      if (found) {
        const { summary } = found;
        status.fileName = found.originalName ?? status.fileName;
        status.totals ??= { rows: summary.rows, chunks: summary.chunks };
        status.chunks = {
          done: summary.chunksDelivered,
          inFlight: 0,
          failed: summary.chunksFailed,
          pending: 0,
        };
        status.rows = {
          accepted: summary.accepted,
          rejected: summary.rejected,
          done: summary.accepted + summary.rejected,
        };
        status.rowsPerSecond = Math.round(summary.rowsPerSecond);
        status.rejectedSample = summary.rejectedSamples;
        status.report = summary.rejectedRowsReport;
        if (status.fileWarnings.length === 0) status.fileWarnings = summary.fileWarnings;
      }
      status.percent = 100;
      status.etaSeconds = 0;
      return { status, settled: true };
    }

    let counts: Omit<ProgressInput, "totalRows" | "totalChunks" | "now"> | undefined;
    let totalChunks = manifest?.manifest.totalChunks ?? null;
    let settled = false;
    if (FAILED_STATUSES.has(executionStatus)) {
      const lookup = await readFailureRecord(this.deps.s3, this.deps.bucket, uploadId, {
        executionArn,
        redriveCount: execution.redriveCount ?? 0,
      });
      if (lookup.found) {
        const { record } = lookup;
        status.failure = {
          code: record.error.code,
          message: record.error.cause,
          chunkIndex: record.failedChunk?.index ?? null,
        };
        if (record.chunks) {
          const { succeeded, failed, total } = record.chunks;
          counts = { succeeded, running: 0, failed, startedAt: null, stoppedAt: null };
          totalChunks ??= total;
        }
        if (record.progress)
          status.rows = { ...record.progress, done: record.progress.accepted + record.progress.rejected };
        status.report = record.rejectedRowsReport ?? null;
        status.rejectedSample = record.rejectedSample ?? [];
        // Complete once the large read added the progress; a record without conversion gets no large read.
        settled = record.progress !== undefined || record.processed === undefined;
      } else {
        // NotifyFailure writes the record a moment after the execution fails: say what Step Functions says, its
        // cause read as NotifyFailure reads it (a Lambda error's message, a chunk's TaskFailureCause).
        const cause = parseCause(execution.cause);
        status.failure = {
          code: execution.error?.trim() || cause.errorType || executionStatus,
          message: cause.message,
          chunkIndex: cause.chunkIndex ?? null,
        };
      }
    }
    // The Map Run's counts once conversion is done (a failed upload's record may have them already).
    if (!counts && manifest) {
      const mapRun = await this.mapRunOf(uploadId, executionArn);
      const items = mapRun?.itemCounts;
      if (mapRun)
        counts = {
          succeeded: items?.succeeded ?? 0,
          running: items?.running ?? 0,
          failed: (items?.failed ?? 0) + (items?.timedOut ?? 0) + (items?.aborted ?? 0),
          startedAt: mapRun.startDate?.getTime() ?? null,
          stoppedAt: mapRun.stopDate?.getTime() ?? null,
        };
      else counts = { succeeded: 0, running: 0, failed: 0, startedAt: null, stoppedAt: null };
    }
    if (!counts || totalChunks === null) return { status, settled };
    const totalRows = manifest?.manifest.totalRows ?? null;
    const progress = computeProgress({ ...counts, totalRows, totalChunks, now });
    status.chunks = {
      done: progress.chunksDone,
      inFlight: progress.chunksInFlight,
      failed: progress.chunksFailed,
      pending: progress.chunksPending,
    };
    if (status.rows.done === null && totalRows !== null && totalChunks > 0)
      status.rows.done = Math.min(totalRows, Math.round((progress.chunksDone * totalRows) / totalChunks));
    status.percent = progress.percent;
    status.rowsPerSecond = progress.rowsPerSecond;
    // A failed upload goes nowhere until it is redriven.
    status.etaSeconds = stage === "failed" ? null : progress.etaSeconds;
    return { status, settled };
  }
}
