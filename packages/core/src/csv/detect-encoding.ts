import { isAscii, isUtf8 } from "node:buffer";
import iconv from "iconv-lite";
import { EncodingInvalidError } from "../errors.ts";

export type CsvEncoding = "utf-8" | "utf-16le" | "utf-16be" | "cp949";

export interface DetectedEncoding {
  encoding: CsvEncoding;
  /** Bytes of byte-order mark to skip (0 when none). */
  bomLength: number;
}

/** How much of the file decides between UTF-8 and CP949. */
export const ENCODING_SNIFF_BYTES = 64 * 1024;

/**
 * Decides the encoding from the first bytes of the file: a BOM wins; otherwise UTF-8 when the head is valid
 * UTF-8 (a multi-byte sequence cut by the end of the head is fine unless the head is the whole file);
 * otherwise CP949, the code page Korean Excel uses for "CSV (comma delimited)".
 */
export function detectEncoding(head: Uint8Array, wholeFile: boolean): DetectedEncoding {
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return { encoding: "utf-8", bomLength: 3 };
  if (head[0] === 0xff && head[1] === 0xfe) return { encoding: "utf-16le", bomLength: 2 };
  if (head[0] === 0xfe && head[1] === 0xff) return { encoding: "utf-16be", bomLength: 2 };
  try {
    new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(head, { stream: !wholeFile });
    return { encoding: "utf-8", bomLength: 0 };
  } catch {
    return { encoding: "cp949", bomLength: 0 };
  }
}

/** Incremental decoding that fails instead of inventing U+FFFD. `offset` is the byte offset of `bytes`. */
export interface TextDecoding {
  write(bytes: Uint8Array, offset: number): string;
  end(offset: number): string;
}

/**
 * `onCp949` (for UTF-8 judged from content, not a BOM): a file whose bytes were all ASCII until the first
 * invalid UTF-8 sequence is a CP949 file whose first Korean text came after the sniffed head; decoding goes
 * on as CP949 (ASCII is the same in both) and `onCp949` is told. Any other invalid byte is an error.
 */
export function createDecoding(encoding: CsvEncoding, onCp949?: () => void): TextDecoding {
  if (encoding === "cp949") return cp949Decoding();
  let fallback: TextDecoding | undefined;
  // All ASCII so far exactly when every byte became one UTF-16 unit (multi-byte sequences give fewer).
  let bytesIn = 0;
  let charsOut = 0;
  const decoder = new TextDecoder(encoding, { fatal: true, ignoreBOM: true });
  // Last bytes of the previous chunk, to locate an invalid byte when a sequence spans two chunks.
  let tail: Uint8Array = new Uint8Array(0);
  const fail = (bytes: Uint8Array, offset: number, cause: unknown): EncodingInvalidError => {
    const at =
      encoding === "utf-8"
        ? firstInvalidUtf8Offset(tail, bytes, offset)
        : offset + Math.max(0, bytes.length - 1);
    return new EncodingInvalidError(
      encoding === "utf-8"
        ? `The file starts as UTF-8 text but the byte at offset ${at} is not valid UTF-8; save it again as "CSV UTF-8"`
        : `The file is marked as ${encoding.toUpperCase()} but holds invalid ${encoding.toUpperCase()} data near byte offset ${at}`,
      { cause, details: { encoding, offset: at } },
    );
  };
  return {
    write(bytes, offset) {
      if (fallback) return fallback.write(bytes, offset);
      try {
        const text = decoder.decode(bytes, { stream: true });
        tail = bytes.length >= 3 ? bytes.subarray(bytes.length - 3) : concatBytes(tail, bytes).slice(-3);
        if (onCp949) {
          bytesIn += bytes.length;
          charsOut += text.length;
        }
        return text;
      } catch (error) {
        if (onCp949 && bytesIn === charsOut) {
          fallback = cp949Decoding();
          const text = fallback.write(bytes, offset);
          onCp949();
          return text;
        }
        throw fail(bytes, offset, error);
      }
    },
    end(offset) {
      if (fallback) return fallback.end(offset);
      try {
        return decoder.decode();
      } catch (error) {
        // A sequence cut by the end of the file.
        throw fail(new Uint8Array(0), offset, error);
      }
    },
  };
}

