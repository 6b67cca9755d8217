import { LimitExceededError, SluiceError, WorkbookCorruptError } from "../errors.ts";
import { JsonRow } from "../json-row.ts";
import type { ReadLimits } from "../limits.ts";
import type { CellValue, CellWarning, JsonRecordVisitor, RawRow } from "../workbook-reader.ts";
import { DATE, type DateKind, NOT_DATE, normaliseIsoDate, serialToIso } from "./excel-dates.ts";
import type { SharedStrings } from "./shared-strings.ts";
import type { CellStyles } from "./styles.ts";
import { decodeCellText, latin1, Utf8Window, utf8Text } from "./xml-text.ts";
import { type XmlHandler, XmlTokenizer } from "./xml-tokenizer.ts";
import type { InflateBudget, ZipArchive, ZipEntryInfo } from "./zip-archive.ts";

/**
 * Reads worksheet XML into rows without a general XML parser: only `<row>`, `<c>`, `<v>`, `<is>`, `<t>` and
 * `<rPh>` are recognised (any namespace prefix), and only value bytes are decoded.
 */

const ROW = 1;
const C = 2;
const V = 3;
const IS = 4;
const T = 5;
const RPH = 6;
const NAMES = ["row", "c", "v", "is", "t", "rPh"];

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const EQ = 0x3d;
const COLON = 0x3a;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const AMP = 0x26;
const CR = 0x0d;
const UNDERSCORE = 0x5f;
const LOWER_X = 0x78;
const INLINE_OPEN = Buffer.from("<is><t>", "latin1");
const INLINE_CLOSE = Buffer.from("</t></is></c>", "latin1");

/** `</v></c>` at `e`. */
function closesValue(buf: Buffer, e: number, len: number): boolean {
  return (
    e + 8 <= len &&
    buf[e + 1] === SLASH &&
    buf[e + 2] === 0x76 &&
    buf[e + 3] === GT &&
    buf[e + 4] === LT &&
    buf[e + 5] === SLASH &&
    buf[e + 6] === 0x63 &&
    buf[e + 7] === GT
  );
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x09 || b === 0x0d;
}

function matches(buf: Buffer, at: number, bytes: Buffer): boolean {
  if (at + bytes.length > buf.length) return false;
  for (let i = 0; i < bytes.length; i++) if (buf[at + i] !== bytes[i]) return false;
  return true;
}

// Cell types (the `t` attribute).
const TYPE_N = 0;
const TYPE_S = 1;
const TYPE_INLINE = 2;
const TYPE_STR = 3;
const TYPE_B = 4;
const TYPE_E = 5;
const TYPE_D = 6;

// A cell value `finishCell` writes as JSON text from bytes rather than from `value` (JSON rows only).
const RAW_NONE = 0;
/** Valid UTF-8 text, `rawBuf[rawStart, rawEnd)`, needing no XML decoding beyond the predefined entities. */
const RAW_TEXT = 1;
/** A number whose `<v>` text is its JSON already. */
const RAW_NUMBER = 2;
/** Shared string `rawStart`. */
const RAW_SHARED = 3;
/** A date serial (`rawNumber`) under a DATE format. */
const RAW_DATE = 4;
/** RAW_TEXT with nothing to decode or escape (no `&`, `"`, `\` or control character): copied as it is. */
const RAW_PLAIN = 5;

/**
 * True when `<v>` bytes are the number's JSON as `String(Number(text))` would write it, so they can be copied:
 * an optional `-`, `0` or a digit run without a leading zero, an optional fraction ending in a non-zero digit,
 * at most 15 digits (a decimal of 15 significant digits or fewer reads back from its double unchanged, so the
 * shortest round-trip form is the text itself), not below 1e-6 (where `String` turns to exponents), not `-0`.
 */
function isCanonicalNumber(buf: Buffer, start: number, end: number): boolean {
  let i = start;
  if (i < end && buf[i] === 0x2d) i++;
  if (i >= end) return false;
  const lead = buf[i]!;
  if (lead < 0x30 || lead > 0x39) return false;
  let digits = 0;
  if (lead === 0x30) {
    i++;
    digits = 1;
    if (i === end) return buf[start] !== 0x2d;
  } else {
    while (i < end) {
      const b = buf[i]!;
      if (b < 0x30 || b > 0x39) break;
      digits++;
      i++;
    }
    if (i === end) return digits <= 15;
  }
  if (buf[i] !== 0x2e) return false;
  i++;
  const fractionStart = i;
  while (i < end) {
    const b = buf[i]!;
    if (b < 0x30 || b > 0x39) return false;
    digits++;
    i++;
  }
  if (i === fractionStart || buf[end - 1] === 0x30 || digits > 15) return false;
  if (lead === 0x30) {
    // 0.000001 is written as is; 0.0000001 would be 1e-7.
    let zeros = 0;
    for (let j = fractionStart; j < end && buf[j] === 0x30; j++) zeros++;
    if (zeros > 5) return false;
  }
  return true;
}

