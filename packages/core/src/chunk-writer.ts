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

/** What follows the rows: `]}` (and, with warnings, `,"warnings":[...]` before the `}`). */
const CLOSE_BYTES = 2;
/** `,"warnings":[` and its `]`. */
const WARNINGS_WRAP = ',"warnings":['.length + 1;

/**
 * Packs serialized rows into chunk lines bounded by row count and by bytes. Each row's JSON is encoded once,
 * straight into a reused buffer, so rows waiting for their chunk are bytes off the JS heap rather than strings
 * the garbage collector has to promote and sweep. A chunk names its columns once (`setColumns`); a header that
 * grows closes the chunk being filled, so every row of a chunk has one value per column of that chunk.
 */
export class ChunkWriter {
  /**
   * The chunk being filled: `head` bytes kept for its envelope, then its rows. Sealing writes the envelope just
   * before the rows and hands the sink a view of the same buffer, which comes back to `spare` once written: no
   * copy of the rows and no new multi-megabyte buffer per chunk.
   */
  private body: Buffer;
  private readonly spare: Buffer[] = [];
  /** Envelope bytes (columns included) with every number at its widest. */
  private head = 0;
  /** Bytes of rows and warnings a chunk holds with the current columns. */
  private room = 0;
  /** The current columns as JSON (`["a","b"]`). */
  private columnsJson = "[]";
  /** Bytes of rows in `body` (after its head). */
  private bodyBytes = 0;
  /** The chunk's warnings as JSON objects, and the bytes they add to it (wrapper and commas included). */
  private warnings: string[] = [];
  private warningBytes = 0;
  private rowCount = 0;
  private firstRow = 0;
  private lastRow = 0;
  private nextIndex = 0;
  private totalBytes = 0;
  /** Chunks closed and not yet handed to the sink, in order, with the buffer each is a view of. */
  private readonly sealed: SealedChunk[] = [];
  /** The write in flight (see drain). */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly uploadId: string,
    private readonly bounds: ChunkBounds,
    private readonly sink: ChunkSink,
  ) {
    this.setColumns([]);
    this.body = this.newBody();
  }

  private newBody(): Buffer {
    // The whole line fits the byte bound; a few bytes more for the newline. Never from Buffer's shared pool: a
    // body is lent to the sink as a whole buffer of its own.
    return this.spare.pop() ?? Buffer.allocUnsafeSlow(this.bounds.bytes + 8);
  }

  /**
   * The columns of the rows that follow, in the order their values come. Rows already added keep the columns
   * they were added with: their chunk is closed first.
   */
  setColumns(names: readonly string[]): void {
    this.seal();
    this.columnsJson = JSON.stringify(names);
    const widest = 999_999_999_999;
    this.head = Buffer.byteLength(this.envelope(widest, widest, widest));
    this.room = Math.max(0, this.bounds.bytes - this.head - CLOSE_BYTES);
  }

  get chunks(): number {
    return this.nextIndex;
  }

  /** Bytes of all chunk lines written so far, newlines included (the size of chunks.jsonl). */
  get bytes(): number {
    return this.totalBytes;
  }

  /** The largest serialized row (with its warnings) that fits in a chunk on its own, with the current columns. */
  get maxRowBytes(): number {
    return this.room;
  }

  private envelope(index: number, firstRow: number, lastRow: number): string {
    return `{"v":${CONTRACT_VERSION},"uploadId":${JSON.stringify(this.uploadId)},"index":${index},"chunkId":${JSON.stringify(
      chunkIdFor(this.uploadId, index),
    )},"firstRow":${firstRow},"lastRow":${lastRow},"columns":${this.columnsJson},"rows":[`;
  }

  /**
   * Adds a row's JSON (`[row, ...values]`, one value per column); a row too large for any chunk is not added,
   * and its size is returned. Synchronous unless a chunk was full and is written first (then a promise).
   */
  add(rowJson: string, row: number): AddResult | Promise<AddResult> {
    const result = this.addLine(rowJson, row);
    return this.sealed.length > 0 ? this.drain().then(() => result) : result;
  }

  /** `add` without writing: a full chunk is sealed and waits for `drain()`, as in `addRecord`. */
  addLine(rowJson: string, row: number): AddResult {
    // A UTF-16 unit is at least one UTF-8 byte, so a string longer than the room can never fit.
    if (rowJson.length > this.room) return { added: false, bytes: Buffer.byteLength(rowJson) };
    if (this.rowCount >= this.bounds.rows) this.seal();
    if (this.bodyBytes + 1 + rowJson.length * MAX_UTF8_PER_UNIT + this.warningBytes > this.room) {
      // Near the end of the room: measure exactly before deciding.
      const refused = this.makeRoom(Buffer.byteLength(rowJson), 0);
      if (refused) return refused;
    }
    const at = this.rowStart(row);
    return this.rowEnd(at + this.body.write(rowJson, at), row);
  }

  /**
   * Adds a byte record (see `RecordEncoder`) as `[row, ...values]`, encoded straight into the chunk: no string,
   * no object. Always synchronous: a full chunk is sealed and waits in memory for `drain()`, which the caller
   * awaits between input chunks (so the queue holds at most one input chunk's worth of rows).
   */
  addRecord(encoder: RecordEncoder, record: ByteRecord): AddResult {
    if (this.rowCount >= this.bounds.rows) this.seal();
    const worst = encoder.maxBytes(record);
    if (this.bodyBytes + 1 + worst + this.warningBytes > this.room) {
      // Near the end of the room: measure exactly before deciding.
      const refused = this.makeRoom(encoder.exactBytes(record), 0);
      if (refused) return refused;
    }
    const at = this.rowStart(record.row);
    return this.rowEnd(encoder.encode(record, this.body, at), record.row);
  }

  /**
   * Adds a row of cell values (see `RecordEncoder.encodeCells`) as `[row, ...values]`, encoded straight into the
   * chunk, and its warnings (JSON objects `{"row":..,"column":..,"code":..,"message":..}`) into the same chunk's
   * list. Synchronous like `addRecord`: full chunks wait for `drain()`.
   */
  addCells(
    encoder: RecordEncoder,
    cells: readonly (CellValue | undefined)[],
    row: number,
    warnings?: readonly string[],
  ): AddResult {
    if (this.rowCount >= this.bounds.rows) this.seal();
    const warned = warnings && warnings.length > 0 ? warnings : undefined;
    const extra = warned ? warningsBytes(warned) : 0;
    if (warned || this.bodyBytes + 1 + encoder.maxCellsBytes(cells) + this.warningBytes > this.room) {
      const refused = this.makeRoom(encoder.exactCellsBytes(cells, row), extra);
      if (refused) return refused;
    }
    const at = this.rowStart(row);
    const result = this.rowEnd(encoder.encodeCells(cells, row, this.body, at), row);
    if (warned) {
      this.warningBytes += this.warnings.length === 0 ? WARNINGS_WRAP + extra : extra + 1;
      this.warnings.push(...warned);
    }
    return result;
  }

  /**
   * Adds a row whose values are JSON text already (see `RecordEncoder.encodeJson`). Synchronous like
   * `addRecord`: full chunks wait for `drain()`.
   */
  addJson(encoder: RecordEncoder, record: JsonRecord): AddResult {
    if (this.rowCount >= this.bounds.rows) this.seal();
    const refused = this.makeRoom(encoder.exactJsonBytes(record), 0);
    if (refused) return refused;
    const at = this.rowStart(record.row);
    return this.rowEnd(encoder.encodeJson(record, this.body, at), record.row);
  }

  /**
   * Room for a row of exactly `bytes` and warnings of `warningBytes` (their JSON joined by commas): undefined once
   * it fits (the chunk sealed first when it would not), or the answer for a row no chunk can hold.
   */
  private makeRoom(bytes: number, warningBytes: number): AddResult | undefined {
    const alone = bytes + (warningBytes > 0 ? WARNINGS_WRAP + warningBytes : 0);
    if (alone > this.room) return { added: false, bytes: alone };
    const more = warningBytes > 0 ? warningBytes + (this.warnings.length > 0 ? 1 : WARNINGS_WRAP) : 0;
    if (this.bodyBytes + (this.rowCount > 0 ? 1 : 0) + bytes + this.warningBytes + more > this.room)
      this.seal();
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
    let end = this.head + this.bodyBytes;
    body[end++] = 0x5d; // "]"
    if (this.warnings.length > 0) {
      end += body.write(`,"warnings":[${this.warnings.join(",")}]`, end);
      this.warnings = [];
      this.warningBytes = 0;
    }
    body.write("}\n", end, "latin1");
    end += 2;
    // A full chunk is lent as it is and the next fills another buffer; a short one (a row bound well below the
    // byte bound) is copied out, so chunks waiting to be written hold about their own size.
    const full = this.bodyBytes * 2 >= this.room;
    const line = full ? body.subarray(start, end) : Buffer.from(body.subarray(start, end));
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

/** Bytes of warnings' JSON joined by commas. */
function warningsBytes(warnings: readonly string[]): number {
  let n = warnings.length - 1;
  for (const w of warnings) n += Buffer.byteLength(w);
  return n;
}

/** A chunk closed and not yet written: its line, and the buffer the line is a view of (undefined: a copy). */
interface SealedChunk {
  line: Buffer;
  meta: ChunkMeta;
  body: Buffer | undefined;
}

/** `[` + up to 16 digits + `]`. */
const FIXED_BYTES = 18;

/**
 * Writes a row as the JSON `JSON.stringify([row, ...values])` would give (same bytes, the same escapes), one value
 * per column of the current header in sheet order (null where the row has none). Values are valid UTF-8
 * already, so only `"`, `\` and control characters need escaping; `""` in a quoted field is unescaped on the way.
 */
export class RecordEncoder {
  /** Column indexes of the current header, in sheet order (the order of a chunk's `columns`). */
  private columns: number[] = [];
  private view: DataView | undefined;
  private viewed: Buffer | undefined;
  private readView: DataView | undefined;
  private read: Buffer | undefined;

  setHeader(columns: readonly number[]): void {
    this.columns = [...columns];
  }

  /** At least the bytes `encode` writes: every value byte escaped to six (`\u00XX`). */
  maxBytes(record: ByteRecord): number {
    return FIXED_BYTES + 7 * this.columns.length + 6 * record.span;
  }

  /** Exactly the bytes `encode` writes. */
  exactBytes(record: ByteRecord): number {
    let n = 2 + String(record.row).length;
    const { bytes, count, starts, ends, quoted } = record;
    const columns = this.columns;
    for (let k = 0; k < columns.length; k++) {
      const c = columns[k]!;
      if (c >= count || starts[c] === ends[c]) {
        n += 5;
        continue;
      }
      n += 3;
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

  /** A DataView on the record's bytes, kept while the record reuses the same buffer. */
  private inputView(bytes: Buffer): DataView {
    if (bytes !== this.read) {
      this.read = bytes;
      this.readView = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    }
    return this.readView!;
  }

  /** Writes `[<row>` at `at` and points `view` at `out`; returns where the first value's comma goes. */
  private writeRowStart(out: Buffer, at: number, row: number): number {
    out[at] = 0x5b; // [
    if (out !== this.viewed) {
      this.viewed = out;
      this.view = new DataView(out.buffer, out.byteOffset, out.length);
    }
    return writeDigits(out, at + 1, row);
  }

  /** Writes the record's JSON at `at` (the caller made room: `exactBytes`); returns the end. */
  encode(record: ByteRecord, out: Buffer, at: number): number {
    let o = this.writeRowStart(out, at, record.row);
    const { bytes, count, starts, ends, quoted } = record;
    const columns = this.columns;
    const view = this.view!;
    const input = this.inputView(bytes);
    for (let k = 0; k < columns.length; k++) {
      out[o++] = 0x2c; // ,
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
    out[o++] = 0x5d; // ]
    return o;
  }

  /** Exactly the bytes `encodeJson` writes. */
  exactJsonBytes(record: JsonRecord): number {
    const row = record.row;
    let n = 2 + (row < 10 ? 1 : String(row).length);
    const { count, starts, ends } = record;
    const columns = this.columns;
    for (let k = 0; k < columns.length; k++) {
      const c = columns[k]!;
      n += c < count && starts[c] !== ends[c] ? 1 + ends[c]! - starts[c]! : 5;
    }
    return n;
  }

  /**
   * Writes `[row, ...values]` from a record whose values are JSON text: the values are copied (the caller made
   * room: `exactJsonBytes`); returns the end.
   */
  encodeJson(record: JsonRecord, out: Buffer, at: number): number {
    let o = this.writeRowStart(out, at, record.row);
    const { bytes, count, starts, ends } = record;
    const input = this.inputView(bytes);
    const columns = this.columns;
    const view = this.view!;
    for (let k = 0; k < columns.length; k++) {
      out[o++] = 0x2c; // ,
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
    out[o++] = 0x5d; // ]
    return o;
  }

  /** At least the bytes `encodeCells` writes: a UTF-16 unit takes at most 6 (`\\u00XX`, `\\udXXX`). */
  maxCellsBytes(cells: readonly (CellValue | undefined)[]): number {
    let n = FIXED_BYTES;
    const columns = this.columns;
    for (let k = 0; k < columns.length; k++) {
      const value = cells[columns[k]!];
      n += 1 + (typeof value === "string" ? 2 + 6 * value.length : MAX_SCALAR_BYTES);
    }
    return n;
  }

  /** Exactly the bytes `encodeCells` writes. */
  exactCellsBytes(cells: readonly (CellValue | undefined)[], row: number): number {
    let n = 2 + String(row).length;
    const columns = this.columns;
    for (let k = 0; k < columns.length; k++) {
      const value = cells[columns[k]!];
      if (typeof value === "string") n += 3 + jsonStringBytes(value);
      else n += 1 + scalarJson(value).length;
    }
    return n;
  }

  /**
   * Writes `JSON.stringify([row, ...cells in column order])` at `at`, as UTF-8, undefined as null (the caller made
   * room: `exactCellsBytes`); returns the end. Strings are escaped and encoded here, as JSON.stringify and
   * Buffer.write would (a lone surrogate becomes `\\udXXX`).
   */
  encodeCells(cells: readonly (CellValue | undefined)[], row: number, out: Buffer, at: number): number {
    let o = this.writeRowStart(out, at, row);
    const columns = this.columns;
    for (let k = 0; k < columns.length; k++) {
      out[o++] = 0x2c; // ,
      const value = cells[columns[k]!];
      if (typeof value === "string") o = writeJsonString(value, out, o);
      else {
        const text = scalarJson(value);
        for (let i = 0; i < text.length; i++) out[o++] = text.charCodeAt(i);
      }
    }
    out[o++] = 0x5d; // ]
    return o;
  }
}

function writeNull(out: Buffer, at: number): number {
  out[at] = 0x6e;
  out[at + 1] = 0x75;
  out[at + 2] = 0x6c;
  out[at + 3] = 0x6c;
  return at + 4;
}
