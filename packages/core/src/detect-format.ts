import { inflateRawSync } from "node:zlib";
import type { FileWarning, WarningCode } from "@sluice/contract";
import type { ByteSource } from "./byte-source.ts";
import { CFB_SIGNATURE, CfbFormatError, readCfbDirectoryNames } from "./cfb-directory.ts";
import {
  EmptyWorkbookError,
  isSluiceError,
  SourceReadError,
  UnsupportedFormatError,
  WorkbookEncryptedError,
} from "./errors.ts";
import type { WorkbookFormat } from "./workbook-reader.ts";

/** Bytes looked at to tell text from binary. */
const SNIFF_BYTES = 8 * 1024;
const ODS_MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet";
const SAVE_AS_XLSX = 'open it in Excel and save it as "Excel Workbook (.xlsx)" or "CSV UTF-8"';

/**
 * What the uploaded bytes are, from their content (never the file name, which users get wrong): "xlsx" for a
 * zip, "csv" for text; a clear UnsupportedFormatError for the look-alikes people upload instead (legacy .xls,
 * .ods, Excel 2003 XML, HTML tables saved as .xls, PDFs...) and WorkbookEncryptedError for password-protected
 * workbooks, which are OLE containers rather than zips.
 */
export async function detectFormat(source: ByteSource): Promise<WorkbookFormat> {
  if (source.size === 0) throw new EmptyWorkbookError("The file is empty (0 bytes)");
  const head = await read(source, 0, Math.min(source.size, SNIFF_BYTES));
  if (head.length === 0) throw new EmptyWorkbookError("The file is empty (0 bytes)");

  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04])) {
    if (await isOds(source, head)) {
      throw new UnsupportedFormatError(
        "OpenDocument spreadsheets (.ods) are not supported; save it as .xlsx",
        {
          details: { detected: "ods" },
        },
      );
    }
    return "xlsx";
  }
  if (startsWith(head, [0x50, 0x4b, 0x05, 0x06])) return "xlsx";
  if (head.length >= 8 && head.subarray(0, 8).equals(CFB_SIGNATURE)) return rejectCompoundFile(source);

  // A PDF can be NUL-free for its first kilobytes; never let it pass as text.
  if (startsWith(head, [0x25, 0x50, 0x44, 0x46, 0x2d])) {
    throw new UnsupportedFormatError(
      "The file is a PDF document, not a workbook; upload an .xlsx or .csv file",
      {
        details: { detected: "a PDF document" },
      },
    );
  }
  const utf16 = utf16Bom(head);
  if (utf16 !== undefined || !head.includes(0)) {
    rejectMarkup(utf16 === undefined ? head.toString("latin1") : new TextDecoder(utf16).decode(head));
    return "csv";
  }
  const kind = binaryKind(head);
  throw new UnsupportedFormatError(
    `The file is ${kind ?? "binary data"}, not a workbook; upload an .xlsx or .csv file`,
    { details: { detected: kind ?? "binary" } },
  );
}

/** File-name extensions that say "this format"; an extension in none of these says nothing we can check. */
const EXTENSIONS: Record<string, { format: WorkbookFormat | "other"; what: string }> = {
  xlsx: { format: "xlsx", what: "an Excel workbook" },
  xlsm: { format: "xlsx", what: "an Excel workbook" },
  xltx: { format: "xlsx", what: "an Excel template" },
  xltm: { format: "xlsx", what: "an Excel template" },
  csv: { format: "csv", what: "CSV text" },
  tsv: { format: "csv", what: "tab-separated text" },
  tab: { format: "csv", what: "tab-separated text" },
  psv: { format: "csv", what: "pipe-separated text" },
  txt: { format: "csv", what: "text" },
  xls: { format: "other", what: "a legacy Excel workbook" },
  xlsb: { format: "other", what: "an Excel binary workbook" },
  ods: { format: "other", what: "an OpenDocument spreadsheet" },
  numbers: { format: "other", what: "a Numbers spreadsheet" },
  json: { format: "other", what: "JSON" },
  jsonl: { format: "other", what: "JSON Lines" },
  xml: { format: "other", what: "XML" },
  html: { format: "other", what: "an HTML page" },
  htm: { format: "other", what: "an HTML page" },
  zip: { format: "other", what: "a zip archive" },
  pdf: { format: "other", what: "a PDF document" },
};

const CONTENT: Record<WorkbookFormat, string> = {
  xlsx: "an xlsx workbook (a zip of OOXML parts)",
  csv: "delimited text (csv)",
};

