import { Duration } from "aws-cdk-lib";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as tasks from "aws-cdk-lib/aws-stepfunctions-tasks";
import { Construct } from "constructs";
import { RETRYABLE_ERROR_CODES } from "../packages/core/src/errors.ts";
import type { StageConfig } from "./stage-config.ts";

/**
 * The upload workflow, built in this one place. The SST stack deploys it; `npm run asl` and the local runtime
 * build it with placeholder resources and execute the very same ASL.
 */
export interface UploadWorkflowProps {
  bucket: IBucket;
  chunkQueue: IQueue;
  convertFunction: IFunction;
  summarizeFunction: IFunction;
  notifyFailureFunction: IFunction;
  config: Pick<StageConfig, "maxConcurrency" | "heartbeatSeconds" | "chunkTimeoutSeconds" | "chunkRetries">;
}

/** State names: what a person reads in the Step Functions console, and how the local runtime finds each task. */
export const STATE = {
  recordExecution: "Record execution",
  convert: "Convert workbook",
  anyChunks: "Any chunks?",
  noChunks: "No chunks to deliver",
  deliver: "Deliver chunks",
  sendChunk: "Send chunk and wait",
  chunkFailed: "Chunk failed",
  describeChunkFailure: "Describe chunk failure",
  failChunk: "Fail chunk",
  summarize: "Summarize",
  done: "Upload complete",
  notifyFailure: "Notify failure",
  failed: "Upload failed",
} as const;

/** Read with @aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2; without it CDK drops the ResultWriter silently. */
const RESULT_WRITER_V2_FLAG = "@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2";

export class UploadWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: UploadWorkflowProps) {
    super(scope, id);
    this.node.setContext(RESULT_WRITER_V2_FLAG, true);
    const { config } = props;

    const failed = new sfn.Fail(this, STATE.failed, {
      errorPath: "$.error.Error",
      causePath: "$.error.Cause",
    });

    // The failure branch: a dead-letter record and an alert, then the execution fails with the original error.
    const notifyFailure = new tasks.LambdaInvoke(this, STATE.notifyFailure, {
      lambdaFunction: props.notifyFailureFunction,
      payloadResponseOnly: true,
      resultPath: "$.notified",
    });
    notifyFailure.addRetry({
      errors: ["States.TaskFailed"],
      maxAttempts: 3,
      interval: Duration.seconds(5),
      backoffRate: 2,
    });
    notifyFailure.addCatch(failed, { resultPath: "$.notifyError" });
    notifyFailure.next(failed);
    const catchTo = { resultPath: "$.error" };

    const recordExecution = new sfn.Pass(this, STATE.recordExecution, {
      parameters: { "arn.$": "$$.Execution.Id", "startTime.$": "$$.Execution.StartTime" },
      resultPath: "$.execution",
    });

    const convert = new tasks.LambdaInvoke(this, STATE.convert, {
      lambdaFunction: props.convertFunction,
      payloadResponseOnly: true,
      resultPath: "$.convert",
    });
    convert.addRetry({
      errors: [...RETRYABLE_ERROR_CODES],
      maxAttempts: 3,
      interval: Duration.seconds(5),
      backoffRate: 2,
    });
    convert.addCatch(notifyFailure, catchTo);

