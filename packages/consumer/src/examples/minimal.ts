import { SFNClient } from "@aws-sdk/client-sfn";
import { SQSClient } from "@aws-sdk/client-sqs";
import { createChunkConsumer, type RejectedRow } from "@sluice/consumer";

/** Consumes the chunk queue until SIGTERM; returns the running consumer. */
export function startChunkConsumer(queueUrl: string, sqs = new SQSClient({}), sfn = new SFNClient({})) {
  const consumer = createChunkConsumer({
    queueUrl,
    sqs,
    sfn,
    concurrency: 4,
    handler: async (chunk, ctx) => {
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
  consumer.on("error", (e) => console.error(`sluice consumer ${e.operation} failed`, e.error));
  consumer.start();
  process.once("SIGTERM", () => void consumer.stop({ timeoutMs: 25_000 }));
  return consumer;
}
