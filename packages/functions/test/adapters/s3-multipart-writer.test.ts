import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { MIN_PART_SIZE, S3MultipartWriter } from "../../src/adapters/s3-multipart-writer.ts";

const s3 = mockClient(S3Client);
const client = new S3Client({ region: "eu-west-1" });
const target = {
  client,
  bucket: "out",
  key: "processed/up-1/chunks.jsonl",
  contentType: "application/x-ndjson",
};

describe("S3MultipartWriter", () => {
  const sent: { partNumber: number; bytes: Buffer; buffer: ArrayBufferLike }[] = [];
  beforeEach(() => {
    s3.reset();
    sent.length = 0;
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: "mpu-1" });
    s3.on(UploadPartCommand).callsFake((input) => {
      const body = input.Body as Buffer;
      sent.push({ partNumber: input.PartNumber, bytes: Buffer.from(body), buffer: body.buffer });
      return { ETag: `"part-${input.PartNumber}"`, ChecksumCRC32: `crc-${input.PartNumber}` };
    });
    s3.on(CompleteMultipartUploadCommand).resolves({});
    s3.on(PutObjectCommand).resolves({});
  });

  it("sends many parts from at most queueSize + 1 part buffers, and the object is the bytes written", async () => {
    const writer = new S3MultipartWriter({ ...target, queueSize: 2 });
    const written: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const bytes = Buffer.alloc(777_777 + i, String.fromCharCode(97 + (i % 26)));
      written.push(bytes);
      await writer.write(bytes);
    }
    await writer.end();
    const parts = [...sent].sort((a, b) => a.partNumber - b.partNumber);
    expect(parts.length).toBeGreaterThan(5);
    expect(parts.slice(0, -1).every((p) => p.bytes.length === MIN_PART_SIZE)).toBe(true);
    expect(Buffer.concat(parts.map((p) => p.bytes)).equals(Buffer.concat(written))).toBe(true);
    // The same few buffers carry every part: nothing is allocated per part.
    expect(new Set(parts.map((p) => p.buffer)).size).toBeLessThanOrEqual(3);
    const complete = s3.commandCalls(CompleteMultipartUploadCommand)[0]!.args[0].input;
    expect(complete.MultipartUpload?.Parts).toEqual(
      parts.map((p) => ({
        PartNumber: p.partNumber,
        ETag: `"part-${p.partNumber}"`,
        ChecksumCRC32: `crc-${p.partNumber}`,
      })),
    );
    // The client computes checksums (its default), so the upload is created with CRC32 as lib-storage does.
    expect(s3.commandCalls(CreateMultipartUploadCommand)[0]!.args[0].input).toMatchObject({
      ChecksumAlgorithm: "CRC32",
      ContentType: "application/x-ndjson",
    });
  });

  it("writes an object under one part with a single PutObject", async () => {
    const writer = new S3MultipartWriter(target);
    await writer.write(Buffer.from("a\n"));
    await writer.write(Buffer.alloc(200_000, "b"));
    await writer.end();
    expect(s3.commandCalls(CreateMultipartUploadCommand)).toHaveLength(0);
    const put = s3.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(
      Buffer.from(put.Body as Buffer).equals(Buffer.concat([Buffer.from("a\n"), Buffer.alloc(200_000, "b")])),
    ).toBe(true);
    expect(writer.ended).toBe(true);
  });

  it("a failed part fails the next write and the end, and refuses writes afterwards", async () => {
    s3.on(UploadPartCommand).rejects(Object.assign(new Error("slow down"), { name: "SlowDown" }));
    const writer = new S3MultipartWriter({ ...target, queueSize: 1 });
    await expect(
      (async () => {
        for (let i = 0; i < 20; i++) await writer.write(Buffer.alloc(MIN_PART_SIZE / 2));
      })(),
    ).rejects.toThrow("slow down");
    await expect(writer.end()).rejects.toThrow("slow down");
    await expect(writer.write(Buffer.from("x"))).rejects.toThrow(/is aborted/);
  });
});