    // One child execution per chunk: send it with a task token, wait for the admin server's answer.
    const sendChunk = new tasks.SqsSendMessage(this, STATE.sendChunk, {
      queue: props.chunkQueue,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      messageBody: sfn.TaskInput.fromObject({
        v: 1,
        kind: "chunk",
        taskToken: sfn.JsonPath.taskToken,
        uploadId: sfn.JsonPath.stringAt("$.uploadId"),
        source: sfn.JsonPath.objectAt("$.source"),
        totals: sfn.JsonPath.objectAt("$.totals"),
        chunk: sfn.JsonPath.objectAt("$.chunk"),
      }),
      heartbeatTimeout: sfn.Timeout.duration(Duration.seconds(config.heartbeatSeconds)),
      taskTimeout: sfn.Timeout.duration(Duration.seconds(config.chunkTimeoutSeconds)),
    });
    if (config.chunkRetries > 0) {
      sendChunk.addRetry({
        errors: [sfn.Errors.HEARTBEAT_TIMEOUT, sfn.Errors.TIMEOUT],
        maxAttempts: config.chunkRetries,
        interval: Duration.seconds(10),
        backoffRate: 2,
      });
    }
    // Keep which chunk failed and why in the child's error, so the failure record can name the chunk.
    // Plain paths in the Fail state (its CausePath intrinsics are not supported everywhere the ASL runs).
    const chunkFailed = new sfn.Pass(this, STATE.chunkFailed, {
      parameters: {
        "error.$": "$.failure.Error",
        detail: {
          "chunkIndex.$": "$.chunk.index",
          "firstRow.$": "$.chunk.firstRow",
          "lastRow.$": "$.chunk.lastRow",
          // The whole error object: its Cause may be absent, and a path to a missing field fails the state.
          "failure.$": "$.failure",
        },
      },
    });
    const describeFailure = new sfn.Pass(this, STATE.describeChunkFailure, {
      parameters: { "error.$": "$.error", "cause.$": "States.JsonToString($.detail)" },
    });
    const failChunk = new sfn.Fail(this, STATE.failChunk, { errorPath: "$.error", causePath: "$.cause" });
    sendChunk.addCatch(chunkFailed.next(describeFailure).next(failChunk), { resultPath: "$.failure" });

    const deliver = new sfn.DistributedMap(this, STATE.deliver, {
      itemReader: new sfn.S3JsonLItemReader({
        bucket: props.bucket,
        key: sfn.JsonPath.stringAt("$.convert.processed.chunksKey"),
      }),
      itemSelector: {
        uploadId: sfn.JsonPath.stringAt("$.uploadId"),
        source: sfn.JsonPath.objectAt("$.source"),
        totals: {
          totalRows: sfn.JsonPath.numberAt("$.convert.totalRows"),
          totalChunks: sfn.JsonPath.numberAt("$.convert.totalChunks"),
        },
        chunk: sfn.JsonPath.objectAt("$$.Map.Item.Value"),
      },
      maxConcurrency: config.maxConcurrency,
      mapExecutionType: sfn.StateMachineType.STANDARD,
      resultWriterV2: new sfn.ResultWriterV2({
        bucket: props.bucket,
        prefix: sfn.JsonPath.stringAt("$.convert.processed.prefix"),
      }),
      resultPath: "$.delivery",
      label: "DeliverChunks",
    });
    deliver.itemProcessor(sendChunk);
    deliver.addCatch(notifyFailure, catchTo);

    const summarize = new tasks.LambdaInvoke(this, STATE.summarize, {
      lambdaFunction: props.summarizeFunction,
      payloadResponseOnly: true,
      resultPath: "$.summary",
    });
    summarize.addRetry({
      errors: [...RETRYABLE_ERROR_CODES],
      maxAttempts: 3,
      interval: Duration.seconds(5),
      backoffRate: 2,
    });
    summarize.addCatch(notifyFailure, catchTo);
    summarize.next(new sfn.Succeed(this, STATE.done, { outputPath: "$.summary" }));

    const noChunks = new sfn.Pass(this, STATE.noChunks, {
      result: sfn.Result.fromObject({}),
      resultPath: "$.delivery",
    });

    const definition = recordExecution
      .next(convert)
      .next(
        new sfn.Choice(this, STATE.anyChunks)
          .when(sfn.Condition.numberGreaterThan("$.convert.totalChunks", 0), deliver.next(summarize))
          .otherwise(noChunks.next(summarize)),
      );

    this.stateMachine = new sfn.StateMachine(this, "StateMachine", {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: "sluice: convert a workbook into chunks, deliver them to the admin server, summarize",
    });
  }
}
