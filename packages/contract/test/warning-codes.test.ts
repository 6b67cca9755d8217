import {
  CONTRACT_VERSION,
  ERROR_CODES,
  FileWarningSchema,
  isWarningCode,
  ManifestSchema,
  SummarySchema,
  WARNING_CODES,
} from "@sluice/contract";
import { describe, expect, it } from "vitest";

/**
 * The file-level warning codes: one table, codes that never collide with an error code, and the field that
 * carries them in the manifest and summary.json, which documents written before it existed still parse.
 */

/** A manifest and a summary without `fileWarnings`, as written before the field existed (in this contract version). */
const manifestWithout = {
  v: CONTRACT_VERSION,
  uploadId: "orders-0123456789ab",
  source: { name: "uploads/orders.xlsx", bytes: 1234 },
  format: "csv",
  sheet: "orders",
  sheets: [{ name: "orders", visible: true }],
  header: ["order_id"],
  headerRow: 1,
  totalRows: 2,
  totalChunks: 1,
  bytes: 300,
  chunking: { rows: 10_000, bytes: 4_194_304 },
  details: { encoding: "utf-8", delimiter: "," },
  warnings: { count: 0, samples: [] },
  rowErrors: { count: 0, samples: [] },
};

const summaryWithout = {
  v: CONTRACT_VERSION,
  uploadId: "orders-0123456789ab",
  status: "SUCCEEDED",
  rows: 2,
  chunks: 1,
  chunksDelivered: 1,
  chunksFailed: 0,
  accepted: 2,
  rejected: 0,
  rowErrors: 0,
  durationMs: 1000,
  rowsPerSecond: 2,
  chunkDurationMs: null,
  transitions: 7,
  estimatedCostUsd: 0.0002,
  costModel: "estimate",
  costLines: [],
  rejectedSamples: [],
  chunkResults: [],
  rejectedRowsReport: null,
  summaryKey: "processed/orders-0123456789ab/summary.json",
  finishedAt: "2026-01-05T10:01:40.000Z",
};

const mismatch = {
  code: "FORMAT_EXTENSION_MISMATCH",
  message:
    'The file "orders.xlsx" is named as an Excel workbook (.xlsx), but its content is delimited text (csv)',
};

describe("WARNING_CODES", () => {
  it("gives every code an area and a meaning, and shares no code with ERROR_CODES", () => {
    expect(Object.keys(WARNING_CODES)).toContain("FORMAT_EXTENSION_MISMATCH");
    for (const [code, entry] of Object.entries(WARNING_CODES)) {
      expect(code).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(entry.area).toBe("workbook");
      expect(entry.meaning.length).toBeGreaterThan(10);
      expect(Object.hasOwn(ERROR_CODES, code), code).toBe(false);
    }
  });

  it("isWarningCode knows the table's codes and nothing else", () => {
    expect(isWarningCode("FORMAT_EXTENSION_MISMATCH")).toBe(true);
    expect(isWarningCode("CELL_ERROR")).toBe(false);
    expect(isWarningCode("toString")).toBe(false);
  });
});

describe("fileWarnings", () => {
  it("defaults to [] in a manifest and a summary written before the field existed", () => {
    expect(ManifestSchema.parse(manifestWithout).fileWarnings).toEqual([]);
    expect(SummarySchema.parse(summaryWithout).fileWarnings).toEqual([]);
  });

  it("carries { code, message } in both, and a code a reader does not know yet", () => {
    const later = { code: "SOME_LATER_WARNING", message: "from a newer converter" };
    expect(
      ManifestSchema.parse({ ...manifestWithout, fileWarnings: [mismatch, later] }).fileWarnings,
    ).toEqual([mismatch, later]);
    expect(SummarySchema.parse({ ...summaryWithout, fileWarnings: [mismatch] }).fileWarnings).toEqual([
      mismatch,
    ]);
  });

  it("refuses a warning without a code or message", () => {
    expect(FileWarningSchema.safeParse({ code: "", message: "x" }).success).toBe(false);
    expect(FileWarningSchema.safeParse({ code: "X" }).success).toBe(false);
    expect(
      ManifestSchema.safeParse({ ...manifestWithout, fileWarnings: ["FORMAT_EXTENSION_MISMATCH"] }).success,
    ).toBe(false);
  });
});
