import type { ReadLimits } from "./limits.ts";

export type CellValue = string | number | boolean | null;
export type WorkbookFormat = "xlsx" | "csv";

/** Something worth telling about one cell that did not stop the row (e.g. an Excel error value). */
export interface CellWarning {
  /** 0-based column index; the converter turns it into the header name. */
  column: number;
  code: "CELL_ERROR";
  message: string;
}

/**
 * One source row as the reader sees it: values by 0-based column index (holes are empty cells).
 * `row` is the 1-based row number a person sees in Excel (for csv: the record number).
 */
export interface RawRow {
  row: number;
  cells: CellValue[];
  warnings?: CellWarning[];
}

export interface SheetInfo {
  name: string;
  visible: boolean;
}

/** An opened workbook, positioned on one sheet. Rows come in batches to keep per-row overhead low. */
export interface OpenedSheet {
  format: WorkbookFormat;
  /** All worksheets in workbook order (csv: one, named after the file). */
  sheets: SheetInfo[];
  /** The sheet being read. */
  sheet: string;
  /** Facts about the source worth putting in the manifest (encoding, delimiter, date system...). */
  details: Record<string, string | number | boolean>;
  rows(): AsyncIterable<RawRow[]>;
  /**
   * The same rows as UTF-8 byte ranges instead of `rows()`'s strings, for readers that can give them (csv):
   * serialization then copies bytes, with no string per value. Absent for xlsx.
   */
  visitRecords?(visitor: RecordVisitor): Promise<void>;
  /**
   * The same rows with every value already JSON text, for readers whose values need more than copying (xlsx:
   * numbers, shared strings, escapes): the chunk writer copies the text. Absent for csv.
   */
  visitJsonRecords?(visitor: JsonRecordVisitor): Promise<void>;
  /** Gives back what the reader holds beyond memory (e.g. a temp file); the rows cannot be read after this. */
  close?(): Promise<void>;
}

export interface OpenSheetOptions {
  /** Sheet name; default the first visible worksheet. */
  sheet?: string;
  limits: ReadLimits;
}

/**
 * One non-empty row as byte ranges of valid UTF-8, valid only during `RecordVisitor.record`: field `i`'s value is
 * `bytes[starts[i], ends[i])`, an empty range an empty cell; where `quoted[i]` is 1, `""` in it stands for `"`.
 */
export interface ByteRecord {
  row: number;
  bytes: Buffer;
  count: number;
  starts: Int32Array;
  ends: Int32Array;
  quoted: Uint8Array;
  /** Bytes from the first field's start to the last field's end (a bound on the values' sizes). */
  span: number;
  /** Field `i`'s value as a string. */
  text(i: number): string;
}

export interface RecordVisitor {
  /** Called synchronously for each non-empty row, in order. */
  record(record: ByteRecord): void;
  /** Called between input chunks: the reader reads on once the returned promise settles (backpressure). */
  drain(): Promise<void> | undefined;
}

/**
 * One non-empty row with each value as JSON text (what `JSON.stringify` gives for it), valid only during
 * `JsonRecordVisitor.json`: column `i`'s value is `bytes[starts[i], ends[i])`, an empty range an empty cell.
 */
export interface JsonRecord {
  row: number;
  bytes: Buffer;
  count: number;
  starts: Int32Array;
  ends: Int32Array;
  warnings: CellWarning[] | undefined;
  /** Column `i`'s value (null when empty). */
  value(i: number): CellValue;
}

export interface JsonRecordVisitor {
  /**
   * While true, rows come to `values` as `RawRow`s (the reader's own values, e.g. for the header, whose names
   * are made from them); once false, to `json`. Read before each row.
   */
  readonly wantValues: boolean;
  values(row: RawRow): void;
  /** Called synchronously for each non-empty row, in order. */
  json(record: JsonRecord): void;
  /** Called between input chunks: the reader reads on once the returned promise settles (backpressure). */
  drain(): Promise<void> | undefined;
}