/** Rows per batch handed to the consumer. */
const BATCH_ROWS = 512;

/** 10^k for k <= 22 is exact in a double, so integer / 10^k is correctly rounded, like Number(text). */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * The number in `<v>` bytes. Plain decimals whose digits fit a safe integer are parsed in place (the integer and
 * the power of ten are exact, so one division rounds correctly, like Number(text)); others via Number().
 */
export function parseNumber(buf: Buffer, start: number, end: number): number | string | null {
  let i = start;
  const negative = i < end && buf[i] === 0x2d;
  if (negative) i++;
  let mantissa = 0;
  let digits = 0;
  let fraction = 0;
  while (i < end) {
    const b = buf[i]!;
    if (b < 0x30 || b > 0x39) break;
    mantissa = mantissa * 10 + (b - 0x30);
    digits++;
    i++;
  }
  if (i < end && buf[i] === 0x2e) {
    i++;
    while (i < end) {
      const b = buf[i]!;
      if (b < 0x30 || b > 0x39) break;
      mantissa = mantissa * 10 + (b - 0x30);
      digits++;
      fraction++;
      i++;
    }
  }
  // Exact while the digits read as an integer stay safe (every partial value was smaller): 15 digits always,
  // 16 or 17 often (date-time serials such as 45071.13552083333).
  if (i === end && digits > 0 && mantissa <= Number.MAX_SAFE_INTEGER && fraction < POW10.length) {
    const value = fraction === 0 ? mantissa : mantissa / POW10[fraction]!;
    return negative ? -value : value;
  }
  const text = buf.toString("utf8", start, end).trim();
  if (text === "") return null;
  const value = Number(text);
  // A non-numeric value in a numeric cell is kept as the text rather than lost.
  return Number.isNaN(value) ? text : value;
}

function parseIndex(buf: Buffer, start: number, end: number): number {
  let value = 0;
  let i = start;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0a || buf[i] === 0x0d)) i++;
  if (i === end) return -1;
  for (; i < end; i++) {
    const b = buf[i]!;
    if (b < 0x30 || b > 0x39) {
      const rest = buf.toString("latin1", i, end).trim();
      return rest === "" ? value : -1;
    }
    value = value * 10 + (b - 0x30);
  }
  return value;
}

export interface SheetContext {
  sharedStrings: SharedStrings;
  styles: CellStyles;
  date1904: boolean;
  limits: ReadLimits;
  sheet: string;
}

class SheetHandler implements XmlHandler {
  wantText = false;
  tokenizer!: XmlTokenizer;
  batch: RawRow[] = [];
  private rowsEmitted = 0;

  // Row state.
  private inRow = false;
  private rowNumber = 0;
  private cells: CellValue[] = [];
  private rowHasValue = false;
  private warnings: CellWarning[] | undefined;
  private nextColumn = 0;

  // Cell state.
  private inCell = false;
  private column = 0;
  private type = TYPE_N;
  private dateKind: DateKind = NOT_DATE;
  private value: CellValue = null;
  private errorText: string | undefined;

  // <v> capture: the first text run by position, further runs (comments, CDATA splits) as a string.
  private inV = false;
  private vBuf: Buffer | null = null;
  private vStart = 0;
  private vEnd = 0;
  private vCdata = false;
  private vText: string | null = null;

  // JSON rows (`JsonRecordVisitor`): set per row while the visitor takes JSON text.
  private json = false;
  private readonly jsonRow = new JsonRow();
  private readonly utf8 = new Utf8Window();
  private rawKind = RAW_NONE;
  private rawBuf: Buffer | null = null;
  private rawStart = 0;
  private rawEnd = 0;
  private rawNumber = 0;

  // <is> capture.
  private inIs = false;
  private inT = false;
  private rPhDepth = 0;
  private isText: string | null = null;

  /** Set when the part's root element is a <row> or <c>: then only the general path reads it. */
  private fastBlocked = false;

  private readonly kinds: Uint8Array;
  private readonly maxColumns: number;
  private readonly maxRows: number;
  private readonly maxCellLength: number;

  constructor(
    private readonly ctx: SheetContext,
    private readonly visitor?: JsonRecordVisitor,
  ) {
    this.kinds = ctx.styles.kinds;
    this.maxColumns = ctx.limits.maxColumns;
    this.maxRows = ctx.limits.maxRows;
    this.maxCellLength = ctx.limits.maxCellLength;
  }

