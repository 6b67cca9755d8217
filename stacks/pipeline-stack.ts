import {
  CHUNKS_OBJECT,
  FAILURE_OBJECT,
  FORM_UPLOADS_PREFIX,
  MANIFEST_OBJECT,
  PROCESSED_PREFIX,
  REJECTED_ROWS_CSV,
  REJECTED_ROWS_XLSX,
  SUMMARY_OBJECT,
  UPLOADS_PREFIX,
} from "@sluice/contract";
import {
  chunkRetentionSeconds,
  failureEventPattern,
  MAX_RETENTION_SECONDS,
  stageConfig,
  UPLOAD_CORS_RULE,
} from "@sluice/workflow";
import { UploadWorkflow } from "@sluice/workflow/cdk";
import { CfnOutput, Duration, RemovalPolicy } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Bucket, Config, Function as SstFunction, type StackContext } from "sst/constructs";

export const SLACK_SECRET_NAME = "SLACK_WEBHOOK_URL";

/**
 * The Step Functions task-token callbacks support no resource-level permissions (the Service Authorization
 * Reference lists no resource type for them), so they are granted on "*". The task token is the capability: only
 * a holder of a token can answer that one task.
 */
export const TASK_CALLBACK_ACTIONS = [
  "states:SendTaskSuccess",
  "states:SendTaskFailure",
  "states:SendTaskHeartbeat",
] as const;

/**
 * The whole pipeline: uploads bucket, chunk queue with its dead-letter queue and the handler that fails a
 * dead-lettered chunk's task, the workflow and its functions, and the failure notification from the execution's
 * status change.
 */
