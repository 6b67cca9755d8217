import { createHash } from "node:crypto";
import type { ChunkBounds, ChunkPointer } from "@sluice/contract";
import { CONTRACT_VERSION, chunkIdFor } from "@sluice/contract";
import { OutputWriteError, SluiceError } from "./errors.ts";

/** Where finished chunks go: a local file, an S3 multipart upload, a test array. */
export interface ChunkSink {
  /**
   * `line` is one chunk as a JSON Lines line: UTF-8 JSON followed by "\n". The bytes are the sink's to keep.
   * Backpressure: the next chunk is not written before the returned promise settles.
   */
  writeChunk(line: Buffer, meta: ChunkMeta): Promise<void>;
}

export interface ChunkMeta {
  index: number;
  chunkId: string;
  firstRow: number;
  lastRow: number;
  rows: number;
  /** Bytes of the chunk's JSON, without the newline. */
  bytes: number;
  /** Where the chunk's JSON starts in the chunks file (the sum of the lines before it). */
  offset: number;
  /** Base64 SHA-256 of the chunk's JSON bytes (newline excluded): what a reader of the byte range verifies. */
  sha256: string;
}

/** The pointer the Map hands out for a chunk written to `key` in `bucket` (one line of items.jsonl). */
export function chunkPointer(meta: ChunkMeta, bucket: string, key: string): ChunkPointer {
  const { index, chunkId, firstRow, lastRow, rows, offset, bytes, sha256 } = meta;
  return { index, chunkId, firstRow, lastRow, rows, bucket, key, offset, length: bytes, sha256 };
}

export type AddResult = { added: true } | { added: false; bytes: number };

const ADDED: AddResult = Object.freeze({ added: true });

/** UTF-8 takes at most 3 bytes per UTF-16 code unit (a surrogate pair: 4 bytes for 2 units). */
const MAX_UTF8_PER_UNIT = 3;

/**
 * Packs serialized rows into chunk lines bounded by row count and by bytes. Each row's JSON is encoded once,
 * straight into a reused buffer, so rows waiting for their chunk are bytes off the JS heap rather than strings
 * the garbage collector has to promote and sweep.
 */
export class ChunkWriter {
  private readonly body: Buffer;
  private bodyBytes = 0;
  private rowCount = 0;
  private firstRow = 0;
  private lastRow = 0;
  private nextIndex = 0;
  private totalBytes = 0;
  /** Envelope bytes with every number at its widest, so the bound holds before the real numbers are known. */
  private readonly envelopeBytes: number;

  constructor(
    private readonly uploadId: string,
    private readonly bounds: ChunkBounds,
    private readonly sink: ChunkSink,
  ) {
    const widest = 999_999_999_999;
    this.envelopeBytes = Buffer.byteLength(this.envelope(widest, widest, widest)) + 2;
    this.body = Buffer.allocUnsafe(Math.max(0, bounds.bytes - this.envelopeBytes));
  }

  get chunks(): number {
    return this.nextIndex;
  }

  /** Bytes of all chunk lines written so far, newlines included (the size of chunks.jsonl). */
  get bytes(): number {
    return this.totalBytes;
  }

  /** The largest serialized row that fits in a chunk on its own. */
  get maxRowBytes(): number {
    return this.body.length;
  }

  private envelope(index: number, firstRow: number, lastRow: number): string {
    return `{"v":${CONTRACT_VERSION},"uploadId":${JSON.stringify(this.uploadId)},"index":${index},"chunkId":${JSON.stringify(
      chunkIdFor(this.uploadId, index),
    )},"firstRow":${firstRow},"lastRow":${lastRow},"rows":[`;
  }

  /**
   * Adds a row's JSON; a row too large for any chunk is not added, and its size is returned. Synchronous unless
   * the chunk is full and has to be flushed first (then a promise): a million rows make no million awaits.
   */
  add(rowJson: string, row: number): AddResult | Promise<AddResult> {
    const room = this.body.length;
    // A UTF-16 unit is at least one UTF-8 byte, so a string longer than the room can never fit.
    if (rowJson.length > room) return { added: false, bytes: Buffer.byteLength(rowJson) };
    if (this.rowCount >= this.bounds.rows) return this.flush().then(() => this.add(rowJson, row));
    const separator = this.rowCount > 0 ? 1 : 0;
    if (this.bodyBytes + separator + rowJson.length * MAX_UTF8_PER_UNIT > room) {
      // Near the end of the room: measure exactly before deciding.
      const bytes = Buffer.byteLength(rowJson);
      if (bytes > room) return { added: false, bytes };
      if (this.bodyBytes + separator + bytes > room) return this.flush().then(() => this.add(rowJson, row));
    }
    if (this.rowCount === 0) this.firstRow = row;
    else this.body[this.bodyBytes++] = 0x2c; // ","
    this.bodyBytes += this.body.write(rowJson, this.bodyBytes);
    this.rowCount++;
    this.lastRow = row;
    return ADDED;
  }

  async flush(): Promise<void> {
    if (this.rowCount === 0) return;
    const index = this.nextIndex++;
    const head = Buffer.from(this.envelope(index, this.firstRow, this.lastRow));
    const line = Buffer.allocUnsafe(head.length + this.bodyBytes + 3);
    head.copy(line, 0);
    this.body.copy(line, head.length, 0, this.bodyBytes);
    line.write("]}\n", head.length + this.bodyBytes, "latin1");
    const meta: ChunkMeta = {
      index,
      chunkId: chunkIdFor(this.uploadId, index),
      firstRow: this.firstRow,
      lastRow: this.lastRow,
      rows: this.rowCount,
      bytes: line.length - 1,
      offset: this.totalBytes,
      sha256: createHash("sha256")
        .update(line.subarray(0, line.length - 1))
        .digest("base64"),
    };
    this.rowCount = 0;
    this.bodyBytes = 0;
    this.totalBytes += line.length;
    try {
      await this.sink.writeChunk(line, meta);
    } catch (error) {
      // A sink's own typed error passes; anything else is a failed write, not (as it was) a failed read.
      if (error instanceof SluiceError) throw error;
      throw new OutputWriteError(
        `Writing chunk ${index} failed: ${(error as Error)?.message ?? String(error)}`,
        {
          cause: error,
        },
      );
    }
  }
}
