import type { ByteSource } from "../byte-source.ts";
import { EmptyWorkbookError, SheetNotFoundError, SluiceError, WorkbookCorruptError } from "../errors.ts";
import type {
  JsonRecordVisitor,
  OpenedSheet,
  OpenSheetOptions,
  RawRow,
  SheetInfo,
} from "../workbook-reader.ts";
import { readSharedStrings } from "./shared-strings.ts";
import { scanSheetRows, visitSheetJson } from "./sheet-scanner.ts";
import { readStyles } from "./styles.ts";
import { readWorkbookPackage } from "./workbook-parts.ts";
import { type InflateBudget, ZipArchive } from "./zip-archive.ts";

/**
 * Opens an xlsx workbook on one worksheet. The zip's central directory is read by random access, then the
 * workbook, styles and shared strings, so the sheet can be streamed afterwards whatever the zip entry order.
 */
export async function openXlsx(source: ByteSource, options: OpenSheetOptions): Promise<OpenedSheet> {
  const limits = options.limits;
  const budget: InflateBudget = { inflated: 0 };
  try {
    const zip = await ZipArchive.open(source, limits);
    const pkg = await readWorkbookPackage(zip, budget);
    const worksheets = pkg.worksheets;
    if (worksheets.length === 0) {
      throw new EmptyWorkbookError(`The workbook ${source.name} has no worksheets`, {
        details: { sheets: pkg.sheets.map((sheet) => sheet.name) },
      });
    }
    const names = worksheets.map((sheet) => sheet.name);
    let chosen = worksheets.find((sheet) => sheet.visible) ?? worksheets[0]!;
    if (options.sheet !== undefined) {
      const named = worksheets.find((sheet) => sheet.name === options.sheet);
      if (!named) throw new SheetNotFoundError(options.sheet, names);
      chosen = named;
    }
    const sheetEntry = chosen.part === undefined ? undefined : zip.get(chosen.part);
    if (!sheetEntry) {
      throw new WorkbookCorruptError(
        `The workbook lists sheet ${JSON.stringify(chosen.name)} but its part is missing`,
        {
          details: { sheet: chosen.name, part: chosen.part },
        },
      );
    }
    const styles = await readStyles(zip, pkg.stylesPart, budget);
    const sharedStrings = await readSharedStrings(zip, pkg.sharedStringsPart, budget, {
      memoryBytes: limits.sharedStringsMemoryBytes,
    });
    const metadataBytes = budget.inflated;
    const sheets: SheetInfo[] = worksheets.map((sheet) => ({ name: sheet.name, visible: sheet.visible }));
    const ctx = { sharedStrings, styles, date1904: pkg.date1904, limits, sheet: chosen.name };
    return {
      format: "xlsx",
      sheets,
      sheet: chosen.name,
      details: { dateSystem: pkg.date1904 ? 1904 : 1900, sharedStrings: sharedStrings.count },
      async close() {
        sharedStrings.close();
      },
      rows(): AsyncIterable<RawRow[]> {
        // Each pass over the sheet counts from the metadata already inflated, not from an earlier pass.
        return scanSheetRows(zip, sheetEntry, { inflated: metadataBytes }, ctx);
      },
      visitJsonRecords(visitor: JsonRecordVisitor): Promise<void> {
        return visitSheetJson(zip, sheetEntry, { inflated: metadataBytes }, ctx, visitor);
      },
    };
  } catch (error) {
    if (error instanceof SluiceError) throw error;
    throw new WorkbookCorruptError(`${source.name} could not be read as an xlsx workbook: ${String(error)}`, {
      cause: error,
    });
  }
}
