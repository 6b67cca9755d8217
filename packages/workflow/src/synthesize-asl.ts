import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Stack } from "aws-cdk-lib";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { DEFAULT_STAGE_CONFIG, type StageConfig } from "./stage-config.ts";
import { UploadWorkflow } from "./upload-workflow.ts";
import { aslFromTemplate, PLACEHOLDER } from "./workflow-asl.ts";

/**
 * The workflow's ASL, built by the same construct the stack deploys, around placeholder resources: what
 * `npm run asl` prints and `npm run asl:write` keeps in upload-workflow-asl.generated.ts for the local runtime.
 */
export function synthesizeWorkflowAsl(config: Partial<StageConfig> = {}): Record<string, unknown> {
  // An App without outdir leaves a cdk.out folder in the temp folder on every call: give it one and remove it.
  const outdir = mkdtempSync(join(tmpdir(), "sluice-asl-"));
  try {
    return synthesizeIn(new App({ outdir }), config);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

function synthesizeIn(app: App, config: Partial<StageConfig>): Record<string, unknown> {
  const stack = new Stack(app, "SluiceAsl", {
    env: { account: PLACEHOLDER.account, region: PLACEHOLDER.region },
  });
  const fn = (id: string, name: string) =>
    lambda.Function.fromFunctionArn(
      stack,
      id,
      `arn:aws:lambda:${PLACEHOLDER.region}:${PLACEHOLDER.account}:function:${name}`,
    );
  new UploadWorkflow(stack, "UploadWorkflow", {
    bucket: s3.Bucket.fromBucketName(stack, "Uploads", PLACEHOLDER.bucket),
    chunkQueue: sqs.Queue.fromQueueArn(
      stack,
      "ChunkQueue",
      `arn:aws:sqs:${PLACEHOLDER.region}:${PLACEHOLDER.account}:${PLACEHOLDER.chunkQueue}`,
    ),
    convertFunction: fn("Convert", PLACEHOLDER.functions.convert),
    summarizeFunction: fn("Summarize", PLACEHOLDER.functions.summarize),
    config: { ...DEFAULT_STAGE_CONFIG, ...config },
  });
  const template = app.synth().getStackByName(stack.stackName).template;
  return aslFromTemplate(template);
}
