import { WorkbookCorruptError, XmlDtdForbiddenError } from "../errors.ts";

/**
 * A byte-level, non-validating XML tokenizer for OOXML parts, fed chunk by chunk.
 *
 * Why not a general XML parser: building a string per tag name and an object per element is what makes
 * generic readers slow. Here tag names become small integers (ids from a table the caller gives), attributes
 * are byte ranges, and text reaches the handler only while it asks for text. Namespace prefixes are ignored
 * (`<x:c>` is `c`). A DOCTYPE (or any other `<!` declaration) is refused, so entities are never expanded.
 */
export interface XmlHandler {
  /** Text is delivered only while this is true. */
  wantText: boolean;
  /**
   * A start tag (its attributes are on the tokenizer). Returns 0 to go on after the tag, or the position in
   * `tokenizer.buf` up to which the handler has consumed the following bytes itself (a fast path).
   */
  open(name: number, selfClosing: boolean): number;
  close(name: number): void;
  /** Raw bytes of a text run or CDATA section; complete within `buf`, valid only during the call. */
  text(buf: Buffer, start: number, end: number, cdata: boolean): void;
}

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const BANG = 0x21;
const QUESTION = 0x3f;
const EQ = 0x3d;
const COLON = 0x3a;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const DASH = 0x2d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

/** Returned by the tag parsers when the tag is not complete in the buffer yet. */
const INCOMPLETE = -1;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x09 || b === 0x0d;
}

export class XmlTokenizer {
  /** Byte ranges of the current start tag's attributes: [localNameStart, nameEnd, valueStart, valueEnd] each. */
  attrs = new Int32Array(64);
  attrCount = 0;
  /** The current tag's buffer and local-name range (for handlers that want names as strings). */
  buf: Buffer = Buffer.alloc(0);
  nameStart = 0;
  nameEnd = 0;
  /** Position just after the current start tag's `>`. */
  tagEnd = 0;
  /** True while the start tag being reported is the document's root element. */
  atRoot = false;

  private leftover: Buffer | null = null;
  /** The root element's local name, and whether the last end tag seen closed it: a part cut short is corrupt. */
  private rootName: Buffer | null = null;
  private rootClosed = false;
  private readonly table: (Array<{ bytes: Buffer; id: number }> | undefined)[] = [];
  private readonly maxPending: number;
  private done = false;

  /**
   * @param part zip entry name, for error messages
   * @param names local names the handler cares about; their index + 1 is the id (0 = any other name)
   * @param maxPending most bytes one token (text run or tag) may span before the part is called corrupt
   */
  constructor(
    readonly part: string,
    private readonly handler: XmlHandler,
    names: readonly string[],
    maxPending = 16 * 1024 * 1024,
    /** May throw a more specific error (a cell that is too long); otherwise the part is called corrupt. */
    private readonly onPendingTooLong?: () => void,
  ) {
    this.maxPending = maxPending;
    names.forEach((name, index) => {
      const bytes = Buffer.from(name, "latin1");
      const key = (bytes.length << 8) | (bytes[0] ?? 0);
      let list = this.table[key];
      if (!list) {
        list = [];
        this.table[key] = list;
      }
      list.push({ bytes, id: index + 1 });
    });
  }

  /** Scans a chunk; an unfinished token at its end waits for the next chunk. */
  push(chunk: Buffer): void {
    let buf = chunk;
    let from = 0;
    const leftover = this.leftover;
    if (leftover) {
      // Finish the pending token on a small joined buffer (it usually ends at the chunk's first '>'), so the
      // whole chunk is not copied just to prepend a few bytes.
      const gt = chunk.indexOf(GT);
      const head = gt === -1 ? chunk : chunk.subarray(0, gt + 1);
      const joined = Buffer.concat([leftover, head]);
      const consumed = this.scan(joined, 0, false);
      if (consumed >= leftover.length) {
        from = consumed - leftover.length;
      } else {
        buf = Buffer.concat([joined.subarray(consumed), chunk.subarray(head.length)]);
      }
    }
    const consumed = this.scan(buf, from, false);
    if (consumed < buf.length) {
      if (buf.length - consumed > this.maxPending) {
        if (this.onPendingTooLong) this.onPendingTooLong();
        throw this.corrupt("an XML token is implausibly long");
      }
      this.leftover = buf.subarray(consumed);
    } else {
      this.leftover = null;
    }
  }