  open(name: number, selfClosing: boolean): number {
    if (name === C && this.tokenizer.atRoot) this.fastBlocked = true;
    switch (name) {
      case C: {
        this.openCell(selfClosing);
        const tok = this.tokenizer;
        if (this.inCell) {
          const after = this.fastCell();
          return after > 0 ? this.fastScan(tok.buf, after) : 0;
        }
        return this.fastScan(tok.buf, tok.tagEnd);
      }
      case V:
        if (this.inCell && !selfClosing) {
          this.inV = true;
          this.vBuf = null;
          this.vText = null;
          this.wantText = true;
        }
        return 0;
      case ROW: {
        const tok = this.tokenizer;
        // A part whose root is itself a <row> or <c> keeps to the general path: the fast loop must never
        // consume the root's end tag, which the tokenizer checks.
        if (tok.atRoot) this.fastBlocked = true;
        this.openRow(selfClosing);
        return this.fastScan(tok.buf, tok.tagEnd);
      }
      case IS:
        if (this.inCell && !selfClosing) {
          this.inIs = true;
          this.rPhDepth = 0;
          if (this.isText === null) this.isText = "";
        }
        return 0;
      case T:
        if (this.inIs && !selfClosing) {
          this.inT = true;
          this.wantText = this.rPhDepth === 0;
        }
        return 0;
      case RPH:
        if (this.inIs && !selfClosing) {
          this.rPhDepth++;
          this.wantText = false;
        }
        return 0;
    }
    return 0;
  }

  /**
   * The common shapes `<v>text</v></c>` and `<is><t>text</t></is></c>` (no prefixes, no markup inside) are read
   * in one step; anything else returns 0 and goes through the general path.
   */
  private fastCell(): number {
    const buf = this.tokenizer.buf;
    const len = buf.length;
    const q = this.tokenizer.tagEnd;
    if (q + 3 > len || buf[q] !== LT) return 0;
    if (buf[q + 1] === 0x76 && buf[q + 2] === GT) {
      const start = q + 3;
      let e = start;
      while (e < len && buf[e] !== LT) e++;
      if (
        e + 8 > len ||
        buf[e + 1] !== SLASH ||
        buf[e + 2] !== 0x76 ||
        buf[e + 3] !== GT ||
        buf[e + 4] !== LT ||
        buf[e + 5] !== SLASH ||
        buf[e + 6] !== 0x63 ||
        buf[e + 7] !== GT
      ) {
        return 0;
      }
      this.vBuf = buf;
      this.vStart = start;
      this.vEnd = e;
      this.vCdata = false;
      this.vText = null;
      this.finishV(true);
      this.vBuf = null;
      this.finishCell();
      return e + 8;
    }
    if (this.type === TYPE_INLINE && matches(buf, q, INLINE_OPEN)) {
      const start = q + INLINE_OPEN.length;
      let e = start;
      while (e < len && buf[e] !== LT) e++;
      if (!matches(buf, e, INLINE_CLOSE)) return 0;
      this.isText = decodeCellText(buf, start, e, false);
      this.finishCell();
      return e + INLINE_CLOSE.length;
    }
    return 0;
  }

  /**
   * The hot loop: consecutive `<row>`, `</row>` and `<c>` elements in their common shapes (no prefix, `name="v"`
   * attributes, the value shapes of `fastCell`) read straight from the bytes, without the tokenizer's attribute
   * table. It never changes what is read: at anything else (a prefix, a comment, odd spacing, a malformed tag,
   * the end of the buffer) it stops before that element, or just after a `<c>` tag it has opened, and the
   * tokenizer's general path goes on from there. Only called outside a cell, where no text is wanted.
   */
  private fastScan(buf: Buffer, from: number): number {
    if (this.fastBlocked || this.inCell || this.wantText) return from;
    const len = buf.length;
    let p = from;
    for (;;) {
      let lt = p;
      while (lt < len && buf[lt] !== LT) lt++;
      // Room for the shortest element handled (`<c/>`), else let the tokenizer wait for more bytes.
      if (lt + 4 > len) return p;
      const c1 = buf[lt + 1];
      if (c1 === 0x63) {
        // <c ...>
        const b2 = buf[lt + 2]!;
        if (!this.inRow || !(b2 === GT || b2 === SLASH || isSpace(b2))) return p;
        const after = this.fastCellTag(buf, lt + 2, len);
        if (after < 0) return p;
        if (!this.inCell) {
          p = after;
          continue;
        }
        const end = this.fastCellBody(buf, after, len);
        if (end < 0) return after;
        p = end;
      } else if (c1 === SLASH) {
        // </row>
        if (
          lt + 6 > len ||
          buf[lt + 2] !== 0x72 ||
          buf[lt + 3] !== 0x6f ||
          buf[lt + 4] !== 0x77 ||
          buf[lt + 5] !== GT
        ) {
          return p;
        }
        if (this.inRow) this.finishRow();
        p = lt + 6;
      } else if (c1 === 0x72) {
        // <row ...>
        if (lt + 5 > len || buf[lt + 2] !== 0x6f || buf[lt + 3] !== 0x77) return p;
        const b4 = buf[lt + 4]!;
        if (!(b4 === GT || b4 === SLASH || isSpace(b4))) return p;
        const after = this.fastRowTag(buf, lt + 4, len);
        if (after < 0) return p;
        p = after;
      } else return p;
    }
  }

