import { PRICES, PRICES_READ_ON, PRICES_REGION, type Prices, SQS_BILLING_UNIT_BYTES } from "./prices.ts";

/**
 * What an upload costs in AWS requests, priced with `PRICES`: an estimate from the workflow's shape and what
 * the upload measured (chunks, durations, bytes), not a bill. Free tiers, data transfer, storage, KMS and
 * CloudWatch Logs are left out, and so are the admin server's own SQS polls (empty receives) and Step Functions
 * API calls (SendTaskSuccess is not billed per call).
 */

/** The billable quantities of one upload. */
export interface Usage {
  /** Step Functions Standard state transitions (parent and child executions). */
  transitions: number;
  /** SQS requests, each 64 KiB of payload counted as one. */
  sqsRequests: number;
  lambdaGbSeconds: number;
  lambdaRequests: number;
  /** S3 GET-class requests (GET, HEAD, SELECT). */
  s3Get: number;
  /** S3 PUT-class requests (PUT, COPY, POST, LIST, each multipart call). */
  s3Put: number;
}

export interface CostLine {
  item: keyof Usage;
  quantity: number;
  unit: string;
  /** Dollars per single unit. */
  unitPriceUsd: number;
  usd: number;
  /** The AWS pricing page of the price. */
  source: string;
}

export interface CostEstimate {
  /** The total, rounded to a millionth of a dollar. */
  usd: number;
  lines: CostLine[];
  region: string;
  pricesReadOn: string;
}

const PRICE_OF: Record<keyof Usage, keyof Prices> = {
  transitions: "stateTransition",
  sqsRequests: "sqsRequest",
  lambdaGbSeconds: "lambdaGbSecond",
  lambdaRequests: "lambdaRequest",
  s3Get: "s3Get",
  s3Put: "s3Put",
};

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Prices a usage: one line per billable item, and the total. */
export function estimateCost(usage: Usage, prices: Prices = PRICES): CostEstimate {
  let total = 0;
  const lines: CostLine[] = [];
  for (const item of Object.keys(PRICE_OF) as (keyof Usage)[]) {
    const price = prices[PRICE_OF[item]];
    const quantity = usage[item];
    const unitPriceUsd = price.usd / price.per;
    const usd = quantity * unitPriceUsd;
    total += usd;
    lines.push({
      item,
      quantity: round(quantity, 3),
      unit: price.unit,
      unitPriceUsd,
      usd: round(usd, 9),
      source: price.source,
    });
  }
  return { usd: round(total, 6), lines, region: PRICES_REGION, pricesReadOn: PRICES_READ_ON };
}

/**
 * State transitions of this workflow (contract v2, no Catch): the parent's five states (Convert workbook, Any
 * chunks?, Deliver chunks, Summarize, Upload complete; with no chunks "No chunks to deliver" takes the Map's
 * place) and, per chunk, its child execution's start and its one task ("Send chunk and wait"). A local runtime
 * test ("counts the state transitions AWS bills, as the cost model has them") holds them against the transitions
 * the local runtime counts when it runs the workflow's ASL: a change to the workflow's shape fails it.
 */
export const WORKFLOW_TRANSITIONS = Object.freeze({ parent: 5, perChunk: 2 } as const);

/**
 * The design before contract v2, for comparison: 500-row chunks carried in the message, a parent of six states,
 * two transitions per chunk, and a Catch and a Pass state per chunk (two more transitions) taken only when the
 * chunk failed.
 */
export const PREVIOUS_WORKFLOW_TRANSITIONS = Object.freeze({
  parent: 6,
  perChunk: 2,
  perFailedChunk: 2,
} as const);

/** Transitions of an execution of a workflow of `shape` with `chunks` child runs, `failedChunks` of them failed. */
export function transitionsOf(
  shape: { parent: number; perChunk: number; perFailedChunk?: number },
  chunks: number,
  failedChunks = 0,
): number {
  return shape.parent + shape.perChunk * chunks + (shape.perFailedChunk ?? 0) * failedChunks;
}

/** Memory sizes the stack gives the functions (stacks/pipeline-stack.ts; Start takes SST's default). */
export const FUNCTION_MEMORY_MB = Object.freeze({ start: 1024, convert: 1024, summarize: 512 } as const);

/** lib-storage's part size, which the convert handler uses for chunks.jsonl and items.jsonl. */
export const UPLOAD_PART_BYTES = 5 * 1024 * 1024;

