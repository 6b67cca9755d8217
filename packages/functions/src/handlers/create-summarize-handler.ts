import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { CONTRACT_VERSION, OutputWriteError, SourceReadError, TaskResultSchema } from "@sluice/core";
import { z } from "zod";
import { bodyToBuffer } from "../adapters/s3-body.ts";
import { type Delivery, parseInput, SummarizeInputSchema } from "../execution-input.ts";
import { withLambdaErrors } from "../lambda-error.ts";
import { type Logger, logUpload } from "../logger.ts";
import {
  type DurationStats,
  REJECTED_SAMPLE_LIMIT,
  type RejectedSample,
  type Summary,
  SummarySchema,
} from "../summary.ts";

export interface SummarizeDeps {
  s3: S3Client;
  bucketName: string;
  processedPrefix: string;
  logger: Logger;
  now?: () => Date;
}

/** What the handler returns: the summary without its samples. */
export type SummarizeOutput = Omit<Summary, "rejectedSamples">;

const ResultFileRefSchema = z.object({ Key: z.string().min(1), Size: z.number().optional() });

/** The manifest.json a Distributed Map's ResultWriter writes. */
export const MapRunManifestSchema = z.object({
  DestinationBucket: z.string().optional(),
  MapRunArn: z.string().optional(),
  ResultFiles: z.object({
    SUCCEEDED: z.array(ResultFileRefSchema).default([]),
    FAILED: z.array(ResultFileRefSchema).default([]),
    PENDING: z.array(ResultFileRefSchema).default([]),
  }),
});

/** One child execution in a result file. */
export const ChildExecutionSchema = z.object({
  ExecutionArn: z.string().optional(),
  Status: z.string(),
  Output: z.string().optional().nullable(),
  StartDate: z.string().optional(),
  StopDate: z.string().optional(),
});

export class ResultInvalidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TASK_RESULT_INVALID";
  }
}

/** Keeps the `limit` smallest samples by (chunkIndex, row), whatever order the result files come in. */
class SampleKeeper {
  readonly samples: RejectedSample[] = [];
  constructor(private readonly limit: number) {}

  add(sample: RejectedSample): void {
    const before = (a: RejectedSample, b: RejectedSample) =>
      a.chunkIndex !== b.chunkIndex ? a.chunkIndex < b.chunkIndex : a.row < b.row;
    const last = this.samples[this.samples.length - 1];
    if (this.samples.length >= this.limit && last && !before(sample, last)) return;
    let at = this.samples.length;
    while (at > 0 && before(sample, this.samples[at - 1]!)) at--;
    this.samples.splice(at, 0, sample);
    if (this.samples.length > this.limit) this.samples.pop();
  }
}

function durationStats(durations: number[]): DurationStats | null {
  if (durations.length === 0) return null;
  durations.sort((a, b) => a - b);
  const sum = durations.reduce((total, d) => total + d, 0);
  return {
    count: durations.length,
    min: durations[0]!,
    max: durations[durations.length - 1]!,
    mean: Math.round(sum / durations.length),
    p95: durations[Math.min(durations.length - 1, Math.ceil(durations.length * 0.95) - 1)]!,
  };
}

interface Tally {
  delivered: number;
  failed: number;
  accepted: number;
  rejected: number;
  durations: number[];
  samples: SampleKeeper;
}

function parseAs<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new ResultInvalidError(
      `${what} is not as expected: ${z.prettifyError(parsed.error).slice(0, 500)}`,
    );
  }
  return parsed.data;
}

async function readJson(s3: S3Client, bucket: string, key: string): Promise<unknown> {
  let text: string;
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    text = (await bodyToBuffer(response.Body)).toString("utf8");
  } catch (error) {
    throw new SourceReadError(
      `Reading s3://${bucket}/${key} failed: ${(error as Error)?.name}: ${(error as Error)?.message}`,
      {
        cause: error,
      },
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ResultInvalidError(`s3://${bucket}/${key} is not JSON`);
  }
}