  /**
   * The attributes of a `<row` tag from `q` (just after the name) as the tokenizer and `openRow` would read
   * them: the first attribute whose local name is `r`. Returns the position after the tag, or -1 (incomplete or
   * not a plain tag) without changing anything.
   */
  private fastRowTag(buf: Buffer, q: number, len: number): number {
    let r = -1;
    let found = false;
    for (;;) {
      while (q < len && isSpace(buf[q]!)) q++;
      if (q >= len) return -1;
      const b = buf[q]!;
      if (b === GT || b === SLASH) {
        let after = q + 1;
        if (b === SLASH) {
          if (q + 1 >= len || buf[q + 1] !== GT) return -1;
          after = q + 2;
        }
        this.startRow(r, b === SLASH);
        return after;
      }
      let als = q;
      while (q < len) {
        const c = buf[q]!;
        if (c === EQ || c === GT || c === SLASH || isSpace(c)) break;
        if (c === COLON) als = q + 1;
        q++;
      }
      if (q + 1 >= len || buf[q] !== EQ) return -1;
      const ane = q;
      const quote = buf[q + 1];
      if (quote !== DQUOTE && quote !== SQUOTE) return -1;
      const vs = q + 2;
      q = vs;
      while (q < len && buf[q] !== quote) q++;
      if (q >= len) return -1;
      if (!found && ane - als === 1 && buf[als] === 0x72) {
        found = true;
        r = parseIndex(buf, vs, q);
      }
      q++;
    }
  }

  /** The attributes of a `<c` tag from `q`, as `openCell` reads them; then the cell is opened. As fastRowTag. */
  private fastCellTag(buf: Buffer, q: number, len: number): number {
    let column = -1;
    let type = TYPE_N;
    let style = 0;
    for (;;) {
      while (q < len && isSpace(buf[q]!)) q++;
      if (q >= len) return -1;
      const b = buf[q]!;
      if (b === GT || b === SLASH) {
        let after = q + 1;
        if (b === SLASH) {
          if (q + 1 >= len || buf[q + 1] !== GT) return -1;
          after = q + 2;
        }
        this.startCell(column, type, style, b === SLASH);
        return after;
      }
      let als = q;
      if (buf[q + 1] === EQ && b !== EQ && b !== COLON) {
        // The usual one-letter name (r, s, t).
        q++;
      } else {
        while (q < len) {
          const c = buf[q]!;
          if (c === EQ || c === GT || c === SLASH || isSpace(c)) break;
          if (c === COLON) als = q + 1;
          q++;
        }
      }
      if (q + 1 >= len || buf[q] !== EQ) return -1;
      const ane = q;
      const quote = buf[q + 1];
      if (quote !== DQUOTE && quote !== SQUOTE) return -1;
      const vs = q + 2;
      q = vs;
      while (q < len && buf[q] !== quote) q++;
      if (q >= len) return -1;
      if (ane - als === 1) {
        const key = buf[als];
        if (key === 0x72) {
          let col = 0;
          for (let i = vs; i < q && i - vs < 7; i++) {
            const c = buf[i]! | 0x20;
            if (c < 0x61 || c > 0x7a) break;
            col = col * 26 + (c - 0x60);
          }
          if (col > 0) column = col - 1;
        } else if (key === 0x73) {
          style = parseIndex(buf, vs, q);
        } else if (key === 0x74) {
          type = cellType(buf, vs, q);
        }
      }
      q++;
    }
  }

