import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { SSMClient } from "@aws-sdk/client-ssm";
import { DeadLetterQueue } from "../adapters/dead-letter-queue.ts";
import { presignedReportLink } from "../adapters/s3-report-link.ts";
import { loadNotifyFailureConfig } from "../config.ts";
import { createLogger } from "../logger.ts";
import { createHandler } from "./create-notify-failure-handler.ts";

export { createHandler };

const config = loadNotifyFailureConfig();
const s3 = new S3Client({});

/**
 * Lambda entry: the state at a Catch => a dead-letter record, the rejected-rows report when rows were rejected
 * before the failure, then a Slack alert if a webhook is set.
 */
export const handler = createHandler({
  deadLetterQueue: new DeadLetterQueue({ client: new SQSClient({}), queueUrl: config.deadLetterQueueUrl }),
  s3,
  reportLink: presignedReportLink(s3),
  stage: config.stage,
  region: config.region,
  slackWebhookUrl: config.slackWebhookUrl,
  slackWebhookParameter: config.slackWebhookParameter,
  ssm: config.slackWebhookParameter ? new SSMClient({}) : undefined,
  logger: createLogger("sluice-notify-failure"),
});