  /** The part has ended: whatever is left must be whitespace or text after the root element. */
  end(): void {
    if (this.done) return;
    this.done = true;
    const rest = this.leftover;
    this.leftover = null;
    if (rest) this.scan(rest, 0, true);
    // Without these a part cut short (or emptied) inside a valid zip reads as a complete one, losing rows or
    // styles silently.
    if (this.rootName === null) throw this.corrupt("it holds no element (an empty part)");
    if (!this.rootClosed) {
      throw this.corrupt(`it ends before its root element <${this.rootName.toString("latin1")}> is closed`);
    }
  }

  /** Value of the first attribute with this local name on the current tag, as a byte range index, or -1. */
  findAttr(name: string): number {
    const attrs = this.attrs;
    const buf = this.buf;
    const n = name.length;
    outer: for (let i = 0; i < this.attrCount; i++) {
      const s = attrs[i * 4]!;
      if (attrs[i * 4 + 1]! - s !== n) continue;
      for (let k = 0; k < n; k++) if (buf[s + k] !== name.charCodeAt(k)) continue outer;
      return i;
    }
    return -1;
  }

  /** Local name of the current tag as a string (slow path for small parts). */
  localName(): string {
    return this.buf.toString("latin1", this.nameStart, this.nameEnd);
  }

  corrupt(why: string): WorkbookCorruptError {
    return new WorkbookCorruptError(`The workbook part ${this.part} is not well-formed XML: ${why}`, {
      details: { part: this.part },
    });
  }

  private lookup(buf: Buffer, start: number, end: number): number {
    const len = end - start;
    if (len > 255) return 0;
    const list = this.table[(len << 8) | buf[start]!];
    if (list === undefined) return 0;
    for (let i = 0; i < list.length; i++) {
      const entry = list[i]!;
      const bytes = entry.bytes;
      let k = 1;
      while (k < len && bytes[k] === buf[start + k]) k++;
      if (k === len) return entry.id;
    }
    return 0;
  }

  /** Returns how many bytes were consumed: text is only delivered together with the tag that ends it. */
  private scan(buf: Buffer, from: number, final: boolean): number {
    const len = buf.length;
    const handler = this.handler;
    this.buf = buf;
    let p = from;
    while (p < len) {
      let lt = p;
      while (lt < len && buf[lt] !== LT) lt++;
      if (lt >= len) {
        // Text with no tag after it: wait for more, or at the very end it is trailing whitespace/junk.
        return final ? len : p;
      }
      if (lt + 1 >= len) {
        if (final) throw this.corrupt("the part ends inside a tag");
        return p;
      }
      const c1 = buf[lt + 1]!;
      if (c1 === SLASH) {
        let gt = lt + 2;
        while (gt < len && buf[gt] !== GT) gt++;
        if (gt >= len) {
          if (final) throw this.corrupt("the part ends inside a tag");
          return p;
        }
        if (handler.wantText && lt > p) handler.text(buf, p, lt, false);
        let ne = lt + 2;
        let ls = ne;
        while (ne < gt) {
          const b = buf[ne]!;
          if (isSpace(b)) break;
          if (b === COLON) ls = ne + 1;
          ne++;
        }
        this.buf = buf;
        this.nameStart = ls;
        this.nameEnd = ne;
        const root = this.rootName;
        this.rootClosed =
          root !== null && ne - ls === root.length && buf.compare(root, 0, root.length, ls, ne) === 0;
        handler.close(ne > ls ? this.lookup(buf, ls, ne) : 0);
        p = gt + 1;
      } else if (c1 === BANG) {
        const after = this.special(buf, lt, p, final);
        if (after === INCOMPLETE) return p;
        p = after;
      } else if (c1 === QUESTION) {
        const close = buf.indexOf("?>", lt + 2, "latin1");
        if (close === -1) {
          if (final) throw this.corrupt("unterminated processing instruction");
          return p;
        }
        if (handler.wantText && lt > p) handler.text(buf, p, lt, false);
        p = close + 2;
      } else {
        const after = this.startTag(buf, lt, final);
        if (after === INCOMPLETE) return p;
        if (handler.wantText && lt > p) handler.text(buf, p, lt, false);
        // startTag stored the name and attributes; the text handler never touches them.
        this.buf = buf;
        this.tagEnd = after;
        this.atRoot = this.rootName === null;
        if (this.atRoot) {
          this.rootName = Buffer.from(buf.subarray(this.nameStart, this.nameEnd));
          this.rootClosed = buf[after - 2] === SLASH;
        } else this.rootClosed = false;
        const resume = handler.open(this.lookup(buf, this.nameStart, this.nameEnd), buf[after - 2] === SLASH);
        p = resume > 0 ? resume : after;
      }
    }
    return p;
  }