/** Reads the Map run's result files one at a time and tallies the TaskResults they carry. */
async function tallyDelivery(s3: S3Client, uploadId: string, delivery: Delivery | null): Promise<Tally> {
  const tally: Tally = {
    delivered: 0,
    failed: 0,
    accepted: 0,
    rejected: 0,
    durations: [],
    samples: new SampleKeeper(REJECTED_SAMPLE_LIMIT),
  };
  if (!delivery) return tally;
  const { Bucket, Key } = delivery.ResultWriterDetails;
  const manifest = parseAs(MapRunManifestSchema, await readJson(s3, Bucket, Key), `s3://${Bucket}/${Key}`);
  const bucket = manifest.DestinationBucket ?? Bucket;
  const files = [
    ...manifest.ResultFiles.SUCCEEDED,
    ...manifest.ResultFiles.FAILED,
    ...manifest.ResultFiles.PENDING,
  ];
  for (const file of files) {
    const children = parseAs(
      z.array(ChildExecutionSchema),
      await readJson(s3, bucket, file.Key),
      `s3://${bucket}/${file.Key}`,
    );
    for (const child of children) {
      if (child.Status !== "SUCCEEDED") {
        tally.failed++;
        continue;
      }
      let output: unknown;
      try {
        output = JSON.parse(child.Output ?? "null");
      } catch {
        throw new ResultInvalidError(
          `The output of ${child.ExecutionArn ?? "a child execution"} is not JSON`,
        );
      }
      const result = parseAs(
        TaskResultSchema,
        output,
        `The output of ${child.ExecutionArn ?? "a child execution"}`,
      );
      if (result.uploadId !== uploadId) {
        throw new ResultInvalidError(`A TaskResult names upload ${result.uploadId}, expected ${uploadId}`);
      }
      tally.delivered++;
      tally.accepted += result.accepted;
      tally.rejected += result.rejected.length;
      for (const row of result.rejected) tally.samples.add({ chunkIndex: result.chunkIndex, ...row });
      const started = Date.parse(child.StartDate ?? "");
      const stopped = Date.parse(child.StopDate ?? "");
      if (!Number.isNaN(started) && !Number.isNaN(stopped))
        tally.durations.push(Math.max(0, stopped - started));
    }
  }
  return tally;
}

/** Adds up the chunks' TaskResults into processed/<uploadId>/summary.json and returns it without samples. */
export function createHandler(deps: SummarizeDeps) {
  const now = deps.now ?? (() => new Date());
  return (event: unknown): Promise<SummarizeOutput> =>
    withLambdaErrors(async () => {
      const input = parseInput(SummarizeInputSchema, event, "summarize");
      logUpload(deps.logger, input.uploadId);
      const tally = await tallyDelivery(deps.s3, input.uploadId, input.delivery);
      const finishedAt = now();
      const durationMs = Math.max(0, finishedAt.getTime() - Date.parse(input.receivedAt));
      const rows = input.convert.totalRows;
      const summaryKey = `${deps.processedPrefix}${input.uploadId}/summary.json`;
      const summary: Summary = SummarySchema.parse({
        v: CONTRACT_VERSION,
        uploadId: input.uploadId,
        status: "SUCCEEDED",
        rows,
        chunks: input.convert.totalChunks,
        chunksDelivered: tally.delivered,
        chunksFailed: tally.failed,
        accepted: tally.accepted,
        rejected: tally.rejected,
        rowErrors: input.convert.rowErrors,
        durationMs,
        rowsPerSecond: durationMs > 0 ? Math.round((rows / durationMs) * 1000 * 100) / 100 : 0,
        chunkDurationMs: durationStats(tally.durations),
        rejectedSamples: tally.samples.samples,
        summaryKey,
        finishedAt: finishedAt.toISOString(),
      } satisfies Summary);
      await deps.s3
        .send(
          new PutObjectCommand({
            Bucket: deps.bucketName,
            Key: summaryKey,
            Body: `${JSON.stringify(summary, null, 2)}\n`,
            ContentType: "application/json",
          }),
        )
        .catch((error: unknown) => {
          throw new OutputWriteError(
            `Writing s3://${deps.bucketName}/${summaryKey} failed: ${(error as Error)?.message}`,
            {
              cause: error,
            },
          );
        });
      const { rejectedSamples: _samples, ...output } = summary;
      deps.logger.info("Summarized", { ...output });
      return output;
    });
}
