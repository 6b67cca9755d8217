import { CONTRACT_VERSION, chunkIdFor } from "./contract.ts";

/** Where finished chunks go: a local file, an S3 multipart upload, a test array. */
export interface ChunkSink {
  /** `line` is the chunk serialized as one JSON line (no trailing newline). */
  writeChunk(line: string, meta: ChunkMeta): Promise<void>;
}

export interface ChunkMeta {
  index: number;
  chunkId: string;
  firstRow: number;
  lastRow: number;
  rows: number;
  bytes: number;
}

export interface ChunkBounds {
  /** Rows per chunk at most. */
  rows: number;
  /** Serialized bytes of one chunk line (envelope included) at most. */
  bytes: number;
}

export const DEFAULT_CHUNK_BOUNDS: Readonly<ChunkBounds> = Object.freeze({ rows: 500, bytes: 200 * 1024 });

/**
 * Packs already-serialized rows into chunk lines bounded by row count and by bytes. Rows are serialized once
 * by the caller; this only measures and concatenates, so chunking costs little beside JSON itself.
 */
export class ChunkWriter {
  private readonly rowsJson: string[] = [];
  private pendingBytes = 0;
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
    this.envelopeBytes = Buffer.byteLength(this.envelope(widest, widest, widest));
  }

  get chunks(): number {
    return this.nextIndex;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** The largest serialized row that fits in a chunk on its own. */
  get maxRowBytes(): number {
    return this.bounds.bytes - this.envelopeBytes - 2;
  }

  private envelope(index: number, firstRow: number, lastRow: number): string {
    return `{"v":${CONTRACT_VERSION},"uploadId":${JSON.stringify(this.uploadId)},"index":${index},"chunkId":${JSON.stringify(
      chunkIdFor(this.uploadId, index),
    )},"firstRow":${firstRow},"lastRow":${lastRow},"rows":[`;
  }

  /** Adds a row (its JSON and byte length); the caller has checked `rowBytes <= maxRowBytes`. */
  async add(rowJson: string, rowBytes: number, row: number): Promise<void> {
    const separator = this.rowsJson.length > 0 ? 1 : 0;
    if (
      this.rowsJson.length >= this.bounds.rows ||
      (this.rowsJson.length > 0 &&
        this.envelopeBytes + this.pendingBytes + separator + rowBytes + 2 > this.bounds.bytes)
    ) {
      await this.flush();
    }
    if (this.rowsJson.length === 0) this.firstRow = row;
    else this.pendingBytes += 1;
    this.rowsJson.push(rowJson);
    this.pendingBytes += rowBytes;
    this.lastRow = row;
  }

  async flush(): Promise<void> {
    if (this.rowsJson.length === 0) return;
    const index = this.nextIndex++;
    const line = `${this.envelope(index, this.firstRow, this.lastRow)}${this.rowsJson.join(",")}]}`;
    const bytes = Buffer.byteLength(line);
    const meta: ChunkMeta = {
      index,
      chunkId: chunkIdFor(this.uploadId, index),
      firstRow: this.firstRow,
      lastRow: this.lastRow,
      rows: this.rowsJson.length,
      bytes,
    };
    this.rowsJson.length = 0;
    this.pendingBytes = 0;
    // +1 for the newline the jsonl file puts after each line.
    this.totalBytes += bytes + 1;
    await this.sink.writeChunk(line, meta);
  }
}
