import { once } from "node:events";
import { PassThrough } from "node:stream";
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { type ChunkMeta, type ChunkSink, type Manifest, OutputWriteError } from "@sluice/core";

export const CHUNKS_FILE = "chunks.jsonl";
export const MANIFEST_FILE = "manifest.json";

export interface S3ChunkSinkOptions {
  client: S3Client;
  bucket: string;
  /** The upload's folder, ending with "/" (e.g. "processed/<uploadId>/"). */
  prefix: string;
  /** Multipart part size in bytes (at least 5 MiB, the S3 minimum). */
  partSize?: number;
  /** Parts uploaded in parallel. Memory is about (queueSize + 1) * partSize. */
  queueSize?: number;
}

class SinkAborted extends Error {
  constructor() {
    super("The chunk sink was aborted");
    this.name = "SinkAborted";
  }
}

/**
 * Streams chunks.jsonl into S3 through lib-storage's Upload (PutObject when the whole file fits in one part,
 * a multipart upload otherwise), writing with backpressure so memory stays at a few parts whatever the file's
 * size. `commit` finishes the upload and then writes manifest.json: a manifest in place always describes the
 * chunks beside it. `abort` aborts the multipart upload so no half-written chunks.jsonl remains.
 */
export class S3ChunkSink implements ChunkSink {
  readonly chunksKey: string;
  readonly manifestKey: string;
  private readonly body = new PassThrough({ highWaterMark: 1024 * 1024 });
  private readonly upload: Upload;
  private readonly finished: Promise<void>;
  private failure: unknown;
  private state: "open" | "committing" | "committed" | "aborted" = "open";

  constructor(private readonly options: S3ChunkSinkOptions) {
    this.chunksKey = `${options.prefix}${CHUNKS_FILE}`;
    this.manifestKey = `${options.prefix}${MANIFEST_FILE}`;
    this.upload = new Upload({
      client: options.client,
      params: {
        Bucket: options.bucket,
        Key: this.chunksKey,
        Body: this.body,
        ContentType: "application/x-ndjson",
      },
      ...(options.partSize ? { partSize: options.partSize } : {}),
      queueSize: options.queueSize ?? 2,
    });
    // Starts consuming the stream now; the failure is kept for writeChunk and commit to report.
    this.finished = this.upload.done().then(
      () => undefined,
      (error: unknown) => {
        this.failure = error;
        throw error;
      },
    );
    this.finished.catch(() => {});
    // Stream errors reach us through the upload's failure; this only keeps them from being unhandled.
    this.body.on("error", () => {});
  }

  get bucket(): string {
    return this.options.bucket;
  }

  get prefix(): string {
    return this.options.prefix;
  }

  private writeFailed(error: unknown): OutputWriteError {
    const message = (error as Error)?.message ?? String(error);
    return new OutputWriteError(
      `Writing s3://${this.options.bucket}/${this.chunksKey} failed: ${(error as Error)?.name ?? "Error"}: ${message}`,
      { cause: error },
    );
  }

  async writeChunk(line: Buffer, _meta: ChunkMeta): Promise<void> {
    if (this.state !== "open")
      throw new OutputWriteError(`The chunk sink is ${this.state}; no more chunks can be written`);
    if (this.failure !== undefined) throw this.writeFailed(this.failure);
    if (this.body.write(line)) return;
    // Wait until the upload has taken the buffered bytes, or has failed (then it never will).
    try {
      await Promise.race([once(this.body, "drain"), this.finished]);
    } catch (error) {
      throw this.writeFailed(error);
    }
    if (this.failure !== undefined) throw this.writeFailed(this.failure);
  }

  async commit(manifest: Manifest): Promise<void> {
    if (this.state !== "open")
      throw new OutputWriteError(`The chunk sink is ${this.state}; it cannot commit`);
    this.state = "committing";
    this.body.end();
    try {
      await this.finished;
    } catch (error) {
      this.state = "aborted";
      throw this.writeFailed(error);
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
      // The chunks are complete but undescribed: remove them so nothing half-written remains.
      this.state = "aborted";
      await this.deleteChunks();
      throw new OutputWriteError(
        `Writing s3://${this.options.bucket}/${this.manifestKey} failed: ${(error as Error)?.message ?? String(error)}`,
        { cause: error },
      );
    }
    this.state = "committed";
  }

  /**
   * Stops the upload: the stream is destroyed, lib-storage's uploaders stop and it sends AbortMultipartUpload
   * (if a multipart upload was created); nothing is completed. Safe to call more than once, never throws.
   */
  async abort(): Promise<void> {
    if (this.state === "committed" || this.state === "aborted") return;
    const wasCommitting = this.state === "committing";
    this.state = "aborted";
    if (!wasCommitting) this.body.destroy(new SinkAborted());
    await this.finished.catch(() => {});
    if (wasCommitting && this.failure === undefined) await this.deleteChunks();
  }

  private async deleteChunks(): Promise<void> {
    await this.options.client
      .send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.chunksKey }))
      .catch(() => {});
  }
}
