import { Readable } from "node:stream";
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { type ByteSource, SourceReadError } from "@sluice/core";
import { bodyToBuffer, bodyToReadable } from "./s3-body.ts";

export interface S3ByteSourceOptions {
  client: S3Client;
  bucket: string;
  key: string;
  /** Read exactly this version; without it every read is pinned to the ETag seen by HeadObject. */
  versionId?: string | undefined;
}

function describe(bucket: string, key: string, versionId: string | undefined): string {
  return `s3://${bucket}/${key}${versionId ? ` (version ${versionId})` : ""}`;
}

function readFailed(what: string, error: unknown): SourceReadError {
  const name = (error as Error)?.name ?? "Error";
  const message = (error as Error)?.message ?? String(error);
  return new SourceReadError(`Reading ${what} failed: ${name}: ${message}`, { cause: error });
}

/**
 * Random access to an S3 object through ranged GetObject requests. Every request names the version (or, for
 * an unversioned bucket, carries If-Match with the ETag HeadObject returned), so an object overwritten while
 * it is being converted fails the read instead of mixing two files.
 */
export class S3ByteSource implements ByteSource {
  private readonly open = new Set<Readable>();

  private constructor(
    private readonly options: S3ByteSourceOptions,
    readonly name: string,
    readonly size: number,
    readonly eTag: string | undefined,
    /** The object's user metadata (x-amz-meta-*, names lowercased, prefix removed), as HeadObject returned it. */
    readonly metadata: Readonly<Record<string, string>>,
  ) {}

  static async open(options: S3ByteSourceOptions): Promise<S3ByteSource> {
    const { client, bucket, key, versionId } = options;
    try {
      const head = await client.send(
        new HeadObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }),
      );
      const size = head.ContentLength;
      if (size === undefined) throw new Error("HeadObject returned no ContentLength");
      return new S3ByteSource(options, key, size, head.ETag, { ...head.Metadata });
    } catch (error) {
      throw readFailed(describe(bucket, key, versionId), error);
    }
  }

  private get(range: string) {
    const { client, bucket, key, versionId } = this.options;
    return client.send(
      new GetObjectCommand({
        Bucket: bucket,
        Key: key,
        Range: range,
        ...(versionId ? { VersionId: versionId } : this.eTag ? { IfMatch: this.eTag } : {}),
      }),
    );
  }

  private what(start: number, end: number): string {
    const { bucket, key, versionId } = this.options;
    return `bytes ${start}-${end - 1} of ${describe(bucket, key, versionId)}`;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const end = Math.min(this.size, offset + Math.max(0, length));
    if (offset < 0 || offset >= end) return Buffer.alloc(0);
    try {
      const response = await this.get(`bytes=${offset}-${end - 1}`);
      return await bodyToBuffer(response.Body);
    } catch (error) {
      throw readFailed(this.what(offset, end), error);
    }
  }

  /** Bytes [start, end) as one ranged GetObject body, requested when the stream is first read. */
  stream(start = 0, end = this.size): Readable {
    end = Math.min(end, this.size);
    if (end <= start) return Readable.from([], { objectMode: false });
    const source = this;
    const stream = Readable.from(
      (async function* () {
        let body: Readable;
        try {
          body = bodyToReadable((await source.get(`bytes=${start}-${end - 1}`)).Body);
        } catch (error) {
          throw readFailed(source.what(start, end), error);
        }
        try {
          for await (const part of body) yield part as Buffer;
        } catch (error) {
          throw readFailed(source.what(start, end), error);
        } finally {
          body.destroy();
        }
      })(),
      { objectMode: false, highWaterMark: 256 * 1024 },
    );
    this.open.add(stream);
    stream.once("close", () => this.open.delete(stream));
    return stream;
  }

  /** Ends any stream still open, so no socket outlives the conversion. */
  async close(): Promise<void> {
    for (const stream of this.open) stream.destroy();
    this.open.clear();
  }
}
