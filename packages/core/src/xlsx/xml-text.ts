/**
 * Turning raw XML text bytes into cell strings: UTF-8 decoding, XML line-end normalisation, the five predefined
 * entities and character references (never DTD entities), and OOXML's `_xHHHH_` escapes.
 */

import { isUtf8 } from "node:buffer";
import { writeEscape } from "../json-text.ts";

const AMP = 0x26;
const LT = 0x3c;
const CR = 0x0d;
const UNDERSCORE = 0x5f;
const LOWER_X = 0x78;

/** Text bytes as they are in JSON (copied, or escaped), or to be decoded first. */
export const TEXT_PLAIN = 0;
export const TEXT_ESCAPE = 1;
export const TEXT_DECODE = 2;

/**
 * What XML text bytes need: decoding (an entity, CR, `_x`: see `decodeCellText`), else JSON escaping (`"`, `\`,
 * a control character), else nothing.
 */
export function textKind(buf: Buffer, start: number, end: number): number {
  let kind = TEXT_PLAIN;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b >= 0x60) continue;
    if (b === AMP || b === CR || (b === UNDERSCORE && buf[i + 1] === LOWER_X)) return TEXT_DECODE;
    if (b < 0x20 || b === 0x22 || b === 0x5c) kind = TEXT_ESCAPE;
  }
  return kind;
}

type SliceBuffer = Buffer & {
  utf8Slice?: (start: number, end: number) => string;
  latin1Slice?: (start: number, end: number) => string;
};
const proto = Buffer.prototype as SliceBuffer;
// Node's own per-encoding slicers skip toString's argument handling, which shows up at millions of cells.
// Feature-detected: they are not documented API.
const hasSlicers = typeof proto.utf8Slice === "function" && typeof proto.latin1Slice === "function";

/** UTF-8 bytes to a string, taking the cheaper ASCII path when every byte is ASCII. */
export function utf8(buf: Buffer, start: number, end: number): string {
  if (!hasSlicers) return buf.toString("utf8", start, end);
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) return (buf as SliceBuffer).utf8Slice!(start, end);
  }
  return (buf as SliceBuffer).latin1Slice!(start, end);
}

/** Bytes known to be ASCII, as a string. */
export function latin1(buf: Buffer, start: number, end: number): string {
  return hasSlicers ? (buf as SliceBuffer).latin1Slice!(start, end) : buf.toString("latin1", start, end);
}

/** UTF-8 bytes (known to hold non-ASCII) as a string. */
export function utf8Text(buf: Buffer, start: number, end: number): string {
  return hasSlicers ? (buf as SliceBuffer).utf8Slice!(start, end) : buf.toString("utf8", start, end);
}

const NAMED_ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function codePointString(code: number): string {
  // Invalid references become U+FFFD rather than failing the whole file.
  if (!Number.isFinite(code) || code < 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
    return "\uFFFD";
  return String.fromCodePoint(code);
}

/** Decodes `&...;` references. Unknown names stay literal: without a DTD they mean nothing, and we never read DTDs. */
export function decodeEntities(text: string): string {
  if (text.indexOf("&") === -1) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z]+);/g, (whole, ref: string) => {
    if (ref.charCodeAt(0) === 0x23) {
      const hex = ref.charCodeAt(1) === 0x78;
      return codePointString(Number.parseInt(ref.slice(hex ? 2 : 1), hex ? 16 : 10));
    }
    return NAMED_ENTITIES[ref] ?? whole;
  });
}

/** XML 1.0 section 2.11: CRLF and lone CR in the document are line ends, read as LF. */
export function normaliseLineEnds(text: string): string {
  return text.indexOf("\r") === -1 ? text : text.replace(/\r\n?/g, "\n");
}

