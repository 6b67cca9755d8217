import type { CellValue } from "./workbook-reader.ts";

/**
 * JSON text written straight into byte buffers, byte for byte what `JSON.stringify` (then UTF-8) gives: the
 * converter's rows never become JSON strings on the heap.
 */

/** Bytes `JSON.stringify` writes for each ASCII control character (`\n`, `\u0001`...). */
export const CONTROL_ESCAPES: Buffer[] = Array.from({ length: 0x20 }, (_, b) =>
  Buffer.from(JSON.stringify(String.fromCharCode(b)).slice(1, -1), "latin1"),
);
/** Writes a non-negative integer's decimal digits (as `String(n)`); returns the end. */
export function writeDigits(out: Buffer, at: number, n: number): number {
  let digits = 1;
  for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
  let m = n;
  for (let i = at + digits - 1; i >= at; i--) {
    out[i] = 0x30 + (m % 10);
    m = Math.floor(m / 10);
  }
  return at + digits;
}

/** `null`, `true`, `false` or a number's shortest round-trip form (at most 25 bytes: "-0.0000012345678901234567"). */
export const MAX_SCALAR_BYTES = 32;

/** JSON of a non-string cell value: what JSON.stringify writes (non-finite numbers are null). */
export function scalarJson(value: CellValue | undefined): string {
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  return "null";
}

/** Bytes of `JSON.stringify(text)` in UTF-8, without its quotes. */
export function jsonStringBytes(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += c >= 0x20 && c !== 0x22 && c !== 0x5c ? 1 : c < 0x20 ? CONTROL_ESCAPES[c]!.length : 2;
    else if (c < 0x800) n += 2;
    else if (c < 0xd800 || c > 0xdfff) n += 3;
    else if (c <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      n += 4;
      i++;
    } else n += 6;
  }
  return n;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

const HEX_DIGITS = Buffer.from("0123456789abcdef", "latin1");

/** Writes the JSON escape of an ASCII character that needs one (`"`, `\`, a control character); returns the end. */
export function writeEscape(c: number, out: Buffer, at: number): number {
  let o = at;
  if (c >= 0x20) {
    out[o++] = 0x5c;
    out[o++] = c;
    return o;
  }
  const control = CONTROL_ESCAPES[c]!;
  for (let j = 0; j < control.length; j++) out[o++] = control[j]!;
  return o;
}

/** Writes `JSON.stringify(text)` as UTF-8 at `at`; returns the end. */
export function writeJsonString(text: string, out: Buffer, at: number): number {
  let o = at;
  out[o++] = 0x22;
  const len = text.length;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      if (c >= 0x20 && c !== 0x22 && c !== 0x5c) out[o++] = c;
      else o = writeEscape(c, out, o);
    } else if (c < 0x800) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
    } else if (c <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      const cp = 0x10000 + ((c - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00);
      out[o++] = 0xf0 | (cp >> 18);
      out[o++] = 0x80 | ((cp >> 12) & 0x3f);
      out[o++] = 0x80 | ((cp >> 6) & 0x3f);
      out[o++] = 0x80 | (cp & 0x3f);
    } else {
      // A lone surrogate: JSON.stringify escapes it (lowercase hex) rather than writing invalid UTF-8.
      out[o++] = 0x5c;
      out[o++] = 0x75;
      out[o++] = HEX_DIGITS[c >> 12]!;
      out[o++] = HEX_DIGITS[(c >> 8) & 0xf]!;
      out[o++] = HEX_DIGITS[(c >> 4) & 0xf]!;
      out[o++] = HEX_DIGITS[c & 0xf]!;
    }
  }
  out[o++] = 0x22;
  return o;
}

/**
 * Writes valid UTF-8 bytes that JSON does not escape (no `"`, `\` or control character) as a JSON string, quotes
 * included, at `at`; returns the end. Room: 2 + the bytes.
 */
export function writeQuoted(buf: Buffer, start: number, end: number, out: Buffer, at: number): number {
  let o = at;
  out[o++] = 0x22;
  // Short runs byte by byte: below a few dozen bytes a native copy costs more than it saves.
  if (end - start > 32) o += buf.copy(out, o, start, end);
  else for (let i = start; i < end; i++) out[o++] = buf[i]!;
  out[o++] = 0x22;
  return o;
}

/**
 * Writes bytes known to be valid UTF-8 as a JSON string (quotes included) at `at`; returns the end. Only `"`, `\`
 * and control characters change: what `JSON.stringify` does to the same text decoded. Room: 2 + 6 per byte.
 */
export function writeUtf8Json(buf: Buffer, start: number, end: number, out: Buffer, at: number): number {
  let o = at;
  out[o++] = 0x22;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b >= 0x20 && b !== 0x22 && b !== 0x5c) out[o++] = b;
    else o = writeEscape(b, out, o);
  }
  out[o++] = 0x22;
  return o;
}
