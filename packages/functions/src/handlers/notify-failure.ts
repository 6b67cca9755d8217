import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { SSMClient } from "@aws-sdk/client-ssm";
import { DeadLetterQueue } from "../adapters/dead-letter-queue.ts";
import { loadNotifyFailureConfig } from "../config.ts";
import { createLogger } from "../logger.ts";
import { createHandler } from "./create-notify-failure-handler.ts";

export { createHandler };

const config = loadNotifyFailureConfig();

/** Lambda entry: the state at a Catch => a dead-letter record, then a Slack alert if a webhook is set. */
export const handler = createHandler({
  deadLetterQueue: new DeadLetterQueue({ client: new SQSClient({}), queueUrl: config.deadLetterQueueUrl }),
  s3: new S3Client({}),
  stage: config.stage,
  region: config.region,
  slackWebhookUrl: config.slackWebhookUrl,
  slackWebhookParameter: config.slackWebhookParameter,
  ssm: config.slackWebhookParameter ? new SSMClient({}) : undefined,
  logger: createLogger("sluice-notify-failure"),
});
