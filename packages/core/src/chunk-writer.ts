import { createHash } from "node:crypto";
import type { ChunkBounds, ChunkPointer } from "@sluice/contract";
import { CONTRACT_VERSION, chunkIdFor } from "@sluice/contract/constants";
import { OutputWriteError, SluiceError } from "./errors.ts";
import {
  CONTROL_ESCAPES,
  jsonStringBytes,
  MAX_SCALAR_BYTES,
  scalarJson,
  writeDigits,
  writeEscape,
  writeJsonString,
} from "./json-text.ts";
import type { ByteRecord, CellValue, JsonRecord } from "./workbook-reader.ts";

/** Where finished chunks go: a local file, an S3 multipart upload, a test array. */
export interface ChunkSink {
  /**
   * `line` is one chunk as a JSON Lines line: UTF-8 JSON followed by "\n". The bytes are lent: they are reused for
   * a later chunk once the returned promise settles, so a sink that keeps them past that copies them.
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
  /**
   * The chunk being filled: `head` bytes kept for its envelope, then its rows. Sealing writes the envelope just
   * before the rows and hands the sink a view of the same buffer, which comes back to `spare` once written: no
   * copy of the rows and no new multi-megabyte buffer per chunk.
   */
  private body: Buffer;
  private readonly spare: Buffer[] = [];
  /** Envelope bytes with every number at its widest. */
  private readonly head: number;
  /** Bytes of rows a chunk holds. */
  private readonly room: number;
  /** Bytes of rows in `body` (after its head). */
  private bodyBytes = 0;
  private rowCount = 0;
  private firstRow = 0;
  private lastRow = 0;
  private nextIndex = 0;
  private totalBytes = 0;
  /** Chunks closed and not yet handed to the sink, in order, with the buffer each is a view of. */
  private readonly sealed: SealedChunk[] = [];
  /** The write in flight (see drain). */
  private writing: Promise<void> = Promise.resolve();
  /** Envelope bytes with every number at its widest, so the bound holds before the real numbers are known. */
  private readonly envelopeBytes: number;

  constructor(
    private readonly uploadId: string,
    private readonly bounds: ChunkBounds,
    private readonly sink: ChunkSink,
  ) {
    const widest = 999_999_999_999;
    this.head = Buffer.byteLength(this.envelope(widest, widest, widest));
    this.envelopeBytes = this.head + 2;
    this.room = Math.max(0, bounds.bytes - this.envelopeBytes);
    this.body = this.newBody();
  }

  private newBody(): Buffer {
    // RecordEncoder may write 3 bytes past a row's end (which the next row or the closing `]}\n` overwrites).
    // Never from Buffer's shared pool: a body is lent to the sink as a whole buffer of its own.
    return this.spare.pop() ?? Buffer.allocUnsafeSlow(this.head + this.room + 4);
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
    return this.room;
  }

  private envelope(index: number, firstRow: number, lastRow: number): string {
    return `{"v":${CONTRACT_VERSION},"uploadId":${JSON.stringify(this.uploadId)},"index":${index},"chunkId":${JSON.stringify(
      chunkIdFor(this.uploadId, index),
    )},"firstRow":${firstRow},"lastRow":${lastRow},"rows":[`;
  }

  /**
   * Adds a row's JSON; a row too large for any chunk is not added, and its size is returned. Synchronous unless
   * a chunk was full and is written first (then a promise): a million rows make no million awaits.
   */
  add(rowJson: string, row: number): AddResult | Promise<AddResult> {
    const result = this.addLine(rowJson, row);
    return this.sealed.length > 0 ? this.drain().then(() => result) : result;
  }

  /** `add` without writing: a full chunk is sealed and waits for `drain()`, as in `addRecord`. */
  addLine(rowJson: string, row: number): AddResult {
    const room = this.room;
    // A UTF-16 unit is at least one UTF-8 byte, so a string longer than the room can never fit.
    if (rowJson.length > room) return { added: false, bytes: Buffer.byteLength(rowJson) };
    if (this.rowCount >= this.bounds.rows) this.seal();
    const separator = this.rowCount > 0 ? 1 : 0;
    if (this.bodyBytes + separator + rowJson.length * MAX_UTF8_PER_UNIT > room) {
      // Near the end of the room: measure exactly before deciding.
      const refused = this.makeRoom(Buffer.byteLength(rowJson));
      if (refused) return refused;
    }
    const at = this.rowStart(row);
    return this.rowEnd(at + this.body.write(rowJson, at), row);
  }

