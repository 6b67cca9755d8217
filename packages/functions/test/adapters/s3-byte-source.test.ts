import { GetObjectCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SourceReadError } from "@sluice/core";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { S3ByteSource } from "../../src/adapters/s3-byte-source.ts";
import { body, serviceError } from "../factories.ts";

const s3 = mockClient(S3Client);
const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

/** Serves `bytes` honouring the Range header, like S3 does. */
function serveRanges() {
  s3.on(GetObjectCommand).callsFake((input) => {
    const match = /^bytes=(\d+)-(\d+)$/.exec(input.Range ?? "");
    if (!match) throw new Error(`unexpected range ${input.Range}`);
    const start = Number(match[1]);
    const end = Math.min(bytes.length - 1, Number(match[2]));
    return { Body: body(bytes.subarray(start, end + 1)) };
  });
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

describe("S3ByteSource", () => {
  const client = new S3Client({ region: "eu-west-1" });
  beforeEach(() => {
    s3.reset();
    s3.on(HeadObjectCommand).resolves({ ContentLength: bytes.length, ETag: '"etag-1"' });
    serveRanges();
  });

  it("takes its size from HeadObject and reads with inclusive ranged GETs pinned to the ETag", async () => {
    const source = await S3ByteSource.open({ client, bucket: "b", key: "uploads/x.xlsx" });
    expect(source.size).toBe(1000);
    expect(source.name).toBe("uploads/x.xlsx");
    expect(await source.read(10, 5)).toEqual(bytes.subarray(10, 15));
    const get = s3.commandCalls(GetObjectCommand)[0]?.args[0].input;
    expect(get).toMatchObject({
      Bucket: "b",
      Key: "uploads/x.xlsx",
      Range: "bytes=10-14",
      IfMatch: '"etag-1"',
    });
    expect(get).not.toHaveProperty("VersionId");
  });

  it("names the version on HeadObject and every GET when it has one", async () => {
    const source = await S3ByteSource.open({ client, bucket: "b", key: "k", versionId: "v7" });
    await source.read(0, 1);
    expect(s3.commandCalls(HeadObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: "b",
      Key: "k",
      VersionId: "v7",
    });
    const get = s3.commandCalls(GetObjectCommand)[0]?.args[0].input;
    expect(get).toMatchObject({ VersionId: "v7", Range: "bytes=0-0" });
    expect(get).not.toHaveProperty("IfMatch");
  });

  it("clips reads at the end and sends nothing for an empty range", async () => {
    const source = await S3ByteSource.open({ client, bucket: "b", key: "k" });
    expect(await source.read(990, 100)).toEqual(bytes.subarray(990));
    expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input.Range).toBe("bytes=990-999");
    expect((await source.read(1000, 10)).length).toBe(0);
    expect((await source.read(5, 0)).length).toBe(0);
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(1);
  });

  it("streams [start, end) as one ranged GetObject body", async () => {
    const source = await S3ByteSource.open({ client, bucket: "b", key: "k" });
    expect(await collect(source.stream(100, 600))).toEqual(bytes.subarray(100, 600));
    expect(await collect(source.stream())).toEqual(bytes);
    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Range)).toEqual([
      "bytes=100-599",
      "bytes=0-999",
    ]);
    expect((await collect(source.stream(500, 500))).length).toBe(0);
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(2);
  });

  it.each([
    [
      "HeadObject",
      () => s3.on(HeadObjectCommand).rejects(serviceError("NotFound", "Not Found", 404)),
      async () => S3ByteSource.open({ client, bucket: "b", key: "k" }),
    ],
    [
      "a ranged read",
      () =>
        s3
          .on(GetObjectCommand)
          .rejects(
            serviceError(
              "PreconditionFailed",
              "At least one of the pre-conditions you specified did not hold",
              412,
            ),
          ),
      async () => (await S3ByteSource.open({ client, bucket: "b", key: "k" })).read(0, 10),
    ],
    [
      "a stream",
      () =>
        s3
          .on(GetObjectCommand)
          .rejects(serviceError("InternalError", "We encountered an internal error", 500)),
      async () => collect((await S3ByteSource.open({ client, bucket: "b", key: "k" })).stream(0, 10)),
    ],
  ])("reports a failed %s as SOURCE_READ_FAILED (retryable)", async (_what, arrange, act) => {
    arrange();
    const error = await act().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SourceReadError);
    expect(error).toMatchObject({ code: "SOURCE_READ_FAILED", retryable: true });
    expect((error as Error).message).toMatch(/s3:\/\/b\/k/);
  });

  it("close() ends streams still open", async () => {
    const source = await S3ByteSource.open({ client, bucket: "b", key: "k" });
    const stream = source.stream(0, 1000);
    await source.close();
    expect(stream.destroyed).toBe(true);
  });
});
