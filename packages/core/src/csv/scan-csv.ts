import type { LineEnding } from "./detect-delimiter.ts";

const QUOTE = 0x22;
const QUOTES = 0x22222222;
const CR = 0x0d;
const LF = 0x0a;

/** Bytes JavaScript's `String.prototype.trim` removes, as they appear in UTF-8 (the ASCII ones here). */
function isAsciiTrimmed(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d);
}

/**
 * Splits UTF-8 csv bytes into records exactly as papaparse 5's `Parser` splits the same text with
 * `{ delimiter, newline, quoteChar: '"' }` (papaparse stays the reference: the tests compare both on the corpus
 * and on generated text). It works on bytes and makes no strings: a record is the byte ranges of its fields,
 * which the converter copies straight into JSON. Why not papaparse itself: it decodes the whole file into
 * strings, then makes a string per field, which JSON serialization then scans and encodes again; that alone costs
 * more than papaparse's own parse (issue 14).
 *
 * The delimiter is one ASCII byte (the detected `,` `;` tab `|`, or an ASCII `sep=` delimiter); anything else
 * goes through papaparse itself. All delimiters, quotes and line breaks are ASCII, and no UTF-8 multi-byte
 * sequence contains an ASCII byte, so byte positions here are papaparse's string positions, mapped.
 */
export class CsvRecordScanner {
  /** Fields of the last record scanned. */
  count = 0;
  /** Byte range of each field's value: `[starts[i], ends[i])`; for a quoted field, without its quotes. */
  starts = new Int32Array(64);
  ends = new Int32Array(64);
  /** 1 when the field was quoted and closed: `""` inside stands for one `"` (papaparse's unescaping). */
  quoted = new Uint8Array(64);
  private view: DataView | undefined;
  private viewed: Buffer | undefined;
  private readonly delimiter: number;
  private readonly crlf: boolean;
  /** The byte that ends a record (CR for `\r\n`, then LF must follow). */
  private readonly eol: number;

  constructor(delimiter: number, newline: LineEnding) {
    this.delimiter = delimiter;
    this.crlf = newline === "\r\n";
    this.eol = newline === "\n" ? LF : CR;
  }

