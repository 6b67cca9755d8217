import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { GetObjectCommandInput, GetObjectCommandOutput, S3Client } from "@aws-sdk/client-s3";
import {
  type Chunk,
  type ChunkEnvelope,
  type ChunkPointer,
  CONTRACT_VERSION,
  keyedChunk,
} from "@sluice/contract";
import { describe, expect, it, vi } from "vitest";
import { fetchChunk } from "../src/index.ts";
import { makeChunk, makeChunkObject, serveObjects } from "./support/envelopes.ts";

const MAX = 64 * 1024 * 1024;
const upload = makeChunkObject("u1", { count: 3 });

/** An S3Client whose send() answers GetObject with `answer(input)`. */
function s3Answering(answer: (input: GetObjectCommandInput) => Partial<GetObjectCommandOutput>) {
  const send = vi.fn(async (command: { input: GetObjectCommandInput }) => answer(command.input));
  return { client: { send } as unknown as S3Client, send };
}

function envelope(index: number): Pick<ChunkEnvelope, "uploadId" | "chunk"> {
  const pointer = upload.pointers[index];
  if (!pointer) throw new Error(`no chunk ${index}`);
  return { uploadId: "u1", chunk: pointer };
}

/** A pointer to `bytes` (its own object) that names chunk 1 of u1 (rows 5 to 7, 3 rows). */
function pointerTo(bytes: Buffer, overrides: Partial<ChunkPointer> = {}): ChunkPointer {
  return {
    index: 1,
    chunkId: "u1/000001",
    firstRow: 5,
    lastRow: 7,
    rows: 3,
    bucket: "b",
    key: "k",
    offset: 0,
    length: bytes.length,
    sha256: createHash("sha256").update(bytes).digest("base64"),
    ...overrides,
  };
}

function servingOnly(bytes: Buffer) {
  return s3Answering(() => ({ Body: Readable.from([bytes]) as never, ContentLength: bytes.length }));
}

