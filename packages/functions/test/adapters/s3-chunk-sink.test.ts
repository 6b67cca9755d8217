import { createHash } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { ChunkPointerSchema, CONTRACT_VERSION, chunkIdFor, type Manifest } from "@sluice/contract";
import { type ChunkMeta, OutputWriteError } from "@sluice/core";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { S3ChunkSink } from "../../src/adapters/s3-chunk-sink.ts";
import { serviceError } from "../factories.ts";

const s3 = mockClient(S3Client);
const MiB = 1024 * 1024;
const PREFIX = "processed/up-1/";

function manifest(totalChunks: number): Manifest {
  return {
    v: CONTRACT_VERSION,
    uploadId: "up-1",
    source: { name: "x.csv", bytes: 10 },
    format: "csv",
    sheet: "x",
    sheets: [{ name: "x", visible: true }],
    header: ["a"],
    headerRow: 1,
    totalRows: totalChunks,
    totalChunks,
    bytes: 0,
    chunking: { rows: 500, bytes: 200 * 1024 },
    details: {},
    warnings: { count: 0, samples: [] },
    rowErrors: { count: 0, samples: [] },
    fileWarnings: [],
  };
}

/** A chunk line of about `bytes` bytes. */
function line(index: number, bytes = 100 * 1024): string {
  const head = `{"v":${CONTRACT_VERSION},"uploadId":"up-1","index":${index},"chunkId":"${chunkIdFor("up-1", index)}","rows":["`;
  return `${head}${"x".repeat(bytes - head.length - 3)}"]}`;
}

/** The line as the chunk writer hands it over: bytes with the newline. */
const chunkLine = (index: number, bytes?: number) => Buffer.from(`${line(index, bytes)}\n`);

/** What core's chunk writer reports with a line: `offset` is where the line starts in chunks.jsonl. */
const meta = (index: number, line: Buffer = chunkLine(index), offset = 0): ChunkMeta => ({
  index,
  chunkId: chunkIdFor("up-1", index),
  firstRow: index * 10 + 2,
  lastRow: index * 10 + 11,
  rows: 10,
  bytes: line.length - 1,
  offset,
  sha256: createHash("sha256").update(line.subarray(0, -1)).digest("base64"),
});

function bodyOf(input: { Body?: unknown }): Buffer {
  const b = input.Body;
  return Buffer.isBuffer(b) ? b : Buffer.from(b as Uint8Array);
}

