import { createHash } from "node:crypto";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import {
  ChunkPointerSchema,
  ChunkSchema,
  ConvertOutputSchema,
  chunkRows,
  ManifestSchema,
} from "@sluice/contract";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { createHandler } from "../../src/handlers/create-convert-handler.ts";
import { body, executionInput, serviceError, silentLogger } from "../factories.ts";

const s3 = mockClient(S3Client);
const OUT = "sluice-processed";

function csv(rows: number): Buffer {
  const lines = ["id,name,amount"];
  for (let i = 1; i <= rows; i++) lines.push(`${i},customer ${i},${(i * 1.5).toFixed(2)}`);
  return Buffer.from(`${lines.join("\n")}\n`);
}

/** An S3 that holds `source` at uploads/orders.csv and records what is written. */
function serve(source: Buffer) {
  s3.on(HeadObjectCommand).resolves({ ContentLength: source.length, ETag: '"e"' });
  s3.on(GetObjectCommand).callsFake((input) => {
    const [, start, end] = /^bytes=(\d+)-(\d+)$/.exec(input.Range ?? "") ?? [];
    return { Body: body(source.subarray(Number(start), Number(end) + 1)) };
  });
  s3.on(PutObjectCommand).resolves({});
  s3.on(CreateMultipartUploadCommand).resolves({ UploadId: "mpu" });
  s3.on(UploadPartCommand).resolves({ ETag: '"p"' });
  s3.on(CompleteMultipartUploadCommand).resolves({});
}

function writtenBytes(key: string): Buffer {
  const put = s3.commandCalls(PutObjectCommand).find((c) => c.args[0].input.Key === key);
  if (!put) throw new Error(`${key} was not written`);
  const b = put.args[0].input.Body;
  return typeof b === "string" ? Buffer.from(b) : Buffer.from(b as Uint8Array);
}

const written = (key: string) => writtenBytes(key).toString();

function handler(overrides: { chunkRows?: number; chunkBytes?: number } = {}) {
  let now = 1000;
  return createHandler({
    s3: new S3Client({ region: "eu-west-1" }),
    bucketName: OUT,
    processedPrefix: "processed/",
    logger: silentLogger(),
    // Each reading of the clock is 250 ms later: the conversion reads it twice.
    clock: () => (now += 250),
    ...overrides,
  });
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (error: Error) => error,
  );
}

