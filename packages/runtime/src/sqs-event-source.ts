import { setTimeout as sleep } from "node:timers/promises";
import {
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type {
  SQSBatchResponse,
  SQSEvent,
  SQSMessageAttributes,
  SQSRecord,
  SQSRecordAttributes,
} from "aws-lambda";

/** A function as an SQS event source mapping invokes it: one event per batch, a partial batch response back. */
export type SqsEventHandler = (
  event: SQSEvent,
  // biome-ignore lint/suspicious/noConfusingVoidType: a function may return nothing, as aws-lambda's SQSHandler types it
) => Promise<SQSBatchResponse | undefined | null | void> | SQSBatchResponse | undefined | null | void;

export interface SqsEventSourceOptions {
  sqs: SQSClient;
  queueUrl: string;
  /** The queue's ARN: each record's `eventSourceARN`. */
  queueArn: string;
  /** Each record's `awsRegion`. */
  region: string;
  /** Messages per invocation, 1 to 10 (the mapping's BatchSize without a batching window). Default 10. */
  batchSize?: number;
  /** Long-poll wait of each ReceiveMessage, 1 to 20 s (Lambda always long-polls). Default 20. */
  waitTimeSeconds?: number;
  /**
   * The mapping's `FunctionResponseTypes: ["ReportBatchItemFailures"]`. Default true (sluice's mappings set it).
   * When false, Lambda ignores what the function returns and deletes the whole batch if it does not throw.
   */
  reportBatchItemFailures?: boolean;
  handler: SqsEventHandler;
  /** Handler errors, SQS errors, and partial batch responses that fail the whole batch. Default: console.error. */
  onError?: (error: unknown) => void;
  /** Pause before polling again after an error. Default 1000 ms. */
  errorBackoffMs?: number;
}

export interface SqsEventSource {
  /** Aborts the pending poll, waits for the batch in flight (handler and deletes), and stops. */
  stop(): Promise<void>;
}

/** Failures the event source reports through `onError`, with the batch they concern. */
export class SqsEventSourceError extends Error {
  constructor(
    message: string,
    readonly messageIds: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SqsEventSourceError";
  }
}

/** System attributes Lambda copies into `record.attributes` when SQS returns them. */
const RECORD_ATTRIBUTES = [
  "ApproximateReceiveCount",
  "SentTimestamp",
  "SenderId",
  "ApproximateFirstReceiveTimestamp",
  "AWSTraceHeader",
  "SequenceNumber",
  "MessageGroupId",
  "MessageDeduplicationId",
  "DeadLetterQueueSourceArn",
] as const;

function recordAttributes(attributes: Message["Attributes"]): SQSRecordAttributes {
  const source = (attributes ?? {}) as Record<string, string | undefined>;
  const result: Record<string, string> = {
    ApproximateReceiveCount: source.ApproximateReceiveCount ?? "",
    SentTimestamp: source.SentTimestamp ?? "",
    SenderId: source.SenderId ?? "",
    ApproximateFirstReceiveTimestamp: source.ApproximateFirstReceiveTimestamp ?? "",
  };
  for (const name of RECORD_ATTRIBUTES) {
    const value = source[name];
    if (value !== undefined) result[name] = value;
  }
  return result as unknown as SQSRecordAttributes;
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

/** SDK message attributes as Lambda writes them: camelCase, binary as base64, the list fields always present. */
function recordMessageAttributes(
  attributes: Record<string, MessageAttributeValue> | undefined,
): SQSMessageAttributes {
  const result: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    result[name] = {
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { binaryValue: base64(value.BinaryValue) } : {}),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map(base64),
      dataType: value.DataType ?? "String",
    };
  }
  return result;
}

/**
 * The record Lambda builds from a received message; the shape of the example events on "Using Lambda with Amazon
 * SQS" (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html): `messageAttributes` is `{}` when there are
 * none, timestamps and counts are strings, `eventSource` is `aws:sqs`.
 */
export function sqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  return {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: recordAttributes(message.Attributes),
    messageAttributes: recordMessageAttributes(message.MessageAttributes),
    md5OfBody: message.MD5OfBody ?? "",
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/** What to delete after an invocation that returned `response`: the records' message IDs, or why none. */
export type BatchOutcome = { ok: true; failed: ReadonlySet<string> } | { ok: false; reason: string };

/**
 * Reads a partial batch response, per "Handling errors for an SQS event source in Lambda"
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html), "Success and failure conditions":
 * the batch is a complete success for an empty or null `batchItemFailures` list, or an empty or null response; it
 * is a complete failure for an invalid response, an empty or null `itemIdentifier`, an `itemIdentifier` under a bad
 * key name, or an `itemIdentifier` that is not a message ID of the batch. A response that is not a JSON object
 * (a string, a number, an array) is taken as invalid.
 */
export function readBatchResponse(response: unknown, messageIds: readonly string[]): BatchOutcome {
  if (response === undefined || response === null) return { ok: true, failed: new Set() };
  if (typeof response !== "object" || Array.isArray(response)) {
    return {
      ok: false,
      reason: `the function returned ${JSON.stringify(response)}, not a batch response object`,
    };
  }
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { ok: true, failed: new Set() };
  if (!Array.isArray(failures)) return { ok: false, reason: "batchItemFailures is not a list" };
  const known = new Set(messageIds);
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== "string" || id === "") {
      return {
        ok: false,
        reason: `a batch item failure without an itemIdentifier: ${JSON.stringify(failure)}`,
      };
    }
    if (!known.has(id))
      return { ok: false, reason: `itemIdentifier ${JSON.stringify(id)} is not in the batch` };
    failed.add(id);
  }
  return { ok: true, failed };
}