/** OOXML ST_Xstring escapes: `_x000D_` is CR; `_x005F_` is a literal underscore, so `_x005F_x000D_` reads `_x000D_`. */
export function unescapeOoxml(text: string): string {
  if (text.indexOf("_x") === -1) return text;
  return text.replace(/_x([0-9A-Fa-f]{4})_/g, (_whole, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
}

/** Cell text: line ends, then entities (so `&#13;` stays CR), then `_xHHHH_`. CDATA has no entities. */
export function decodeCellText(buf: Buffer, start: number, end: number, cdata: boolean): string {
  let plain = true;
  let ascii = true;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b >= 0x80) ascii = false;
    else if (b === AMP || b === CR || (b === UNDERSCORE && buf[i + 1] === LOWER_X)) {
      plain = false;
      break;
    }
  }
  if (plain) {
    if (!hasSlicers) return buf.toString("utf8", start, end);
    return ascii
      ? (buf as SliceBuffer).latin1Slice!(start, end)
      : (buf as SliceBuffer).utf8Slice!(start, end);
  }
  let text = normaliseLineEnds(buf.toString("utf8", start, end));
  if (!cdata) text = decodeEntities(text);
  return unescapeOoxml(text);
}

/** Attribute values: entities only (names, targets, format codes). */
export function decodeAttribute(buf: Buffer, start: number, end: number): string {
  return decodeEntities(buf.toString("utf8", start, end));
}

/**
 * Whether a text range of a buffer is valid UTF-8, checked natively once per buffer rather than per cell: from
 * its first `<` to its last (a multi-byte character never spans ASCII markup, and a buffer may start or end
 * inside one). Ranges outside that window, and every range of a buffer with an invalid byte in it, are checked
 * alone; an invalid range is left to the decoding path (U+FFFD for the bad bytes).
 */
export class Utf8Window {
  private buf: Buffer | undefined;
  private from = 0;
  private to = 0;

  valid(buf: Buffer, start: number, end: number): boolean {
    if (buf !== this.buf) this.check(buf);
    if (start >= this.from && end <= this.to) return true;
    // Outside the checked window (a text run at a buffer's edge): checked alone.
    return isUtf8(buf.subarray(start, end));
  }

  private check(buf: Buffer): void {
    this.buf = buf;
    const first = buf.indexOf(LT);
    const last = buf.lastIndexOf(LT);
    const valid = first >= 0 && last > first && isUtf8(buf.subarray(first, last));
    this.from = valid ? first : 0;
    this.to = valid ? last : -1;
  }
}

/** The five predefined entities by their names' bytes. */
const PREDEFINED: ReadonlyArray<readonly [Buffer, number]> = [
  [Buffer.from("amp", "latin1"), 0x26],
  [Buffer.from("lt", "latin1"), 0x3c],
  [Buffer.from("gt", "latin1"), 0x3e],
  [Buffer.from("quot", "latin1"), 0x22],
  [Buffer.from("apos", "latin1"), 0x27],
];

function isLetter(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a));
}

/**
 * Writes XML text bytes (valid UTF-8, with no CR, no `_x` and no `&#` character reference: those need
 * `decodeCellText`) as a JSON string at `at`, quotes included; returns the end. The five predefined entities are
 * decoded; any other `&name;` stays as written, as `decodeEntities` leaves it. Room: 2 + 6 per byte.
 */
export function writeXmlTextJson(buf: Buffer, start: number, end: number, out: Buffer, at: number): number {
  let o = at;
  out[o++] = 0x22;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b === AMP) {
      let j = i + 1;
      while (j < end && isLetter(buf[j])) j++;
      if (j > i + 1 && j < end && buf[j] === 0x3b) {
        const decoded = predefined(buf, i + 1, j);
        if (decoded >= 0) {
          if (decoded === 0x22) o = writeEscape(decoded, out, o);
          else out[o++] = decoded;
          i = j;
          continue;
        }
      }
      out[o++] = b;
    } else if (b >= 0x20 && b !== 0x22 && b !== 0x5c) out[o++] = b;
    else o = writeEscape(b, out, o);
  }
  out[o++] = 0x22;
  return o;
}

/** The character a predefined entity's name (`buf[start, end)`) stands for, or -1. */
function predefined(buf: Buffer, start: number, end: number): number {
  for (const [name, char] of PREDEFINED) {
    if (name.length !== end - start) continue;
    let same = true;
    for (let k = 0; k < name.length && same; k++) same = buf[start + k] === name[k];
    if (same) return char;
  }
  return -1;
}