  /**
   * Scans the record starting at `at` in `buf[0, len)`. Returns where the next record starts (past the line
   * break), or -1 when the record's end lies beyond `len` and `eof` is false (papaparse would not emit it yet
   * either). At `eof` a record always ends, at the latest at `len`. Do not call with `at === len`.
   */
  scan(buf: Buffer, at: number, len: number, eof: boolean): number {
    const delimiter = this.delimiter;
    const eol = this.eol;
    const crlf = this.crlf;
    this.count = 0;
    if (buf !== this.viewed) {
      this.viewed = buf;
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.length);
    }
    const view = this.view!;
    const delimiters = delimiter * 0x01010101;
    const eols = eol * 0x01010101;
    let p = at;
    for (;;) {
      if (p < len && buf[p] === QUOTE) {
        // A quoted field, as papaparse reads one: it closes at a quote followed by (spaces and) the delimiter or
        // a line break; `""` is a quote; any other quote is kept as text (papaparse's "InvalidQuotes").
        const start = p + 1;
        let q = p;
        for (;;) {
          q++;
          // Four bytes at a time to the word holding the next quote (bit trick: a zero byte of x ^ quotes).
          for (; q + 4 <= len; q += 4) {
            const x = view.getInt32(q, true) ^ QUOTES;
            if (((x - 0x01010101) & ~x & 0x80808080) !== 0) break;
          }
          while (q < len && buf[q] !== QUOTE) q++;
          if (q >= len) {
            // Unterminated: the rest of the input is the field, as is (no `""` unescaping).
            if (!eof) return -1;
            this.push(start, len, 0);
            return len;
          }
          if (q === len - 1) {
            if (!eof) return -1;
            this.push(start, q, 1);
            return len;
          }
          const next = buf[q + 1];
          if (next === QUOTE) {
            q++;
            continue;
          }
          // The usual closings, decided without looking further (papaparse's rule gives the same here).
          if (next === delimiter) {
            this.push(start, q, 1);
            p = q + 2;
            break;
          }
          if (next === eol && (!crlf || (q + 2 < len && buf[q + 2] === LF))) {
            this.push(start, q, 1);
            return q + (crlf ? 3 : 2);
          }
          const d = this.indexOfByte(buf, delimiter, q + 1, len);
          const nl = this.indexOfNewline(buf, q + 1, len);
          const checkUpTo = nl === -1 ? d : Math.min(d, nl);
          const spaces = this.extraSpaces(buf, q, checkUpTo);
          if (q + 1 + spaces < len && buf[q + 1 + spaces] === delimiter) {
            this.push(start, q, 1);
            p = q + 2 + spaces;
            break;
          }
          const spacesNl = this.extraSpaces(buf, q, nl);
          const after = q + 1 + spacesNl;
          if (after < len && buf[after] === eol && (!crlf || (after + 1 < len && buf[after + 1] === LF))) {
            this.push(start, q, 1);
            return after + (crlf ? 2 : 1);
          }
          // Malformed closing quote: papaparse skips the character after it and searches on.
          q++;
        }
        continue;
      }
      // An unquoted field: up to the delimiter or the line break, whichever comes first.
      let i = p;
      for (;;) {
        // Four bytes at a time to the word holding the next delimiter or line-break byte.
        for (; i + 4 <= len; i += 4) {
          const x = view.getInt32(i, true);
          const d = x ^ delimiters;
          const n = x ^ eols;
          if ((((d - 0x01010101) & ~d) | ((n - 0x01010101) & ~n)) & 0x80808080) break;
        }
        if (i >= len) {
          if (!eof) return -1;
          this.push(p, len, 0);
          return len;
        }
        const b = buf[i]!;
        if (b === delimiter) {
          this.push(p, i, 0);
          p = i + 1;
          break;
        }
        if (b === eol) {
          if (!crlf) {
            this.push(p, i, 0);
            return i + 1;
          }
          if (i + 1 < len) {
            if (buf[i + 1] === LF) {
              this.push(p, i, 0);
              return i + 2;
            }
          } else if (!eof) {
            // A CR at the end of what is read: whether LF follows is not known yet.
            return -1;
          }
        }
        i++;
      }
    }
  }

  private push(start: number, end: number, quoted: number): void {
    const n = this.count;
    if (n === this.starts.length) {
      const grow = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
        const b = make(n * 2);
        b.set(a);
        return b;
      };
      this.starts = grow(this.starts, (k) => new Int32Array(k));
      this.ends = grow(this.ends, (k) => new Int32Array(k));
      this.quoted = grow(this.quoted, (k) => new Uint8Array(k));
    }
    this.starts[n] = start;
    this.ends[n] = end;
    this.quoted[n] = quoted;
    this.count = n + 1;
  }

  private indexOfByte(buf: Buffer, byte: number, from: number, len: number): number {
    for (let i = from; i < len; i++) if (buf[i] === byte) return i;
    return -1;
  }

  /** Where the next line break (the configured one) starts, or -1. */
  private indexOfNewline(buf: Buffer, from: number, len: number): number {
    const eol = this.eol;
    for (let i = from; i < len; i++) {
      if (buf[i] === eol && (!this.crlf || (i + 1 < len && buf[i + 1] === LF))) return i;
    }
    return -1;
  }

  /**
   * papaparse's `extraSpaces`: the length of the text between the quote at `q` and `index` when that text is
   * not empty and all whitespace (`trim() === ""`), else 0.
   */
  private extraSpaces(buf: Buffer, q: number, index: number): number {
    if (index === -1 || index <= q + 1) return 0;
    let ascii = true;
    for (let i = q + 1; i < index; i++) {
      const b = buf[i]!;
      if (b >= 0x80) ascii = false;
      else if (!isAsciiTrimmed(b)) return 0;
    }
    if (ascii) return index - q - 1;
    // Non-ASCII whitespace (no-break space, ideographic space...): let JavaScript decide, as papaparse does.
    const text = buf.toString("utf8", q + 1, index);
    return text.trim() === "" ? index - q - 1 : 0;
  }

  /** The value of field `i` of the last record as a string (papaparse's value). */
  text(buf: Buffer, i: number): string {
    const s = this.starts[i]!;
    const e = this.ends[i]!;
    const raw = buf.toString("utf8", s, e);
    return this.quoted[i] === 1 ? raw.replace(/""/g, '"') : raw;
  }

  /** UTF-16 length of field `i`'s value (what a JavaScript string of it would measure). */
  valueLength(buf: Buffer, i: number): number {
    const s = this.starts[i]!;
    const e = this.ends[i]!;
    let n = 0;
    for (let k = s; k < e; k++) {
      const b = buf[k]!;
      if ((b & 0xc0) !== 0x80) n += b >= 0xf0 ? 2 : 1;
      // `""` is one character in a quoted field.
      if (b === QUOTE && this.quoted[i] === 1 && buf[k + 1] === QUOTE && k + 1 < e) {
        k++;
      }
    }
    return n;
  }
}
