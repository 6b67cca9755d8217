import { UnsupportedFormatError, WorkbookCorruptError } from "../errors.ts";
import { decodeAttribute } from "./xml-text.ts";
import { type XmlHandler, XmlTokenizer } from "./xml-tokenizer.ts";
import type { InflateBudget, ZipArchive, ZipEntryInfo } from "./zip-archive.ts";

/** Streams one part through a tokenizer and handler. */
export async function scanPart(
  zip: ZipArchive,
  info: ZipEntryInfo,
  budget: InflateBudget,
  tokenizer: XmlTokenizer,
): Promise<void> {
  for await (const chunk of zip.chunks(info, budget)) tokenizer.push(chunk);
  tokenizer.end();
}

export type ElementVisitor = (name: string, tok: XmlTokenizer, parents: readonly string[]) => void;

/** For the small parts (rels, workbook, styles): element names as strings, with their open ancestors. */
class ElementCollector implements XmlHandler {
  wantText = false;
  tokenizer!: XmlTokenizer;
  private readonly parents: string[] = [];

  constructor(private readonly visit: ElementVisitor) {}

  open(_name: number, selfClosing: boolean): number {
    const name = this.tokenizer.localName();
    this.visit(name, this.tokenizer, this.parents);
    // Depth is bounded so a hostile part cannot grow the stack without limit.
    if (!selfClosing && this.parents.length < 256) this.parents.push(name);
    return 0;
  }

  close(): void {
    this.parents.pop();
  }

  text(): void {}
}

export async function visitElements(
  zip: ZipArchive,
  info: ZipEntryInfo,
  budget: InflateBudget,
  visit: ElementVisitor,
): Promise<void> {
  const collector = new ElementCollector(visit);
  const tokenizer = new XmlTokenizer(info.name, collector, []);
  collector.tokenizer = tokenizer;
  await scanPart(zip, info, budget, tokenizer);
}

/**
 * Most entries a package list may hold (sheets, relationships, cell formats). Excel's own limits are far
 * lower (64,000 cell formats); the cap stops a small, highly compressed part from filling memory with objects.
 */
export const MAX_LIST_ENTRIES = 100_000;

export function tooMany(part: string, what: string): WorkbookCorruptError {
  return new WorkbookCorruptError(`The workbook part ${part} lists more than ${MAX_LIST_ENTRIES} ${what}`, {
    details: { part },
  });
}

export function attr(tok: XmlTokenizer, name: string): string | undefined {
  const i = tok.findAttr(name);
  if (i < 0) return undefined;
  return decodeAttribute(tok.buf, tok.attrs[i * 4 + 2]!, tok.attrs[i * 4 + 3]!);
}

export interface Relationship {
  id: string;
  /** Last path segment of the type URI: same for transitional and strict (purl.oclc.org) namespaces. */
  type: string;
  /** Resolved part name (no leading slash). */
  target: string;
}

/** `xl/workbook.xml` -> `xl/_rels/workbook.xml.rels`; `workbook.xml` -> `_rels/workbook.xml.rels`. */
export function relsPathFor(partName: string): string {
  const slash = partName.lastIndexOf("/");
  return `${partName.slice(0, slash + 1)}_rels/${partName.slice(slash + 1)}.rels`;
}

function dirOf(partName: string): string {
  return partName.slice(0, partName.lastIndexOf("/") + 1);
}

/** Resolves a relationship target against the source part's folder; `/xl/...` is from the package root. */
export function resolveTarget(baseDir: string, target: string): string {
  let t = target;
  try {
    t = decodeURIComponent(t);
  } catch {
    // Keep the raw target when it is not valid percent-encoding.
  }
  t = t.replace(/\\/g, "/");
  const joined = t.startsWith("/") ? t : baseDir + t;
  const out: string[] = [];
  for (const segment of joined.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") out.pop();
    else out.push(segment);
  }
  return out.join("/");
}

export async function readRelationships(
  zip: ZipArchive,
  partName: string,
  budget: InflateBudget,
): Promise<Relationship[] | undefined> {
  const info = zip.get(relsPathFor(partName));
  if (!info) return undefined;
  const baseDir = dirOf(partName);
  const rels: Relationship[] = [];
  await visitElements(zip, info, budget, (name, tok) => {
    if (name !== "Relationship") return;
    const target = attr(tok, "Target");
    const type = attr(tok, "Type") ?? "";
    if (target === undefined || attr(tok, "TargetMode") === "External") return;
    if (rels.length >= MAX_LIST_ENTRIES) throw tooMany(info.name, "relationships");
    rels.push({
      id: attr(tok, "Id") ?? "",
      type: type.slice(type.lastIndexOf("/") + 1),
      target: resolveTarget(baseDir, target),
    });
  });
  return rels;
}

export interface WorkbookSheet {
  name: string;
  visible: boolean;
  /** Resolved part name of a worksheet; undefined for chart/dialog/macro sheets. */
  part: string | undefined;
}

export interface WorkbookPackage {
  workbookPart: string;
  sheets: WorkbookSheet[];
  /** All worksheets in workbook order (chart sheets and dialog sheets excluded). */
  worksheets: WorkbookSheet[];
  date1904: boolean;
  sharedStringsPart: string | undefined;
  stylesPart: string | undefined;
}

