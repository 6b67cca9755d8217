/** A fast admin server for serve-memory.ts, in its own process: accepts every row. */
import { S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SQSClient } from "@aws-sdk/client-sqs";
import { createChunkConsumer } from "@sluice/consumer";

const base = { region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } };
const consumer = createChunkConsumer({
  queueUrl: process.env.QUEUE_URL!,
  sqs: new SQSClient({ ...base, endpoint: process.env.SQS_S3_ENDPOINT! }),
  s3: new S3Client({ ...base, endpoint: process.env.SQS_S3_ENDPOINT!, forcePathStyle: true }),
  sfn: new SFNClient({ ...base, endpoint: process.env.SFN_ENDPOINT! }),
  concurrency: 4,
  waitTimeSeconds: 1,
  handler: async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }),
});
consumer.start();
process.once("SIGTERM", () => {
  void consumer.stop({ timeoutMs: 2_000 }).then(() => process.exit(0));
});
