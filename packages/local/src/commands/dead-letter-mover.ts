import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";

export interface MoveResult {
  /** Messages moved back (the local adapter counts them; SQS moves asynchronously). */
  moved?: number;
  /** Messages left on the dead-letter queue because they are not chunks (upload-failure records). */
  left?: number;
  /** The SQS message move task, to follow with ListMessageMoveTasks. */
  taskHandle?: string;
}

/** Moves chunk messages from the dead-letter queue back to the chunk queue (`sluice redrive --dlq`). */
export interface DeadLetterMover {
  move(): Promise<MoveResult>;
}

/** The ARN of a queue from its URL (https://sqs.<region>.amazonaws.com/<account>/<name>). */
export function queueArnFromUrl(queueUrl: string, partition = "aws"): string {
  const match = /^https?:\/\/sqs[.-]([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/(\d{12})\/([^/?]+)$/.exec(
    queueUrl,
  );
  if (!match) throw new Error(`not an SQS queue URL: ${queueUrl}`);
  return `arn:${partition}:sqs:${match[1]}:${match[2]}:${match[3]}`;
}

/**
 * AWS: one StartMessageMoveTask from the dead-letter queue to the chunk queue. SQS moves every message (it
 * cannot filter by kind), so upload-failure records move too; the consumer deletes what is not a chunk.
 */
export class MessageMoveTaskMover implements DeadLetterMover {
  constructor(
    private readonly options: {
      sqs: SQSClient;
      deadLetterQueueArn: string;
      chunkQueueArn: string;
      maxMessagesPerSecond?: number;
    },
  ) {}

  async move(): Promise<MoveResult> {
    const { TaskHandle } = await this.options.sqs.send(
      new StartMessageMoveTaskCommand({
        SourceArn: this.options.deadLetterQueueArn,
        DestinationArn: this.options.chunkQueueArn,
        ...(this.options.maxMessagesPerSecond
          ? { MaxNumberOfMessagesPerSecond: this.options.maxMessagesPerSecond }
          : {}),
      }),
    );
    return TaskHandle ? { taskHandle: TaskHandle } : {};
  }
}

function kindOf(body: string | undefined): unknown {
  try {
    return (JSON.parse(body ?? "null") as { kind?: unknown } | null)?.kind;
  } catch {
    return undefined;
  }
}

/**
 * The local emulator has no StartMessageMoveTask: receive, send to the chunk queue, delete, for messages of
 * kind "chunk" only; anything else (upload-failure records) is left on the dead-letter queue, visible again.
 */
export class ReceiveSendDeleteMover implements DeadLetterMover {
  constructor(
    private readonly options: { sqs: SQSClient; deadLetterQueueUrl: string; chunkQueueUrl: string },
  ) {}

  async move(): Promise<MoveResult> {
    const { sqs, deadLetterQueueUrl, chunkQueueUrl } = this.options;
    const skipped: string[] = [];
    let moved = 0;
    for (;;) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: deadLetterQueueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          // Hidden for the rest of the pass, so each message is looked at once.
          VisibilityTimeout: 60,
        }),
      );
      if (Messages.length === 0) break;
      for (const message of Messages) {
        if (kindOf(message.Body) !== "chunk") {
          skipped.push(message.ReceiptHandle!);
          continue;
        }
        await sqs.send(new SendMessageCommand({ QueueUrl: chunkQueueUrl, MessageBody: message.Body! }));
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: deadLetterQueueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
        moved++;
      }
    }
    for (const receiptHandle of skipped) {
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: deadLetterQueueUrl,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: 0,
        }),
      );
    }
    return { moved, left: skipped.length };
  }
}
