import { CONTRACT_VERSION, RETRYABLE_ERROR_CODES } from "@sluice/contract";
import { Duration } from "aws-cdk-lib";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as tasks from "aws-cdk-lib/aws-stepfunctions-tasks";
import { Construct } from "constructs";
import type { StageConfig } from "./stage-config.ts";
import { DELIVER_LABEL, LAMBDA_THROTTLED, SEND_ERRORS, STATE } from "./workflow-shape.ts";

/**
 * The upload workflow, built in this one place. The SST stack deploys it; `npm run asl` and the local runtime
 * build it with placeholder resources and execute the very same ASL.
 *
 * No state catches an error. A failure fails the execution where it happened, so its history keeps the failed
 * state's `...Entered` event without an `...Exited` one, which is what RedriveExecution re-runs: a failed Map Run
 * is redriven with only its unsuccessful chunks. The failure record and the alert come from the execution's
 * status-change event instead (see `failureEventPattern`).
 */
export interface UploadWorkflowProps {
  bucket: IBucket;
  chunkQueue: IQueue;
  convertFunction: IFunction;
  summarizeFunction: IFunction;
  config: Pick<StageConfig, "maxConcurrency" | "uploadDeadlineSeconds">;
}

/** Read with @aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2; without it CDK drops the ResultWriter silently. */
const RESULT_WRITER_V2_FLAG = "@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2";

export class UploadWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: UploadWorkflowProps) {
    super(scope, id);
    this.node.setContext(RESULT_WRITER_V2_FLAG, true);
    const { config } = props;
    const transientRetry = {
      errors: [...RETRYABLE_ERROR_CODES],
      maxAttempts: 3,
      interval: Duration.seconds(5),
      backoffRate: 2,
    };
    // Past the account's concurrency (1,000 by default, less on a new account) Lambda refuses an invocation with
    // Lambda.TooManyRequestsException, which the LambdaInvoke default retry does not list: a burst of uploads
    // waits for a free execution environment instead of failing. About 8 minutes of tries, jittered so that
    // throttled uploads do not all come back at once.
    const throttledRetry = {
      errors: [LAMBDA_THROTTLED],
      maxAttempts: 20,
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxDelay: Duration.seconds(60),
      jitterStrategy: sfn.JitterType.FULL,
    };

    const convert = new tasks.LambdaInvoke(this, STATE.convert, {
      lambdaFunction: props.convertFunction,
      payloadResponseOnly: true,
      resultPath: "$.convert",
    });
    convert.addRetry(transientRetry);
    convert.addRetry(throttledRetry);

    // One child execution per chunk: send its pointer with a task token, wait for the admin server's answer.
    // No heartbeat: its clock would run while the chunk waits in the queue. The deadline is the only timer.
    const sendChunk = new tasks.SqsSendMessage(this, STATE.sendChunk, {
      queue: props.chunkQueue,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      messageBody: sfn.TaskInput.fromObject({
        v: CONTRACT_VERSION,
        kind: "chunk",
        taskToken: sfn.JsonPath.taskToken,
        uploadId: sfn.JsonPath.stringAt("$.uploadId"),
        source: sfn.JsonPath.objectAt("$.source"),
        totals: sfn.JsonPath.objectAt("$.totals"),
        chunk: sfn.JsonPath.objectAt("$.chunk"),
      }),
      taskTimeout: sfn.Timeout.duration(Duration.seconds(config.uploadDeadlineSeconds)),
    });
    sendChunk.addRetry({
      errors: [...SEND_ERRORS],
      maxAttempts: 3,
      interval: Duration.seconds(2),
      backoffRate: 2,
    });

    const deliver = new sfn.DistributedMap(this, STATE.deliver, {
      itemReader: new sfn.S3JsonLItemReader({
        bucket: props.bucket,
        key: sfn.JsonPath.stringAt("$.convert.processed.itemsKey"),
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
      // COMPACT: a succeeded chunk's line is its TaskResult alone; failed ones keep their input and error.
      resultWriterV2: new sfn.ResultWriterV2({
        bucket: props.bucket,
        prefix: sfn.JsonPath.stringAt("$.convert.processed.prefix"),
        writerConfig: { outputType: sfn.OutputType.JSONL, transformation: sfn.Transformation.COMPACT },
      }),
      resultPath: "$.delivery",
      label: DELIVER_LABEL,
    });
    deliver.itemProcessor(sendChunk);

    const summarize = new tasks.LambdaInvoke(this, STATE.summarize, {
      lambdaFunction: props.summarizeFunction,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({
        uploadId: sfn.JsonPath.stringAt("$.uploadId"),
        source: sfn.JsonPath.objectAt("$.source"),
        receivedAt: sfn.JsonPath.stringAt("$.receivedAt"),
        convert: sfn.JsonPath.objectAt("$.convert"),
        delivery: sfn.JsonPath.objectAt("$.delivery"),
        execution: { arn: sfn.JsonPath.executionId, startTime: sfn.JsonPath.executionStartTime },
      }),
      resultPath: "$.summary",
    });
    summarize.addRetry(transientRetry);
    summarize.addRetry(throttledRetry);
    summarize.next(new sfn.Succeed(this, STATE.done, { outputPath: "$.summary" }));

    const noChunks = new sfn.Pass(this, STATE.noChunks, {
      result: sfn.Result.fromObject({}),
      resultPath: "$.delivery",
    });

    const definition = convert.next(
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