export function Pipeline({ stack, app }: StackContext) {
  const config = stageConfig();
  const handlers = "packages/functions/src/handlers";

  // Only chunk messages land here (after maxReceiveCount receives); failure records are objects in the bucket.
  const deadLetterQueue = new sqs.Queue(stack, "DeadLetterQueue", {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.seconds(MAX_RETENTION_SECONDS),
  });
  const chunkQueue = new sqs.Queue(stack, "ChunkQueue", {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    visibilityTimeout: Duration.seconds(config.visibilityTimeoutSeconds),
    retentionPeriod: Duration.seconds(chunkRetentionSeconds(config)),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: config.maxReceiveCount },
  });
  // Failure notifications that could not be delivered or kept failing: kept for a person to look at.
  const failedNotifications = new sqs.Queue(stack, "FailedNotifications", {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.seconds(MAX_RETENTION_SECONDS),
  });

  const bucket = new Bucket(stack, "Uploads", {
    // Browsers PUT upload forms' files from the stage's allowed origins only; without any, no CORS rule at all
    // (SST's default would allow every origin and method).
    cors:
      config.allowedOrigins.length === 0
        ? false
        : [
            {
              allowedOrigins: [...config.allowedOrigins],
              allowedMethods: [...UPLOAD_CORS_RULE.allowedMethods],
              allowedHeaders: [...UPLOAD_CORS_RULE.allowedHeaders],
              exposedHeaders: [...UPLOAD_CORS_RULE.exposedHeaders],
              maxAge: `${UPLOAD_CORS_RULE.maxAgeSeconds} seconds`,
            },
          ],
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
  // path below. The functions read that parameter themselves (not `bind`), so an unset secret means no post.
  const slackSecret = new Config.Secret(stack, SLACK_SECRET_NAME);
  const slackParameter = `/sst/${app.name}/${app.stage}/Secret/${slackSecret.name}/value`;
  const common = {
    runtime: "nodejs22.x" as const,
    architecture: "arm_64" as const,
    environment: { STAGE: app.stage },
  };
  const bucketEnv = { BUCKET_NAME: uploads.bucketName, PROCESSED_PREFIX };

  const convertFunction = new SstFunction(stack, "Convert", {
    ...common,
    handler: `${handlers}/convert.handler`,
    memorySize: 1024,
    timeout: "15 minutes",
    environment: {
      ...common.environment,
      ...bucketEnv,
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
      ...bucketEnv,
      SLACK_NOTIFY_SUCCESS: String(config.notifySuccess),
      SLACK_WEBHOOK_PARAMETER: slackParameter,
    },
  });
  const notifyFailureFunction = new SstFunction(stack, "NotifyFailure", {
    ...common,
    handler: `${handlers}/notify-failure.handler`,
    memorySize: 512,
    timeout: "5 minutes",
    environment: { ...common.environment, ...bucketEnv, SLACK_WEBHOOK_PARAMETER: slackParameter },
  });
  const chunkDeadLetterFunction = new SstFunction(stack, "ChunkDeadLetter", {
    ...common,
    handler: `${handlers}/chunk-dead-letter.handler`,
    timeout: "1 minute",
    environment: { ...common.environment, MAX_RECEIVE_COUNT: String(config.maxReceiveCount) },
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
  for (const fn of [summarizeFunction, notifyFailureFunction]) {
    allow(fn, ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], [objects(PROCESSED_PREFIX)]);
    listProcessed(fn);
    allow(fn, ["ssm:GetParameter"], [slackParameterArn]);
  }

  const workflow = new UploadWorkflow(stack, "UploadWorkflow", {
    bucket: uploads,
    chunkQueue,
    convertFunction,
    summarizeFunction,
    config,
  });
  const { stateMachine } = workflow;
  const stateMachineName = stateMachine.stateMachineName;
  const statesArn = (type: string, rest: string) =>
    `arn:${stack.partition}:states:${stack.region}:${stack.account}:${type}:${rest}`;

  // What failed: the execution, its Map Runs, and (through the bucket) the Map Run's failed items.
  allow(
    notifyFailureFunction,
    ["states:DescribeExecution", "states:ListMapRuns"],
    [statesArn("execution", `${stateMachineName}:*`)],
  );
  allow(notifyFailureFunction, ["states:DescribeMapRun"], [statesArn("mapRun", `${stateMachineName}/*`)]);
  allow(chunkDeadLetterFunction, ["states:SendTaskFailure"], ["*"]);
  chunkDeadLetterFunction.addEventSource(
    new SqsEventSource(deadLetterQueue, { batchSize: 10, reportBatchItemFailures: true }),
  );

  // The alert and the failure record: from the execution's status change, so no state has to catch anything.
  notifyFailureFunction.configureAsyncInvoke({
    retryAttempts: 2,
    onFailure: new SqsDestination(failedNotifications),
  });
  const pattern = failureEventPattern(stateMachine.stateMachineArn);
  new events.Rule(stack, "UploadFailed", {
    description: `sluice ${app.stage}: an upload's execution failed, timed out or was aborted`,
    eventPattern: { source: pattern.source, detailType: pattern["detail-type"], detail: pattern.detail },
    targets: [
      new targets.LambdaFunction(notifyFailureFunction, {
        retryAttempts: 185,
        maxEventAge: Duration.hours(24),
        deadLetterQueue: failedNotifications,
      }),
    ],
  });

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
  // ExecutionAlreadyExists for a form's upload id: DescribeExecution tells a duplicate event from another version.
  allow(startFunction, ["states:DescribeExecution"], [statesArn("execution", `${stateMachineName}:*`)]);
  bucket.addNotifications(stack, {
    upload: { function: startFunction, events: ["object_created"], filters: [{ prefix: UPLOADS_PREFIX }] },
  });

  // What the admin server attaches: consume the chunk queue, read the chunks it is pointed at, answer tokens
  // (@sluice/consumer); sign upload forms and follow, list and redrive uploads (@sluice/admin). Exactly the calls
  // those packages make, on exactly these resources.
  const processedObjects = (object: string) => uploads.arnForObjects(`${PROCESSED_PREFIX}*/${object}`);
  const adminServerPolicy = new iam.ManagedPolicy(stack, "AdminServerPolicy", {
    description: `sluice ${app.stage}: consume chunks and report results; sign upload forms, follow and redrive uploads`,
    statements: [
      new iam.PolicyStatement({
        actions: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"],
        resources: [chunkQueue.queueArn],
      }),
      new iam.PolicyStatement({
        actions: ["s3:GetObject"],
        resources: [processedObjects(CHUNKS_OBJECT)],
      }),
      new iam.PolicyStatement({ actions: [...TASK_CALLBACK_ACTIONS], resources: ["*"] }),
      // A presigned PUT is authorised as its signer: the browser's upload needs s3:PutObject here.
      new iam.PolicyStatement({
        actions: ["s3:PutObject"],
        resources: [uploads.arnForObjects(`${FORM_UPLOADS_PREFIX}*`)],
      }),
      // An upload's progress, outcome and failure, and the rejected-rows report it links (a presigned GET).
      new iam.PolicyStatement({
        actions: ["s3:GetObject"],
        resources: [
          MANIFEST_OBJECT,
          SUMMARY_OBJECT,
          FAILURE_OBJECT,
          REJECTED_ROWS_CSV,
          REJECTED_ROWS_XLSX,
        ].map(processedObjects),
      }),
      // "Waiting": the form's file landed but no execution is there yet.
      new iam.PolicyStatement({
        actions: ["s3:ListBucket"],
        resources: [uploads.bucketArn],
        conditions: { StringLike: { "s3:prefix": [`${FORM_UPLOADS_PREFIX}*`] } },
      }),
      new iam.PolicyStatement({
        actions: ["states:DescribeExecution", "states:RedriveExecution", "states:ListMapRuns"],
        resources: [statesArn("execution", `${stateMachineName}:*`)],
      }),
      new iam.PolicyStatement({
        actions: ["states:ListExecutions"],
        resources: [stateMachine.stateMachineArn],
      }),
      new iam.PolicyStatement({
        actions: ["states:DescribeMapRun"],
        resources: [statesArn("mapRun", `${stateMachineName}/*`)],
      }),
    ],
  });

  stack.addOutputs({
    BucketName: uploads.bucketName,
    UploadsPrefix: UPLOADS_PREFIX,
    ChunkQueueUrl: chunkQueue.queueUrl,
    DeadLetterQueueUrl: deadLetterQueue.queueUrl,
    FailedNotificationsQueueUrl: failedNotifications.queueUrl,
    StateMachineArn: stateMachine.stateMachineArn,
    AdminServerPolicyArn: adminServerPolicy.managedPolicyArn,
  });
  new CfnOutput(stack, "SlackWebhookParameter", { value: slackParameter });

  return { bucket: uploads, chunkQueue, deadLetterQueue, stateMachine, adminServerPolicy };
}