describe("convert handler", () => {
  beforeEach(() => s3.reset());

  it("converts the source into chunks.jsonl, items.jsonl and manifest.json and returns counts and locations only", async () => {
    serve(csv(25));
    const input = executionInput({
      source: { bucket: "sluice-uploads", key: "uploads/orders.csv", versionId: "v3" },
    });
    const output = await handler({ chunkRows: 10 })(input);

    expect(ConvertOutputSchema.parse(output)).toEqual({
      uploadId: input.uploadId,
      processed: {
        bucket: OUT,
        prefix: `processed/${input.uploadId}/`,
        chunksKey: `processed/${input.uploadId}/chunks.jsonl`,
        itemsKey: `processed/${input.uploadId}/items.jsonl`,
        manifestKey: `processed/${input.uploadId}/manifest.json`,
      },
      totalRows: 25,
      totalChunks: 3,
      sheet: expect.any(String),
      format: "csv",
      rowErrors: 0,
      warnings: 0,
      durationMs: 250,
      bytes: writtenBytes(output.processed.chunksKey).length,
    });
    // The source is read at its version from its own bucket.
    for (const call of s3.commandCalls(GetObjectCommand)) {
      expect(call.args[0].input).toMatchObject({
        Bucket: "sluice-uploads",
        Key: "uploads/orders.csv",
        VersionId: "v3",
      });
    }
    const chunks = written(output.processed.chunksKey)
      .trimEnd()
      .split("\n")
      .map((l) => ChunkSchema.parse(JSON.parse(l)));
    expect(chunks.map((c) => c.rows.length)).toEqual([10, 10, 5]);
    expect(chunks[0]?.columns).toEqual(["id", "name", "amount"]);
    expect(chunkRows(chunks[0]!)[0]?.data).toEqual({ id: "1", name: "customer 1", amount: "1.50" });
    const manifest = ManifestSchema.parse(JSON.parse(written(output.processed.manifestKey)));
    expect(manifest).toMatchObject({
      uploadId: input.uploadId,
      totalRows: 25,
      totalChunks: 3,
      chunking: { rows: 10 },
    });
    expect(manifest.bytes).toBe(output.bytes);
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts.every((p) => p.Bucket === OUT)).toBe(true);
    expect(puts.at(-1)?.Key).toBe(output.processed.manifestKey);
  });

  it("records the name an upload form kept in the object's metadata as the manifest's originalName", async () => {
    serve(csv(3));
    s3.on(HeadObjectCommand).resolves({
      ContentLength: csv(3).length,
      ETag: '"e"',
      Metadata: { "original-name": encodeURIComponent("주문 목록.csv"), tenant: "acme" },
    });
    const output = await handler()(executionInput());
    const manifest = ManifestSchema.parse(JSON.parse(written(output.processed.manifestKey)));
    expect(manifest.originalName).toBe("주문 목록.csv");
    // The source is still named by its key (format detection, messages).
    expect(manifest.source.name).toBe("uploads/orders.csv");
  });

  it.each([
    ["no such metadata", {}],
    ["a value that is not percent-encoded UTF-8", { "original-name": "%E0%A4%A" }],
  ])("leaves originalName out for %s", async (_name, metadata) => {
    serve(csv(3));
    s3.on(HeadObjectCommand).resolves({ ContentLength: csv(3).length, ETag: '"e"', Metadata: metadata });
    const output = await handler()(executionInput());
    expect(JSON.parse(written(output.processed.manifestKey))).not.toHaveProperty("originalName");
  });

  it("writes one pointer per chunk in items.jsonl: its byte range of chunks.jsonl is the chunk, with its digest", async () => {
    serve(csv(25));
    const output = await handler({ chunkRows: 10 })(executionInput());
    const chunksFile = writtenBytes(output.processed.chunksKey);
    const pointers = written(output.processed.itemsKey)
      .trimEnd()
      .split("\n")
      .map((l) => ChunkPointerSchema.parse(JSON.parse(l)));
    expect(pointers).toHaveLength(output.totalChunks);
    for (const [i, pointer] of pointers.entries()) {
      expect(pointer).toMatchObject({ index: i, bucket: OUT, key: output.processed.chunksKey });
      const range = chunksFile.subarray(pointer.offset, pointer.offset + pointer.length);
      const chunk = ChunkSchema.parse(JSON.parse(range.toString("utf8")));
      expect(chunk).toMatchObject({
        index: pointer.index,
        chunkId: pointer.chunkId,
        firstRow: pointer.firstRow,
        lastRow: pointer.lastRow,
      });
      expect(chunk.rows).toHaveLength(pointer.rows);
      expect(createHash("sha256").update(range).digest("base64")).toBe(pointer.sha256);
      // The range is the line without its newline.
      expect(chunksFile[pointer.offset + pointer.length]).toBe(0x0a);
    }
    expect(pointers.map((p) => [p.firstRow, p.lastRow, p.rows])).toEqual([
      [2, 11, 10],
      [12, 21, 10],
      [22, 26, 5],
    ]);
  });

  it.each([
    [
      "a binary file",
      Buffer.concat([Buffer.from("\x89PNG\r\n\x1a\n", "latin1"), Buffer.alloc(512)]),
      "UNSUPPORTED_FORMAT",
    ],
    ["an empty file", Buffer.alloc(0), "EMPTY_WORKBOOK"],
  ])("fails %s with an error named by its code, and writes nothing", async (_what, bytes, code) => {
    serve(bytes);
    const error = await failure(handler()(executionInput()));
    expect(error.name).toBe(code);
    expect(error.message).not.toBe("");
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(s3.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
  });

  it("fails a source that cannot be read as SOURCE_READ_FAILED", async () => {
    serve(csv(3));
    s3.on(HeadObjectCommand).rejects(serviceError("NotFound", "Not Found", 404));
    const error = await failure(handler()(executionInput()));
    expect(error.name).toBe("SOURCE_READ_FAILED");
    expect(error.message).toMatch(/uploads\/orders\.csv/);
  });

  it("fails an output that cannot be written as OUTPUT_WRITE_FAILED and leaves no manifest", async () => {
    serve(csv(3));
    s3.on(PutObjectCommand, { Key: "processed/orders-0123456789ab/manifest.json" }).rejects(
      serviceError("AccessDenied", "Access Denied", 403),
    );
    s3.on(DeleteObjectCommand).resolves({});
    const error = await failure(handler()(executionInput()));
    expect(error.name).toBe("OUTPUT_WRITE_FAILED");
    expect(s3.commandCalls(DeleteObjectCommand).map((c) => c.args[0].input.Key)).toEqual([
      "processed/orders-0123456789ab/chunks.jsonl",
      "processed/orders-0123456789ab/items.jsonl",
    ]);
  });

  it("rejects an input that is not an execution input as INVALID_OPTION, before touching S3", async () => {
    const error = await failure(handler()({ uploadId: "x" }));
    expect(error.name).toBe("INVALID_OPTION");
    expect(error.message).toMatch(/source/);
    expect(s3.calls()).toHaveLength(0);
  });
});
