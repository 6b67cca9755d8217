import Papa from "papaparse";
import type { ByteSource } from "../byte-source.ts";
import {
  isSluiceError,
  LimitExceededError,
  SheetNotFoundError,
  type SluiceError,
  SourceReadError,
} from "../errors.ts";
import type { ReadLimits } from "../limits.ts";
import type {
  ByteRecord,
  CellValue,
  OpenedSheet,
  OpenSheetOptions,
  RawRow,
  RecordVisitor,
} from "../workbook-reader.ts";
import { detectDelimiter, detectLineEnding, type LineEnding, parseSepLine } from "./detect-delimiter.ts";
import {
  type CsvEncoding,
  createByteDecoding,
  createDecoding,
  detectEncoding,
  ENCODING_SNIFF_BYTES,
  type TextDecoding,
} from "./detect-encoding.ts";
import { CsvRecordScanner } from "./scan-csv.ts";

/** Rows a batch holds: enough to make per-batch overhead vanish, few enough to keep memory flat. */
const BATCH_ROWS = 512;

interface CsvPlan {
  encoding: CsvEncoding;
  bomLength: number;
  /** Characters of the `sep=` line to drop from the decoded text. */
  skipChars: number;
  /** The same line's bytes in UTF-8 (for the byte scanner). */
  skipBytes: number;
  delimiter: string;
  newline: LineEnding;
  onCp949: (() => void) | undefined;
}

/**
 * Opens a csv (or tsv, `;`-separated...) file as a one-sheet workbook. Every non-empty field is a string
 * (csv has no types: "007" and "010-1234-5678" stay as written), an empty field is null.
 */
export async function openCsv(source: ByteSource, options: OpenSheetOptions): Promise<OpenedSheet> {
  const name = sheetNameOf(source.name);
  if (options.sheet !== undefined && options.sheet !== name)
    throw new SheetNotFoundError(options.sheet, [name]);

  const head = await readHead(source);
  const wholeFile = head.length >= source.size;
  const { encoding, bomLength } = detectEncoding(head, wholeFile);
  const decoding = createDecoding(encoding);
  let headText = decoding.write(head.subarray(bomLength), bomLength);
  if (wholeFile) headText += decoding.end(head.length);

  const sep = parseSepLine(headText);
  const body = sep ? headText.slice(sep.length) : headText;
  const newline = detectLineEnding(body);
  const delimiter = sep?.delimiter ?? detectDelimiter(body, newline, wholeFile);
  const details: OpenedSheet["details"] = {
    encoding,
    bom: bomLength > 0,
    delimiter,
    lineEnding: newline === "\r\n" ? "CRLF" : newline === "\n" ? "LF" : "CR",
    sepLine: sep !== undefined,
  };
  const plan: CsvPlan = {
    encoding,
    bomLength,
    skipChars: sep?.length ?? 0,
    skipBytes: sep ? Buffer.byteLength(headText.slice(0, sep.length)) : 0,
    delimiter,
    newline,
    // Korean text first appearing after the sniffed head: the details say so once it is known.
    onCp949:
      encoding === "utf-8" && bomLength === 0
        ? () => {
            details.encoding = "cp949";
          }
        : undefined,
  };

  return {
    format: "csv",
    sheets: [{ name, visible: true }],
    sheet: name,
    details,
    rows: () => readRows(source, plan, options.limits),
    // The byte scanner takes a one-byte delimiter; any other (a `sep=` line can name one) goes through papaparse.
    ...(delimiter.length === 1 && delimiter.charCodeAt(0) < 0x80
      ? { visitRecords: (visitor: RecordVisitor) => visitRecords(source, plan, options.limits, visitor) }
      : {}),
  };
}

/** The file name without folders and extension: what Excel shows as the sheet name of an opened csv. */
export function sheetNameOf(sourceName: string): string {
  const base = sourceName.split(/[\\/]/).pop() ?? "";
  const dot = base.lastIndexOf(".");
  const name = dot > 0 ? base.slice(0, dot) : base;
  return name === "" ? "Sheet1" : name;
}

