import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { type ConsumerEvents, createChunkConsumer } from "@sluice/consumer";
import { CONTRACT_VERSION } from "@sluice/contract";
import { failOnCrash } from "@sluice/test-support/crash-watch";
import {
  ordersCsv,
  runtimeWith,
  stopAfterTest,
  useRuntimeCleanup,
} from "@sluice/test-support/runtime-harness";
import { describe, expect, it } from "vitest";
import type { RuntimeEvent } from "../../src/local-runtime.ts";

/**
 * Messages on the chunk queue that are not chunk envelopes, in the middle of an upload. The consumer's README
 * ("What happens to each message", step 1): a malformed message emits `message_invalid`, is answered with
 * SendTaskFailure(MESSAGE_INVALID) if it carries a token, is neither deleted nor extended, and after the queue's
 * maxReceiveCount SQS moves it to the dead-letter queue, whose handler fails the task it names or drops it.
 */

useRuntimeCleanup();
failOnCrash();

const waitFor = async (what: () => boolean, timeoutMs: number) => {
  const until = Date.now() + timeoutMs;
  while (!what()) {
    if (Date.now() > until) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

describe("a malformed message on the chunk queue", () => {
  it("is reported and dead-lettered, the consumer keeps going, and the upload beside it gets every row once", async () => {
    const runtime = await runtimeWith({
      config: { chunkRows: 50, maxReceiveCount: 2, visibilityTimeoutSeconds: 1 },
    });
    const progress: RuntimeEvent[] = [];
    runtime.on("progress", (e: RuntimeEvent) => progress.push(e));
    const rows = new Map<number, number>();
    const consumer = createChunkConsumer({
      ...runtime.adminServerConnection(),
      concurrency: 4,
      waitTimeSeconds: 1,
      // A malformed message comes back after this: short, so it reaches the dead-letter queue in seconds.
      visibilityTimeoutSeconds: 1,
      heartbeatSeconds: 0.5,
      handler: async (chunk) => {
        for (const { row } of chunk.rows) rows.set(row, (rows.get(row) ?? 0) + 1);
        return { accepted: chunk.rows.length, rejected: [] };
      },
    });
    const invalid: ConsumerEvents["message_invalid"][] = [];
    consumer.on("message_invalid", (e) => invalid.push(e));
    consumer.start();
    stopAfterTest(() => consumer.stop({ timeoutMs: 2_000 }));

    const bodies = {
      notJson: "this is not JSON {",
      wrongSchema: JSON.stringify({ v: CONTRACT_VERSION, uploadId: "nobody", chunk: { index: "zero" } }),
      forgedToken: JSON.stringify({ taskToken: "sluice-local-forged", uploadId: "nobody" }),
      // Near the 256 KiB every SQS queue has long accepted.
      huge: JSON.stringify({ v: CONTRACT_VERSION, padding: "x".repeat(250 * 1024) }),
    };
    const sqs = runtime.emulator.sqs;
    const sent = new Map<string, string>();
    const upload = await runtime.upload(ordersCsv(300), "orders.csv");
    for (const [name, body] of Object.entries(bodies)) {
      const { MessageId } = await sqs.send(
        new SendMessageCommand({ QueueUrl: runtime.queueUrls.chunks, MessageBody: body }),
      );
      sent.set(MessageId!, name);
    }

    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("SUCCEEDED");
    expect(rows.size).toBe(300);
    expect([...rows.values()].every((n) => n === 1)).toBe(true);

    // Each malformed message: reported by the consumer, then dead-lettered and handled (not a chunk).
    const deadLettered = () =>
      progress.filter(
        (e): e is Extract<RuntimeEvent, { type: "dead_lettered" }> =>
          e.type === "dead_lettered" && sent.has(e.messageId),
      );
    await waitFor(() => deadLettered().length === sent.size, 20_000);
    expect(deadLettered().every((e) => e.chunk === null)).toBe(true);
    const reported = new Map(invalid.map((e) => [sent.get(e.messageId), e.reason]));
    expect(Object.fromEntries(reported)).toEqual({
      notJson: "json",
      wrongSchema: "schema",
      forgedToken: "schema",
      huge: "schema",
    });
    // The consumer is still serving: a second upload after all that.
    const next = await runtime.upload(ordersCsv(60), "orders-2.csv");
    expect((await runtime.waitForExecution(next.executionArn)).status).toBe("SUCCEEDED");
    expect(runtime.tokens.pending).toBe(0);
  });
});
