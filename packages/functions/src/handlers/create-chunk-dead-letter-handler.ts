import { SendTaskFailureCommand, type SFNClient } from "@aws-sdk/client-sfn";
import {
  type ChunkEnvelope,
  ChunkEnvelopeSchema,
  TASK_FAILURE_LIMITS,
  type TaskFailureCause,
  TaskFailureCauseSchema,
} from "@sluice/contract";
import { z } from "zod";
import { truncate } from "../alerts/block-kit.ts";
import type { Logger } from "../logger.ts";
import { parseInput } from "../parse-input.ts";

export interface ChunkDeadLetterDeps {
  sfn: SFNClient;
  /** The chunk queue's maxReceiveCount: a dead-lettered chunk was received this many times. */
  maxReceiveCount: number;
  logger: Logger;
}

/** One record of the SQS event Lambda's event source mapping delivers; other fields are ignored. */
export const SqsRecordSchema = z.object({
  messageId: z.string().min(1),
  body: z.string(),
  attributes: z.object({ ApproximateReceiveCount: z.string().optional() }).partial().optional(),
});

export const SqsEventSchema = z.object({ Records: z.array(z.unknown()) });

/** ReportBatchItemFailures: the messages to make visible again (retried); every other one is deleted. */
export interface ChunkDeadLetterOutput {
  batchItemFailures: { itemIdentifier: string }[];
}

/** The SendTaskFailure error of a chunk that went to the dead-letter queue. */
export const CHUNK_DEAD_LETTERED = "CHUNK_DEAD_LETTERED";
/** The SendTaskFailure error of a dead-lettered message that is not a chunk envelope but names a task. */
export const MESSAGE_INVALID = "MESSAGE_INVALID";

/** SendTaskFailure errors that mean the task has already ended: nothing is left to fail. */
const TASK_ENDED = new Set(["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"]);

/** How much of an unreadable body a log line shows. */
const BODY_LOG_LIMIT = 1000;

export function deadLetterCause(envelope: ChunkEnvelope, receiveCount: number): TaskFailureCause {
  const { chunk, uploadId } = envelope;
  const rows = `${chunk.rows.toLocaleString("en-US")} row${chunk.rows === 1 ? "" : "s"}`;
  return {
    message: `Chunk ${chunk.index} (rows ${chunk.firstRow}-${chunk.lastRow}, ${rows}) of upload ${uploadId} was received ${receiveCount} times without an answer: the admin server failed on it or never finished it`,
    code: CHUNK_DEAD_LETTERED,
    chunkIndex: chunk.index,
    firstRow: chunk.firstRow,
    lastRow: chunk.lastRow,
    rows: chunk.rows,
    receiveCount,
  };
}

function causeText(cause: TaskFailureCause): string {
  const parsed = TaskFailureCauseSchema.parse(cause);
  const text = JSON.stringify(parsed);
  if (text.length <= TASK_FAILURE_LIMITS.causeLength) return text;
  return JSON.stringify({
    ...parsed,
    message: truncate(parsed.message, TASK_FAILURE_LIMITS.causeLength / 2),
  });
}

/** The string taskToken of a body that is a JSON object, if it has one. */
function taskTokenOf(body: unknown): string | undefined {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return undefined;
  const token = (body as { taskToken?: unknown }).taskToken;
  return typeof token === "string" && token.trim() !== "" ? token : undefined;
}

type Outcome = "failed-task" | "task-ended" | "dropped" | "retry";

/**
 * Fails the task of each chunk that reached the chunk dead-letter queue (received maxReceiveCount times without an
 * answer), so its child execution fails now instead of at the upload deadline: SendTaskFailure with
 * CHUNK_DEAD_LETTERED and a TaskFailureCause naming the chunk and its rows. A task that already ended (timed
 * out, answered late, aborted) is logged and the message dropped; a failure to call Step Functions (throttling,
 * network) leaves that message for a retry. One bad record never fails the batch.
 */
export function createHandler(deps: ChunkDeadLetterDeps) {
  async function failTask(
    token: string,
    error: string,
    cause: TaskFailureCause,
    log: Record<string, unknown>,
  ): Promise<Outcome> {
    try {
      await deps.sfn.send(new SendTaskFailureCommand({ taskToken: token, error, cause: causeText(cause) }));
      deps.logger.error("Failed the task of a dead-lettered chunk message", {
        ...log,
        code: error,
        cause: cause.message,
      });
      return "failed-task";
    } catch (failure) {
      const name = (failure as Error)?.name ?? "Error";
      if (TASK_ENDED.has(name)) {
        deps.logger.warn("The dead-lettered chunk's task had already ended", { ...log, reason: name });
        return "task-ended";
      }
      deps.logger.error("SendTaskFailure failed; the message is retried", {
        ...log,
        reason: name,
        message: (failure as Error)?.message,
      });
      return "retry";
    }
  }

  async function handle(record: z.infer<typeof SqsRecordSchema>): Promise<Outcome> {
    const log = { messageId: record.messageId };
    let body: unknown;
    try {
      body = JSON.parse(record.body);
    } catch {
      body = undefined;
    }
    const envelope = ChunkEnvelopeSchema.safeParse(body);
    if (envelope.success) {
      const { uploadId, chunk } = envelope.data;
      return failTask(
        envelope.data.taskToken,
        CHUNK_DEAD_LETTERED,
        deadLetterCause(envelope.data, deps.maxReceiveCount),
        { ...log, uploadId, chunkIndex: chunk.index, firstRow: chunk.firstRow, lastRow: chunk.lastRow },
      );
    }
    const token = taskTokenOf(body);
    const problem =
      body === undefined ? "is not JSON" : `is not a chunk envelope: ${z.prettifyError(envelope.error)}`;
    if (token) {
      const uploadId = (body as { uploadId?: unknown }).uploadId;
      return failTask(
        token,
        MESSAGE_INVALID,
        {
          message: truncate(
            `A message on the chunk dead-letter queue ${problem}; it was received ${deps.maxReceiveCount} times without an answer`,
            4000,
          ),
          code: MESSAGE_INVALID,
          receiveCount: deps.maxReceiveCount,
        },
        { ...log, ...(typeof uploadId === "string" ? { uploadId } : {}) },
      );
    }
    deps.logger.error("A dead-lettered message names no task; it is dropped", {
      ...log,
      problem: truncate(problem, BODY_LOG_LIMIT),
      body: truncate(record.body, BODY_LOG_LIMIT),
    });
    return "dropped";
  }

  return async (event: unknown): Promise<ChunkDeadLetterOutput> => {
    const { Records } = parseInput(SqsEventSchema, event, "chunk dead-letter");
    const batchItemFailures: { itemIdentifier: string }[] = [];
    await Promise.all(
      Records.map(async (raw) => {
        const record = SqsRecordSchema.safeParse(raw);
        if (!record.success) {
          // Without a messageId it cannot be retried by itself; Lambda deletes it with the batch.
          deps.logger.error("An SQS record without a messageId or body is skipped", {
            record: truncate(JSON.stringify(raw) ?? String(raw), BODY_LOG_LIMIT),
          });
          return;
        }
        let outcome: Outcome;
        try {
          outcome = await handle(record.data);
        } catch (error) {
          deps.logger.error("Handling a dead-lettered message failed; it is retried", {
            messageId: record.data.messageId,
            error: error as Error,
          });
          outcome = "retry";
        }
        if (outcome === "retry") batchItemFailures.push({ itemIdentifier: record.data.messageId });
      }),
    );
    return { batchItemFailures };
  };
}
