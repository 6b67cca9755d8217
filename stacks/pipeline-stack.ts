import { CfnOutput, Duration, RemovalPolicy } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Bucket, Config, Function as SstFunction, type StackContext } from "sst/constructs";
import { PROCESSED_PREFIX, UPLOADS_PREFIX } from "./bucket-layout.ts";
import { stageConfig, visibilityTimeoutSeconds } from "./stage-config.ts";
import { UploadWorkflow } from "./upload-workflow.ts";

export const SLACK_SECRET_NAME = "SLACK_WEBHOOK_URL";

/** The whole pipeline: uploads bucket, chunk queue with its dead-letter queue, the workflow, and its functions. */
export function Pipeline({ stack, app }: StackContext) {
  const config = stageConfig();
  const handlers = "packages/functions/src/handlers";

  const deadLetterQueue = new sqs.Queue(stack, "DeadLetterQueue", {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  const chunkQueue = new sqs.Queue(stack, "ChunkQueue", {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    visibilityTimeout: Duration.seconds(visibilityTimeoutSeconds(config)),
    retentionPeriod: Duration.days(4),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: config.maxReceiveCount },
  });

  const bucket = new Bucket(stack, "Uploads", {
    cdk: {
      bucket: {
        versioned: true,
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        // The originals are the customers' data: keep them when a stage is removed.
        removalPolicy: RemovalPolicy.RETAIN,
        autoDeleteObjects: false,
      },
    },
  });
  const uploads = bucket.cdk.bucket;

  // An SST Config.Secret: `npx sst secrets set SLACK_WEBHOOK_URL <url> --stage <stage>` stores it in SSM at the
  // path below. The notify function reads that parameter itself (not `bind`), so an unset secret means no post.
  const slackSecret = new Config.Secret(stack, SLACK_SECRET_NAME);
  const slackParameter = `/sst/${app.name}/${app.stage}/Secret/${slackSecret.name}/value`;
  const common = {
    runtime: "nodejs22.x" as const,
    architecture: "arm_64" as const,
    environment: { STAGE: app.stage },
  };

  const convertFunction = new SstFunction(stack, "Convert", {
    ...common,
    handler: `${handlers}/convert.handler`,
    memorySize: 1024,
    timeout: "15 minutes",
    environment: {
      ...common.environment,
      BUCKET_NAME: uploads.bucketName,
      PROCESSED_PREFIX,
      CHUNK_ROWS: String(config.chunkRows),
      CHUNK_BYTES: String(config.chunkBytes),
    },
  });
  const summarizeFunction = new SstFunction(stack, "Summarize", {
    ...common,
    handler: `${handlers}/summarize.handler`,
    memorySize: 512,
    timeout: "5 minutes",
    environment: {
      ...common.environment,
      BUCKET_NAME: uploads.bucketName,
      PROCESSED_PREFIX,
      SLACK_NOTIFY_SUCCESS: String(config.notifySuccess),
      SLACK_WEBHOOK_PARAMETER: slackParameter,
    },
  });
  const notifyFailureFunction = new SstFunction(stack, "NotifyFailure", {
    ...common,
    handler: `${handlers}/notify-failure.handler`,
    timeout: "1 minute",
    environment: {
      ...common.environment,
      BUCKET_NAME: uploads.bucketName,
      PROCESSED_PREFIX,
      DEAD_LETTER_QUEUE_URL: deadLetterQueue.queueUrl,
      SLACK_WEBHOOK_PARAMETER: slackParameter,
    },
  });

  // Least privilege, spelled out: each function gets exactly these actions on exactly these resources.
  const allow = (
    fn: SstFunction,
    actions: string[],
    resources: string[],
    conditions?: Record<string, unknown>,
  ) =>
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions, resources, ...(conditions ? { conditions } : {}) }),
    );
  const objects = (prefix: string) => uploads.arnForObjects(`${prefix}*`);
  const listProcessed = (fn: SstFunction) =>
    allow(fn, ["s3:ListBucket"], [uploads.bucketArn], {
      StringLike: { "s3:prefix": [`${PROCESSED_PREFIX}*`] },
    });
  const slackParameterArn = `arn:${stack.partition}:ssm:${stack.region}:${stack.account}:parameter${slackParameter}`;

  allow(convertFunction, ["s3:GetObject", "s3:GetObjectVersion"], [objects(UPLOADS_PREFIX)]);
  allow(convertFunction, ["s3:PutObject", "s3:AbortMultipartUpload"], [objects(PROCESSED_PREFIX)]);
  allow(
    summarizeFunction,
    ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
    [objects(PROCESSED_PREFIX)],
  );
  listProcessed(summarizeFunction);
  allow(summarizeFunction, ["ssm:GetParameter"], [slackParameterArn]);
  allow(
    notifyFailureFunction,
    ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
    [objects(PROCESSED_PREFIX)],
  );
  listProcessed(notifyFailureFunction);
  allow(notifyFailureFunction, ["sqs:SendMessage"], [deadLetterQueue.queueArn]);
  allow(notifyFailureFunction, ["ssm:GetParameter"], [slackParameterArn]);

  const workflow = new UploadWorkflow(stack, "UploadWorkflow", {
    bucket: uploads,
    chunkQueue,
    convertFunction,
    summarizeFunction,
    notifyFailureFunction,
    config,
  });
  const { stateMachine } = workflow;

  const startFunction = new SstFunction(stack, "Start", {
    ...common,
    handler: `${handlers}/start.handler`,
    timeout: "30 seconds",
    environment: { ...common.environment, STATE_MACHINE_ARN: stateMachine.stateMachineArn },
  });
  startFunction.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ["states:StartExecution"],
      resources: [stateMachine.stateMachineArn],
    }),
  );
  bucket.addNotifications(stack, {
    upload: { function: startFunction, events: ["object_created"], filters: [{ prefix: UPLOADS_PREFIX }] },
  });

  // What the admin server attaches: consume the chunk queue and answer task tokens of this workflow only.
  const adminServerPolicy = new iam.ManagedPolicy(stack, "AdminServerPolicy", {
    description: `sluice ${app.stage}: consume chunks and report results`,
    statements: [
      new iam.PolicyStatement({
        actions: [
          "sqs:ReceiveMessage",
          "sqs:DeleteMessage",
          "sqs:ChangeMessageVisibility",
          "sqs:GetQueueAttributes",
        ],
        resources: [chunkQueue.queueArn],
      }),
      new iam.PolicyStatement({
        actions: ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
        resources: [stateMachine.stateMachineArn],
      }),
    ],
  });

  stack.addOutputs({
    BucketName: uploads.bucketName,
    UploadsPrefix: UPLOADS_PREFIX,
    ChunkQueueUrl: chunkQueue.queueUrl,
    DeadLetterQueueUrl: deadLetterQueue.queueUrl,
    StateMachineArn: stateMachine.stateMachineArn,
    AdminServerPolicyArn: adminServerPolicy.managedPolicyArn,
  });
  new CfnOutput(stack, "SlackWebhookParameter", { value: slackParameter });

  return { bucket: uploads, chunkQueue, deadLetterQueue, stateMachine, adminServerPolicy };
}