function cp949Decoding(): TextDecoding {
  const decoder = iconv.getDecoder("cp949");
  const check = (text: string, offset: number): string => {
    // iconv-lite substitutes U+FFFD for byte sequences CP949 does not map; CP949 itself cannot encode U+FFFD.
    if (text.includes("\ufffd")) {
      throw new EncodingInvalidError(
        `The file is neither valid UTF-8 nor valid CP949 (EUC-KR) text (invalid bytes near byte offset ${offset}); save it again as "CSV UTF-8"`,
        { details: { encoding: "cp949", offset } },
      );
    }
    return text;
  };
  return {
    write: (bytes, offset) =>
      check(decoder.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)), offset),
    end: (offset) => check(decoder.end() ?? "", offset),
  };
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Absolute offset of the first byte that makes `bytes` invalid UTF-8, given the previous chunk's `tail`
 * (a sequence may have started there). Only runs on the error path.
 */
export function firstInvalidUtf8Offset(tail: Uint8Array, bytes: Uint8Array, offset: number): number {
  const all = concatBytes(tail, bytes);
  const base = offset - tail.length;
  let i = 0;
  // Start at a sequence boundary inside the tail.
  while (i < tail.length && ((all[i] ?? 0) & 0xc0) === 0x80) i++;
  while (i < all.length) {
    const b = all[i] ?? 0;
    let need: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else {
      return base + i;
    }
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      // The offset of the sequence that is cut short or broken.
      if (i + k >= all.length) return base + i;
      const c = all[i + k] ?? 0;
      if ((c & 0xc0) !== 0x80) return base + i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return base + i;
    i += need + 1;
  }
  return base + all.length;
}

/** Incremental transcoding to valid UTF-8 bytes, failing as `TextDecoding` does. */
export interface ByteDecoding {
  write(bytes: Buffer, offset: number): Buffer;
  end(offset: number): Buffer;
}

/**
 * The csv bytes as valid UTF-8, for the byte scanner. UTF-8 input is only validated (no decoding into strings):
 * each chunk up to its last complete sequence is checked at once, the cut sequence carried to the next chunk.
 * Other encodings are decoded by `createDecoding` and encoded back. Same outcomes as `createDecoding`, the CP949
 * fallback (`onCp949`) included: it applies when every byte before the first invalid chunk was ASCII.
 */
export function createByteDecoding(encoding: CsvEncoding, onCp949?: () => void): ByteDecoding {
  if (encoding !== "utf-8") {
    const text = createDecoding(encoding, onCp949);
    return {
      write: (bytes, offset) => Buffer.from(text.write(bytes, offset), "utf8"),
      end: (offset) => Buffer.from(text.end(offset), "utf8"),
    };
  }
  let fallback: TextDecoding | undefined;
  let allAscii = true;
  /** Bytes of a sequence cut by the end of the previous chunk. */
  let carry: Buffer = Buffer.alloc(0);
  const fail = (bytes: Buffer, base: number): EncodingInvalidError => {
    const at = firstInvalidUtf8Offset(new Uint8Array(0), bytes, base);
    return new EncodingInvalidError(
      `The file starts as UTF-8 text but the byte at offset ${at} is not valid UTF-8; save it again as "CSV UTF-8"`,
      { details: { encoding, offset: at } },
    );
  };
  return {
    write(bytes, offset) {
      if (fallback) return Buffer.from(fallback.write(bytes, offset), "utf8");
      const base = offset - carry.length;
      const all = carry.length > 0 ? Buffer.concat([carry, bytes]) : bytes;
      const cut = completeLength(all);
      const whole = all.subarray(0, cut);
      if (!isUtf8(whole)) {
        if (onCp949 && allAscii) {
          fallback = cp949Decoding();
          carry = Buffer.alloc(0);
          const text = fallback.write(all, base);
          onCp949();
          return Buffer.from(text, "utf8");
        }
        throw fail(all, base);
      }
      if (allAscii && onCp949) allAscii = isAscii(whole);
      // A copy: the carried bytes must not keep the whole chunk alive.
      carry = cut === all.length ? Buffer.alloc(0) : Buffer.from(all.subarray(cut));
      return whole;
    },
    end(offset) {
      if (fallback) return Buffer.from(fallback.end(offset), "utf8");
      // A sequence cut by the end of the file.
      if (carry.length > 0) throw fail(carry, offset - carry.length);
      return Buffer.alloc(0);
    },
  };
}

/** Length of `bytes` without a multi-byte sequence cut at its end (an invalid tail is left for the check). */
function completeLength(bytes: Uint8Array): number {
  const len = bytes.length;
  for (let back = 1; back <= 3 && back <= len; back++) {
    const b = bytes[len - back]!;
    if ((b & 0xc0) === 0x80) continue;
    if (b < 0x80) return len;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? len - back : len;
  }
  return len;
}
