import { DeleteObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { CHUNKS_OBJECT, ITEMS_OBJECT, MANIFEST_OBJECT, type Manifest } from "@sluice/contract";
import { type ChunkMeta, type ChunkSink, chunkPointer, OutputWriteError } from "@sluice/core";
import { S3MultipartWriter } from "./s3-multipart-writer.ts";

/** The object names under `processed/<uploadId>/` (core's bucket layout). */
export const CHUNKS_FILE = CHUNKS_OBJECT;
export const ITEMS_FILE = ITEMS_OBJECT;
export const MANIFEST_FILE = MANIFEST_OBJECT;

export interface S3ChunkSinkOptions {
  client: S3Client;
  bucket: string;
  /** The upload's folder, ending with "/" (e.g. "processed/<uploadId>/"). */
  prefix: string;
  /** Multipart part size in bytes (at least 5 MiB, the S3 minimum). */
  partSize?: number;
  /** Parts uploaded in parallel, per file. Memory is at most (queueSize + 1) * partSize per file. */
  queueSize?: number;
}

/**
 * Streams chunks.jsonl and items.jsonl (one chunk pointer per line: what the Distributed Map reads) into S3
 * through S3MultipartWriter, writing with backpressure so memory stays at a few parts per file whatever the
 * upload's size. `commit` finishes both objects and then writes manifest.json: a manifest in place always
 * describes the chunks and items beside it. `abort` aborts both uploads so no half-written file remains.
 */
export class S3ChunkSink implements ChunkSink {
  readonly chunksKey: string;
  readonly itemsKey: string;
  readonly manifestKey: string;
  private readonly chunks: S3MultipartWriter;
  private readonly items: S3MultipartWriter;
  private state: "open" | "committing" | "committed" | "aborted" = "open";

  constructor(private readonly options: S3ChunkSinkOptions) {
    this.chunksKey = `${options.prefix}${CHUNKS_FILE}`;
    this.itemsKey = `${options.prefix}${ITEMS_FILE}`;
    this.manifestKey = `${options.prefix}${MANIFEST_FILE}`;
    const writer = (key: string) =>
      new S3MultipartWriter({
        client: options.client,
        bucket: options.bucket,
        key,
        contentType: "application/x-ndjson",
        ...(options.partSize ? { partSize: options.partSize } : {}),
        queueSize: options.queueSize ?? 2,
      });
    this.chunks = writer(this.chunksKey);
    this.items = writer(this.itemsKey);
  }

  get bucket(): string {
    return this.options.bucket;
  }

  get prefix(): string {
    return this.options.prefix;
  }

  private get files(): { key: string; writer: S3MultipartWriter }[] {
    return [
      { key: this.chunksKey, writer: this.chunks },
      { key: this.itemsKey, writer: this.items },
    ];
  }

  private writeFailed(key: string, error: unknown): OutputWriteError {
    const message = (error as Error)?.message ?? String(error);
    return new OutputWriteError(
      `Writing s3://${this.options.bucket}/${key} failed: ${(error as Error)?.name ?? "Error"}: ${message}`,
      { cause: error },
    );
  }

  async writeChunk(line: Buffer, meta: ChunkMeta): Promise<void> {
    if (this.state !== "open")
      throw new OutputWriteError(`The chunk sink is ${this.state}; no more chunks can be written`);
    const pointer = Buffer.from(
      `${JSON.stringify(chunkPointer(meta, this.options.bucket, this.chunksKey))}\n`,
    );
    // Each write resolves once its bytes are copied into a part (waiting while parts are in flight): backpressure.
    for (const [key, writer, bytes] of [
      [this.chunksKey, this.chunks, line],
      [this.itemsKey, this.items, pointer],
    ] as const) {
      try {
        await writer.write(bytes);
      } catch (error) {
        throw this.writeFailed(key, error);
      }
    }
  }

  async commit(manifest: Manifest): Promise<void> {
    if (this.state !== "open")
      throw new OutputWriteError(`The chunk sink is ${this.state}; it cannot commit`);
    this.state = "committing";
    const settled = await Promise.allSettled(this.files.map((file) => file.writer.end()));
    const failed = settled.findIndex((result) => result.status === "rejected");
    if (failed >= 0) {
      // The other file may be complete: remove it, so no file without its partner (and manifest) remains.
      this.state = "aborted";
      await this.deleteCompleted();
      throw this.writeFailed(this.files[failed]!.key, (settled[failed] as PromiseRejectedResult).reason);
    }
    try {
      await this.options.client.send(
        new PutObjectCommand({
          Bucket: this.options.bucket,
          Key: this.manifestKey,
          Body: `${JSON.stringify(manifest, null, 2)}\n`,
          ContentType: "application/json",
        }),
      );
    } catch (error) {
      // The chunks and items are complete but undescribed: remove them so nothing half-written remains.
      this.state = "aborted";
      await this.deleteCompleted();
      throw new OutputWriteError(
        `Writing s3://${this.options.bucket}/${this.manifestKey} failed: ${(error as Error)?.message ?? String(error)}`,
        { cause: error },
      );
    }
    this.state = "committed";
  }

  /**
   * Stops both objects: parts in flight settle and each multipart upload is aborted; nothing is completed.
   * Safe to call more than once, never throws.
   */
  async abort(): Promise<void> {
    if (this.state === "committed" || this.state === "aborted") return;
    this.state = "aborted";
    await Promise.all(this.files.map((file) => file.writer.abort()));
    await this.deleteCompleted();
  }

  private async deleteCompleted(): Promise<void> {
    await Promise.all(
      this.files
        .filter((file) => file.writer.ended)
        .map((file) =>
          this.options.client
            .send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: file.key }))
            .catch(() => {}),
        ),
    );
  }
}
