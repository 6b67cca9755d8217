import { S3Client } from "@aws-sdk/client-s3";
import { loadSummarizeConfig } from "../config.ts";
import { createLogger } from "../logger.ts";
import { createHandler } from "./create-summarize-handler.ts";

export { createHandler };

const config = loadSummarizeConfig();

/** Lambda entry: the Map run's result files => processed/<uploadId>/summary.json. */
export const handler = createHandler({
  s3: new S3Client({}),
  ...config,
  logger: createLogger("sluice-summarize"),
});