/**
 * A Lambda SQS event source mapping, as "Using Lambda with Amazon SQS"
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html) and "Handling errors for an SQS event source in
 * Lambda" (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html) describe it: it long-polls
 * the queue, invokes the handler synchronously with each batch, and on success deletes the batch's messages. With
 * ReportBatchItemFailures only the messages the function lists stay; if the function throws, none is deleted and
 * the whole batch comes back after the visibility timeout (the queue's redrive policy then moves it to the
 * dead-letter queue, as on AWS). One poller, not Lambda's scaling fleet: batches are handled one at a time.
 *
 * Nothing here rejects: handler and SQS errors go to `onError` and polling resumes after `errorBackoffMs`.
 */
export function startSqsEventSource(options: SqsEventSourceOptions): SqsEventSource {
  const {
    sqs,
    queueUrl,
    queueArn,
    region,
    handler,
    batchSize = 10,
    waitTimeSeconds = 20,
    reportBatchItemFailures = true,
    errorBackoffMs = 1000,
  } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) {
    throw new RangeError(`batchSize must be an integer from 1 to 10, not ${batchSize}`);
  }
  if (!Number.isInteger(waitTimeSeconds) || waitTimeSeconds < 1 || waitTimeSeconds > 20) {
    throw new RangeError(`waitTimeSeconds must be an integer from 1 to 20, not ${waitTimeSeconds}`);
  }
  const onError = (error: unknown) => {
    try {
      (options.onError ?? ((e: unknown) => console.error("sqs event source:", e)))(error);
    } catch {
      // an onError that throws must not stop the poller
    }
  };
  const controller = new AbortController();
  let stopping = false;

  const backoff = async () => {
    try {
      await sleep(errorBackoffMs, undefined, { signal: controller.signal });
    } catch {
      // aborted by stop()
    }
  };

  async function deleteMessages(records: readonly SQSRecord[]): Promise<void> {
    for (let start = 0; start < records.length; start += 10) {
      const slice = records.slice(start, start + 10);
      try {
        const result = await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: slice.map((record, i) => ({ Id: String(i), ReceiptHandle: record.receiptHandle })),
          }),
        );
        if (result.Failed?.length) {
          const ids = result.Failed.map((f) => slice[Number(f.Id)]?.messageId ?? f.Id ?? "");
          onError(
            new SqsEventSourceError(
              `could not delete ${ids.length} message(s): ${result.Failed.map((f) => f.Code).join(", ")}`,
              ids,
            ),
          );
        }
      } catch (error) {
        onError(
          new SqsEventSourceError(
            "DeleteMessageBatch failed",
            slice.map((r) => r.messageId),
            { cause: error },
          ),
        );
      }
    }
  }

  /** Returns true when polling should pause (the handler failed). */
  async function handleBatch(messages: Message[]): Promise<boolean> {
    const records = messages.map((message) => sqsRecord(message, queueArn, region));
    const ids = records.map((r) => r.messageId);
    let response: unknown;
    try {
      response = await handler({ Records: records });
    } catch (error) {
      onError(
        new SqsEventSourceError("the function failed; the batch stays in the queue", ids, { cause: error }),
      );
      return true;
    }
    if (!reportBatchItemFailures) {
      await deleteMessages(records);
      return false;
    }
    const outcome = readBatchResponse(response, ids);
    if (!outcome.ok) {
      onError(
        new SqsEventSourceError(
          `invalid partial batch response, the whole batch stays in the queue: ${outcome.reason}`,
          ids,
        ),
      );
      return true;
    }
    await deleteMessages(records.filter((record) => !outcome.failed.has(record.messageId)));
    return false;
  }

  const loop = (async () => {
    while (!stopping) {
      let messages: Message[];
      try {
        const result = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: batchSize,
            WaitTimeSeconds: waitTimeSeconds,
            MessageSystemAttributeNames: ["All"],
            MessageAttributeNames: ["All"],
          }),
          { abortSignal: controller.signal },
        );
        messages = result.Messages ?? [];
      } catch (error) {
        if (stopping) break;
        onError(new SqsEventSourceError("ReceiveMessage failed", [], { cause: error }));
        await backoff();
        continue;
      }
      if (messages.length === 0) continue;
      if (await handleBatch(messages)) await backoff();
    }
  })().catch(onError);

  return {
    async stop() {
      stopping = true;
      controller.abort();
      await loop;
    },
  };
}
