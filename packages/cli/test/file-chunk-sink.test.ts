import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Chunk } from "@sluice/contract";
import { bufferSource, convertWorkbook } from "@sluice/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileChunkSink } from "../src/file-chunk-sink.ts";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-file-sink-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("FileChunkSink", () => {
  it("writes every chunk's bytes before taking the next (the writer lends them, then fills them again)", async () => {
    // Chunks of a few KiB: far below the write stream's buffer, so a write that only queued the bytes would
    // return at once and the writer would overwrite them before they reach the file.
    const csv = [
      "id,name,city",
      ...Array.from({ length: 60_000 }, (_, i) => `${i},name ${i},city ${i % 17}`),
    ];
    const out = join(dir, "out");
    const sink = await FileChunkSink.create(out);
    const manifest = await convertWorkbook({
      source: bufferSource(Buffer.from(csv.join("\n")), "orders.csv"),
      uploadId: "u-file-sink",
      sink,
      options: { chunkRows: 10_000, chunkBytes: 4096 },
    });
    await sink.commit(manifest);
    const lines = (await readFile(join(out, "chunks.jsonl"), "utf8")).trimEnd().split("\n");
    expect(manifest.totalChunks).toBeGreaterThan(20);
    expect(lines).toHaveLength(manifest.totalChunks);
    const chunks = lines.map((line) => JSON.parse(line) as Chunk);
    expect(chunks.every((c) => c.columns.join() === "id,name,city")).toBe(true);
    // Each row `[row, id, name, city]`.
    expect(chunks.flatMap((c) => c.rows.map((r) => r[1]))).toEqual(
      Array.from({ length: 60_000 }, (_, i) => String(i)),
    );
  });
});
