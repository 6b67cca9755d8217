import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { FauxqsInternals, FauxqsQueue, FauxqsSqsStore } from "./fauxqs-internals.ts";

/**
 * SQS's character rule for a message body (SendMessage, API Reference): `#x9 | #xA | #xD | #x20 to #xD7FF |
 * #xE000 to #xFFFD | #x10000 to #x10FFFF`; anything else is rejected with InvalidMessageContents. With the `u`
 * flag a lone surrogate is one code point (U+D800..U+DFFF), outside every range, so it is rejected too.
 */
const INVALID_SQS_CHARACTER = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
/** fauxqs 1.9.2's rule: UTF-16 code units, so any character above U+FFFF (a surrogate pair) is rejected. */
const FAUXQS_INVALID_CHARACTER = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD]/;

const ALLOWED = "#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF";

/** The first character SQS refuses in `text`, as `#x1F`, or undefined when SQS accepts all of it. */
export function invalidSqsCharacter(text: string): string | undefined {
  const found = INVALID_SQS_CHARACTER.exec(text);
  if (!found) return undefined;
  return `#x${found[0].codePointAt(0)!.toString(16).toUpperCase()}`;
}

/** The code is AWS's (InvalidMessageContents); its text is not documented: this one names the character and the rule. */
function invalidContentsMessage(character: string): string {
  return `Invalid character ${character} found in the message body; the allowed characters are ${ALLOWED}`;
}

class SqsFault extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Entry {
  Id?: string;
  MessageBody?: unknown;
  MessageAttributes?: Record<string, unknown>;
  DelaySeconds?: number;
  MessageGroupId?: string;
  MessageDeduplicationId?: string;
}

const misjudged = (body: unknown) => typeof body === "string" && FAUXQS_INVALID_CHARACTER.test(body);

/**
 * SendMessage and SendMessageBatch with AWS's character rule. Only a request with a body fauxqs's own check
 * would refuse (a character above U+FFFF, or one AWS refuses too) is answered here, with fauxqs's store and
 * its other checks in the same order; every other request goes to fauxqs unchanged.
 */
