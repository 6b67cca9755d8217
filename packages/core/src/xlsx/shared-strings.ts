import { WorkbookCorruptError } from "../errors.ts";
import { scanPart } from "./workbook-parts.ts";
import { decodeCellText, needsDecoding, utf8 } from "./xml-text.ts";
import { type XmlHandler, XmlTokenizer } from "./xml-tokenizer.ts";
import type { InflateBudget, ZipArchive } from "./zip-archive.ts";

/**
 * The shared-strings table kept compact: one growing buffer of UTF-8 bytes plus an offsets array, decoded to a
 * JS string only when a cell uses it. A million JS strings would cost hundreds of MB of heap; this costs about
 * the text's own size.
 */
export class SharedStrings {
  private pool: Buffer;
  private used = 0;
  /** offsets[i]..offsets[i+1] is string i. */
  private offsets = new Uint32Array(1024);
  count = 0;

  /**
   * @param sizeHint the part's inflated size from the zip directory: the decoded text is never longer than
   * its XML. Allocated uninitialised, untouched pages cost no RSS, and the pool never has to be copied to grow
   * (doubling would briefly hold two copies). The hint is only a hint: the pool still grows if it lied.
   */
  constructor(sizeHint = 0) {
    this.pool = Buffer.allocUnsafeSlow(Math.max(64 * 1024, Math.min(sizeHint, 1024 ** 3)));
  }

  /** Bytes of text held. */
  get bytes(): number {
    return this.used;
  }

  get(index: number): string {
    if (index >= this.count || index < 0) {
      throw new WorkbookCorruptError(
        `A cell refers to shared string ${index} but the table has ${this.count} strings`,
      );
    }
    return utf8(this.pool, this.offsets[index]!, this.offsets[index + 1]!);
  }

  byteLength(index: number): number {
    return this.offsets[index + 1]! - this.offsets[index]!;
  }

  private reserve(extra: number): void {
    const needed = this.used + extra;
    if (needed <= this.pool.length) return;
    if (needed > 0xffff_ffff) throw new WorkbookCorruptError("The shared-strings table is larger than 4 GB");
    let size = this.pool.length * 2;
    while (size < needed) size *= 2;
    const bigger = Buffer.allocUnsafeSlow(Math.min(size, 0xffff_ffff));
    this.pool.copy(bigger, 0, 0, this.used);
    this.pool = bigger;
  }

  appendBytes(buf: Buffer, start: number, end: number): void {
    this.reserve(end - start);
    buf.copy(this.pool, this.used, start, end);
    this.used += end - start;
  }

  appendString(text: string): void {
    const bytes = Buffer.byteLength(text, "utf8");
    this.reserve(bytes);
    this.pool.write(text, this.used, bytes, "utf8");
    this.used += bytes;
  }

  /** Ends the current string (everything appended since the previous `finish`). */
  finish(): void {
    this.count++;
    if (this.count + 1 > this.offsets.length) {
      const bigger = new Uint32Array(this.offsets.length * 2);
      bigger.set(this.offsets);
      this.offsets = bigger;
    }
    this.offsets[this.count] = this.used;
  }
}

const T_OPEN = Buffer.from("<t>", "latin1");
const SI_CLOSE = Buffer.from("</t></si>", "latin1");

function matches(buf: Buffer, at: number, bytes: Buffer): boolean {
  if (at + bytes.length > buf.length) return false;
  for (let i = 0; i < bytes.length; i++) if (buf[at + i] !== bytes[i]) return false;
  return true;
}

const SI = 1;
const T = 2;
const RPH = 3;

/** `<si>` is plain `<t>` or rich `<r><t>` runs; `<rPh>` phonetic runs (furigana) are not part of the text. */
class SharedStringsHandler implements XmlHandler {
  wantText = false;
  tokenizer!: XmlTokenizer;
  private inSi = false;
  private inT = false;
  private rPhDepth = 0;

  constructor(private readonly table: SharedStrings) {}

  private update(): void {
    this.wantText = this.inSi && this.inT && this.rPhDepth === 0;
  }

  open(name: number, selfClosing: boolean): number {
    if (selfClosing) {
      if (name === SI) this.table.finish();
      return 0;
    }
    if (name === SI) {
      const fast = this.fastSi();
      if (fast > 0) return fast;
      this.inSi = true;
      this.rPhDepth = 0;
    } else if (name === T) this.inT = true;
    else if (name === RPH) this.rPhDepth++;
    else return 0;
    this.update();
    return 0;
  }

  /** `<si><t>text</t></si>`, the common shape, in one step; 0 when it is anything else. */
  private fastSi(): number {
    const tok = this.tokenizer;
    const buf = tok.buf;
    const q = tok.tagEnd;
    if (!matches(buf, q, T_OPEN)) return 0;
    const start = q + T_OPEN.length;
    let e = start;
    while (e < buf.length && buf[e] !== 0x3c) e++;
    if (!matches(buf, e, SI_CLOSE)) return 0;
    this.text(buf, start, e, false);
    this.table.finish();
    return e + SI_CLOSE.length;
  }

  close(name: number): void {
    if (name === SI) {
      if (this.inSi) this.table.finish();
      this.inSi = false;
      this.inT = false;
    } else if (name === T) this.inT = false;
    else if (name === RPH) this.rPhDepth = Math.max(0, this.rPhDepth - 1);
    else return;
    this.update();
  }

  text(buf: Buffer, start: number, end: number, cdata: boolean): void {
    if (!cdata && !needsDecoding(buf, start, end)) this.table.appendBytes(buf, start, end);
    else this.table.appendString(decodeCellText(buf, start, end, cdata));
  }
}

export async function readSharedStrings(
  zip: ZipArchive,
  partName: string | undefined,
  budget: InflateBudget,
): Promise<SharedStrings> {
  const info = partName === undefined ? undefined : zip.get(partName);
  if (!info) return new SharedStrings();
  const table = new SharedStrings(info.entry.uncompressedSize);
  // Count attributes are ignored on purpose: they are often wrong (MalformedSSTCount.xlsx).
  const handler = new SharedStringsHandler(table);
  const tokenizer = new XmlTokenizer(info.name, handler, ["si", "t", "rPh"]);
  handler.tokenizer = tokenizer;
  await scanPart(zip, info, budget, tokenizer);
  return table;
}