  /** `<!--`, `<![CDATA[`, or a forbidden declaration. Returns the position after it. */
  private special(buf: Buffer, lt: number, textStart: number, final: boolean): number {
    const len = buf.length;
    const handler = this.handler;
    if (lt + 3 >= len) {
      if (final) throw this.corrupt("the part ends inside a declaration");
      return INCOMPLETE;
    }
    if (buf[lt + 2] === DASH && buf[lt + 3] === DASH) {
      const close = buf.indexOf("-->", lt + 4, "latin1");
      if (close === -1) {
        if (final) throw this.corrupt("unterminated comment");
        return INCOMPLETE;
      }
      if (handler.wantText && lt > textStart) handler.text(buf, textStart, lt, false);
      return close + 3;
    }
    if (buf[lt + 2] === LBRACKET) {
      if (lt + 9 > len) {
        if (final) throw this.corrupt("the part ends inside a declaration");
        return INCOMPLETE;
      }
      if (buf.toString("latin1", lt + 3, lt + 9) !== "CDATA[") throw this.corrupt("unexpected <![");
      const close = buf.indexOf("]]>", lt + 9, "latin1");
      if (close === -1) {
        if (final) throw this.corrupt("unterminated CDATA section");
        return INCOMPLETE;
      }
      if (handler.wantText) {
        if (lt > textStart) handler.text(buf, textStart, lt, false);
        if (close > lt + 9) handler.text(buf, lt + 9, close, true);
      }
      return close + 3;
    }
    // <!DOCTYPE, <!ENTITY, <!ELEMENT...: DTD markup is never processed (XXE, entity expansion bombs).
    if (buf[lt + 2] !== RBRACKET) throw new XmlDtdForbiddenError(this.part);
    throw this.corrupt("unexpected <!]");
  }

  /** Parses `<name attr="v" ...>` or `.../>` at `lt`; returns the position after `>`. */
  private startTag(buf: Buffer, lt: number, final: boolean): number {
    const len = buf.length;
    let q = lt + 1;
    const first = buf[q]!;
    // Name start: letter, '_', ':' or any non-ASCII byte.
    if (
      !((first | 0x20) >= 0x61 && (first | 0x20) <= 0x7a) &&
      first !== 0x5f &&
      first !== COLON &&
      first < 0x80
    ) {
      throw this.corrupt(`unexpected character after '<' at byte ${lt}`);
    }
    let ls = q;
    while (q < len) {
      const b = buf[q]!;
      if (b === GT || b === SLASH || isSpace(b)) break;
      if (b === COLON) ls = q + 1;
      q++;
    }
    if (q >= len) return this.incomplete(final);
    this.nameStart = ls;
    this.nameEnd = q;
    let count = 0;
    let attrs = this.attrs;
    for (;;) {
      while (q < len && isSpace(buf[q]!)) q++;
      if (q >= len) return this.incomplete(final);
      const b = buf[q]!;
      if (b === GT) {
        this.attrCount = count;
        return q + 1;
      }
      if (b === SLASH) {
        if (q + 1 >= len) return this.incomplete(final);
        if (buf[q + 1] !== GT) throw this.corrupt(`stray '/' in a tag at byte ${q}`);
        this.attrCount = count;
        return q + 2;
      }
      let als = q;
      while (q < len) {
        const c = buf[q]!;
        if (c === EQ || c === GT || c === SLASH || isSpace(c)) break;
        if (c === COLON) als = q + 1;
        q++;
      }
      const ane = q;
      while (q < len && isSpace(buf[q]!)) q++;
      if (q >= len) return this.incomplete(final);
      if (buf[q] !== EQ) throw this.corrupt(`attribute without a value at byte ${ane}`);
      q++;
      while (q < len && isSpace(buf[q]!)) q++;
      if (q >= len) return this.incomplete(final);
      const quote = buf[q];
      if (quote !== DQUOTE && quote !== SQUOTE) throw this.corrupt(`unquoted attribute value at byte ${q}`);
      const vs = q + 1;
      q = vs;
      while (q < len && buf[q] !== quote) q++;
      if (q >= len) return this.incomplete(final);
      if (count * 4 + 4 > attrs.length) {
        const bigger = new Int32Array(attrs.length * 2);
        bigger.set(attrs);
        attrs = bigger;
        this.attrs = bigger;
      }
      const o = count * 4;
      attrs[o] = als;
      attrs[o + 1] = ane;
      attrs[o + 2] = vs;
      attrs[o + 3] = q;
      count++;
      q++;
    }
  }

  private incomplete(final: boolean): number {
    if (final) throw this.corrupt("the part ends inside a tag");
    return INCOMPLETE;
  }
}
