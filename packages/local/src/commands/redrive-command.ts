import { RedriveExecutionCommand, type SFNClient } from "@aws-sdk/client-sfn";
import { SQSClient } from "@aws-sdk/client-sqs";
import { InvalidOptionError } from "@sluice/core";
import {
  type DeadLetterMover,
  MessageMoveTaskMover,
  type MoveResult,
  queueArnFromUrl,
  ReceiveSendDeleteMover,
} from "./dead-letter-mover.ts";
import {
  executionArnFor,
  parseCommandArgs,
  STEP_FUNCTIONS_OPTIONS,
  STEP_FUNCTIONS_USAGE,
  sfnClientFor,
  stepFunctionsTarget,
} from "./step-functions-options.ts";

export const REDRIVE_USAGE = `usage: sluice redrive <upload-id> [--dlq] [options]
       sluice redrive --dlq [options]

Runs a failed upload's unsuccessful steps again without uploading it again (RedriveExecution: same execution,
its Distributed Map runs only the chunks that did not succeed). --dlq also moves chunk messages from the
dead-letter queue back to the chunk queue (AWS: StartMessageMoveTask; local: receive, send, delete).
${STEP_FUNCTIONS_USAGE}
  --queue-url URL          the chunk queue (default: $CHUNK_QUEUE_URL; the stack output ChunkQueueUrl)
  --dlq-url URL            the dead-letter queue (default: $DEAD_LETTER_QUEUE_URL; the stack output DeadLetterQueueUrl)
  --sqs-endpoint URL       the local emulator's SQS endpoint (default: $AWS_ENDPOINT_URL_SQS; unset: AWS)`;

export interface RedriveSummary {
  uploadId?: string;
  executionArn?: string;
  redriveDate?: string;
  deadLetters?: MoveResult;
}

/** RedriveExecution for an upload's execution; returns when Step Functions accepted it. */
export async function redriveUpload(sfn: SFNClient, stateMachineArn: string, uploadId: string) {
  const executionArn = executionArnFor(stateMachineArn, uploadId);
  const { redriveDate } = await sfn.send(new RedriveExecutionCommand({ executionArn }));
  return { executionArn, redriveDate: (redriveDate ?? new Date()).toISOString() };
}

/** The dead-letter mover for these settings: the local emulator's, or SQS's message move task. */
export function deadLetterMoverFor(options: {
  sqs: SQSClient;
  chunkQueueUrl: string;
  deadLetterQueueUrl: string;
  local: boolean;
}): DeadLetterMover {
  return options.local
    ? new ReceiveSendDeleteMover(options)
    : new MessageMoveTaskMover({
        sqs: options.sqs,
        deadLetterQueueArn: queueArnFromUrl(options.deadLetterQueueUrl),
        chunkQueueArn: queueArnFromUrl(options.chunkQueueUrl),
      });
}

export async function runRedrive(
  argv: string[],
  say: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RedriveSummary> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      ...STEP_FUNCTIONS_OPTIONS,
      dlq: { type: "boolean" },
      "queue-url": { type: "string" },
      "dlq-url": { type: "string" },
      "sqs-endpoint": { type: "string" },
    },
    REDRIVE_USAGE,
  );
  if (positionals.length > 1 || (positionals.length === 0 && !values.dlq))
    throw new InvalidOptionError(`expected one upload id (or --dlq)\n${REDRIVE_USAGE}`);
  const summary: RedriveSummary = {};
  const uploadId = positionals[0];
  if (uploadId !== undefined) {
    const target = stepFunctionsTarget(values, REDRIVE_USAGE, env);
    const sfn = sfnClientFor(target, env);
    try {
      const result = await redriveUpload(sfn, target.stateMachineArn, uploadId).catch((error: Error) => {
        if (error.name === "ExecutionDoesNotExist" || error.name === "ExecutionNotRedrivable")
          throw new InvalidOptionError(`cannot redrive ${uploadId}: ${error.name}: ${error.message}`);
        throw error;
      });
      Object.assign(summary, { uploadId, ...result });
      if (!values.json) say(`redriven: ${result.executionArn} (follow it with: sluice status ${uploadId})`);
    } finally {
      sfn.destroy();
    }
  }
  if (values.dlq) {
    const chunkQueueUrl = values["queue-url"] ?? env.CHUNK_QUEUE_URL;
    const deadLetterQueueUrl = values["dlq-url"] ?? env.DEAD_LETTER_QUEUE_URL;
    if (!chunkQueueUrl || !deadLetterQueueUrl)
      throw new InvalidOptionError(`--dlq needs --queue-url and --dlq-url\n${REDRIVE_USAGE}`);
    const sqsEndpoint = values["sqs-endpoint"] ?? env.AWS_ENDPOINT_URL_SQS;
    const local = sqsEndpoint !== undefined;
    const region = values.region ?? env.AWS_REGION ?? "us-east-1";
    const sqs = new SQSClient({
      region,
      ...(local ? { endpoint: sqsEndpoint } : {}),
      ...(local && !env.AWS_ACCESS_KEY_ID
        ? { credentials: { accessKeyId: "local", secretAccessKey: "local" } }
        : {}),
    });
    try {
      const moved = await deadLetterMoverFor({ sqs, chunkQueueUrl, deadLetterQueueUrl, local }).move();
      summary.deadLetters = moved;
      if (!values.json) {
        say(
          moved.taskHandle
            ? `dead-letter queue: message move task started (${moved.taskHandle})`
            : `dead-letter queue: ${moved.moved ?? 0} chunk message(s) moved back, ${moved.left ?? 0} other record(s) left`,
        );
      }
    } finally {
      sqs.destroy();
    }
  }
  return summary;
}
