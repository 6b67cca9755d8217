import { S3Client } from "@aws-sdk/client-s3";
import { SSMClient } from "@aws-sdk/client-ssm";
import { presignedReportLink } from "../adapters/s3-report-link.ts";
import { loadSummarizeConfig } from "../config.ts";
import { createLogger } from "../logger.ts";
import { createHandler } from "./create-summarize-handler.ts";

export { createHandler };

const config = loadSummarizeConfig();
const s3 = new S3Client({});

/** Lambda entry: the Map run's result files => summary.json, the rejected-rows report, the optional Slack summary. */
export const handler = createHandler({
  s3,
  ...config,
  reportLink: presignedReportLink(s3),
  ssm: config.notifySuccess && config.slackWebhookParameter ? new SSMClient({}) : undefined,
  logger: createLogger("sluice-summarize"),
});