  /**
   * After an opened cell's start tag: `</c>`, `<v>text</v></c>` or `<is><t>text</t></is></c>`, read and the cell
   * finished. Returns the position after `</c>`, or -1 (another shape, or incomplete) with the cell still open.
   */
  private fastCellBody(buf: Buffer, q: number, len: number): number {
    if (q + 4 > len || buf[q] !== LT) return -1;
    const b1 = buf[q + 1];
    if (b1 === 0x76 && buf[q + 2] === GT) {
      const start = q + 3;
      let e = start;
      const type = this.type;
      if (type === TYPE_STR || type === TYPE_INLINE) {
        // Text: find its end and whether it needs more than a plain decode, in one pass.
        let high = 0;
        // special: more than a plain decode (an entity, CR, `_x`); decodeOnly: more than the JSON path's
        // entity decoding (a character reference, CR, `_x`).
        let special = false;
        let decodeOnly = false;
        // escapes: a byte JSON escapes (`"`, `\`, a control character).
        let escapes = false;
        for (; e < len; e++) {
          const b = buf[e]!;
          if (b < 0x60) {
            if (b === LT) break;
            if (b === AMP) {
              special = true;
              if (buf[e + 1] === 0x23) decodeOnly = true;
            } else if (b === CR || (b === UNDERSCORE && buf[e + 1] === LOWER_X)) {
              special = true;
              decodeOnly = true;
            } else if (b < 0x20 || b === 0x22 || b === 0x5c) escapes = true;
          }
          high |= b;
        }
        if (!closesValue(buf, e, len)) return -1;
        if (this.json && !decodeOnly && this.plainBytes(buf, start, e, high)) {
          this.rawKind = special || escapes ? RAW_TEXT : RAW_PLAIN;
          this.rawBuf = buf;
          this.rawStart = start;
          this.rawEnd = e;
        } else {
          this.value = special
            ? decodeCellText(buf, start, e, false)
            : high < 0x80
              ? latin1(buf, start, e)
              : utf8Text(buf, start, e);
        }
      } else {
        while (e < len && buf[e] !== LT) e++;
        if (!closesValue(buf, e, len)) return -1;
        this.vBuf = buf;
        this.vStart = start;
        this.vEnd = e;
        this.vCdata = false;
        this.vText = null;
        this.finishV(true);
        this.vBuf = null;
      }
      this.finishCell();
      return e + 8;
    }
    if (b1 === SLASH) {
      if (buf[q + 2] !== 0x63 || buf[q + 3] !== GT) return -1;
      this.finishCell();
      return q + 4;
    }
    if (this.type === TYPE_INLINE && matches(buf, q, INLINE_OPEN)) {
      const start = q + INLINE_OPEN.length;
      let e = start;
      while (e < len && buf[e] !== LT) e++;
      if (!matches(buf, e, INLINE_CLOSE)) return -1;
      const kind = this.json ? this.rawTextKind(buf, start, e) : RAW_NONE;
      if (kind !== RAW_NONE) {
        this.rawKind = kind;
        this.rawBuf = buf;
        this.rawStart = start;
        this.rawEnd = e;
      } else this.isText = decodeCellText(buf, start, e, false);
      this.finishCell();
      return e + INLINE_CLOSE.length;
    }
    return -1;
  }

  /**
   * Text bytes (no CR, `_x` or character reference; predefined entities are decoded as they are written; `high`
   * ORs them) that can go into JSON from the bytes: not empty, valid UTF-8, and short enough that the
   * cell-length limit cannot apply (decoding only shortens them).
   */
  private plainBytes(buf: Buffer, start: number, end: number, high: number): boolean {
    return (
      end > start && end - start <= this.maxCellLength && (high < 0x80 || this.utf8.valid(buf, start, end))
    );
  }

  /**
   * `plainBytes` for text not scanned yet (predefined entities allowed: the JSON path decodes them): RAW_PLAIN
   * when nothing needs decoding or escaping, RAW_TEXT when the JSON path handles it, else RAW_NONE.
   */
  private rawTextKind(buf: Buffer, start: number, end: number): number {
    let high = 0;
    let plain = true;
    for (let i = start; i < end; i++) {
      const b = buf[i]!;
      if ((b === AMP && buf[i + 1] === 0x23) || b === CR || (b === UNDERSCORE && buf[i + 1] === LOWER_X))
        return RAW_NONE;
      if (b === AMP || b < 0x20 || b === 0x22 || b === 0x5c) plain = false;
      high |= b;
    }
    if (!this.plainBytes(buf, start, end, high)) return RAW_NONE;
    return plain ? RAW_PLAIN : RAW_TEXT;
  }

  close(name: number): void {
    switch (name) {
      case C:
        if (this.inCell) this.finishCell();
        return;
      case V:
        if (this.inV) {
          this.inV = false;
          this.wantText = false;
          this.finishV(false);
        }
        return;
      case ROW:
        if (this.inRow) this.finishRow();
        return;
      case IS:
        this.inIs = false;
        this.inT = false;
        this.wantText = false;
        return;
      case T:
        this.inT = false;
        this.wantText = false;
        return;
      case RPH:
        if (this.rPhDepth > 0) this.rPhDepth--;
        this.wantText = this.inT && this.rPhDepth === 0;
        return;
    }
  }

  text(buf: Buffer, start: number, end: number, cdata: boolean): void {
    if (this.inV) {
      if (this.vBuf === null && this.vText === null) {
        this.vBuf = buf;
        this.vStart = start;
        this.vEnd = end;
        this.vCdata = cdata;
      } else {
        this.vText = this.vString() + decodeCellText(buf, start, end, cdata);
        this.vBuf = null;
      }
    } else {
      this.isText += decodeCellText(buf, start, end, cdata);
    }
  }

  private vString(): string {
    if (this.vText !== null) return this.vText;
    if (this.vBuf === null) return "";
    return decodeCellText(this.vBuf, this.vStart, this.vEnd, this.vCdata);
  }