export function useSqsCharacterRule(
  app: FastifyInstance,
  store: FauxqsSqsStore,
  fauxqs: FauxqsInternals,
): void {
  const send = (queue: FauxqsQueue, entry: Entry) => {
    const body = entry.MessageBody as string;
    const invalid = invalidSqsCharacter(body);
    if (invalid) throw new SqsFault("InvalidMessageContents", invalidContentsMessage(invalid));
    const attributes = entry.MessageAttributes ?? {};
    const max = Number.parseInt(queue.attributes.MaximumMessageSize ?? "1048576", 10);
    if (fauxqs.calculateMessageSize(body, attributes) > max) {
      throw new SqsFault(
        "InvalidParameterValue",
        `One or more parameters are invalid. Reason: Message must be shorter than ${max} bytes.`,
      );
    }
    const result = (message: { messageId: string; md5OfBody: string; md5OfMessageAttributes?: string }) => ({
      MessageId: message.messageId,
      MD5OfMessageBody: message.md5OfBody,
      ...(message.md5OfMessageAttributes ? { MD5OfMessageAttributes: message.md5OfMessageAttributes } : {}),
    });
    const queueDelay = Number.parseInt(queue.attributes.DelaySeconds ?? "0", 10);
    if (!queue.isFifo()) {
      const delay = entry.DelaySeconds ?? queueDelay;
      const message = fauxqs.SqsStore.createMessage(body, attributes, delay > 0 ? delay : undefined);
      queue.enqueue(message);
      return result(message);
    }
    if (!entry.MessageGroupId)
      throw new SqsFault("MissingParameter", "The request must contain the parameter MessageGroupId.");
    if (entry.DelaySeconds !== undefined && entry.DelaySeconds !== 0) {
      throw new SqsFault(
        "InvalidParameterValue",
        `Value ${entry.DelaySeconds} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.`,
      );
    }
    let dedupId = entry.MessageDeduplicationId;
    if (!dedupId) {
      if (queue.attributes.ContentBasedDeduplication !== "true") {
        throw new SqsFault(
          "InvalidParameterValue",
          "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly.",
        );
      }
      dedupId = fauxqs.SqsStore.contentBasedDeduplicationId(body);
    }
    const seen = queue.checkDeduplication(dedupId);
    if (seen.isDuplicate) {
      const digest = fauxqs.md5OfMessageAttributes(attributes);
      return {
        MessageId: seen.originalMessageId,
        MD5OfMessageBody: fauxqs.SqsStore.createMessage(body).md5OfBody,
        ...(digest ? { MD5OfMessageAttributes: digest } : {}),
        SequenceNumber: seen.originalSequenceNumber,
      };
    }
    const message = fauxqs.SqsStore.createMessage(
      body,
      attributes,
      queueDelay > 0 ? queueDelay : undefined,
      entry.MessageGroupId,
      dedupId,
    );
    message.sequenceNumber = queue.nextSequenceNumber();
    queue.recordDeduplication(dedupId, message.messageId, message.sequenceNumber);
    queue.enqueue(message);
    return { ...result(message), SequenceNumber: message.sequenceNumber };
  };

  app.addHook("preHandler", async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.method !== "POST" || request.url !== "/") return;
    if (!String(request.headers["content-type"] ?? "").includes("application/x-amz-json-1.0")) return;
    const action = String(request.headers["x-amz-target"] ?? "").replace("AmazonSQS.", "");
    const input = request.body as { QueueUrl?: string; Entries?: Entry[] } & Entry;
    if (action === "SendMessage" && misjudged(input?.MessageBody)) {
      const queue = input.QueueUrl ? store.getQueue(input.QueueUrl) : undefined;
      if (!queue) return; // fauxqs answers a missing queue as before
      try {
        return answer(reply, 200, send(queue, input));
      } catch (error) {
        if (!(error instanceof SqsFault)) throw error;
        return answer(
          reply,
          400,
          { __type: `com.amazonaws.sqs#${error.code}`, message: error.message },
          error.code,
        );
      }
    }
    if (
      action === "SendMessageBatch" &&
      Array.isArray(input?.Entries) &&
      input.Entries.some((e) => misjudged(e?.MessageBody))
    ) {
      const queue = input.QueueUrl ? store.getQueue(input.QueueUrl) : undefined;
      const entries = input.Entries;
      // The request-level checks (entry count, ids, total size) stay fauxqs's: a batch that fails one goes there.
      if (!queue || !batchIsWellFormed(entries, fauxqs)) return;
      const Successful: unknown[] = [];
      const Failed: unknown[] = [];
      for (const entry of entries) {
        try {
          Successful.push({ Id: entry.Id, ...send(queue, entry) });
        } catch (error) {
          if (!(error instanceof SqsFault)) throw error;
          Failed.push({ Id: entry.Id, SenderFault: true, Code: error.code, Message: error.message });
        }
      }
      return answer(reply, 200, { Successful, Failed });
    }
  });
}

/** fauxqs's own entry id check, so a batch it would refuse for its ids still goes to it. */
const VALID_BATCH_ENTRY_ID = /^[a-zA-Z0-9_-]+$/;
const MAX_BATCH_BYTES = 1_048_576;

function batchIsWellFormed(entries: Entry[], fauxqs: FauxqsInternals): boolean {
  if (entries.length === 0 || entries.length > 10) return false;
  const ids = new Set<string>();
  let size = 0;
  for (const entry of entries) {
    if (typeof entry.Id !== "string" || !VALID_BATCH_ENTRY_ID.test(entry.Id) || ids.has(entry.Id))
      return false;
    if (typeof entry.MessageBody !== "string") return false;
    ids.add(entry.Id);
    size += fauxqs.calculateMessageSize(entry.MessageBody, entry.MessageAttributes ?? {});
  }
  return size <= MAX_BATCH_BYTES;
}

function answer(reply: FastifyReply, status: number, body: unknown, errorCode?: string): FastifyReply {
  reply.status(status).header("content-type", "application/x-amz-json-1.0");
  // The codes answered here carry no awsQueryError trait in SQS's model, so AWS's header is the bare code (the SDK
  // then names the error by it: InvalidMessageContents, not AWS.SimpleQueueService.InvalidMessageContents).
  if (errorCode) reply.header("x-amzn-query-error", `${errorCode};Sender`);
  return reply.send(JSON.stringify(body));
}
