import { S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SSMClient } from "@aws-sdk/client-ssm";
import { presignedReportLink } from "../adapters/s3-report-link.ts";
import { loadNotifyFailureConfig } from "../config.ts";
import { createLogger } from "../logger.ts";
import { createHandler } from "./create-notify-failure-handler.ts";

export { createHandler };

const config = loadNotifyFailureConfig();
const s3 = new S3Client({});

/**
 * Lambda entry, invoked asynchronously by the EventBridge rule on the workflow's failed, timed-out and aborted
 * executions: the execution and its Map Run described => processed/<uploadId>/failure.json and the Slack alert,
 * then the rows answered before the failure (the rejected-rows report and a second message when rows were
 * rejected). Throws when failure.json could not be written, so Lambda retries the event.
 */
export const handler = createHandler({
  sfn: new SFNClient({}),
  s3,
  bucketName: config.bucketName,
  processedPrefix: config.processedPrefix,
  reportLink: presignedReportLink(s3),
  stage: config.stage,
  region: config.region,
  slackWebhookUrl: config.slackWebhookUrl,
  slackWebhookParameter: config.slackWebhookParameter,
  ssm: config.slackWebhookParameter ? new SSMClient({}) : undefined,
  logger: createLogger("sluice-notify-failure"),
});