  private openRow(selfClosing: boolean): void {
    const tok = this.tokenizer;
    let r = -1;
    const i = tok.findAttr("r");
    if (i >= 0) r = parseIndex(tok.buf, tok.attrs[i * 4 + 2]!, tok.attrs[i * 4 + 3]!);
    this.startRow(r, selfClosing);
  }

  /** A `<row>` start tag whose `r` attribute reads `r` (-1: none or not a number). */
  private startRow(r: number, selfClosing: boolean): void {
    if (this.inRow) this.finishRow();
    // Rows come in ascending order (Excel calls anything else corrupt): a row number met twice or going back
    // would give two rows one number, and a handler's answer names rows by number.
    if (r > 0 && r <= this.rowNumber) {
      throw new WorkbookCorruptError(
        `The sheet ${JSON.stringify(this.ctx.sheet)} lists row ${r} after row ${this.rowNumber}: rows must be in ascending order`,
        { details: { sheet: this.ctx.sheet, row: r, after: this.rowNumber } },
      );
    }
    this.rowNumber = r > 0 ? r : this.rowNumber + 1;
    if (selfClosing) return;
    this.inRow = true;
    this.rowHasValue = false;
    this.warnings = undefined;
    this.nextColumn = 0;
    const visitor = this.visitor;
    this.json = visitor !== undefined && !visitor.wantValues;
    if (this.json) this.jsonRow.reset(this.rowNumber);
    else this.cells = [];
  }

  private finishRow(): void {
    if (this.inCell) this.finishCell();
    this.inRow = false;
    if (!this.rowHasValue) return;
    this.rowsEmitted++;
    if (this.rowsEmitted > this.maxRows) {
      throw new LimitExceededError(
        "TOO_MANY_ROWS",
        `Sheet ${JSON.stringify(this.ctx.sheet)} has more than ${this.maxRows} data rows (limit maxRows)`,
        { limit: "maxRows", max: this.maxRows, row: this.rowNumber },
      );
    }
    if (this.json) {
      this.jsonRow.warnings = this.warnings;
      this.visitor!.json(this.jsonRow);
      return;
    }
    const row: RawRow =
      this.warnings === undefined
        ? { row: this.rowNumber, cells: this.cells }
        : { row: this.rowNumber, cells: this.cells, warnings: this.warnings };
    if (this.visitor) this.visitor.values(row);
    else this.batch.push(row);
  }

  private openCell(selfClosing: boolean): void {
    if (this.inCell) this.finishCell();
    if (!this.inRow) return;
    const tok = this.tokenizer;
    const buf = tok.buf;
    const attrs = tok.attrs;
    let column = -1;
    let type = TYPE_N;
    let style = 0;
    for (let a = 0; a < tok.attrCount; a++) {
      const o = a * 4;
      const ns = attrs[o]!;
      if (attrs[o + 1]! - ns !== 1) continue;
      const vs = attrs[o + 2]!;
      const ve = attrs[o + 3]!;
      const key = buf[ns];
      if (key === 0x72) {
        // r="AB12": the letters give the column.
        let col = 0;
        let i = vs;
        for (; i < ve && i - vs < 7; i++) {
          const b = buf[i]! | 0x20;
          if (b < 0x61 || b > 0x7a) break;
          col = col * 26 + (b - 0x60);
        }
        if (col > 0) column = col - 1;
      } else if (key === 0x73) {
        style = parseIndex(buf, vs, ve);
      } else if (key === 0x74) {
        type = cellType(buf, vs, ve);
      }
    }
    this.startCell(column, type, style, selfClosing);
  }

  /** A `<c>` start tag inside a row: column from `r` (-1: none), type from `t`, style index from `s`. */
  private startCell(column: number, type: number, style: number, selfClosing: boolean): void {
    // Cells come in ascending column order too: a column met twice or going back would overwrite a value.
    if (column >= 0 && column < this.nextColumn) {
      throw new WorkbookCorruptError(
        `The sheet ${JSON.stringify(this.ctx.sheet)} lists a cell in column ${column + 1} after column ${this.nextColumn} in row ${this.rowNumber}: cells must be in ascending order`,
        { details: { sheet: this.ctx.sheet, row: this.rowNumber, column: column + 1 } },
      );
    }
    this.column = column >= 0 ? column : this.nextColumn;
    this.nextColumn = this.column + 1;
    this.type = type;
    // No `s` means style 0, which is usually General but need not be.
    this.dateKind = style >= 0 && style < this.kinds.length ? (this.kinds[style] as DateKind) : NOT_DATE;
    this.value = null;
    this.rawKind = RAW_NONE;
    this.errorText = undefined;
    this.isText = null;
    this.inIs = false;
    this.inT = false;
    this.inCell = !selfClosing;
  }