/**
 * Warnings about the file's name against its content, which decided the format: FORMAT_EXTENSION_MISMATCH when
 * the name (the S3 key or path; only its last segment counts) ends in the extension of another format, e.g. CSV
 * text named `.xlsx` or an xlsx named `.csv`. Reading by content is right; the warning says so, since the person
 * who uploaded the file may have picked the wrong one. No extension, or one we do not know, says nothing.
 */
export function formatWarnings(name: string, format: WorkbookFormat): FileWarning[] {
  const base = name.slice(Math.max(name.lastIndexOf("/"), name.lastIndexOf("\\")) + 1);
  const dot = base.lastIndexOf(".");
  if (dot < 0) return [];
  const extension = base.slice(dot + 1).toLowerCase();
  const named = Object.hasOwn(EXTENSIONS, extension) ? EXTENSIONS[extension] : undefined;
  if (!named || named.format === format) return [];
  const shown = base.length > 200 ? `${base.slice(0, 199)}…` : base;
  return [
    {
      code: "FORMAT_EXTENSION_MISMATCH" satisfies WarningCode,
      message: `The file ${JSON.stringify(shown)} is named as ${named.what} (.${extension}), but its content is ${CONTENT[format]}: it was read as ${format}, by its content`,
    },
  ];
}

async function read(source: ByteSource, offset: number, length: number): Promise<Buffer> {
  try {
    return await source.read(offset, length);
  } catch (error) {
    if (isSluiceError(error)) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new SourceReadError(`Reading ${source.name} failed: ${reason}`, { cause: error });
  }
}

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  return prefix.every((b, i) => bytes[i] === b);
}

/**
 * An ODF package names its type in a `mimetype` entry. The spec puts it first and uncompressed, so its content
 * sits right after the first local header; some writers (SheetJS) put it later, so otherwise the central
 * directory is consulted (a couple of small reads at the end of the file).
 */
async function isOds(source: ByteSource, head: Buffer): Promise<boolean> {
  if (head.length >= 30 && head.readUInt16LE(26) === 8 && head.toString("latin1", 30, 38) === "mimetype") {
    const method = head.readUInt16LE(8);
    const start = 30 + 8 + head.readUInt16LE(28);
    if (method === 0)
      return (await read(source, start, ODS_MIMETYPE.length)).toString("latin1") === ODS_MIMETYPE;
  }
  // Skip the extra reads for the usual OOXML first entries; anything else may be an ODF package.
  const first =
    head.length >= 30 ? head.toString("latin1", 30, 30 + Math.min(head.readUInt16LE(26), 64)) : "";
  if (/^(\[Content_Types\]\.xml$|_rels\/|docProps\/|xl\/|customXml\/)/.test(first)) return false;
  const mimetype = await readSmallZipEntry(source, "mimetype", 256);
  return mimetype?.toString("latin1").trim().startsWith(ODS_MIMETYPE) ?? false;
}

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
/** A central directory larger than this is not an ODF package worth sniffing; the xlsx reader will judge it. */
const MAX_CENTRAL_DIRECTORY_BYTES = 1024 * 1024;