  /**
   * Adds a byte record (see `RecordEncoder`) as `{"row":N,"data":{...}}`, encoded straight into the chunk: no
   * string, no object. Always synchronous: a full chunk is sealed and waits in memory for `drain()`, which the
   * caller awaits between input chunks (so the queue holds at most one input chunk's worth of rows).
   */
  addRecord(encoder: RecordEncoder, record: ByteRecord): AddResult {
    const room = this.room;
    if (this.rowCount >= this.bounds.rows) this.seal();
    const worst = encoder.maxBytes(record);
    if (this.bodyBytes + 1 + worst > room) {
      // Near the end of the room: measure exactly before deciding.
      const refused = this.makeRoom(encoder.exactBytes(record));
      if (refused) return refused;
    }
    const at = this.rowStart(record.row);
    return this.rowEnd(encoder.encode(record, this.body, at), record.row);
  }

  /**
   * Adds a row of cell values (see `RecordEncoder.encodeCells`) as `{"row":N,"data":{...}}`, encoded straight into
   * the chunk. Synchronous like `addRecord`: full chunks wait for `drain()`.
   */
  addCells(encoder: RecordEncoder, cells: readonly (CellValue | undefined)[], row: number): AddResult {
    const room = this.room;
    if (this.rowCount >= this.bounds.rows) this.seal();
    if (this.bodyBytes + 1 + encoder.maxCellsBytes(cells) > room) {
      const refused = this.makeRoom(encoder.exactCellsBytes(cells, row));
      if (refused) return refused;
    }
    const at = this.rowStart(row);
    return this.rowEnd(encoder.encodeCells(cells, row, this.body, at), row);
  }

  /**
   * Adds a row whose values are JSON text already (see `RecordEncoder.encodeJson`). Synchronous like
   * `addRecord`: full chunks wait for `drain()`.
   */
  addJson(encoder: RecordEncoder, record: JsonRecord): AddResult {
    if (this.rowCount >= this.bounds.rows) this.seal();
    const refused = this.makeRoom(encoder.exactJsonBytes(record));
    if (refused) return refused;
    const at = this.rowStart(record.row);
    return this.rowEnd(encoder.encodeJson(record, this.body, at), record.row);
  }

  /**
   * Room for a row of exactly `bytes`: undefined once it fits (the chunk sealed first when it would not), or the
   * answer for a row no chunk can hold.
   */
  private makeRoom(bytes: number): AddResult | undefined {
    if (bytes > this.room) return { added: false, bytes };
    if (this.bodyBytes + (this.rowCount > 0 ? 1 : 0) + bytes > this.room) this.seal();
    return undefined;
  }

  /** Where the next row's bytes go: after its comma, or first in the chunk (then its number is the chunk's first). */
  private rowStart(row: number): number {
    if (this.rowCount === 0) this.firstRow = row;
    else this.body[this.head + this.bodyBytes++] = 0x2c; // ","
    return this.head + this.bodyBytes;
  }

  /** Counts the row just written up to `end`. */
  private rowEnd(end: number, row: number): AddResult {
    this.bodyBytes = end - this.head;
    this.rowCount++;
    this.lastRow = row;
    return ADDED;
  }

  async flush(): Promise<void> {
    this.seal();
    await this.drain();
    await this.writing;
  }

  /**
   * Hands the sealed chunks to the sink, one after the other. The last one's write is left in flight, so the
   * sink writes while rows are read; the next drain (or flush) waits for it first: one write at a time.
   */
  async drain(): Promise<void> {
    while (this.sealed.length > 0) {
      await this.writing;
      this.writing = this.write(this.sealed.shift()!);
      // Its failure is thrown by the next drain or flush; one that ends nowhere (the conversion already
      // failed) must not be an unhandled rejection.
      this.writing.catch(() => undefined);
    }
  }

