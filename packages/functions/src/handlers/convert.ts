import { S3Client } from "@aws-sdk/client-s3";
import { loadConvertConfig } from "../config.ts";
import { createLogger } from "../logger.ts";
import { createHandler } from "./create-convert-handler.ts";

export { createHandler };

const config = loadConvertConfig();

/** Lambda entry: execution input => processed/<uploadId>/chunks.jsonl, items.jsonl, manifest.json; counts returned. */
export const handler = createHandler({
  s3: new S3Client({}),
  ...config,
  logger: createLogger("sluice-convert"),
});