/** The content of a small entry found through the zip's central directory, or undefined. Best effort: never throws on a malformed zip. */
async function readSmallZipEntry(
  source: ByteSource,
  name: string,
  maxBytes: number,
): Promise<Buffer | undefined> {
  const tailLength = Math.min(source.size, 22 + 0xffff);
  const tail = await read(source, source.size - tailLength, tailLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return undefined;
  const directorySize = tail.readUInt32LE(eocd + 12);
  const directoryOffset = tail.readUInt32LE(eocd + 16);
  if (directorySize > MAX_CENTRAL_DIRECTORY_BYTES || directoryOffset + directorySize > source.size)
    return undefined;
  const directory = await read(source, directoryOffset, directorySize);
  for (let at = 0; at + 46 <= directory.length; ) {
    if (directory.readUInt32LE(at) !== CENTRAL_SIGNATURE) return undefined;
    const method = directory.readUInt16LE(at + 10);
    const compressedSize = directory.readUInt32LE(at + 20);
    const nameLength = directory.readUInt16LE(at + 28);
    const extraLength = directory.readUInt16LE(at + 30);
    const commentLength = directory.readUInt16LE(at + 32);
    const localOffset = directory.readUInt32LE(at + 42);
    if (directory.toString("latin1", at + 46, at + 46 + nameLength) === name) {
      if (compressedSize > maxBytes || (method !== 0 && method !== 8)) return undefined;
      const local = await read(source, localOffset, 30);
      if (local.length < 30 || local.readUInt32LE(0) !== 0x04034b50) return undefined;
      const dataStart = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      const data = await read(source, dataStart, compressedSize);
      if (method === 0) return data;
      try {
        return inflateRawSync(data, { maxOutputLength: maxBytes });
      } catch {
        return undefined;
      }
    }
    at += 46 + nameLength + extraLength + commentLength;
  }
  return undefined;
}

async function rejectCompoundFile(source: ByteSource): Promise<never> {
  let names: string[];
  try {
    names = await readCfbDirectoryNames(source);
  } catch (error) {
    if (isSluiceError(error)) throw error;
    // A read failure is retryable; only a structural problem means the content is at fault.
    if (!(error instanceof CfbFormatError)) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new SourceReadError(`Reading ${source.name} failed: ${reason}`, { cause: error });
    }
    throw new UnsupportedFormatError(
      `The file is an OLE compound document (legacy Office format) whose directory cannot be read; ${SAVE_AS_XLSX}`,
      { cause: error, details: { detected: "cfb" } },
    );
  }
  const has = (...wanted: string[]): boolean =>
    names.some((name) => wanted.some((w) => name.toLowerCase() === w.toLowerCase()));
  if (has("EncryptedPackage", "EncryptionInfo"))
    throw new WorkbookEncryptedError({ details: { detected: "cfb" } });
  if (has("Workbook", "Book")) {
    throw new UnsupportedFormatError(
      `The file is a legacy Excel 97-2003 workbook (.xls), which is not supported; ${SAVE_AS_XLSX}`,
      { details: { detected: "xls" } },
    );
  }
  const what = has("WordDocument")
    ? "a Word 97-2003 document"
    : has("PowerPoint Document")
      ? "a PowerPoint 97-2003 presentation"
      : "an OLE compound document that is not an Excel workbook";
  throw new UnsupportedFormatError(`The file is ${what}; upload an .xlsx or .csv file`, {
    details: { detected: "cfb" },
  });
}

function utf16Bom(head: Buffer): "utf-16le" | "utf-16be" | undefined {
  // FF FE 00 00 is UTF-32LE's BOM.
  if (head[0] === 0xff && head[1] === 0xfe && !(head[2] === 0 && head[3] === 0)) return "utf-16le";
  if (head[0] === 0xfe && head[1] === 0xff) return "utf-16be";
  return undefined;
}

/** Excel 2003 XML spreadsheets and HTML tables saved with an .xls name are text, but not csv. */
function rejectMarkup(text: string): void {
  // Strip a BOM (decoded, or UTF-8's bytes read as latin1) and leading whitespace.
  const start = text
    .replace(/^(\ufeff|\u00ef\u00bb\u00bf)/, "")
    .trimStart()
    .slice(0, 64)
    .toLowerCase();
  if (start.startsWith("<?xml")) {
    throw new UnsupportedFormatError(
      `The file is XML (an Excel 2003 XML spreadsheet or other XML), not a workbook sluice reads; ${SAVE_AS_XLSX}`,
      { details: { detected: "xml" } },
    );
  }
  if (start.startsWith("<html") || start.startsWith("<!doctype html") || start.startsWith("<table")) {
    throw new UnsupportedFormatError(
      `The file is an HTML page (a web table saved as .xls), not a real workbook; ${SAVE_AS_XLSX}`,
      { details: { detected: "html" } },
    );
  }
}

const MAGIC: [number[], string][] = [
  [[0x25, 0x50, 0x44, 0x46], "a PDF document"],
  [[0x89, 0x50, 0x4e, 0x47], "a PNG image"],
  [[0xff, 0xd8, 0xff], "a JPEG image"],
  [[0x47, 0x49, 0x46, 0x38], "a GIF image"],
  [[0x1f, 0x8b], "a gzip archive"],
  [[0x52, 0x61, 0x72, 0x21], "a RAR archive"],
  [[0x37, 0x7a, 0xbc, 0xaf], "a 7-Zip archive"],
  [[0x42, 0x5a, 0x68], "a bzip2 archive"],
  [[0xff, 0xfe, 0x00, 0x00], "UTF-32 text"],
  // BOF records of the raw BIFF2-4 streams Excel 2.x-4.0 wrote (BIFF5+ live in OLE containers).
  [[0x09, 0x00, 0x04, 0x00], "a legacy Excel 2.x-4.0 worksheet (.xls)"],
  [[0x09, 0x02, 0x06, 0x00], "a legacy Excel 2.x-4.0 worksheet (.xls)"],
  [[0x09, 0x04, 0x06, 0x00], "a legacy Excel 2.x-4.0 worksheet (.xls)"],
  [[0x00, 0x00, 0xfe, 0xff], "UTF-32 text"],
];

function binaryKind(head: Buffer): string | undefined {
  return MAGIC.find(([magic]) => startsWith(head, magic))?.[1];
}
