import type { Manifest, RowIssue } from "@sluice/contract";
import {
  type ChunkBounds,
  CONTRACT_VERSION,
  DEFAULT_CHUNK_BOUNDS,
  MAX_CHUNK_BYTES,
} from "@sluice/contract/constants";
import type { ByteSource } from "./byte-source.ts";
import { type AddResult, type ChunkSink, ChunkWriter, RecordEncoder } from "./chunk-writer.ts";
import { openCsv } from "./csv/open-csv.ts";
import { detectFormat, formatWarnings } from "./detect-format.ts";
import { EmptyWorkbookError, InvalidOptionError, SluiceError, SourceReadError } from "./errors.ts";
import { Header } from "./header.ts";
import { type ReadLimits, resolveLimits } from "./limits.ts";
import type {
  ByteRecord,
  CellValue,
  CellWarning,
  JsonRecordVisitor,
  OpenedSheet,
  RawRow,
} from "./workbook-reader.ts";
import { openXlsx } from "./xlsx/open-xlsx.ts";

export interface ConvertOptions {
  /** Sheet to read; default the first visible worksheet. */
  sheet?: string;
  chunkRows?: number;
  chunkBytes?: number;
  limits?: Partial<ReadLimits>;
  /** Called after every batch of rows, for progress displays. */
  onProgress?: (progress: ConvertProgress) => void;
}

export interface ConvertProgress {
  rows: number;
  chunks: number;
}

/** How many warnings and row errors the manifest keeps verbatim; the counts are always exact. */
export const MANIFEST_SAMPLE_LIMIT = 100;

/** Opens a workbook by its content (never its name) on the requested sheet. */
export async function openWorkbook(
  source: ByteSource,
  options: { sheet?: string; limits?: Partial<ReadLimits> } = {},
): Promise<OpenedSheet> {
  const limits = resolveLimits(options.limits);
  const format = await guard(() => detectFormat(source));
  const open = format === "xlsx" ? openXlsx : openCsv;
  return guard(() =>
    open(source, { ...(options.sheet === undefined ? {} : { sheet: options.sheet }), limits }),
  );
}

function checkBounds(options: ConvertOptions): ChunkBounds {
  const rows = options.chunkRows ?? DEFAULT_CHUNK_BOUNDS.rows;
  const bytes = options.chunkBytes ?? DEFAULT_CHUNK_BOUNDS.bytes;
  if (!Number.isInteger(rows) || rows < 1)
    throw new InvalidOptionError(`chunk rows must be a positive integer, got ${rows}`);
  if (!Number.isInteger(bytes) || bytes < 1024 || bytes > MAX_CHUNK_BYTES) {
    throw new InvalidOptionError(
      `chunk bytes must be an integer from 1024 to ${MAX_CHUNK_BYTES}, got ${bytes}`,
    );
  }
  return { rows, bytes };
}

function pushSample(list: { count: number; samples: RowIssue[] }, issue: RowIssue): void {
  list.count++;
  if (list.samples.length < MANIFEST_SAMPLE_LIMIT) list.samples.push(issue);
}

/**
 * The conversion use case: reads one sheet row by row and hands byte-bounded chunk lines to the sink.
 * Memory holds one batch of rows and one chunk, whatever the file's size. Returns the manifest.
 */