  /**
   * Turns the `<v>` text into the cell's value, while its bytes are still in the current buffer. `fast`: the
   * cell is finished right after, so a JSON row may take the bytes themselves (`rawKind`).
   */
  private finishV(fast: boolean): void {
    const buf = this.vBuf;
    const multi = this.vText !== null;
    switch (this.type) {
      case TYPE_N: {
        if (
          fast &&
          this.json &&
          buf !== null &&
          !multi &&
          this.dateKind === NOT_DATE &&
          isCanonicalNumber(buf, this.vStart, this.vEnd)
        ) {
          this.rawKind = RAW_NUMBER;
          this.rawBuf = buf;
          this.rawStart = this.vStart;
          this.rawEnd = this.vEnd;
          return;
        }
        let n: number | string | null;
        if (multi) {
          const text = this.vText!.trim();
          n = text === "" ? null : Number.isNaN(Number(text)) ? text : Number(text);
        } else {
          n = buf === null ? null : parseNumber(buf, this.vStart, this.vEnd);
        }
        if (this.json && typeof n === "number" && this.dateKind === DATE) {
          this.rawKind = RAW_DATE;
          this.rawNumber = n;
          return;
        }
        this.value =
          typeof n === "number" && this.dateKind !== NOT_DATE
            ? serialToIso(n, this.ctx.date1904, this.dateKind)
            : n;
        return;
      }
      case TYPE_S: {
        const index = multi
          ? parseIndexText(this.vText!)
          : buf === null
            ? -1
            : parseIndex(buf, this.vStart, this.vEnd);
        if (index < 0) {
          if (multi || buf !== null)
            throw new WorkbookCorruptError(this.where("has a shared-string index that is not a number"));
          return;
        }
        const sst = this.ctx.sharedStrings;
        if (this.json && index < sst.count) {
          const bytes = sst.byteLength(index);
          if (bytes > 0 && bytes <= this.maxCellLength) {
            this.rawKind = RAW_SHARED;
            this.rawStart = index;
            return;
          }
        }
        if (index < sst.count && sst.byteLength(index) > this.maxCellLength) {
          this.value = this.checkLength(sst.get(index));
        } else {
          this.value = sst.get(index);
        }
        return;
      }
      case TYPE_B: {
        // The usual `0` / `1` without making a string.
        if (!multi && buf !== null && this.vEnd - this.vStart === 1) {
          const b = buf[this.vStart];
          if (b === 0x30 || b === 0x31) {
            this.value = b === 0x31;
            return;
          }
        }
        const text = this.vString().trim().toLowerCase();
        this.value = text === "" ? null : text === "1" || text === "true";
        return;
      }
      case TYPE_E:
        this.errorText = this.vString();
        return;
      case TYPE_D: {
        const text = this.vString();
        this.value = text === "" ? null : normaliseIsoDate(text);
        return;
      }
      default:
        // str (formula string) and inlineStr written with <v>.
        this.value = this.vString();
        return;
    }
  }

  private finishCell(): void {
    this.inCell = false;
    this.inV = false;
    this.inIs = false;
    this.inT = false;
    this.wantText = false;
    let value = this.value;
    if (this.type === TYPE_INLINE && this.isText !== null) value = this.isText;
    const column = this.column;
    if (this.errorText !== undefined) {
      this.checkColumn(column);
      this.warnings ??= [];
      this.warnings.push({ column, code: "CELL_ERROR", message: this.errorText });
      // An error value is content: the row is kept so the warning reaches the consumer.
      this.rowHasValue = true;
      return;
    }
    const raw = this.rawKind;
    if (raw !== RAW_NONE) {
      this.checkColumn(column);
      if (raw === RAW_SHARED) this.ctx.sharedStrings.putJson(this.rawStart, this.jsonRow, column);
      else if (raw === RAW_DATE) this.jsonRow.putDate(column, this.rawNumber, this.ctx.date1904);
      else if (raw === RAW_PLAIN) this.jsonRow.putQuoted(column, this.rawBuf!, this.rawStart, this.rawEnd);
      else if (raw === RAW_TEXT) this.jsonRow.putXmlText(column, this.rawBuf!, this.rawStart, this.rawEnd);
      else this.jsonRow.putRaw(column, this.rawBuf!, this.rawStart, this.rawEnd);
      this.rawKind = RAW_NONE;
      this.rawBuf = null;
      this.rowHasValue = true;
      return;
    }
    if (value === null || value === "") return;
    if (typeof value === "string" && value.length > this.maxCellLength) this.checkLength(value);
    this.checkColumn(column);
    if (this.json) {
      this.jsonRow.putValue(column, value);
      this.rowHasValue = true;
      return;
    }
    const cells = this.cells;
    if (column === cells.length) cells.push(value);
    else if (column > cells.length) {
      while (cells.length < column) cells.push(null);
      cells.push(value);
    } else cells[column] = value;
    this.rowHasValue = true;
  }

