/** Safety limits applied while reading a workbook. Defaults are generous for real files and stop abuse. */
export interface ReadLimits {
  /** Total bytes inflated from the zip (all parts read). */
  maxInflatedBytes: number;
  /** Inflated/compressed ratio of a part, checked once a part has inflated past `ratioGraceBytes`. */
  maxInflationRatio: number;
  ratioGraceBytes: number;
  /** Columns in one row (Excel's own maximum is 16,384). */
  maxColumns: number;
  /** Data rows (Excel's own maximum is 1,048,576 rows a sheet). */
  maxRows: number;
  /** Characters in one cell (Excel's own maximum is 32,767). */
  maxCellLength: number;
  /**
   * Not a limit but a memory budget: shared-strings text beyond this many bytes moves to a temp file (read back
   * through a small cache), so memory stays flat for workbooks with millions of unique strings. 0 keeps it all
   * in memory.
   */
  sharedStringsMemoryBytes: number;
}

export const DEFAULT_LIMITS: Readonly<ReadLimits> = Object.freeze({
  maxInflatedBytes: 4 * 1024 ** 3,
  maxInflationRatio: 200,
  ratioGraceBytes: 1024 * 1024,
  maxColumns: 16_384,
  maxRows: 2_000_000,
  maxCellLength: 32_767,
  sharedStringsMemoryBytes: 8 * 1024 * 1024,
});

export function resolveLimits(overrides: Partial<ReadLimits> = {}): ReadLimits {
  return { ...DEFAULT_LIMITS, ...overrides };
}