const ODS_HINT = "open it in Excel or LibreOffice and save it as .xlsx (Excel Workbook)";

async function rejectOtherFormats(zip: ZipArchive, budget: InflateBudget): Promise<void> {
  const mimetype = zip.get("mimetype");
  if (mimetype) {
    const text = (await zip.readAll(mimetype, budget, 256)).toString("latin1").trim();
    if (text.startsWith("application/vnd.oasis.opendocument")) {
      throw new UnsupportedFormatError(
        `${zip.source.name} is an OpenDocument file (${text}), not an xlsx workbook; ${ODS_HINT}`,
        { details: { mimetype: text } },
      );
    }
  }
  if (zip.get("xl/workbook.bin")) throwXlsb(zip);
}

function throwXlsb(zip: ZipArchive): never {
  throw new UnsupportedFormatError(
    `${zip.source.name} is an Excel binary workbook (.xlsb), which is not supported; ${ODS_HINT}`,
  );
}

/** Finds the workbook part: `_rels/.rels` officeDocument first, `xl/workbook.xml` when the package rels are unusable. */
async function findWorkbookPart(zip: ZipArchive, budget: InflateBudget): Promise<string> {
  let rels: Relationship[] | undefined;
  try {
    rels = await readRelationships(zip, "", budget);
  } catch (error) {
    // Garbage package rels: fall back like lenient readers do. A DTD or a limit still fails.
    if (!(error instanceof WorkbookCorruptError)) throw error;
  }
  const office = rels?.find((rel) => rel.type === "officeDocument");
  if (office) {
    if (office.target.toLowerCase().endsWith(".bin")) throwXlsb(zip);
    const info = zip.get(office.target);
    if (info) return info.name;
  }
  for (const guess of ["xl/workbook.xml", "workbook.xml"]) {
    const info = zip.get(guess);
    if (info) return info.name;
  }
  throw new WorkbookCorruptError(
    `${zip.source.name} is a zip file but holds no workbook part (no officeDocument relationship and no xl/workbook.xml)`,
  );
}

export async function readWorkbookPackage(zip: ZipArchive, budget: InflateBudget): Promise<WorkbookPackage> {
  await rejectOtherFormats(zip, budget);
  const workbookPart = await findWorkbookPart(zip, budget);
  const workbookInfo = zip.get(workbookPart)!;

  const declared: Array<{ name: string; state: string; rid: string | undefined }> = [];
  let date1904 = false;
  await visitElements(zip, workbookInfo, budget, (name, tok, parents) => {
    if (name === "sheet" && parents[parents.length - 1] === "sheets") {
      if (declared.length >= MAX_LIST_ENTRIES) throw tooMany(workbookPart, "sheets");
      declared.push({
        name: attr(tok, "name") ?? "",
        state: attr(tok, "state") ?? "visible",
        rid: attr(tok, "id"),
      });
    } else if (name === "workbookPr" && parents.length === 1) {
      // Only the top-level one: extensions (x15) carry their own workbookPr without date1904.
      const flag = attr(tok, "date1904")?.trim().toLowerCase();
      date1904 = flag === "1" || flag === "true";
    }
  });

  const rels = (await readRelationships(zip, workbookPart, budget)) ?? [];
  const byId = new Map(rels.map((rel) => [rel.id, rel]));
  const baseDir = dirOf(workbookPart);
  const sheets: WorkbookSheet[] = declared.map((sheet, index) => {
    const visible = sheet.state !== "hidden" && sheet.state !== "veryHidden";
    let part: string | undefined;
    if (rels.length > 0) {
      const rel = sheet.rid === undefined ? undefined : byId.get(sheet.rid);
      // A worksheet whose part is missing stays listed; reading it reports the damage.
      if (rel?.type === "worksheet") part = zip.get(rel.target)?.name ?? rel.target;
    } else {
      // No workbook rels at all (damaged package): the conventional part name is the best guess.
      part = zip.get(`${baseDir}worksheets/sheet${index + 1}.xml`)?.name;
    }
    return { name: sheet.name, visible, part };
  });

  const relOfType = (type: string, fallback: string, required: boolean): string | undefined => {
    const rel = rels.find((r) => r.type === type);
    if (rel) {
      const info = zip.get(rel.target);
      // Read without its styles part, a workbook's dates would all turn into serial numbers without a word.
      // (A missing shared-strings part is left alone: real writers name one they never write, for sheets of
      // inline strings, and a cell that needs it fails on its own.)
      if (!info && required) {
        throw new WorkbookCorruptError(
          `The workbook's relationships name the part ${rel.target} (${type}), but the zip has no such entry`,
          { details: { part: rel.target } },
        );
      }
      return info?.name;
    }
    return rels.length === 0 ? zip.get(baseDir + fallback)?.name : undefined;
  };

  return {
    workbookPart,
    sheets,
    worksheets: sheets.filter((sheet) => sheet.part !== undefined),
    date1904,
    sharedStringsPart: relOfType("sharedStrings", "sharedStrings.xml", false),
    stylesPart: relOfType("styles", "styles.xml", true),
  };
}