  private async write({ line, meta, body }: SealedChunk): Promise<void> {
    try {
      await this.sink.writeChunk(line, meta);
      // Two spare buffers cover a chunk being written while the next fills.
      if (body !== undefined && this.spare.length < 2) this.spare.push(body);
    } catch (error) {
      this.sealed.length = 0;
      // A sink's own typed error passes; anything else is a failed write, not (as it was) a failed read.
      if (error instanceof SluiceError) throw error;
      throw new OutputWriteError(
        `Writing chunk ${meta.index} failed: ${(error as Error)?.message ?? String(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  /** Closes the current chunk into a line waiting for `drain()`. */
  private seal(): void {
    if (this.rowCount === 0) return;
    const index = this.nextIndex++;
    const body = this.body;
    const envelope = this.envelope(index, this.firstRow, this.lastRow);
    const start = this.head - Buffer.byteLength(envelope);
    body.write(envelope, start);
    const end = this.head + this.bodyBytes;
    body.write("]}\n", end, "latin1");
    // A full chunk is lent as it is and the next fills another buffer; a short one (a row bound well below the
    // byte bound) is copied out, so chunks waiting to be written hold about their own size.
    const full = this.bodyBytes * 2 >= this.room;
    const line = full ? body.subarray(start, end + 3) : Buffer.from(body.subarray(start, end + 3));
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
    this.sealed.push({ line, meta, body: full ? body : undefined });
    if (full) this.body = this.newBody();
  }
}

/** A chunk closed and not yet written: its line, and the buffer the line is a view of (undefined: a copy). */
interface SealedChunk {
  line: Buffer;
  meta: ChunkMeta;
  body: Buffer | undefined;
}

const ROW_PREFIX = Buffer.from('{"row":', "latin1");
const DATA_PREFIX = Buffer.from(',"data":{', "latin1");
/** `{"row":` + up to 16 digits + `,"data":{` + `}}`. */
const FIXED_BYTES = ROW_PREFIX.length + 16 + DATA_PREFIX.length + 2;

/**
 * Writes a byte record as the JSON `JSON.stringify({ row, data: { <name>: value ?? null, ... } })` would give
 * (same bytes: the same key order, the same escapes), for the current header: names by column in sheet order.
 * Values are valid UTF-8 already, so only `"`, `\` and control characters need escaping; `""` in a quoted field
 * is unescaped on the way.
 */
export class RecordEncoder {
  /**
   * `"name":` for every column (each after the first with its leading comma) as little-endian 32-bit words, each
   * key starting on a word: keys are most of a row's bytes, and are copied four bytes at a time.
   */
  private keyWords = new Uint32Array(0);
  private keyStarts = new Int32Array(0);
  private keyLengths = new Int32Array(0);
  private keyBytes = 0;
  private columns: number[] = [];
  private view: DataView | undefined;
  private viewed: Buffer | undefined;
  private readView: DataView | undefined;
  private read: Buffer | undefined;

  setHeader(columns: readonly number[], names: readonly string[]): void {
    // JavaScript objects (so JSON.stringify) put array-index keys first, in numeric order: the same order here.
    const order = columns.map((_, k) => k);
    const indexes = order.filter((k) => isArrayIndex(names[k]!));
    if (indexes.length > 0) {
      indexes.sort((a, b) => Number(names[a]) - Number(names[b]));
      order.splice(0, order.length, ...indexes, ...order.filter((k) => !isArrayIndex(names[k]!)));
    }
    const parts = order.map((k, at) =>
      Buffer.from(`${at > 0 ? "," : ""}${JSON.stringify(names[k])}:`, "utf8"),
    );
    const padded = Buffer.alloc(parts.reduce((sum, part) => sum + ((part.length + 3) & ~3), 0));
    this.keyStarts = new Int32Array(parts.length);
    this.keyLengths = new Int32Array(parts.length);
    let at = 0;
    parts.forEach((part, k) => {
      this.keyStarts[k] = at >> 2;
      this.keyLengths[k] = part.length;
      part.copy(padded, at);
      at += (part.length + 3) & ~3;
    });
    this.keyWords = new Uint32Array(padded.length >> 2);
    for (let w = 0; w < this.keyWords.length; w++) this.keyWords[w] = padded.readUInt32LE(w * 4);
    this.keyBytes = parts.reduce((sum, part) => sum + part.length, 0);
    this.columns = order.map((k) => columns[k]!);
  }

  /** At least the bytes `encode` writes: every value byte escaped to six (`\u00XX`). */
  maxBytes(record: ByteRecord): number {
    return FIXED_BYTES + this.keyBytes + 6 * this.columns.length + 6 * record.span;
  }

  /** Exactly the bytes `encode` writes. */
  exactBytes(record: ByteRecord): number {
    let n = ROW_PREFIX.length + String(record.row).length + DATA_PREFIX.length + this.keyBytes + 2;
    const { bytes, count, starts, ends, quoted } = record;
    const columns = this.columns;
    for (let k = 0; k < columns.length; k++) {
      const c = columns[k]!;
      if (c >= count || starts[c] === ends[c]) {
        n += 4;
        continue;
      }
      n += 2;
      const e = ends[c]!;
      const pairs = quoted[c] === 1;
      for (let i = starts[c]!; i < e; i++) {
        const b = bytes[i]!;
        if (b >= 0x20 && b !== 0x22 && b !== 0x5c) n++;
        else if (b === 0x22) {
          if (pairs && i + 1 < e && bytes[i + 1] === 0x22) i++;
          n += 2;
        } else if (b === 0x5c) n += 2;
        else n += CONTROL_ESCAPES[b]!.length;
      }
    }
    return n;
  }

  /**
   * Writes key `k` (`"name":`, with its leading comma after the first) at `o`, four bytes at a time; returns its
   * end. Up to three bytes past it are written too: what follows (a value, then a key or `}}`: at least three
   * bytes) overwrites them.
   */
  private writeKey(view: DataView, o: number, k: number): number {
    const words = this.keyWords;
    const length = this.keyLengths[k]!;
    for (let j = 0, w = this.keyStarts[k]!; j < length; j += 4, w++) view.setUint32(o + j, words[w]!, true);
    return o + length;
  }

  /** A DataView on the record's bytes, kept while the record reuses the same buffer. */
  private inputView(bytes: Buffer): DataView {
    if (bytes !== this.read) {
      this.read = bytes;
      this.readView = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    }
    return this.readView!;
  }

  /** Writes `{"row":<row>,"data":{` at `at` and points `view` at `out`; returns where the first key goes. */
  private writeRowStart(out: Buffer, at: number, row: number): number {
    let o = at;
    for (let i = 0; i < ROW_PREFIX.length; i++) out[o++] = ROW_PREFIX[i]!;
    o = writeDigits(out, o, row);
    for (let i = 0; i < DATA_PREFIX.length; i++) out[o++] = DATA_PREFIX[i]!;
    if (out !== this.viewed) {
      this.viewed = out;
      this.view = new DataView(out.buffer, out.byteOffset, out.length);
    }
    return o;
  }

  /**
   * Writes the record's JSON at `at` (the caller made room: `exactBytes`, and 3 bytes more that may be
   * overwritten); returns the end.
   */
  encode(record: ByteRecord, out: Buffer, at: number): number {
    let o = this.writeRowStart(out, at, record.row);
    const { bytes, count, starts, ends, quoted } = record;
    const columns = this.columns;
    const view = this.view!;
    const input = this.inputView(bytes);
    for (let k = 0; k < columns.length; k++) {
      o = this.writeKey(view, o, k);
      const c = columns[k]!;
      if (c >= count || starts[c] === ends[c]) {
        o = writeNull(out, o);
        continue;
      }
      out[o++] = 0x22;
      const e = ends[c]!;
      const pairs = quoted[c] === 1;
      let i = starts[c]!;
      // Four bytes at a time while none of them needs escaping (bit tricks: a byte below 0x20, or equal to
      // `"` or `\`, sets its high bit in `special`).
      for (; i + 4 <= e; i += 4, o += 4) {
        const x = input.getInt32(i, true);
        const q = x ^ 0x22222222;
        const s = x ^ 0x5c5c5c5c;
        const special = ((x - 0x20202020) & ~x) | ((q - 0x01010101) & ~q) | ((s - 0x01010101) & ~s);
        if ((special & 0x80808080) !== 0) break;
        view.setInt32(o, x, true);
      }
      for (; i < e; i++) {
        const b = bytes[i]!;
        if (b >= 0x20 && b !== 0x22 && b !== 0x5c) {
          out[o++] = b;
        } else {
          if (b === 0x22 && pairs && i + 1 < e && bytes[i + 1] === 0x22) i++;
          o = writeEscape(b, out, o);
        }
      }
      out[o++] = 0x22;
    }
    out[o++] = 0x7d; // }}
    out[o++] = 0x7d;
    return o;
  }

  /** Exactly the bytes `encodeJson` writes. */
  exactJsonBytes(record: JsonRecord): number {
    const row = record.row;
    let n = ROW_PREFIX.length + (row < 10 ? 1 : String(row).length) + DATA_PREFIX.length + this.keyBytes + 2;
    const { count, starts, ends } = record;
    const columns = this.columns;
    for (let k = 0; k < columns.length; k++) {
      const c = columns[k]!;
      n += c < count && starts[c] !== ends[c] ? ends[c]! - starts[c]! : 4;
    }
    return n;
  }

  /**
   * Writes `{"row":N,"data":{...}}` from a record whose values are JSON text: keys and values are copied (the
   * caller made room: `exactJsonBytes`, and 3 bytes more that may be overwritten); returns the end.
   */
  encodeJson(record: JsonRecord, out: Buffer, at: number): number {
    let o = this.writeRowStart(out, at, record.row);
    const { bytes, count, starts, ends } = record;
    const input = this.inputView(bytes);
    const columns = this.columns;
    const view = this.view!;
    for (let k = 0; k < columns.length; k++) {
      o = this.writeKey(view, o, k);
      const c = columns[k]!;
      if (c >= count || starts[c] === ends[c]) {
        o = writeNull(out, o);
        continue;
      }
      const e = ends[c]!;
      let i = starts[c]!;
      if (e - i > 64) {
        o += bytes.copy(out, o, i, e);
        continue;
      }
      // Four bytes at a time, then the rest.
      for (; i + 4 <= e; i += 4, o += 4) view.setUint32(o, input.getUint32(i, true), true);
      for (; i < e; i++) out[o++] = bytes[i]!;
    }
    out[o++] = 0x7d; // }}
    out[o++] = 0x7d;
    return o;
  }

  /** At least the bytes `encodeCells` writes: a UTF-16 unit takes at most 6 (`\\u00XX`, `\\udXXX`). */
  maxCellsBytes(cells: readonly (CellValue | undefined)[]): number {
    let n = FIXED_BYTES + this.keyBytes;
    const columns = this.columns;
    for (let k = 0; k < columns.length; k++) {
      const value = cells[columns[k]!];
      n += typeof value === "string" ? 2 + 6 * value.length : MAX_SCALAR_BYTES;
    }
    return n;
  }

  /** Exactly the bytes `encodeCells` writes. */
  exactCellsBytes(cells: readonly (CellValue | undefined)[], row: number): number {
    let n = ROW_PREFIX.length + String(row).length + DATA_PREFIX.length + this.keyBytes + 2;
    const columns = this.columns;
    for (let k = 0; k < columns.length; k++) {
      const value = cells[columns[k]!];
      if (typeof value === "string") n += 2 + jsonStringBytes(value);
      else n += scalarJson(value).length;
    }
    return n;
  }

  /**
   * Writes `JSON.stringify({ row, data: { <name>: cells[<column>] ?? null, ... } })` at `at`, as UTF-8 (the
   * caller made room: `exactCellsBytes`, and 3 bytes more that may be overwritten); returns the end. Strings are
   * escaped and encoded here, as JSON.stringify and Buffer.write would (a lone surrogate becomes `\\udXXX`).
   */
  encodeCells(cells: readonly (CellValue | undefined)[], row: number, out: Buffer, at: number): number {
    let o = this.writeRowStart(out, at, row);
    const columns = this.columns;
    const view = this.view!;
    for (let k = 0; k < columns.length; k++) {
      o = this.writeKey(view, o, k);
      const value = cells[columns[k]!];
      if (typeof value === "string") o = writeJsonString(value, out, o);
      else {
        const text = scalarJson(value);
        for (let i = 0; i < text.length; i++) out[o++] = text.charCodeAt(i);
      }
    }
    out[o++] = 0x7d; // }}
    out[o++] = 0x7d;
    return o;
  }
}

/** A property name JavaScript orders as an array index ("0", "7", not "07" or "4294967295"). */
function isArrayIndex(name: string): boolean {
  return /^(?:0|[1-9][0-9]{0,9})$/.test(name) && Number(name) < 2 ** 32 - 1;
}

function writeNull(out: Buffer, at: number): number {
  out[at] = 0x6e;
  out[at + 1] = 0x75;
  out[at + 2] = 0x6c;
  out[at + 3] = 0x6c;
  return at + 4;
}
