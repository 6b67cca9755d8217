import { once } from "node:events";
import { PassThrough } from "node:stream";
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { CHUNKS_OBJECT, ITEMS_OBJECT, MANIFEST_OBJECT, type Manifest } from "@sluice/contract";
import { type ChunkMeta, type ChunkSink, chunkPointer, OutputWriteError } from "@sluice/core";

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
  /** Parts uploaded in parallel, per file. Memory is about 2 * (queueSize + 1) * partSize. */
  queueSize?: number;
}

class SinkAborted extends Error {
  constructor() {
    super("The chunk sink was aborted");
    this.name = "SinkAborted";
  }
}

/** One object streamed through lib-storage's Upload: a PutObject when it fits in one part, multipart otherwise. */
class StreamedObject {
  readonly body = new PassThrough({ highWaterMark: 1024 * 1024 });
  readonly finished: Promise<void>;
  failure: unknown;
  completed = false;

  constructor(
    options: S3ChunkSinkOptions,
    readonly key: string,
  ) {
    const upload = new Upload({
      client: options.client,
      params: { Bucket: options.bucket, Key: key, Body: this.body, ContentType: "application/x-ndjson" },
      ...(options.partSize ? { partSize: options.partSize } : {}),
      queueSize: options.queueSize ?? 2,
    });
    // Starts consuming the stream now; the failure is kept for writeChunk and commit to report.
    this.finished = upload.done().then(
      () => {
        this.completed = true;
      },
      (error: unknown) => {
        this.failure = error;
        throw error;
      },
    );
    this.finished.catch(() => {});
    // Stream errors reach us through the upload's failure; this only keeps them from being unhandled.
    this.body.on("error", () => {});
  }

  /** Resolves once the upload took the buffered bytes (or failed: then it never will). */
  async drained(): Promise<void> {
    if (!this.body.writableNeedDrain) return;
    await Promise.race([once(this.body, "drain"), this.finished]);
  }
}

/**
 * Streams chunks.jsonl and items.jsonl (one chunk pointer per line: what the Distributed Map reads) into S3
 * through lib-storage's Upload, writing with backpressure so memory stays at a few parts per file whatever the
 * upload's size. `commit` finishes both uploads and then writes manifest.json: a manifest in place always
 * describes the chunks and items beside it. `abort` aborts both uploads so no half-written file remains.
 */
export class S3ChunkSink implements ChunkSink {
  readonly chunksKey: string;
  readonly itemsKey: string;
  readonly manifestKey: string;
  private readonly chunks: StreamedObject;
  private readonly items: StreamedObject;
  private state: "open" | "committing" | "committed" | "aborted" = "open";

  constructor(private readonly options: S3ChunkSinkOptions) {
    this.chunksKey = `${options.prefix}${CHUNKS_FILE}`;
    this.itemsKey = `${options.prefix}${ITEMS_FILE}`;
    this.manifestKey = `${options.prefix}${MANIFEST_FILE}`;
    this.chunks = new StreamedObject(options, this.chunksKey);
    this.items = new StreamedObject(options, this.itemsKey);
  }

  get bucket(): string {
    return this.options.bucket;
  }

  get prefix(): string {
    return this.options.prefix;
  }

  private get files(): StreamedObject[] {
    return [this.chunks, this.items];
  }

  private writeFailed(file: StreamedObject, error: unknown): OutputWriteError {
    const message = (error as Error)?.message ?? String(error);
    return new OutputWriteError(
      `Writing s3://${this.options.bucket}/${file.key} failed: ${(error as Error)?.name ?? "Error"}: ${message}`,
      { cause: error },
    );
  }

  private throwIfFailed(): void {
    for (const file of this.files) if (file.failure !== undefined) throw this.writeFailed(file, file.failure);
  }

  async writeChunk(line: Buffer, meta: ChunkMeta): Promise<void> {
    if (this.state !== "open")
      throw new OutputWriteError(`The chunk sink is ${this.state}; no more chunks can be written`);
    this.throwIfFailed();
    this.chunks.body.write(line);
    this.items.body.write(`${JSON.stringify(chunkPointer(meta, this.options.bucket, this.chunksKey))}\n`);
    // Wait until both uploads have taken the buffered bytes, or one has failed (then it never will).
    for (const file of this.files) {
      try {
        await file.drained();
      } catch (error) {
        throw this.writeFailed(file, error);
      }
    }
    this.throwIfFailed();
  }

  async commit(manifest: Manifest): Promise<void> {
    if (this.state !== "open")
      throw new OutputWriteError(`The chunk sink is ${this.state}; it cannot commit`);
    this.state = "committing";
    for (const file of this.files) file.body.end();
    const settled = await Promise.allSettled(this.files.map((file) => file.finished));
    const failed = this.files.find((_, i) => settled[i]?.status === "rejected");
    if (failed) {
      // The other file may be complete: remove it, so no file without its partner (and manifest) remains.
      this.state = "aborted";
      await this.deleteCompleted();
      throw this.writeFailed(failed, failed.failure);
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
   * Stops both uploads: the streams are destroyed, lib-storage's uploaders stop and send AbortMultipartUpload
   * (where a multipart upload was created); nothing is completed. Safe to call more than once, never throws.
   */
  async abort(): Promise<void> {
    if (this.state === "committed" || this.state === "aborted") return;
    const wasCommitting = this.state === "committing";
    this.state = "aborted";
    if (!wasCommitting) for (const file of this.files) file.body.destroy(new SinkAborted());
    await Promise.allSettled(this.files.map((file) => file.finished));
    await this.deleteCompleted();
  }

  private async deleteCompleted(): Promise<void> {
    await Promise.all(
      this.files
        .filter((file) => file.completed)
        .map((file) =>
          this.options.client
            .send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: file.key }))
            .catch(() => {}),
        ),
    );
  }
}
