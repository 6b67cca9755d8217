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
  /** Gives back what the reader holds beyond memory (e.g. a temp file); the rows cannot be read after this. */
  close?(): Promise<void>;
}

export interface OpenSheetOptions {
  /** Sheet name; default the first visible worksheet. */
  sheet?: string;
  limits: ReadLimits;
}
