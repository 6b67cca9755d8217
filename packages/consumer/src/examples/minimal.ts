import { S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SQSClient } from "@aws-sdk/client-sqs";
import { ChunkRejectedError, createChunkConsumer, type RejectedRow } from "@sluice/consumer";

/** Consumes the chunk queue until SIGTERM; returns the running consumer. */
export function startChunkConsumer(
  queueUrl: string,
  sqs = new SQSClient({}),
  sfn = new SFNClient({}),
  s3 = new S3Client({}),
) {
  const consumer = createChunkConsumer({
    queueUrl,
    sqs,
    sfn,
    s3,
    concurrency: 4,
    handler: async (chunk, ctx) => {
      if (ctx.totals.totalRows > 1_000_000) {
        // Permanent: the chunk (and so the upload) fails at once. Any other error is retried later.
        throw new ChunkRejectedError(
          `Uploads are limited to 1,000,000 rows, this one has ${ctx.totals.totalRows}`,
        );
      }
      const rejected: RejectedRow[] = [];
      let accepted = 0;
      for (const { row, data } of chunk.rows) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        if (typeof data.sku !== "string" || data.sku === "") {
          rejected.push({ row, code: "SKU_MISSING", message: "The sku column is empty" });
          continue;
        }
        accepted++; // save the row here, idempotently by (ctx.uploadId, row): a chunk can be delivered twice
      }
      return { accepted, rejected };
    },
  });
  consumer.on("chunk_succeeded", (e) =>
    console.info(`chunk ${e.chunkIndex}: ${e.accepted} saved, ${e.rejected} rejected`),
  );
  consumer.on("chunk_released", (e) =>
    console.warn(`chunk ${e.chunkIndex} will be retried in ${e.retryInSeconds} s: ${e.message}`),
  );
  consumer.on("chunk_failed", (e) => console.warn(`chunk ${e.chunkIndex} failed: ${e.error}`));
  consumer.on("error", (e) => console.error(`sluice consumer ${e.operation} failed`, e.error));
  consumer.start();
  process.once("SIGTERM", () => void consumer.stop({ timeoutMs: 25_000 }));
  return consumer;
}