export interface UploadShape {
  /** Chunks converted. */
  chunks: number;
  /** Child executions the Map ran (result entries read); `chunks` by default. */
  childRuns?: number | undefined;
  /** Size of chunks.jsonl. */
  chunksBytes: number;
  /** Size of items.jsonl; about 300 bytes per pointer by default. */
  itemsBytes?: number | undefined;
  convertMs: number;
  convertMemoryMb?: number | undefined;
  summarizeMs: number;
  summarizeMemoryMb?: number | undefined;
  /** Not measured by the workflow: 300 ms by default. */
  startMs?: number | undefined;
  startMemoryMb?: number | undefined;
  /** Bytes of one chunk message (envelope, pointer, task token): about 2 KiB, one SQS billing unit. */
  messageBytes?: number | undefined;
  /** ChangeMessageVisibility calls per message (the consumer sets its visibility on receive): 1 by default. */
  visibilityChangesPerChunk?: number | undefined;
  /** GET-class requests convert makes on the source (HeadObject and ranged reads): 4 by default. */
  sourceGets?: number | undefined;
  /** Result files the ResultWriter writes (besides its manifest): 1 by default when there are chunks. */
  resultFiles?: number | undefined;
  /** Whether summarize wrote the rejected-rows report (two GETs, two PUTs). */
  reportWritten?: boolean | undefined;
  partBytes?: number | undefined;
}

/** PUT-class requests of one object streamed through lib-storage: one PutObject, or create + parts + complete. */
function streamedPuts(bytes: number, partBytes: number): number {
  const parts = Math.max(1, Math.ceil(bytes / partBytes));
  return parts === 1 ? 1 : parts + 2;
}

const units = (bytes: number) => Math.max(1, Math.ceil(bytes / SQS_BILLING_UNIT_BYTES));
const gbSeconds = (ms: number, memoryMb: number) => (Math.ceil(ms) / 1000) * (memoryMb / 1024);

/**
 * The usage of one successful upload of this workflow:
 * - transitions: `WORKFLOW_TRANSITIONS` (5 for the parent, 2 per child run);
 * - SQS: per child run one SendMessage and one ReceiveMessage (in 64 KiB units of the message), one
 *   DeleteMessage and `visibilityChangesPerChunk` ChangeMessageVisibility;
 * - S3 GET: convert's reads of the source, the ItemReader's GET of items.jsonl, one ranged GET of chunks.jsonl per
 *   child run (the admin server), summarize's reads of the ResultWriter's manifest and result files, of
 *   items.jsonl (each result is checked against its chunk) and of manifest.json (its file warnings), and of
 *   manifest.json and chunks.jsonl again for the report;
 * - S3 PUT: chunks.jsonl and items.jsonl (multipart above one part), manifest.json, the ResultWriter's files and
 *   manifest, summary.json (and the report's two files);
 * - Lambda: Start, Convert and Summarize, one request each, GB-seconds from their durations and memory.
 */
export function estimateUploadUsage(shape: UploadShape): Usage {
  const chunks = shape.chunks;
  const runs = shape.childRuns ?? chunks;
  const partBytes = shape.partBytes ?? UPLOAD_PART_BYTES;
  const delivered = chunks > 0;
  const messageUnits = units(shape.messageBytes ?? 2048);
  const resultFiles = delivered ? (shape.resultFiles ?? 1) : 0;
  const report = shape.reportWritten ? 2 : 0;

  const sqsRequests = runs * (2 * messageUnits + 1 + (shape.visibilityChangesPerChunk ?? 1));
  const s3Get =
    (shape.sourceGets ?? 4) + (delivered ? 1 : 0) + runs + (delivered ? 1 + resultFiles + 1 : 0) + 1 + report;
  const s3Put =
    streamedPuts(shape.chunksBytes, partBytes) +
    streamedPuts(shape.itemsBytes ?? chunks * 300, partBytes) +
    1 +
    (delivered ? resultFiles + 1 : 0) +
    1 +
    report;
  const lambdaGbSeconds =
    gbSeconds(shape.startMs ?? 300, shape.startMemoryMb ?? FUNCTION_MEMORY_MB.start) +
    gbSeconds(shape.convertMs, shape.convertMemoryMb ?? FUNCTION_MEMORY_MB.convert) +
    gbSeconds(shape.summarizeMs, shape.summarizeMemoryMb ?? FUNCTION_MEMORY_MB.summarize);
  return {
    transitions: transitionsOf(WORKFLOW_TRANSITIONS, runs),
    sqsRequests,
    lambdaGbSeconds,
    lambdaRequests: 3,
    s3Get,
    s3Put,
  };
}