describe("fetchChunk", () => {
  it("reads exactly the pointer's byte range and returns the chunk, its rows keyed by column", async () => {
    const objects = new Map([[`${upload.bucket}/${upload.key}`, upload.body]]);
    const { client, send } = s3Answering(serveObjects(objects));
    const fetched = await fetchChunk(client, envelope(2), { maxChunkBytes: MAX });
    expect(fetched).toStrictEqual(keyedChunk(upload.chunks[2]!));
    expect(fetched).toStrictEqual({
      v: CONTRACT_VERSION,
      uploadId: "u1",
      index: 2,
      chunkId: "u1/000002",
      firstRow: 8,
      lastRow: 10,
      columns: ["sku", "qty"],
      rows: [
        { row: 8, data: { sku: "A-2-0", qty: 0 } },
        { row: 9, data: { sku: "A-2-1", qty: 1 } },
        { row: 10, data: { sku: "A-2-2", qty: 2 } },
      ],
    });
    const pointer = upload.pointers[2] as ChunkPointer;
    expect(send.mock.calls[0]?.[0].input).toEqual({
      Bucket: upload.bucket,
      Key: upload.key,
      Range: `bytes=${pointer.offset}-${pointer.offset + pointer.length - 1}`,
    });
  });

  it("hands each row its cell warnings, keyed like its values; empty cells are null", async () => {
    const chunk: Chunk = {
      ...makeChunk(1, { uploadId: "u1" }),
      rows: [
        [5, "A-1", 3],
        [6, "B-2", null],
        [7, null, 1],
      ],
      warnings: [
        { row: 6, column: "qty", code: "CELL_ERROR_VALUE", message: "#N/A read as empty" },
        { row: 6, column: "sku", code: "NUMBER_AS_TEXT", message: "text" },
      ],
    };
    const line = Buffer.from(JSON.stringify(chunk));
    const fetched = await fetchChunk(
      servingOnly(line).client,
      { uploadId: "u1", chunk: pointerTo(line) },
      { maxChunkBytes: MAX },
    );
    expect(fetched.rows).toStrictEqual([
      { row: 5, data: { sku: "A-1", qty: 3 } },
      {
        row: 6,
        data: { sku: "B-2", qty: null },
        warnings: [
          { column: "qty", code: "CELL_ERROR_VALUE", message: "#N/A read as empty" },
          { column: "sku", code: "NUMBER_AS_TEXT", message: "text" },
        ],
      },
      { row: 7, data: { sku: null, qty: 1 } },
    ]);
    expect(fetched).not.toHaveProperty("warnings");
  });

  it("stops reading a body longer than the pointer's length at once and destroys the stream", async () => {
    let produced = 0;
    const endless = new Readable({
      read() {
        produced++;
        this.push(Buffer.alloc(1024, 0x20));
      },
    });
    const { client } = s3Answering(() => ({ Body: endless as never }));
    const pointer = pointerTo(Buffer.alloc(10_000));
    await expect(
      fetchChunk(client, { uploadId: "u1", chunk: pointer }, { maxChunkBytes: MAX }),
    ).rejects.toMatchObject({
      code: "CHUNK_CHECKSUM_MISMATCH",
      retryable: false,
      message: expect.stringMatching(/more than the pointer's 10000 bytes were returned/),
    });
    expect(endless.destroyed).toBe(true);
    // Node reads ahead a little (highWaterMark), never unbounded.
    expect(produced).toBeLessThan(40);
  });

  it.each<[string, () => ReturnType<typeof s3Answering>, RegExp]>([
    [
      "a body shorter than the pointer says",
      () => s3Answering(() => ({ Body: Readable.from([Buffer.from("{}")]) as never })),
      /2 bytes were read, the pointer says 100/,
    ],
    [
      "a Content-Length other than the pointer's",
      () => s3Answering(() => ({ Body: Readable.from([Buffer.alloc(100)]) as never, ContentLength: 250 })),
      /GetObject returned 250 bytes, the pointer says 100/,
    ],
    [
      "a Content-Range other than the one asked for",
      () =>
        s3Answering(() => ({
          Body: Readable.from([Buffer.alloc(100)]) as never,
          ContentRange: "bytes 0-99/500",
        })),
      /GetObject returned the range "bytes 0-99\/500"/,
    ],
    [
      "InvalidRange (the object ends before the range)",
      () =>
        s3Answering(() => {
          throw Object.assign(new Error("range"), {
            name: "InvalidRange",
            $metadata: { httpStatusCode: 416 },
          });
        }),
      /the object ends before the pointer's byte range/,
    ],
  ])("refuses %s as CHUNK_CHECKSUM_MISMATCH", async (_, make, message) => {
    const { client } = make();
    const pointer = pointerTo(Buffer.alloc(100), { offset: 200 });
    await expect(
      fetchChunk(client, { uploadId: "u1", chunk: pointer }, { maxChunkBytes: MAX }),
    ).rejects.toMatchObject({
      code: "CHUNK_CHECKSUM_MISMATCH",
      message: expect.stringMatching(message),
    });
  });

  it("refuses bytes whose SHA-256 is not the pointer's as CHUNK_CHECKSUM_MISMATCH", async () => {
    const line = Buffer.from(JSON.stringify(makeChunk(1, { uploadId: "u1" })));
    const pointer = pointerTo(line, { sha256: createHash("sha256").update("other").digest("base64") });
    await expect(
      fetchChunk(servingOnly(line).client, { uploadId: "u1", chunk: pointer }, { maxChunkBytes: MAX }),
    ).rejects.toMatchObject({
      code: "CHUNK_CHECKSUM_MISMATCH",
      message: expect.stringMatching(
        /^Chunk 1 \(rows 5 to 7, s3:\/\/b\/k bytes 0-\d+\) is not the chunk .*SHA-256/,
      ),
    });
  });

  it.each<[string, unknown, string, RegExp]>([
    ["not JSON", "{nope", "u1", /is not JSON/],
    ["not a Chunk", { ...makeChunk(1, { uploadId: "u1" }), v: 1 }, "u1", /is not a sluice Chunk: v: /],
    [
      "another upload's chunk",
      makeChunk(1, { uploadId: "u2" }),
      "u1",
      /uploadId "u2", the message's is "u1"/,
    ],
    [
      "another chunk of the upload",
      makeChunk(2, { uploadId: "u1" }),
      "u1",
      /index 2, the pointer's is 1; chunkId "u1\/000002", the pointer's is "u1\/000001"; firstRow 8/,
    ],
    [
      "a chunk with other rows",
      makeChunk(1, { uploadId: "u1", rows: 4 }),
      "u1",
      /4 rows, the pointer says 3/,
    ],
    [
      "a chunk with a row narrower than its columns",
      {
        ...makeChunk(1, { uploadId: "u1" }),
        rows: [
          [5, "A", 1],
          [6, "B"],
          [7, "C", 3],
        ],
      },
      "u1",
      /is not a sluice Chunk: rows\.1: has 1 values, the chunk has 2 columns/,
    ],
    [
      "a contract 2 chunk (rows keyed by name)",
      {
        ...makeChunk(1, { uploadId: "u1" }),
        v: 2,
        columns: undefined,
        rows: [5, 6, 7].map((row) => ({ row, data: { sku: "A", qty: 1 } })),
      },
      "u1",
      /is not a sluice Chunk: v: .*rows\.0/,
    ],
  ])(
    "refuses content that is %s as CHUNK_INVALID, checksum intact",
    async (_, content, uploadId, message) => {
      const line = Buffer.from(typeof content === "string" ? content : JSON.stringify(content));
      const pointer = pointerTo(line, content === "{nope" ? {} : { lastRow: 7 });
      await expect(
        fetchChunk(servingOnly(line).client, { uploadId, chunk: pointer }, { maxChunkBytes: MAX }),
      ).rejects.toMatchObject({
        code: "CHUNK_INVALID",
        retryable: false,
        message: expect.stringMatching(message),
      });
    },
  );

  it("refuses a pointer over maxChunkBytes as CHUNK_TOO_LARGE without calling S3", async () => {
    const { client, send } = servingOnly(Buffer.alloc(0));
    await expect(fetchChunk(client, envelope(0), { maxChunkBytes: 10 })).rejects.toMatchObject({
      code: "CHUNK_TOO_LARGE",
    });
    expect(send).not.toHaveBeenCalled();
  });

  it("passes S3 errors through unchanged (the consumer retries and then releases the chunk)", async () => {
    const denied = Object.assign(new Error("Access Denied"), { name: "AccessDenied" });
    const { client } = s3Answering(() => {
      throw denied;
    });
    await expect(fetchChunk(client, envelope(0), { maxChunkBytes: MAX })).rejects.toBe(denied);
  });

  it("stops reading when the signal aborts mid-body", async () => {
    const abort = new AbortController();
    const slow = new Readable({ read() {} });
    slow.push(Buffer.alloc(10));
    const { client } = s3Answering(() => ({ Body: slow as never }));
    const pending = fetchChunk(
      client,
      { uploadId: "u1", chunk: pointerTo(Buffer.alloc(100)) },
      {
        maxChunkBytes: MAX,
        signal: abort.signal,
      },
    );
    await new Promise((r) => setTimeout(r, 5));
    abort.abort(new Error("token stale"));
    await expect(pending).rejects.toThrow("token stale");
    expect(slow.destroyed).toBe(true);
  });
});
