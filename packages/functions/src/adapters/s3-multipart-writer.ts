import {
  AbortMultipartUploadCommand,
  ChecksumAlgorithm,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";

/** S3's smallest part (all but the last): https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PARTS = 10_000;
/** The first part buffer; it doubles up to partSize, so a small object never holds a whole part. */
const FIRST_BUFFER_BYTES = 64 * 1024;

export interface S3MultipartWriterOptions {
  client: S3Client;
  bucket: string;
  key: string;
  contentType: string;
  /** Bytes per part (at least MIN_PART_SIZE). */
  partSize?: number;
  /** Parts uploading at once; a write waits while this many are in flight. */
  queueSize?: number;
}

/**
 * Writes one object from many small writes with a fixed set of part buffers: each write is copied into the
 * current part, a full part is sent with UploadPart, and its buffer is used again once S3 has it. Memory is at
 * most (queueSize + 1) * partSize whatever the object's size, and nothing is allocated per part, so a long write
 * leaves no trail of freed multi-megabyte buffers behind (lib-storage's Upload concatenates a new buffer per part).
 * An object that fits one part is a single PutObject. The checksum follows lib-storage's: when the client
 * computes checksums (its default, WHEN_SUPPORTED), the multipart upload is created with CRC32 and every part's
 * checksum is passed to CompleteMultipartUpload.
 */
export class S3MultipartWriter {
  private readonly partSize: number;
  private readonly queueSize: number;
  private current: Buffer | undefined;
  private filled = 0;
  private readonly free: Buffer[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly parts: CompletedPart[] = [];
  private uploadId: Promise<string> | undefined;
  private partNumber = 0;
  private failure: unknown;
  private state: "open" | "ending" | "ended" | "aborted" = "open";

  constructor(private readonly options: S3MultipartWriterOptions) {
    this.partSize = Math.max(MIN_PART_SIZE, options.partSize ?? MIN_PART_SIZE);
    this.queueSize = Math.max(1, options.queueSize ?? 2);
  }

  /** Whether the object is complete in S3. */
  get ended(): boolean {
    return this.state === "ended";
  }

  /** Copies `bytes` into the part buffers; resolves once they are held (the caller may reuse `bytes`). */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.state !== "open") throw new Error(`The writer of ${this.options.key} is ${this.state}`);
    this.throwIfFailed();
    let offset = 0;
    while (offset < bytes.length) {
      const part = this.bufferFor(Math.min(this.partSize, this.filled + (bytes.length - offset)));
      const n = Math.min(part.length - this.filled, bytes.length - offset);
      part.set(bytes.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === this.partSize) await this.sendPart();
    }
  }

  /** Sends what is left and completes the object (one PutObject if it never filled a part). */
  async end(): Promise<void> {
    if (this.state !== "open") throw new Error(`The writer of ${this.options.key} is ${this.state}`);
    this.state = "ending";
    try {
      this.throwIfFailed();
      if (this.uploadId === undefined) {
        const body = (this.current ?? Buffer.alloc(0)).subarray(0, this.filled);
        await this.options.client.send(
          new PutObjectCommand({
            Bucket: this.options.bucket,
            Key: this.options.key,
            Body: body,
            ContentType: this.options.contentType,
          }),
        );
      } else {
        if (this.filled > 0) await this.sendPart();
        await Promise.all(this.inFlight);
        this.throwIfFailed();
        const parts = [...this.parts].sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
        await this.options.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.options.bucket,
            Key: this.options.key,
            UploadId: await this.uploadId,
            MultipartUpload: { Parts: parts },
          }),
        );
      }
      this.state = "ended";
    } catch (error) {
      this.failure ??= error;
      this.state = "aborted";
      await this.abortUpload();
      throw error;
    } finally {
      this.release();
    }
  }

  /** Stops: parts in flight settle, the multipart upload (if one was created) is aborted. Never throws. */
  async abort(): Promise<void> {
    if (this.state === "ended" || this.state === "aborted") return;
    this.state = "aborted";
    await Promise.allSettled(this.inFlight);
    await this.abortUpload();
    this.release();
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private bufferFor(needed: number): Buffer {
    if (this.current && this.current.length >= needed) return this.current;
    // Until the first part is sent the buffer grows (a small object never takes a whole part); after that every
    // part is full-size and comes from the pool of buffers S3 already has.
    const size =
      this.partNumber > 0 || needed > this.partSize / 2
        ? this.partSize
        : Math.min(this.partSize, Math.max(FIRST_BUFFER_BYTES, needed, 2 * (this.current?.length ?? 0)));
    const next = size === this.partSize && this.free.length > 0 ? this.free.pop()! : Buffer.allocUnsafe(size);
    if (this.current && this.filled > 0) this.current.copy(next, 0, 0, this.filled);
    this.current = next;
    return next;
  }

  private createUpload(): Promise<string> {
    this.uploadId ??= (async () => {
      const checksums =
        (await this.options.client.config.requestChecksumCalculation?.()) === "WHEN_SUPPORTED";
      const { UploadId } = await this.options.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.options.bucket,
          Key: this.options.key,
          ContentType: this.options.contentType,
          ...(checksums ? { ChecksumAlgorithm: ChecksumAlgorithm.CRC32 } : {}),
        }),
      );
      if (!UploadId) throw new Error(`CreateMultipartUpload of ${this.options.key} returned no UploadId`);
      return UploadId;
    })();
    return this.uploadId;
  }

  /** Sends the current (full or last) part; waits first while queueSize parts are in flight. */
  private async sendPart(): Promise<void> {
    while (this.inFlight.size >= this.queueSize) await Promise.race(this.inFlight);
    this.throwIfFailed();
    const partNumber = ++this.partNumber;
    if (partNumber > MAX_PARTS) throw new Error(`${this.options.key} needs more than ${MAX_PARTS} parts`);
    const buffer = this.current!;
    const body = buffer.subarray(0, this.filled);
    this.current = undefined;
    this.filled = 0;
    const sent = (async () => {
      try {
        const result = await this.options.client.send(
          new UploadPartCommand({
            Bucket: this.options.bucket,
            Key: this.options.key,
            UploadId: await this.createUpload(),
            PartNumber: partNumber,
            Body: body,
          }),
        );
        if (!result.ETag) throw new Error(`UploadPart ${partNumber} of ${this.options.key} returned no ETag`);
        this.parts.push({
          PartNumber: partNumber,
          ETag: result.ETag,
          ...(result.ChecksumCRC32 ? { ChecksumCRC32: result.ChecksumCRC32 } : {}),
        });
      } catch (error) {
        this.failure ??= error;
      } finally {
        if (buffer.length === this.partSize) this.free.push(buffer);
      }
    })();
    this.inFlight.add(sent);
    void sent.finally(() => this.inFlight.delete(sent));
  }

  private async abortUpload(): Promise<void> {
    if (this.uploadId === undefined) return;
    try {
      const UploadId = await this.uploadId;
      await this.options.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.options.bucket, Key: this.options.key, UploadId }),
      );
    } catch {
      // Nothing to abort (creation failed), or S3 refused: the bucket's lifecycle rule removes the parts.
    }
  }

  private release(): void {
    this.current = undefined;
    this.free.length = 0;
  }
}
