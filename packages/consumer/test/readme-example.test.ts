import { readFileSync } from "node:fs";
import { TaskResultSchema } from "@sluice/core/contract";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startChunkConsumer } from "../src/examples/minimal.ts";
import { makeEnvelope } from "./support/envelopes.ts";
import { type LocalAws, startLocalAws, waitFor } from "./support/local-aws.ts";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const example = readFileSync(new URL("../src/examples/minimal.ts", import.meta.url), "utf8");

let aws: LocalAws;
beforeEach(async () => {
  aws = await startLocalAws();
});
afterEach(async () => {
  await aws.close();
});

describe("README usage snippet", () => {
  it("is src/examples/minimal.ts, verbatim (which tsc checks)", () => {
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
  });

  it("runs: saves rows with a sku, rejects rows without one", async () => {
    vi.spyOn(console, "info").mockImplementation(() => {});
    const queue = aws.createQueue();
    const envelope = makeEnvelope(0, { uploadId: "readme", rows: 3 });
    const second = envelope.chunk.rows[1];
    if (second) second.data = { qty: 1 };
    await aws.send(queue.url, envelope);
    const listenersBefore = process.listeners("SIGTERM");
    const consumer = startChunkConsumer(queue.url, aws.sqs, aws.sfn);
    try {
      await waitFor(() => consumer.status.processed === 1);
    } finally {
      await consumer.stop();
      for (const listener of process.listeners("SIGTERM")) {
        if (!listenersBefore.includes(listener)) process.off("SIGTERM", listener);
      }
    }
    const result = TaskResultSchema.parse(
      JSON.parse(aws.sfnFake.accepted("SendTaskSuccess")[0]?.output ?? ""),
    );
    expect(result).toMatchObject({
      accepted: 2,
      rejected: [{ row: 3, code: "SKU_MISSING", message: "The sku column is empty" }],
    });
  });
});
