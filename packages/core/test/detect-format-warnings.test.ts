import { readFileSync } from "node:fs";
import { isWarningCode, ManifestSchema, WARNING_CODES } from "@sluice/contract";
import { describe, expect, it } from "vitest";
import { bufferSource, openFileSource } from "../src/byte-source.ts";
import { convertWorkbook } from "../src/convert-workbook.ts";
import { formatWarnings } from "../src/detect-format.ts";

/**
 * Reading by content is right, and a name that says another format is worth a word: FORMAT_EXTENSION_MISMATCH in
 * the manifest (then the summary and the alerts), never a silent conversion.
 */

const XLSX = new URL("./fixtures/libreoffice/orders.xlsx", import.meta.url);
const CSV_TEXT = "order_id,quantity\nORD-1,3\nORD-2,4\n";

async function manifestOf(bytes: Buffer, name: string) {
  const manifest = await convertWorkbook({
    source: bufferSource(bytes, name),
    uploadId: "u-1",
    sink: { async writeChunk() {} },
  });
  // What the converter returns is a manifest as the contract reads it back.
  return ManifestSchema.parse(JSON.parse(JSON.stringify(manifest)));
}

describe("FORMAT_EXTENSION_MISMATCH", () => {
  it("is a code of the contract's warning table", () => {
    expect(isWarningCode("FORMAT_EXTENSION_MISMATCH")).toBe(true);
    expect(WARNING_CODES.FORMAT_EXTENSION_MISMATCH.meaning).toMatch(/read by its content/);
  });

  it("is recorded in the manifest when csv text is named .xlsx; the file still converts, as csv", async () => {
    const manifest = await manifestOf(Buffer.from(CSV_TEXT), "uploads/2026/orders.xlsx");
    expect(manifest.format).toBe("csv");
    expect(manifest.totalRows).toBe(2);
    expect(manifest.fileWarnings).toEqual([
      {
        code: "FORMAT_EXTENSION_MISMATCH",
        message:
          'The file "orders.xlsx" is named as an Excel workbook (.xlsx), but its content is delimited text (csv): it was read as csv, by its content',
      },
    ]);
  });

  it("is recorded when an xlsx workbook is named .csv; it converts as xlsx", async () => {
    const manifest = await manifestOf(readFileSync(XLSX), "orders.csv");
    expect(manifest.format).toBe("xlsx");
    expect(manifest.totalRows).toBeGreaterThan(0);
    expect(manifest.fileWarnings).toEqual([
      {
        code: "FORMAT_EXTENSION_MISMATCH",
        message:
          'The file "orders.csv" is named as CSV text (.csv), but its content is an xlsx workbook (a zip of OOXML parts): it was read as xlsx, by its content',
      },
    ]);
  });

  it("is not recorded when the name fits the content", async () => {
    expect((await manifestOf(Buffer.from(CSV_TEXT), "orders.csv")).fileWarnings).toEqual([]);
    expect((await manifestOf(Buffer.from(CSV_TEXT), "exports/Orders.TXT")).fileWarnings).toEqual([]);
    expect((await manifestOf(readFileSync(XLSX), "orders.XLSX")).fileWarnings).toEqual([]);
    const source = await openFileSource(XLSX.pathname);
    try {
      const manifest = await convertWorkbook({ source, uploadId: "u-2", sink: { async writeChunk() {} } });
      expect(manifest.fileWarnings).toEqual([]);
    } finally {
      await source.close();
    }
  });

  it.each([
    ["orders.xlsx", "csv", "an Excel workbook (.xlsx)"],
    ["orders.xlsm", "csv", "an Excel workbook (.xlsm)"],
    ["orders.xls", "csv", "a legacy Excel workbook (.xls)"],
    ["orders.xls", "xlsx", "a legacy Excel workbook (.xls)"],
    ["orders.ods", "xlsx", "an OpenDocument spreadsheet (.ods)"],
    ["orders.json", "csv", "JSON (.json)"],
    ["orders.tsv", "xlsx", "tab-separated text (.tsv)"],
    ["C:\\Users\\kim\\orders.csv", "xlsx", "CSV text (.csv)"],
  ] as const)("warns for %s read as %s", (name, format, named) => {
    const [warning] = formatWarnings(name, format);
    expect(warning?.code).toBe("FORMAT_EXTENSION_MISMATCH");
    expect(warning?.message).toContain(`is named as ${named}, but`);
    expect(warning?.message).toContain(`it was read as ${format}`);
  });

  it.each([
    ["orders", "csv"],
    ["uploads/orders", "xlsx"],
    ["orders.2026-03", "csv"],
    ["orders.v2", "xlsx"],
    ["buffer", "xlsx"],
    ["uploads.xlsx/orders", "csv"],
    ["orders.xltx", "xlsx"],
    ["orders.psv", "csv"],
  ] as const)(
    "says nothing for %s read as %s (no extension, one it does not know, or one that fits)",
    (name, format) => {
      expect(formatWarnings(name, format)).toEqual([]);
    },
  );

  it("keeps a very long name short in its message", () => {
    const [warning] = formatWarnings(`${"x".repeat(5000)}.xlsx`, "csv");
    expect(warning!.message.length).toBeLessThan(400);
  });
});
