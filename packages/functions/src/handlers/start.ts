import { SFNClient } from "@aws-sdk/client-sfn";
import { loadStartConfig } from "../config.ts";
import { createLogger } from "../logger.ts";
import { createHandler } from "./create-start-handler.ts";

export { createHandler };

const config = loadStartConfig();

/** Lambda entry: S3 ObjectCreated notification => one Step Functions execution per object. */
export const handler = createHandler({
  sfn: new SFNClient({}),
  stateMachineArn: config.stateMachineArn,
  logger: createLogger("sluice-start"),
});