describe("S3ChunkSink", () => {
  const client = new S3Client({ region: "eu-west-1" });
  beforeEach(() => {
    s3.reset();
    s3.on(PutObjectCommand).resolves({ ETag: '"put"' });
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: "mpu-1" });
    s3.on(UploadPartCommand).callsFake((input) => ({ ETag: `"part-${input.PartNumber}"` }));
    s3.on(CompleteMultipartUploadCommand).resolves({ ETag: '"done"' });
    s3.on(AbortMultipartUploadCommand).resolves({});
  });

  it("writes small chunks.jsonl and items.jsonl with one PutObject each, then manifest.json", async () => {
    const sink = new S3ChunkSink({ client, bucket: "out", prefix: PREFIX });
    expect(sink.chunksKey).toBe("processed/up-1/chunks.jsonl");
    expect(sink.itemsKey).toBe("processed/up-1/items.jsonl");
    expect(sink.manifestKey).toBe("processed/up-1/manifest.json");
    const first = chunkLine(0, 200);
    const second = chunkLine(1, 300);
    await sink.writeChunk(first, meta(0, first));
    await sink.writeChunk(second, meta(1, second, first.length));
    await sink.commit(manifest(2));

    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => p.Key).sort()).toEqual([sink.chunksKey, sink.itemsKey, sink.manifestKey].sort());
    expect(puts.at(-1)?.Key).toBe(sink.manifestKey);
    const put = (key: string) => puts.find((p) => p.Key === key)!;
    const chunks = bodyOf(put(sink.chunksKey));
    expect(chunks.toString()).toBe(`${line(0, 200)}\n${line(1, 300)}\n`);
    expect(JSON.parse(String(put(sink.manifestKey).Body))).toEqual(manifest(2));
    expect(put(sink.manifestKey)).toMatchObject({ Bucket: "out", ContentType: "application/json" });
    expect(put(sink.itemsKey)).toMatchObject({ Bucket: "out", ContentType: "application/x-ndjson" });
    expect(s3.commandCalls(CreateMultipartUploadCommand)).toHaveLength(0);

    // One pointer per chunk; each names the byte range of its line in chunks.jsonl and that range's digest.
    const items = bodyOf(put(sink.itemsKey)).toString().trimEnd().split("\n");
    const pointers = items.map((l) => ChunkPointerSchema.parse(JSON.parse(l)));
    expect(pointers.map((p) => [p.index, p.bucket, p.key, p.firstRow, p.lastRow, p.rows])).toEqual([
      [0, "out", sink.chunksKey, 2, 11, 10],
      [1, "out", sink.chunksKey, 12, 21, 10],
    ]);
    for (const pointer of pointers) {
      const range = chunks.subarray(pointer.offset, pointer.offset + pointer.length);
      expect(JSON.parse(range.toString()).index).toBe(pointer.index);
      expect(createHash("sha256").update(range).digest("base64")).toBe(pointer.sha256);
    }
  });

  it("streams a large chunks.jsonl as a multipart upload, parts in order, manifest after completion", async () => {
    const sentParts: { partNumber: number; body: Buffer }[] = [];
    s3.on(UploadPartCommand).callsFake((input) => {
      sentParts.push({ partNumber: input.PartNumber, body: Buffer.from(bodyOf(input)) });
      return { ETag: `"part-${input.PartNumber}"` };
    });
    const sink = new S3ChunkSink({ client, bucket: "out", prefix: PREFIX, partSize: 5 * MiB });
    const lines = Array.from({ length: 120 }, (_, i) => line(i));
    let offset = 0;
    for (const [i, l] of lines.entries()) {
      const bytes = Buffer.from(`${l}\n`);
      await sink.writeChunk(bytes, meta(i, bytes, offset));
      offset += bytes.length;
    }
    await sink.commit(manifest(lines.length));

    const parts = s3.commandCalls(UploadPartCommand).map((c) => c.args[0].input);
    expect(parts.map((p) => p.PartNumber).sort()).toEqual([1, 2, 3]);
    expect(parts.every((p) => p.UploadId === "mpu-1" && p.Key === sink.chunksKey)).toBe(true);
    // The bytes each part carried when it was sent (the writer reuses a part's buffer once S3 has it).
    const ordered = [...sentParts].sort((a, b) => a.partNumber - b.partNumber);
    expect(Buffer.concat(ordered.map((p) => p.body)).toString()).toBe(lines.map((l) => `${l}\n`).join(""));
    const complete = s3.commandCalls(CompleteMultipartUploadCommand)[0]?.args[0].input;
    expect(complete?.MultipartUpload?.Parts?.map((p) => p.ETag)).toEqual([
      '"part-1"',
      '"part-2"',
      '"part-3"',
    ]);
    const calls = s3.calls().map((c) => c.args[0].constructor.name);
    expect(calls.lastIndexOf("PutObjectCommand")).toBeGreaterThan(
      calls.indexOf("CompleteMultipartUploadCommand"),
    );
    // items.jsonl (120 small pointers) fits in one part: a PutObject, before the manifest.
    expect(s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key)).toEqual([
      sink.itemsKey,
      sink.manifestKey,
    ]);
  });

  it("respects backpressure: writeChunk waits while the upload cannot take more bytes", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    s3.on(UploadPartCommand).callsFake(async (input) => {
      await gate;
      return { ETag: `"part-${input.PartNumber}"` };
    });
    const sink = new S3ChunkSink({ client, bucket: "out", prefix: PREFIX, partSize: 5 * MiB, queueSize: 1 });
    let written = 0;
    const lineBytes = chunkLine(0).length;
    const writing = (async () => {
      for (let i = 0; i < 300; i++) {
        await sink.writeChunk(chunkLine(i), meta(i));
        written++;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 200));
    // One part in flight plus the part being filled: at most 2 parts' worth of the 300 lines were accepted.
    expect(written).toBeGreaterThan(10);
    expect(written).toBeLessThanOrEqual(Math.ceil((2 * 5 * MiB) / lineBytes));
    release();
    await writing;
    expect(written).toBe(300);
    await sink.commit(manifest(300));
    expect(s3.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(1);
  });

  it("abort() after parts were sent aborts the multipart upload and completes nothing", async () => {
    const sink = new S3ChunkSink({ client, bucket: "out", prefix: PREFIX, partSize: 5 * MiB });
    for (let i = 0; i < 70; i++) await sink.writeChunk(chunkLine(i), meta(i));
    await sink.abort();
    expect(s3.commandCalls(AbortMultipartUploadCommand).map((c) => c.args[0].input)).toEqual([
      { Bucket: "out", Key: sink.chunksKey, UploadId: "mpu-1" },
    ]);
    expect(s3.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    await expect(sink.writeChunk(chunkLine(0), meta(0))).rejects.toBeInstanceOf(OutputWriteError);
    await sink.abort();
  });

  it("abort() before a part was full writes nothing at all", async () => {
    const sink = new S3ChunkSink({ client, bucket: "out", prefix: PREFIX });
    await sink.writeChunk(chunkLine(0), meta(0));
    await sink.abort();
    expect(s3.calls()).toHaveLength(0);
  });

  it("a failed part upload surfaces as OUTPUT_WRITE_FAILED and the multipart upload is aborted", async () => {
    s3.on(UploadPartCommand).rejects(serviceError("SlowDown", "Please reduce your request rate", 503));
    const sink = new S3ChunkSink({ client, bucket: "out", prefix: PREFIX, partSize: 5 * MiB });
    const error = await (async () => {
      for (let i = 0; i < 200; i++) await sink.writeChunk(chunkLine(i), meta(i));
      await sink.commit(manifest(200));
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OutputWriteError);
    expect(error).toMatchObject({ code: "OUTPUT_WRITE_FAILED", retryable: true });
    expect((error as Error).message).toMatch(/SlowDown/);
    await sink.abort();
    expect(s3.commandCalls(AbortMultipartUploadCommand)).toHaveLength(1);
    expect(s3.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
  });

  it("a failed items.jsonl upload fails the commit and deletes the chunks.jsonl that was completed", async () => {
    s3.on(PutObjectCommand, { Key: `${PREFIX}items.jsonl` }).rejects(
      serviceError("SlowDown", "slow down", 503),
    );
    s3.on(DeleteObjectCommand).resolves({});
    const sink = new S3ChunkSink({ client, bucket: "out", prefix: PREFIX });
    await sink.writeChunk(chunkLine(0, 500), meta(0, chunkLine(0, 500)));
    await expect(sink.commit(manifest(1))).rejects.toMatchObject({
      code: "OUTPUT_WRITE_FAILED",
      message: expect.stringContaining("items.jsonl"),
    });
    expect(s3.commandCalls(DeleteObjectCommand).map((c) => c.args[0].input.Key)).toEqual([sink.chunksKey]);
    expect(s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key)).not.toContain(sink.manifestKey);
  });

  it("a failed manifest write deletes the chunks and items it would have described", async () => {
    s3.on(PutObjectCommand, { Key: `${PREFIX}manifest.json` }).rejects(
      serviceError("AccessDenied", "Access Denied", 403),
    );
    s3.on(DeleteObjectCommand).resolves({});
    const sink = new S3ChunkSink({ client, bucket: "out", prefix: PREFIX });
    await sink.writeChunk(chunkLine(0, 500), meta(0, chunkLine(0, 500)));
    await expect(sink.commit(manifest(1))).rejects.toMatchObject({ code: "OUTPUT_WRITE_FAILED" });
    expect(s3.commandCalls(DeleteObjectCommand).map((c) => c.args[0].input)).toEqual([
      { Bucket: "out", Key: sink.chunksKey },
      { Bucket: "out", Key: sink.itemsKey },
    ]);
  });
});
