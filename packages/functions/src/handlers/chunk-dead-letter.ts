import { SFNClient } from "@aws-sdk/client-sfn";
import { loadChunkDeadLetterConfig } from "../config.ts";
import { createLogger } from "../logger.ts";
import { createHandler } from "./create-chunk-dead-letter-handler.ts";

export { createHandler };

const config = loadChunkDeadLetterConfig();

/**
 * Lambda entry: the chunk dead-letter queue's SQS event (ReportBatchItemFailures) => SendTaskFailure
 * (CHUNK_DEAD_LETTERED) for each chunk's task; `{ batchItemFailures }` lists the messages to retry.
 */
export const handler = createHandler({
  sfn: new SFNClient({}),
  maxReceiveCount: config.maxReceiveCount,
  logger: createLogger("sluice-chunk-dead-letter"),
});
