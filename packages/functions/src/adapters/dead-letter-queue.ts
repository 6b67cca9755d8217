import { createHash } from "node:crypto";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { type DeadLetterRecord, DeadLetterRecordSchema } from "@sluice/core";

export interface DeadLetterQueueOptions {
  client: SQSClient;
  queueUrl: string;
}

/** The queue's name: the last path segment of its URL. */
export function queueNameFromUrl(queueUrl: string): string {
  const path = queueUrl.replace(/[?#].*$/, "").replace(/\/+$/, "");
  return path.slice(path.lastIndexOf("/") + 1) || queueUrl;
}

/** Puts upload-failure records on the dead-letter queue, validated against the contract first. */
export class DeadLetterQueue {
  readonly queueUrl: string;
  readonly name: string;
  private readonly client: SQSClient;

  constructor(options: DeadLetterQueueOptions) {
    this.client = options.client;
    this.queueUrl = options.queueUrl;
    this.name = queueNameFromUrl(options.queueUrl);
  }

  /** Sends the record; returns the SQS message id. Throws if the record breaks the contract or SQS fails. */
  async send(record: DeadLetterRecord): Promise<string | undefined> {
    const body = JSON.stringify(DeadLetterRecordSchema.parse(record));
    const fifo = this.name.endsWith(".fifo");
    const response = await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: body,
        MessageAttributes: {
          kind: { DataType: "String", StringValue: record.kind },
          errorCode: { DataType: "String", StringValue: record.error.code.slice(0, 256) || "UNKNOWN" },
        },
        ...(fifo
          ? {
              MessageGroupId: record.uploadId,
              // A retried NotifyFailure for the same failure is deduplicated by the queue.
              MessageDeduplicationId: createHash("sha256")
                .update(`${record.uploadId}\u0000${record.executionArn ?? ""}\u0000${record.error.code}`)
                .digest("hex"),
            }
          : {}),
      }),
    );
    return response.MessageId;
  }
}
