import { StopExecutionCommand } from "@aws-sdk/client-sfn";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import type { LocalRuntime, RuntimeEvent } from "@sluice/runtime";
import {
  ordersCsv,
  runtimeWith,
  stopAfterTest,
  useRuntimeCleanup,
} from "@sluice/test-support/runtime-harness";
import { describe, expect, it } from "vitest";
import {
  type ChunkConsumerOptions,
  type ChunkHandlerResult,
  type ConsumerEvents,
  createChunkConsumer,
} from "../src/index.ts";
import { waitFor } from "./support/local-aws.ts";

/**
 * The consumer against the local runtime: the stack's own state machine, real task tokens from its Step Functions
 * API (SendTaskHeartbeat included) and the emulator's chunk queue with its redrive policy.
 */

useRuntimeCleanup();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function consumerOn(runtime: LocalRuntime, options: Partial<ChunkConsumerOptions>) {
  const events: { [K in keyof ConsumerEvents]?: ConsumerEvents[K][] } = {};
  const consumer = createChunkConsumer({
    ...runtime.adminServerConnection(),
    waitTimeSeconds: 1,
    heartbeatSeconds: 0.5,
    visibilityTimeoutSeconds: 10,
    handler: async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }),
    ...options,
  });
  for (const name of ["chunk_released", "token_stale", "chunk_failed", "error"] as const) {
    consumer.on(name, (payload) => {
      if (!events[name]) events[name] = [];
      (events[name] as unknown[]).push(payload);
    });
  }
  consumer.start();
  stopAfterTest(() => consumer.stop({ timeoutMs: 2_000 }));
  return { consumer, events };
}

async function messagesLeft(runtime: LocalRuntime): Promise<number> {
  const { Attributes = {} } = await runtime.emulator.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: runtime.queueUrls.chunks, AttributeNames: ["All"] }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages) +
    Number(Attributes.ApproximateNumberOfMessagesNotVisible) +
    Number(Attributes.ApproximateNumberOfMessagesDelayed)
  );
}

describe("chunk consumer on the local runtime", () => {
  it("a handler that hangs forever: its slot is freed, the chunk comes back and a healthy try completes the upload", async () => {
    const runtime = await runtimeWith({ config: { chunkRows: 100 } });
    const attempts: string[] = [];
    let answerLate: (result: ChunkHandlerResult) => void = () => {};
    const { events } = consumerOn(runtime, {
      concurrency: 1,
      handlerTimeoutSeconds: 1,
      handler: async (chunk, ctx) => {
        attempts.push(`${chunk.index}#${ctx.receiveCount}`);
        if (chunk.index === 0 && ctx.receiveCount === 1) {
          // Hangs, deaf to ctx.signal: before handlerTimeoutSeconds, it held the only slot for good.
          return new Promise((resolve) => {
            answerLate = resolve;
          });
        }
        return { accepted: chunk.rows.length, rejected: [] };
      },
    });
    const upload = await runtime.upload(ordersCsv(300), "hung-handler.csv");
    const execution = await runtime.waitForExecution(upload.executionArn);

    expect(execution.status).toBe("SUCCEEDED");
    expect(execution.output).toMatchObject({
      rows: 300,
      chunks: 3,
      accepted: 300,
      rejected: 0,
      chunksFailed: 0,
    });
    // Chunk 0's first try timed out; its slot served the other chunks; its second try answered it.
    expect(attempts.filter((a) => a.startsWith("0#"))).toEqual(["0#1", "0#2"]);
    expect(attempts.sort()).toEqual(["0#1", "0#2", "1#1", "2#1"]);
    expect(events.chunk_released).toEqual([
      expect.objectContaining({ chunkIndex: 0, receiveCount: 1, error: "HANDLER_TIMED_OUT" }),
    ]);

    // The hung try answers at last, with a result that would be wrong: it is never sent (a sent answer would
    // find the token already answered and show up as token_stale).
    answerLate({ accepted: 999, rejected: [] });
    await sleep(300);
    expect(events.token_stale ?? []).toEqual([]);
    expect(events.error ?? []).toEqual([]);
    expect(await messagesLeft(runtime)).toBe(0);
  });

  it("a chunk whose token died while it waited (the execution was stopped): never handled, message deleted", async () => {
    const runtime = await runtimeWith({ config: { chunkRows: 100 } });
    const sent = new Set<number>();
    runtime.on("progress", (event: RuntimeEvent) => {
      if (event.type === "chunk_sent") sent.add(event.index);
    });
    const upload = await runtime.upload(ordersCsv(200), "stopped-upload.csv");
    await waitFor(() => sent.size === 2, 20_000, "both chunk messages sent");
    await runtime
      .sfnClient()
      .send(new StopExecutionCommand({ executionArn: upload.executionArn, cause: "operator stopped it" }));
    expect((await runtime.waitForExecution(upload.executionArn)).status).toBe("ABORTED");
    expect(await messagesLeft(runtime)).toBe(2);

    const handled: number[] = [];
    const { events } = consumerOn(runtime, {
      handler: async (chunk) => {
        handled.push(chunk.index);
        return { accepted: chunk.rows.length, rejected: [] };
      },
    });
    await waitFor(() => (events.token_stale?.length ?? 0) === 2, 20_000, "both chunks found stale");
    expect(handled).toEqual([]);
    expect(
      events.token_stale?.map((e) => [e.chunkIndex, e.during, e.awsErrorName, e.deleted]).sort(),
    ).toEqual([
      [0, "receive", "TaskTimedOut", true],
      [1, "receive", "TaskTimedOut", true],
    ]);
    expect(events.chunk_failed ?? []).toEqual([]);
    expect(events.error ?? []).toEqual([]);
    expect(await messagesLeft(runtime)).toBe(0);
  });
});
