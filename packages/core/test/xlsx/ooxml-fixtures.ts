import { crc32, deflateRawSync } from "node:zlib";
import { bufferSource } from "../../src/byte-source.ts";
import { type ReadLimits, resolveLimits } from "../../src/limits.ts";
import type { OpenedSheet, RawRow } from "../../src/workbook-reader.ts";
import { openXlsx } from "../../src/xlsx/open-xlsx.ts";

/** Hand-built OOXML packages for what exceljs cannot write (prefixes, DOCTYPE, missing r, odd packaging). */

export interface ZipFileSpec {
  name: string;
  data: string | Buffer;
  /** Stored (method 0) instead of deflated. */
  store?: boolean;
  /** Deflate level (0 writes stored deflate blocks: the payload bytes appear verbatim). */
  level?: number;
  /** Sizes and CRC in a data descriptor after the data (general purpose bit 3); zeros in the local header. */
  descriptor?: boolean;
  /** Sizes as 0xFFFFFFFF with the real ones in a zip64 extended information extra field. */
  zip64?: boolean;
}

/** A minimal zip writer: local headers, central directory, end record. */
export function zip(files: ZipFileSpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const file of files) {
    const data = typeof file.data === "string" ? Buffer.from(file.data, "utf8") : file.data;
    const body = file.store
      ? data
      : deflateRawSync(data, file.level === undefined ? {} : { level: file.level });
    const name = Buffer.from(file.name, "utf8");
    const crc = crc32(data);
    const method = file.store ? 0 : 8;
    const flags = 0x800 | (file.descriptor ? 0x8 : 0);
    const version = file.zip64 ? 45 : 20;
    const extra = Buffer.alloc(file.zip64 ? 20 : 0);
    if (file.zip64) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(16, 2);
      extra.writeBigUInt64LE(BigInt(data.length), 4);
      extra.writeBigUInt64LE(BigInt(body.length), 12);
    }
    const sizes = (header: Buffer, at: number, local: boolean) => {
      if (file.zip64) {
        header.writeUInt32LE(0xffffffff, at);
        header.writeUInt32LE(0xffffffff, at + 4);
      } else if (!(local && file.descriptor)) {
        header.writeUInt32LE(body.length, at);
        header.writeUInt32LE(data.length, at + 4);
      }
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(version, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    if (!file.descriptor) local.writeUInt32LE(crc, 14);
    sizes(local, 18, true);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extra.length, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(version, 4);
    central.writeUInt16LE(version, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    sizes(central, 20, false);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(extra.length, 30);
    central.writeUInt32LE(offset, 42);
    const descriptor = Buffer.alloc(file.descriptor ? (file.zip64 ? 24 : 16) : 0);
    if (file.descriptor) {
      descriptor.writeUInt32LE(0x08074b50, 0);
      descriptor.writeUInt32LE(crc, 4);
      if (file.zip64) {
        descriptor.writeBigUInt64LE(BigInt(body.length), 8);
        descriptor.writeBigUInt64LE(BigInt(data.length), 16);
      } else {
        descriptor.writeUInt32LE(body.length, 8);
        descriptor.writeUInt32LE(data.length, 12);
      }
    }
    locals.push(local, name, extra, body, descriptor);
    centrals.push(central, name, extra);
    offset += local.length + name.length + extra.length + body.length + descriptor.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** Where an entry's central directory record and data sit in a zip (for tests that damage one). */
export function entryLayout(
  bytes: Buffer,
  name: string,
): { central: number; dataStart: number; compressedSize: number } {
  const end = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let at = bytes.readUInt32LE(end + 16);
  while (bytes.readUInt32LE(at) === 0x02014b50) {
    const nameLength = bytes.readUInt16LE(at + 28);
    const extraLength = bytes.readUInt16LE(at + 30);
    const commentLength = bytes.readUInt16LE(at + 32);
    if (bytes.toString("utf8", at + 46, at + 46 + nameLength) === name) {
      const localAt = bytes.readUInt32LE(at + 42);
      const dataStart = localAt + 30 + bytes.readUInt16LE(localAt + 26) + bytes.readUInt16LE(localAt + 28);
      let compressedSize = bytes.readUInt32LE(at + 20);
      if (compressedSize === 0xffffffff)
        compressedSize = Number(bytes.readBigUInt64LE(at + 46 + nameLength + 12));
      return { central: at, dataStart, compressedSize };
    }
    at += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(`no entry ${name}`);
}

export const MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
export const REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
export const STRICT_REL_NS = "http://purl.oclc.org/ooxml/officeDocument/relationships";
const PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships";

export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A worksheet whose `<sheetData>` holds `rows` (raw XML). */
export function worksheet(rows: string, prefix = ""): string {
  const p = prefix ? `${prefix}:` : "";
  const ns = prefix ? `xmlns:${prefix}="${MAIN_NS}"` : `xmlns="${MAIN_NS}"`;
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<${p}worksheet ${ns}><${p}sheetData>${rows}</${p}sheetData></${p}worksheet>`;
}

export function sharedStringsXml(items: string[]): string {
  const si = items.map((s) => `<si><t xml:space="preserve">${escapeXml(s)}</t></si>`).join("");
  return `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="${MAIN_NS}" count="${items.length}" uniqueCount="${items.length}">${si}</sst>`;
}

/** styles.xml with these numFmtIds as cellXfs 0..n-1 and these custom formats. */
export function stylesXml(cellXfNumFmts: number[], custom: Record<number, string> = {}): string {
  const fmts = Object.entries(custom)
    .map(([id, code]) => `<numFmt numFmtId="${id}" formatCode="${escapeXml(code)}"/>`)
    .join("");
  const xfs = cellXfNumFmts
    .map((id) => `<xf numFmtId="${id}" fontId="0" fillId="0" borderId="0" xfId="0"/>`)
    .join("");
  return `<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="${MAIN_NS}"><numFmts count="${Object.keys(custom).length}">${fmts}</numFmts><cellStyleXfs count="1"><xf numFmtId="22"/></cellStyleXfs><cellXfs count="${cellXfNumFmts.length}">${xfs}</cellXfs></styleSheet>`;
}

export interface SheetSpec {
  name: string;
  xml?: string;
  state?: "visible" | "hidden" | "veryHidden";
  kind?: "worksheet" | "chartsheet" | "dialogsheet";
}

export interface PackageSpec {
  sheets: SheetSpec[];
  sharedStrings?: string;
  styles?: string;
  date1904?: string;
  /** Folder of the workbook part: "xl/" (default) or "" for parts at the zip root. */
  dir?: string;
  /** Relationship namespace for the relationship types. */
  relNs?: string;
  /** Use absolute targets (`/xl/worksheets/sheet1.xml`). */
  absoluteTargets?: boolean;
  /** Replace `_rels/.rels` (null: leave it out). */
  rootRels?: string | null;
  /** Replace the workbook rels (null: leave it out). */
  workbookRels?: string | null;
  extra?: ZipFileSpec[];
  /** How every part is written into the zip (stored, deflate level, data descriptor, zip64). */
  entries?: Omit<ZipFileSpec, "name" | "data">;
}

export function xlsxPackage(spec: PackageSpec): Buffer {
  const dir = spec.dir ?? "xl/";
  const relNs = spec.relNs ?? REL_NS;
  const target = (path: string) => (spec.absoluteTargets ? `/${dir}${path}` : path);
  const files: ZipFileSpec[] = [];
  const rels: string[] = [];
  const sheetEls: string[] = [];
  spec.sheets.forEach((sheet, i) => {
    const kind = sheet.kind ?? "worksheet";
    const folder = kind === "worksheet" ? "worksheets" : `${kind}s`;
    const path = `${folder}/sheet${i + 1}.xml`;
    rels.push(`<Relationship Id="rId${i + 1}" Type="${relNs}/${kind}" Target="${target(path)}"/>`);
    const state = sheet.state && sheet.state !== "visible" ? ` state="${sheet.state}"` : "";
    sheetEls.push(`<sheet name="${escapeXml(sheet.name)}" sheetId="${i + 1}"${state} r:id="rId${i + 1}"/>`);
    files.push({ name: `${dir}${path}`, data: sheet.xml ?? worksheet("") });
  });
  if (spec.sharedStrings !== undefined) {
    rels.push(
      `<Relationship Id="rIdS" Type="${relNs}/sharedStrings" Target="${target("sharedStrings.xml")}"/>`,
    );
    files.push({ name: `${dir}sharedStrings.xml`, data: spec.sharedStrings });
  }
  if (spec.styles !== undefined) {
    rels.push(`<Relationship Id="rIdY" Type="${relNs}/styles" Target="${target("styles.xml")}"/>`);
    files.push({ name: `${dir}styles.xml`, data: spec.styles });
  }
  const pr = spec.date1904 === undefined ? "" : `<workbookPr date1904="${spec.date1904}"/>`;
  files.push({
    name: `${dir}workbook.xml`,
    data: `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="${MAIN_NS}" xmlns:r="${REL_NS}">${pr}<sheets>${sheetEls.join("")}</sheets></workbook>`,
  });
  if (spec.workbookRels !== null) {
    files.push({
      name: `${dir}_rels/workbook.xml.rels`,
      data:
        spec.workbookRels ??
        `<?xml version="1.0"?><Relationships xmlns="${PKG_REL_NS}">${rels.join("")}</Relationships>`,
    });
  }
  if (spec.rootRels !== null) {
    files.push({
      name: "_rels/.rels",
      data:
        spec.rootRels ??
        `<?xml version="1.0"?><Relationships xmlns="${PKG_REL_NS}"><Relationship Id="rId1" Type="${relNs}/officeDocument" Target="${spec.absoluteTargets ? "/" : ""}${dir}workbook.xml"/></Relationships>`,
    });
  }
  files.push(...(spec.extra ?? []));
  return zip(files.map((file) => ({ ...spec.entries, ...file })));
}

/** One-sheet package from `<row>` XML. */
export function oneSheet(rows: string, extra: Omit<PackageSpec, "sheets"> = {}): Buffer {
  return xlsxPackage({ ...extra, sheets: [{ name: "Sheet1", xml: worksheet(rows) }] });
}

export async function open(
  bytes: Buffer,
  options: { sheet?: string; limits?: Partial<ReadLimits> } = {},
): Promise<OpenedSheet> {
  return openXlsx(bufferSource(bytes, "test.xlsx"), {
    limits: resolveLimits(options.limits),
    ...(options.sheet === undefined ? {} : { sheet: options.sheet }),
  });
}

export async function collect(sheet: OpenedSheet): Promise<RawRow[]> {
  const rows: RawRow[] = [];
  for await (const batch of sheet.rows()) rows.push(...batch);
  return rows;
}

export async function readRows(
  bytes: Buffer,
  options: { sheet?: string; limits?: Partial<ReadLimits> } = {},
): Promise<RawRow[]> {
  return collect(await open(bytes, options));
}

/** Cells of each row, for compact assertions. */
export async function readCells(
  bytes: Buffer,
  options: { sheet?: string; limits?: Partial<ReadLimits> } = {},
): Promise<unknown[][]> {
  return (await readRows(bytes, options)).map((row) => row.cells);
}

/** Resolves to the error's code (fails the test when nothing is thrown). */
export async function errorCode(work: () => Promise<unknown>): Promise<string> {
  try {
    await work();
  } catch (error) {
    return (error as { code?: string }).code ?? `untyped: ${String(error)}`;
  }
  throw new Error("expected an error");
}