async function readHead(source: ByteSource): Promise<Buffer> {
  try {
    return await source.read(0, Math.min(source.size, ENCODING_SNIFF_BYTES));
  } catch (error) {
    throw asSourceError(source, error);
  }
}

function asSourceError(source: ByteSource, error: unknown): SluiceError {
  if (isSluiceError(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new SourceReadError(`Reading ${source.name} failed: ${reason}`, { cause: error });
}

/**
 * The source's bytes from `start` to its end, chunk by chunk, its errors as source errors. A stream left half-read
 * (the reader stopped early or threw) is stopped: an S3 body would hold its socket. Not after the end: the local
 * file source's streams share its file handle, which destroy() closes.
 */
async function* sourceChunks(source: ByteSource, start: number): AsyncGenerator<Buffer> {
  let stream: ReturnType<ByteSource["stream"]> | undefined;
  let ended = false;
  try {
    try {
      stream = source.stream(start, source.size);
    } catch (error) {
      throw asSourceError(source, error);
    }
    const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (error) {
        throw asSourceError(source, error);
      }
      if (next.done) {
        ended = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!ended) stream?.destroy();
  }
}

async function* readRows(source: ByteSource, plan: CsvPlan, limits: ReadLimits): AsyncGenerator<RawRow[]> {
  const { delimiter, newline } = plan;
  const { maxColumns, maxRows, maxCellLength } = limits;
  const parser = new Papa.Parser({ delimiter, newline, quoteChar: '"' });
  const decoding: TextDecoding = createDecoding(plan.encoding, plan.onCp949);
  let skipChars = plan.skipChars;
  /** Text of the record not complete yet (papaparse parses complete records only, until the end). */
  let pending = "";
  /** Length of `pending` after the last parse: a long record is re-parsed only once the text doubled. */
  let carried = 0;
  let record = 0;
  let emitted = 0;
  let batch: RawRow[] = [];
  let offset = plan.bomLength;

  // The header is the first non-empty row; maxRows counts the data rows after it.
  const rowLimit = maxRows + 1;

  const take = (records: string[][]): void => {
    for (let r = 0; r < records.length; r++) {
      const fields = records[r] as CellValue[];
      record++;
      const n = fields.length;
      let empty = true;
      for (let i = 0; i < n; i++) {
        const value = fields[i] as string;
        if (value === "") fields[i] = null;
        else {
          empty = false;
          if (value.length > maxCellLength) throw cellTooLong(record, i, value.length, maxCellLength);
        }
      }
      if (empty) continue;
      if (n > maxColumns) throw tooManyColumns(record, n, maxColumns);
      if (++emitted > rowLimit) throw tooManyRows(record, maxRows);
      batch.push({ row: record, cells: fields });
    }
  };

  for await (const bytes of sourceChunks(source, plan.bomLength)) {
    let text = decoding.write(bytes, offset);
    offset += bytes.length;
    if (skipChars > 0) {
      const skipped = Math.min(skipChars, text.length);
      text = text.slice(skipped);
      skipChars -= skipped;
    }
    pending += text;
    if (pending.length < 2 * carried) continue;

    const result = parser.parse(pending, 0, true);
    pending = pending.slice(result.meta.cursor as number);
    carried = pending.length;
    take(result.data as string[][]);
    if (carried > maxCellLength) guardPendingRecord(pending, delimiter, record + 1, limits);
    while (batch.length >= BATCH_ROWS) {
      const full = batch.length === BATCH_ROWS ? batch : batch.slice(0, BATCH_ROWS);
      batch = batch.length === BATCH_ROWS ? [] : batch.slice(BATCH_ROWS);
      yield full;
    }
  }
  pending += decoding.end(offset);
  if (skipChars > 0) pending = pending.slice(skipChars);
  if (pending !== "") take(parser.parse(pending, 0, false).data as string[][]);
  for (let i = 0; i < batch.length; i += BATCH_ROWS) yield batch.slice(i, i + BATCH_ROWS);
}

/** The scanner's current record, as the converter reads it. */
class ScannedRecord implements ByteRecord {
  row = 0;
  bytes: Buffer = Buffer.alloc(0);
  count = 0;
  starts: Int32Array;
  ends: Int32Array;
  quoted: Uint8Array;
  span = 0;
  constructor(private readonly scanner: CsvRecordScanner) {
    this.starts = scanner.starts;
    this.ends = scanner.ends;
    this.quoted = scanner.quoted;
  }
  text(i: number): string {
    return this.scanner.text(this.bytes, i);
  }
}

/**
 * `readRows` for the byte scanner: the same rows (papaparse's, with the same limits and errors), handed to the
 * visitor as byte ranges. UTF-8 bytes are validated, not decoded.
 */
async function visitRecords(
  source: ByteSource,
  plan: CsvPlan,
  limits: ReadLimits,
  visitor: RecordVisitor,
): Promise<void> {
  const { maxColumns, maxRows, maxCellLength } = limits;
  const scanner = new CsvRecordScanner(plan.delimiter.charCodeAt(0), plan.newline);
  const current = new ScannedRecord(scanner);
  const decoding = createByteDecoding(plan.encoding, plan.onCp949);
  let skipBytes = plan.skipBytes;
  /** Bytes of the record not complete yet. */
  let pending: Buffer = Buffer.alloc(0);
  /** Length of `pending` after the last scan: a long record is scanned again only once the bytes doubled. */
  let carried = 0;
  let record = 0;
  let emitted = 0;
  let offset = plan.bomLength;
  const rowLimit = maxRows + 1;

  /** Scans the complete records of `buf` from `at` (only one if `once`); returns where the next one starts. */
  const scanAll = (buf: Buffer, at: number, eof: boolean, once = false): number => {
    const len = buf.length;
    for (let first = true; at < len && (first || !once); first = false) {
      const end = scanner.scan(buf, at, len, eof);
      if (end < 0) break;
      at = end;
      record++;
      const n = scanner.count;
      const starts = scanner.starts;
      const ends = scanner.ends;
      let empty = true;
      for (let i = 0; i < n; i++) {
        const size = ends[i]! - starts[i]!;
        if (size === 0) continue;
        empty = false;
        // UTF-8 bytes are at least as many as UTF-16 units: only a long range needs counting.
        if (size > maxCellLength) {
          const length = scanner.valueLength(buf, i);
          if (length > maxCellLength) throw cellTooLong(record, i, length, maxCellLength);
        }
      }
      if (empty) continue;
      if (n > maxColumns) throw tooManyColumns(record, n, maxColumns);
      if (++emitted > rowLimit) throw tooManyRows(record, maxRows);
      current.row = record;
      current.bytes = buf;
      current.count = n;
      current.starts = starts;
      current.ends = ends;
      current.quoted = scanner.quoted;
      current.span = ends[n - 1]! - starts[0]!;
      visitor.record(current);
    }
    return at;
  };

  const feed = (bytes: Buffer): Buffer => {
    if (skipBytes > 0) {
      const skipped = Math.min(skipBytes, bytes.length);
      skipBytes -= skipped;
      return bytes.subarray(skipped);
    }
    return bytes;
  };

  for await (const bytes of sourceChunks(source, plan.bomLength)) {
    const valid = feed(decoding.write(bytes, offset));
    offset += bytes.length;
    if (pending.length + valid.length < 2 * carried) {
      pending = Buffer.concat([pending, valid]);
      continue;
    }
    let buf = valid;
    let from = 0;
    if (pending.length > 0) {
      // The record cut by the previous chunk's end is finished with the head of this chunk alone, so the
      // chunk itself is scanned in place (not copied behind the cut record); a longer record takes it all.
      const joined = Buffer.concat([pending, valid.subarray(0, Math.min(valid.length, 4096))]);
      const end = scanAll(joined, 0, false, true);
      if (end > pending.length) from = end - pending.length;
      // Not finished in the head, or (pending grew unscanned) finished inside `pending`: scan on from there.
      else buf = Buffer.concat([pending.subarray(end), valid]);
    }
    const at = scanAll(buf, from, false);
    // A copy: the rest of a record must not keep the whole chunk alive.
    pending = at === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(at));
    carried = pending.length;
    // Bytes are at least as many as characters: the text is checked once it may be too long.
    if (carried > maxCellLength) {
      const text = pending.toString("utf8");
      if (text.length > maxCellLength) guardPendingRecord(text, plan.delimiter, record + 1, limits);
    }
    const drained = visitor.drain();
    if (drained) await drained;
  }
  const rest = feed(decoding.end(offset));
  const buf = rest.length > 0 ? Buffer.concat([pending, rest]) : pending;
  if (buf.length > 0) scanAll(buf, 0, true);
  const drained = visitor.drain();
  if (drained) await drained;
}

/**
 * Bounds the memory a record that never ends can take (an unclosed quote turns the rest of the file into one
 * field): fails as soon as the record's last field is longer than a cell may be, or the record has more
 * fields than a row may have. Runs only once the pending text passed maxCellLength.
 */
function guardPendingRecord(text: string, delimiter: string, row: number, limits: ReadLimits): void {
  const { fields, lastFieldLength } = scanPendingRecord(text, delimiter);
  if (fields > limits.maxColumns) throw tooManyColumns(row, fields, limits.maxColumns);
  if (lastFieldLength > limits.maxCellLength) {
    throw cellTooLong(row, fields - 1, lastFieldLength, limits.maxCellLength, " (an unclosed quote?)");
  }
}

/** Fields of an incomplete record and the value length of its last (unfinished) field, as papaparse reads it. */
export function scanPendingRecord(
  text: string,
  delimiter: string,
): { fields: number; lastFieldLength: number } {
  const len = text.length;
  let fields = 1;
  let i = 0;
  for (;;) {
    if (text.charCodeAt(i) === 0x22) {
      // A quoted field ends at a quote followed by the delimiter; `""` is an escaped quote.
      let escaped = 0;
      let search = i + 1;
      let closedAt = -1;
      for (;;) {
        const q = text.indexOf('"', search);
        if (q === -1 || q === len - 1) break;
        if (text.charCodeAt(q + 1) === 0x22) {
          escaped++;
          search = q + 2;
          continue;
        }
        if (text.startsWith(delimiter, q + 1)) {
          closedAt = q + 1;
          break;
        }
        search = q + 1;
      }
      if (closedAt === -1) return { fields, lastFieldLength: Math.max(0, len - i - 1 - escaped) };
      i = closedAt + delimiter.length;
      fields++;
      continue;
    }
    const d = text.indexOf(delimiter, i);
    if (d === -1) return { fields, lastFieldLength: len - i };
    i = d + delimiter.length;
    fields++;
  }
}

function cellTooLong(
  row: number,
  column: number,
  length: number,
  limit: number,
  hint = "",
): LimitExceededError {
  return new LimitExceededError(
    "CELL_TOO_LONG",
    `Row ${row}, column ${column + 1} has ${length} characters, more than ${limit} (maxCellLength)${hint}`,
    { limit: "maxCellLength", value: limit, row, column },
  );
}

function tooManyRows(row: number, limit: number): LimitExceededError {
  return new LimitExceededError("TOO_MANY_ROWS", `The file has more than ${limit} data rows (maxRows)`, {
    limit: "maxRows",
    value: limit,
    row,
  });
}

function tooManyColumns(row: number, columns: number, limit: number): LimitExceededError {
  return new LimitExceededError(
    "TOO_MANY_COLUMNS",
    `Row ${row} has ${columns} columns, more than ${limit} (maxColumns)`,
    { limit: "maxColumns", value: limit, row, columns },
  );
}
