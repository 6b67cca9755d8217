import { App, Stack } from "aws-cdk-lib";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { DEFAULT_STAGE_CONFIG, type StageConfig } from "./stage-config.ts";
import { UploadWorkflow } from "./upload-workflow.ts";

/** Placeholder names the ASL is rendered with; the local runtime creates its bucket and queue under them. */
export const PLACEHOLDER = {
  account: "000000000000",
  region: "us-east-1",
  bucket: "sluice-uploads",
  chunkQueue: "sluice-chunks",
  functions: {
    convert: "sluice-convert",
    summarize: "sluice-summarize",
  },
} as const;

type Cfn = unknown;

/** Resolves the CloudFormation intrinsics a definition string can hold, with placeholder values. */
export function resolveIntrinsics(value: Cfn, refs: Record<string, string> = {}): Cfn {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, refs));
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value as Record<string, Cfn>);
  if (entries.length === 1) {
    const [key, arg] = entries[0]!;
    if (key === "Fn::Join") {
      const [separator, parts] = arg as [string, Cfn[]];
      return parts.map((p) => resolveIntrinsics(p, refs)).join(separator);
    }
    if (key === "Ref") {
      const pseudo: Record<string, string> = {
        "AWS::Partition": "aws",
        "AWS::Region": PLACEHOLDER.region,
        "AWS::AccountId": PLACEHOLDER.account,
        "AWS::URLSuffix": "amazonaws.com",
      };
      const name = arg as string;
      return pseudo[name] ?? refs[name] ?? `placeholder-${name}`;
    }
    if (key === "Fn::GetAtt") {
      const [logicalId, attribute] = arg as [string, string];
      return (
        refs[`${logicalId}.${attribute}`] ??
        `arn:aws:placeholder:${PLACEHOLDER.region}:${PLACEHOLDER.account}:${logicalId}`
      );
    }
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveIntrinsics(v, refs)]));
}

/** Extracts a state machine's ASL from a synthesized template, with intrinsics resolved. */
export function aslFromTemplate(
  template: { Resources: Record<string, { Type: string; Properties: Record<string, Cfn> }> },
  refs: Record<string, string> = {},
) {
  const machines = Object.values(template.Resources).filter(
    (r) => r.Type === "AWS::StepFunctions::StateMachine",
  );
  if (machines.length !== 1) throw new Error(`expected one state machine, found ${machines.length}`);
  const definition = resolveIntrinsics(machines[0]!.Properties.DefinitionString, refs);
  if (typeof definition !== "string") throw new Error("the state machine has no DefinitionString");
  return JSON.parse(definition) as Record<string, unknown>;
}

/**
 * The workflow's ASL, built by the same construct the stack deploys, around placeholder resources.
 * This is the document `npm run asl` prints and the local runtime executes.
 */
export function workflowAsl(config: Partial<StageConfig> = {}): Record<string, unknown> {
  const app = new App();
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