  private checkColumn(column: number): void {
    if (column >= this.maxColumns) {
      throw new LimitExceededError(
        "TOO_MANY_COLUMNS",
        this.where(
          `is in column ${column + 1}, beyond the limit of ${this.maxColumns} columns (limit maxColumns)`,
        ),
        { limit: "maxColumns", max: this.maxColumns, row: this.rowNumber, column },
      );
    }
  }

  private checkLength(value: string): string {
    if (value.length > this.maxCellLength) this.throwTooLong();
    return value;
  }

  throwTooLong(): never {
    throw new LimitExceededError(
      "CELL_TOO_LONG",
      this.where(`holds more than ${this.maxCellLength} characters (limit maxCellLength)`),
      { limit: "maxCellLength", max: this.maxCellLength, row: this.rowNumber, column: this.column },
    );
  }

  /** Called when one token grows past the tokenizer's bound: inside a cell that is an over-long value. */
  onPendingTooLong(): void {
    if (this.inCell) this.throwTooLong();
  }

  private where(what: string): string {
    return `The cell in row ${this.rowNumber}, column ${this.column + 1} of sheet ${JSON.stringify(this.ctx.sheet)} ${what}`;
  }

  /** The part has ended: an open row or cell means the XML was cut short. */
  finish(): void {
    if (this.inRow || this.inCell) {
      throw new WorkbookCorruptError(
        `The sheet ${JSON.stringify(this.ctx.sheet)} ends inside row ${this.rowNumber}: its XML is cut short`,
      );
    }
  }

  take(): RawRow[] {
    const rows = this.batch;
    this.batch = [];
    return rows;
  }
}

function parseIndexText(text: string): number {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : -1;
}

function cellType(buf: Buffer, start: number, end: number): number {
  const len = end - start;
  const b = buf[start];
  if (len === 1) {
    if (b === 0x73) return TYPE_S;
    if (b === 0x6e) return TYPE_N;
    if (b === 0x62) return TYPE_B;
    if (b === 0x65) return TYPE_E;
    if (b === 0x64) return TYPE_D;
    return TYPE_N;
  }
  if (len === 3 && b === 0x73) return TYPE_STR;
  if (len === 9 && b === 0x69) return TYPE_INLINE;
  return TYPE_N;
}

/** Streams the sheet part and yields rows in batches; nothing beyond one batch and one chunk is held. */
export async function* scanSheetRows(
  zip: ZipArchive,
  info: ZipEntryInfo,
  budget: InflateBudget,
  ctx: SheetContext,
): AsyncGenerator<RawRow[]> {
  const handler = new SheetHandler(ctx);
  const tokenizer = sheetTokenizer(info, handler, ctx);
  try {
    for await (const chunk of zip.chunks(info, budget)) {
      tokenizer.push(chunk);
      if (handler.batch.length >= BATCH_ROWS) {
        const rows = handler.take();
        if (rows.length <= BATCH_ROWS * 2) yield rows;
        else for (let i = 0; i < rows.length; i += BATCH_ROWS) yield rows.slice(i, i + BATCH_ROWS);
      }
    }
    tokenizer.end();
    handler.finish();
  } catch (error) {
    throw sheetError(error, ctx);
  }
  if (handler.batch.length > 0) yield handler.take();
}

function sheetTokenizer(info: ZipEntryInfo, handler: SheetHandler, ctx: SheetContext): XmlTokenizer {
  const maxPending = Math.max(16 * 1024 * 1024, ctx.limits.maxCellLength * 8);
  const tokenizer = new XmlTokenizer(info.name, handler, NAMES, maxPending, () => handler.onPendingTooLong());
  handler.tokenizer = tokenizer;
  return tokenizer;
}

function sheetError(error: unknown, ctx: SheetContext): SluiceError {
  if (error instanceof SluiceError) return error;
  return new WorkbookCorruptError(
    `The sheet ${JSON.stringify(ctx.sheet)} could not be read: ${String(error)}`,
    {
      cause: error,
    },
  );
}

/**
 * Streams the sheet part into a visitor: rows as JSON text once it stops wanting values (see
 * `JsonRecordVisitor`), each handed over synchronously; `drain` is awaited after every inflated piece.
 */
export async function visitSheetJson(
  zip: ZipArchive,
  info: ZipEntryInfo,
  budget: InflateBudget,
  ctx: SheetContext,
  visitor: JsonRecordVisitor,
): Promise<void> {
  const handler = new SheetHandler(ctx, visitor);
  const tokenizer = sheetTokenizer(info, handler, ctx);
  try {
    for await (const chunk of zip.chunks(info, budget)) {
      tokenizer.push(chunk);
      await visitor.drain();
    }
    tokenizer.end();
    handler.finish();
  } catch (error) {
    throw sheetError(error, ctx);
  }
}