export async function convertWorkbook(input: {
  source: ByteSource;
  uploadId: string;
  sink: ChunkSink;
  options?: ConvertOptions;
}): Promise<Manifest> {
  const { source, uploadId, sink, options = {} } = input;
  const bounds = checkBounds(options);
  const opened = await openWorkbook(source, options);
  const writer = new ChunkWriter(uploadId, bounds, sink);
  const warnings = { count: 0, samples: [] as RowIssue[] };
  const rowErrors = { count: 0, samples: [] as RowIssue[] };
  const rowTooLarge = (row: number, bytes: number) =>
    pushSample(rowErrors, {
      row,
      code: "ROW_TOO_LARGE",
      message: `Row ${row} serializes to ${bytes} bytes, over the ${writer.maxRowBytes}-byte room in a chunk of ${bounds.bytes} bytes`,
    });
  let header: Header | undefined;
  let totalRows = 0;

  const encoder = new RecordEncoder();
  /** The header is new or grew: the rows that follow have its columns (the writer closes the chunk before). */
  const useHeader = (h: Header) => {
    encoder.setHeader(h.columns);
    writer.setColumns(h.names);
  };

  /** Counts an added row, or records one too large for any chunk. */
  const counted = (added: AddResult, row: number): void => {
    if (added.added) totalRows++;
    else rowTooLarge(row, added.bytes);
  };

  /** A row with warnings (rare): its warnings are sampled and go into its chunk's list. */
  const addWarned = (cells: readonly CellValue[], row: number, rowWarnings: readonly CellWarning[]) => {
    const named = rowWarnings.map((w) => ({
      row,
      column: header!.nameOf(w.column),
      code: w.code,
      message: w.message,
    }));
    const added = writer.addCells(
      encoder,
      cells,
      row,
      named.map((w) => JSON.stringify(w)),
    );
    // Sampled only once the row is in a chunk: a row refused as too large is a row error, not a warned row.
    if (added.added) for (const w of named) pushSample(warnings, w);
    counted(added, row);
  };

  /** A data row of values (the header is already known). */
  const addRow = (raw: RawRow): void => {
    const h = header!;
    const cells = raw.cells;
    let grew = false;
    for (let i = 0; i < cells.length; i++) {
      const value = cells[i];
      if (value !== null && value !== undefined && h.ensure(i)) grew = true;
    }
    if (raw.warnings) for (const w of raw.warnings) if (h.ensure(w.column)) grew = true;
    if (grew) useHeader(h);
    if (raw.warnings && raw.warnings.length > 0) addWarned(cells, raw.row, raw.warnings);
    // The usual row: its JSON written straight into the chunk, no object and no string.
    else counted(writer.addCells(encoder, cells, raw.row), raw.row);
  };

  await guard(async () => {
    try {
      if (opened.visitRecords) await readRecords(opened.visitRecords.bind(opened));
      else if (opened.visitJsonRecords) await readJsonRecords(opened.visitJsonRecords.bind(opened));
      else await readAll();
    } finally {
      await opened.close?.();
    }
  });

  /** The same conversion from byte records (csv): values are copied as bytes into the chunk, never made strings. */
  async function readRecords(visit: NonNullable<OpenedSheet["visitRecords"]>): Promise<void> {
    const record = (r: ByteRecord): void => {
      if (header === undefined) {
        const cells: CellValue[] = [];
        for (let i = 0; i < r.count; i++) cells.push(r.starts[i] === r.ends[i] ? null : r.text(i));
        header = new Header(cells, r.row);
        useHeader(header);
        return;
      }
      let grew = false;
      for (let i = 0; i < r.count; i++) if (r.starts[i] !== r.ends[i] && header.ensure(i)) grew = true;
      if (grew) useHeader(header);
      const added = writer.addRecord(encoder, r);
      if (!added.added) {
        rowTooLarge(r.row, added.bytes);
        return;
      }
      totalRows++;
    };
    await visit({
      record,
      drain: () => {
        options.onProgress?.({ rows: totalRows, chunks: writer.chunks });
        return writer.drain();
      },
    });
    await writer.flush();
  }

  /** The same conversion from rows whose values are JSON text already (xlsx): the chunk writer copies them. */
  async function readJsonRecords(visit: NonNullable<OpenedSheet["visitJsonRecords"]>): Promise<void> {
    let drains = 0;
    const visitor: JsonRecordVisitor = {
      get wantValues() {
        return header === undefined;
      },
      values(raw) {
        if (header === undefined) {
          header = new Header(raw.cells, raw.row);
          useHeader(header);
          return;
        }
        // Only the header is asked for as values; anything else is an ordinary row.
        addRow(raw);
      },
      json(record) {
        const h = header!;
        const { count, starts, ends } = record;
        let grew = false;
        for (let i = 0; i < count; i++) if (starts[i] !== ends[i] && h.ensure(i)) grew = true;
        const rowWarnings = record.warnings;
        if (rowWarnings) for (const w of rowWarnings) if (h.ensure(w.column)) grew = true;
        if (grew) useHeader(h);
        if (rowWarnings && rowWarnings.length > 0) {
          // Rare: the row's values back from their JSON, written as `addRow` writes a row with warnings.
          const cells: CellValue[] = [];
          for (let i = 0; i < count; i++) cells.push(record.value(i));
          addWarned(cells, record.row, rowWarnings);
          return;
        }
        counted(writer.addJson(encoder, record), record.row);
      },
      drain: () => {
        // Progress once in a while: every inflated piece would be thousands of calls.
        if (++drains % 16 === 0) options.onProgress?.({ rows: totalRows, chunks: writer.chunks });
        return writer.drain();
      },
    };
    await visit(visitor);
    await writer.flush();
  }

  async function readAll(): Promise<void> {
    for await (const batch of opened.rows()) {
      for (const raw of batch) {
        if (header === undefined) {
          header = new Header(raw.cells, raw.row);
          useHeader(header);
          continue;
        }
        addRow(raw);
      }
      await writer.drain();
      options.onProgress?.({ rows: totalRows, chunks: writer.chunks });
    }
    await writer.flush();
  }

  if (header === undefined)
    throw new EmptyWorkbookError(`The sheet ${JSON.stringify(opened.sheet)} has no non-empty row`);
  options.onProgress?.({ rows: totalRows, chunks: writer.chunks });

  return {
    v: CONTRACT_VERSION,
    uploadId,
    source: { name: source.name, bytes: source.size },
    format: opened.format,
    sheet: opened.sheet,
    sheets: opened.sheets,
    header: header.names,
    headerRow: header.row,
    totalRows,
    totalChunks: writer.chunks,
    bytes: writer.bytes,
    chunking: bounds,
    details: opened.details,
    warnings,
    rowErrors,
    // Read by content; a name that says otherwise is worth a word (FORMAT_EXTENSION_MISMATCH).
    fileWarnings: formatWarnings(source.name, opened.format),
  };
}

/** Anything that escapes a reader untyped is a read failure of the source, reported as retryable. */
async function guard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    throw new SourceReadError(`Reading the source failed: ${(error as Error)?.message ?? String(error)}`, {
      cause: error,
    });
  }
}
