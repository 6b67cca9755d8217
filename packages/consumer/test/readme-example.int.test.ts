import { readFileSync } from "node:fs";
import { TaskResultSchema, unpackRejectedRows } from "@sluice/contract";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startChunkConsumer } from "../src/examples/minimal.ts";
import { chunkObjectOf, makeChunk } from "./support/envelopes.ts";
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

  async function run(queueUrl: string, until: (status: { processed: number; failed: number }) => boolean) {
    const listenersBefore = process.listeners("SIGTERM");
    const consumer = startChunkConsumer(queueUrl, aws.sqs, aws.sfn, aws.s3);
    try {
      await waitFor(() => until(consumer.status));
    } finally {
      await consumer.stop();
      for (const listener of process.listeners("SIGTERM")) {
        if (!listenersBefore.includes(listener)) process.off("SIGTERM", listener);
      }
    }
  }

  it("runs: saves rows with a sku, rejects rows without one", async () => {
    vi.spyOn(console, "info").mockImplementation(() => {});
    const queue = aws.createQueue();
    const chunk = makeChunk(0, { uploadId: "readme", rows: 3 });
    // Row 3 without a sku: on the wire `[row, sku, qty]`, the handler sees `data.sku === null`.
    chunk.rows[1] = [3, null, 1];
    await aws.sendChunks(queue.url, chunkObjectOf([chunk]));
    await run(queue.url, (status) => status.processed === 1);
    const result = TaskResultSchema.parse(
      JSON.parse(aws.sfnFake.accepted("SendTaskSuccess")[0]?.output ?? ""),
    );
    expect(result.accepted).toBe(2);
    expect(unpackRejectedRows(result.rejected)).toEqual([
      { row: 3, code: "SKU_MISSING", message: "The sku column is empty" },
    ]);
  });

  it("runs: refuses an upload over its row limit with ChunkRejectedError", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const queue = aws.createQueue();
    const object = chunkObjectOf([makeChunk(0, { uploadId: "huge" })], { totalChunks: 1_000_000 });
    await aws.sendChunks(queue.url, object);
    await run(queue.url, (status) => status.failed === 1);
    const [failure] = aws.sfnFake.accepted("SendTaskFailure");
    expect(failure).toMatchObject({ taskToken: "token-huge-0", error: "CHUNK_REJECTED" });
    expect(JSON.parse(failure?.cause ?? "")).toMatchObject({
      message: "Uploads are limited to 1,000,000 rows, this one has 3000000",
      chunkIndex: 0,
    });
  });
});
