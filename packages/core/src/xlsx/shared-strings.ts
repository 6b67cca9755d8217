import { randomBytes } from "node:crypto";
import { closeSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WorkbookCorruptError } from "../errors.ts";
import type { JsonRow } from "../json-row.ts";
import { writeQuoted } from "../json-text.ts";
import { scanPart } from "./workbook-parts.ts";
import { decodeCellText, TEXT_DECODE, TEXT_PLAIN, textKind, Utf8Window, utf8Text } from "./xml-text.ts";
import { type XmlHandler, XmlTokenizer } from "./xml-tokenizer.ts";
import type { InflateBudget, ZipArchive } from "./zip-archive.ts";

/** How a large table leaves memory: text beyond `memoryBytes` goes to a temp file read back in cached blocks. */
export interface SpillOptions {
  /** Text bytes kept in memory before spilling (0: never spill). */
  memoryBytes: number;
  /** Directory of the temp file (default: the system temp dir, /tmp in Lambda). */
  dir?: string;
  blockBytes?: number;
  cacheBlocks?: number;
}

interface Spill {
  fd: number;
  /** File offset of the first staged byte (everything before it is in the file). */
  staged: number;
  cache: Map<number, Buffer>;
  blockBytes: number;
  cacheBlocks: number;
  /** The block read last (always in the cache). */
  lastBlock: number;
  lastBytes: Buffer | undefined;
}

const STAGE_BYTES = 1024 * 1024;
/** Strings per page of the position tables. */
const PAGE_BITS = 16;
const PAGE_STRINGS = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_STRINGS - 1;
/** Strings per group: a group's start offset is kept, a string's is its group's plus the lengths before it. */
const GROUP_BITS = 4;
const GROUP_SIZE = 1 << GROUP_BITS;
const GROUP_MASK = GROUP_SIZE - 1;
const PAGE_GROUPS = PAGE_STRINGS >> GROUP_BITS;
/** A length byte of 255: the string is at least that long; its group's full lengths are in a wide slot. */
const LONG = 255;
/** Short plain strings used again kept as JSON bytes (see `jsonBytes`): 64k slots, 1 MiB. */
const JSON_CACHE_SLOTS = 1 << 16;
/**
 * Slots of the JSON cache a string may take: its set's 4. Tens of thousands of names used again, scattered over
 * millions of indices, took each other's one slot: at 1M rows of orders a spilled table was read back 86k times
 * with 4 ways against 162k with 1, in the same memory.
 */
const JSON_WAYS = 4;
/** Other strings used again kept decoded (long ones, ones JSON escapes: fewer): 16k entries. */
const STRING_CACHE_SLOTS = 1 << 14;
/** Bytes of a slot of the JSON cache: a quoted string of up to 14 bytes that needs no escaping. */
const JSON_SLOT = 16;
const closeOnCollect = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
});

/**
 * The shared-strings table kept compact: the text as UTF-8 bytes plus an offsets array, decoded to a JS string
 * only when a cell uses it (a million JS strings would cost hundreds of MB of heap). Past `memoryBytes` of text
 * the bytes go to an already-unlinked temp file and come back through a small block cache, so memory stays flat
 * however large the table: strings are read in about the order they were written (first use), and the few used
 * everywhere stay cached. If no temp file can be made the table simply stays in memory.
 */
export class SharedStrings {
  private pool: Buffer;
  private used = 0;
  /**
   * Where each string is, in 1.5 bytes a string rather than a 4-byte offset (2.5 million strings: 10 MB down to
   * under 4): its byte length, and the start offset of each group of 16. A group holding a string of 255 bytes
   * or more gets a wide slot (`wideSlots`: slot + 1) of 16 32-bit lengths, where its long strings' lengths are.
   * All in fixed pages, so a table of millions of strings grows without copying.
   */
  private readonly lengths: Uint8Array[] = [new Uint8Array(PAGE_STRINGS)];
  private readonly groupStarts: Uint32Array[] = [new Uint32Array(PAGE_GROUPS)];
  private readonly wideSlots: Uint32Array[] = [new Uint32Array(PAGE_GROUPS)];
  private readonly wideLengths: Uint32Array[] = [];
  private wideCount = 0;
  /** Where the string being appended starts. */
  private stringStart = 0;
  /** One bit per string: its bytes need no JSON escaping (no `"`, `\` or control character). */
  private readonly plainBits: Uint8Array[] = [new Uint8Array(PAGE_STRINGS >> 3)];
  /** The string being appended is plain so far. */
  private plainSoFar = true;
  /** Where string `nextIndex` starts (the one after the string located last). */
  private nextIndex = -1;
  private nextStart = 0;
  private spill: Spill | undefined;
  count = 0;
  private cacheKeys = new Int32Array(0);
  private cacheValues: (string | undefined)[] = [];
  private stringMask = -1;
  /**
   * Short plain strings used again (names, statuses) kept as their JSON bytes (up to 64k slots; the decoded strings
   * up to 16k, direct-mapped by index): a repeat is a copy, with no string made and none for the garbage collector to
   * promote. Set-associative: string `index` may sit in any of the `JSON_WAYS` slots of set `index & jsonMask`.
   * `jsonMask` < 0: the caches are not made yet.
   */
  private jsonMask = -1;
  private jsonKeys = new Int32Array(0);
  /** Per set: the way used last, so a new string in a full set takes the next one (never the one just used). */
  private jsonRecent = new Uint8Array(0);
  private jsonLengths = new Uint8Array(0);
  private jsonBytes = Buffer.alloc(0);
  /** One bit per string: used at least once. */
  private seen: Uint8Array = new Uint8Array(0);
  private scratch = Buffer.allocUnsafeSlow(1024);
  /** Where `locate` found the string: `[at, atEnd)` of the buffer it returned. */
  private at = 0;
  private atEnd = 0;
  /** False once any string's bytes were not valid UTF-8: then JSON goes through the decoded strings. */
  validUtf8 = true;

  /**
   * @param sizeHint the part's inflated size from the zip directory: the decoded text is never longer than
   * its XML. Allocated uninitialised, untouched pages cost no RSS, so the pool rarely has to be copied to grow.
   */
  constructor(
    sizeHint = 0,
    private readonly spillOptions: SpillOptions = { memoryBytes: 0 },
  ) {
    const cap = spillOptions.memoryBytes > 0 ? spillOptions.memoryBytes : 1024 ** 3;
    this.pool = Buffer.allocUnsafeSlow(Math.min(cap, Math.max(64 * 1024, sizeHint)));
  }

  /** Bytes of text held (in memory or spilled). */
  get bytes(): number {
    return this.used;
  }

  /** Reads from the temp file so far (blocks and strings read alone): what the caches save, for tests. */
  diskReads = 0;

  /** True once the text went to a temp file. */
  get spilled(): boolean {
    return this.spill !== undefined;
  }

  get(index: number): string {
    this.checkIndex(index);
    // A string used more than once is decoded once and kept (direct-mapped by index): status-like columns
    // repeat a few strings a million times, and a spilled table would otherwise go back to disk for them.
    if (this.jsonMask < 0) this.makeCache();
    const slot = index & this.stringMask;
    if (this.cacheKeys[slot] === index) return this.cacheValues[slot]!;
    if (this.firstUse(index)) return this.read(index, false);
    const text = this.read(index, true);
    this.cacheKeys[slot] = index;
    this.cacheValues[slot] = text;
    return text;
  }

  /**
   * String `index` as JSON text into `row`'s `column`: the bytes as stored on a first use (no string made); a
   * short plain repeat from the JSON cache; else what `get` gives (a repeat is kept decoded, as in `get`).
   */
  putJson(index: number, row: JsonRow, column: number): void {
    this.checkIndex(index);
    if (this.jsonMask < 0) this.makeCache();
    const set = index & this.jsonMask;
    const first = set * JSON_WAYS;
    const keys = this.jsonKeys;
    for (let way = 0; way < JSON_WAYS; way++) {
      if (keys[first + way] !== index) continue;
      const at = (first + way) * JSON_SLOT;
      this.jsonRecent[set] = way;
      row.putRaw(column, this.jsonBytes, at, at + this.jsonLengths[first + way]!);
      return;
    }
    const stringSlot = index & this.stringMask;
    if (this.cacheKeys[stringSlot] === index) {
      row.putValue(column, this.cacheValues[stringSlot]!);
      return;
    }
    if (this.validUtf8) {
      const page = index & PAGE_MASK;
      const plain = (this.plainBits[index >>> PAGE_BITS]![page >>> 3]! & (1 << (page & 7))) !== 0;
      if (this.firstUse(index)) {
        const bytes = this.locate(index, false);
        if (plain) row.putQuoted(column, bytes, this.at, this.atEnd);
        else row.putUtf8(column, bytes, this.at, this.atEnd);
        return;
      }
      if (plain && this.byteLength(index) <= JSON_SLOT - 2) {
        const bytes = this.locate(index, true);
        // An empty way if the set has one, else the one after the way used last.
        let way = 0;
        while (way < JSON_WAYS && keys[first + way] !== -1) way++;
        if (way === JSON_WAYS) way = (this.jsonRecent[set]! + 1) % JSON_WAYS;
        const slot = first + way;
        const out = this.jsonBytes;
        const at = slot * JSON_SLOT;
        const o = writeQuoted(bytes, this.at, this.atEnd, out, at);
        this.jsonKeys[slot] = index;
        this.jsonLengths[slot] = o - at;
        this.jsonRecent[set] = way;
        row.putRaw(column, out, at, o);
        return;
      }
    }
    row.putValue(column, this.get(index));
  }

  private checkIndex(index: number): void {
    if (index >= this.count || index < 0) {
      throw new WorkbookCorruptError(
        `A cell refers to shared string ${index} but the table has ${this.count} strings`,
      );
    }
  }

  /** Marks string `index` used; true if it had not been. */
  private firstUse(index: number): boolean {
    let seen = this.seen;
    if (seen.length * 8 < this.count) seen = this.growSeen();
    const byte = index >>> 3;
    const bit = 1 << (index & 7);
    if ((seen[byte]! & bit) !== 0) return false;
    seen[byte] = seen[byte]! | bit;
    return true;
  }

  /** Sized when the table is first read: a small table gets a slot per string. */
  private makeCache(): void {
    let slots = 64;
    while (slots < this.count && slots < JSON_CACHE_SLOTS) slots *= 2;
    const stringSlots = Math.min(slots, STRING_CACHE_SLOTS);
    this.cacheKeys = new Int32Array(stringSlots).fill(-1);
    this.cacheValues = new Array(stringSlots);
    this.stringMask = stringSlots - 1;
    // A table of at most `slots` strings still gets a slot per string: consecutive indices fill the sets in turn.
    this.jsonMask = slots / JSON_WAYS - 1;
    this.jsonKeys = new Int32Array(slots).fill(-1);
    this.jsonRecent = new Uint8Array(slots / JSON_WAYS);
    this.jsonLengths = new Uint8Array(slots);
    this.jsonBytes = Buffer.allocUnsafeSlow(slots * JSON_SLOT);
  }

  private growSeen(): Uint8Array {
    const bigger = new Uint8Array(((this.count + 7) >>> 3) + 1024);
    bigger.set(this.seen);
    this.seen = bigger;
    return bigger;
  }

  /**
   * String `index` from memory or the temp file. A first use goes through the block cache (tables are mostly
   * written in first-use order, so first uses walk the file forward); a repeat is a jump back, read alone
   * unless its block happens to be cached, so it does not evict the blocks ahead.
   */
  private read(index: number, repeat: boolean): string {
    if (this.byteLength(index) === 0) return "";
    const bytes = this.locate(index, repeat);
    return utf8Text(bytes, this.at, this.atEnd);
  }

  /** The buffer holding string `index` (not empty), its range in `at`/`atEnd`. */
  private locate(index: number, repeat: boolean): Buffer {
    // First uses mostly come in table order: the string after the last one located starts where that one ended.
    const start = index === this.nextIndex ? this.nextStart : this.start(index);
    const end = start + this.byteLength(index);
    this.nextIndex = index + 1;
    this.nextStart = end;
    const spill = this.spill;
    if (!spill || start >= spill.staged) {
      const base = spill ? spill.staged : 0;
      this.at = start - base;
      this.atEnd = end - base;
      return this.pool;
    }
    const block = Math.floor(start / spill.blockBytes);
    const blockStart = block * spill.blockBytes;
    if (end - blockStart > spill.blockBytes || (repeat && !spill.cache.has(block))) {
      // Longer than what is left of its block, or a repeat whose block is not at hand: read it alone.
      const length = end - start;
      if (this.scratch.length < length) this.scratch = Buffer.allocUnsafeSlow(Math.max(length, 1024));
      readSync(spill.fd, this.scratch, 0, length, start);
      this.diskReads++;
      this.at = 0;
      this.atEnd = length;
      return this.scratch;
    }
    // Most reads fall in the block of the previous one: no LRU bookkeeping for those.
    const bytes = block === spill.lastBlock ? spill.lastBytes! : this.block(spill, block);
    this.at = start - blockStart;
    this.atEnd = end - blockStart;
    return bytes;
  }

  private block(spill: Spill, index: number): Buffer {
    const cached = spill.cache.get(index);
    if (cached) {
      // Most recently used last: Map keeps insertion order, so the first key is the one to evict.
      spill.cache.delete(index);
      spill.cache.set(index, cached);
      spill.lastBlock = index;
      spill.lastBytes = cached;
      return cached;
    }
    // A full cache gives its least recently used block's buffer to this read: a table read once from end to end
    // (unique ids) would otherwise leave a dead 64 KiB buffer per block, tens of MB waiting for a major GC.
    let bytes: Buffer;
    if (spill.cache.size >= spill.cacheBlocks) {
      const oldest = spill.cache.keys().next().value!;
      bytes = spill.cache.get(oldest)!;
      spill.cache.delete(oldest);
    } else bytes = Buffer.allocUnsafe(spill.blockBytes);
    readSync(spill.fd, bytes, 0, bytes.length, index * spill.blockBytes);
    this.diskReads++;
    spill.cache.set(index, bytes);
    spill.lastBlock = index;
    spill.lastBytes = bytes;
    return bytes;
  }

  private start(index: number): number {
    const page = index >>> PAGE_BITS;
    const lengths = this.lengths[page]!;
    const at = index & PAGE_MASK;
    let offset = this.groupStarts[page]![at >>> GROUP_BITS]!;
    for (let i = at & ~GROUP_MASK; i < at; i++) {
      const length = lengths[i]!;
      offset += length === LONG ? this.wideLength((index & ~GROUP_MASK) + (i & GROUP_MASK)) : length;
    }
    return offset;
  }

  byteLength(index: number): number {
    const length = this.lengths[index >>> PAGE_BITS]![index & PAGE_MASK]!;
    return length === LONG ? this.wideLength(index) : length;
  }

  /** The length of string `index`, from its group's wide slot. */
  private wideLength(index: number): number {
    const at = (this.wideSlots[index >>> PAGE_BITS]![(index & PAGE_MASK) >>> GROUP_BITS]! - 1) * GROUP_SIZE;
    return this.wideLengths[at >>> PAGE_BITS]![(at & PAGE_MASK) + (index & GROUP_MASK)]!;
  }

  /** Makes room for `extra` bytes at the end of the pool (staging, once spilled). */
  private reserve(extra: number): void {
    if (this.used + extra > 0xffff_ffff)
      throw new WorkbookCorruptError("The shared-strings table is larger than 4 GB");
    const spill = this.spill;
    if (spill) {
      if (this.used - spill.staged + extra > this.pool.length) this.flushStage(spill, extra);
      return;
    }
    const needed = this.used + extra;
    if (needed <= this.pool.length) return;
    const limit = this.spillOptions.memoryBytes;
    if (limit > 0 && needed > limit && this.startSpill()) {
      this.reserve(extra);
      return;
    }
    let size = this.pool.length * 2;
    while (size < needed) size *= 2;
    const bigger = Buffer.allocUnsafeSlow(Math.min(size, 0xffff_ffff));
    this.pool.copy(bigger, 0, 0, this.used);
    this.pool = bigger;
  }

  private startSpill(): boolean {
    const dir = this.spillOptions.dir ?? tmpdir();
    const path = join(dir, `sluice-sst-${process.pid}-${randomBytes(6).toString("hex")}`);
    let fd: number;
    try {
      fd = openSync(path, "wx+", 0o600);
      // Unlinked at once: the file lives only as long as the descriptor, even if the process dies.
      unlinkSync(path);
    } catch {
      return false;
    }
    closeOnCollect.register(this, fd, this);
    writeSync(fd, this.pool, 0, this.used, 0);
    this.spill = {
      fd,
      staged: this.used,
      cache: new Map(),
      // Small blocks: a block read to serve a jump is mostly wasted copying.
      blockBytes: this.spillOptions.blockBytes ?? 16 * 1024,
      cacheBlocks: this.spillOptions.cacheBlocks ?? 32,
      lastBlock: -1,
      lastBytes: undefined,
    };
    this.pool = Buffer.allocUnsafeSlow(STAGE_BYTES);
    return true;
  }

  private flushStage(spill: Spill, extra: number): void {
    const length = this.used - spill.staged;
    writeSync(spill.fd, this.pool, 0, length, spill.staged);
    spill.staged = this.used;
    if (extra > this.pool.length) this.pool = Buffer.allocUnsafeSlow(extra);
  }

  /** Appends text bytes to the current string; `plain`: they need no JSON escaping. */
  appendBytes(buf: Buffer, start: number, end: number, plain = false): void {
    if (!plain) this.plainSoFar = false;
    this.reserve(end - start);
    buf.copy(this.pool, this.used - (this.spill?.staged ?? 0), start, end);
    this.used += end - start;
  }

  appendString(text: string): void {
    this.plainSoFar = false;
    const bytes = Buffer.byteLength(text, "utf8");
    this.reserve(bytes);
    this.pool.write(text, this.used - (this.spill?.staged ?? 0), bytes, "utf8");
    this.used += bytes;
  }

  /** Ends the current string (everything appended since the previous `finish`). */
  finish(): void {
    const index = this.count++;
    const page = index >>> PAGE_BITS;
    if (page === this.lengths.length) {
      this.lengths.push(new Uint8Array(PAGE_STRINGS));
      this.plainBits.push(new Uint8Array(PAGE_STRINGS >> 3));
      this.groupStarts.push(new Uint32Array(PAGE_GROUPS));
      this.wideSlots.push(new Uint32Array(PAGE_GROUPS));
    }
    const at = index & PAGE_MASK;
    const group = at >>> GROUP_BITS;
    if ((at & GROUP_MASK) === 0) this.groupStarts[page]![group] = this.stringStart;
    const length = this.used - this.stringStart;
    this.stringStart = this.used;
    if (this.plainSoFar) {
      const bits = this.plainBits[page]!;
      bits[at >>> 3] = bits[at >>> 3]! | (1 << (at & 7));
    }
    this.plainSoFar = true;
    if (length < LONG) {
      this.lengths[page]![at] = length;
      return;
    }
    this.lengths[page]![at] = LONG;
    let slot = this.wideSlots[page]![group]!;
    if (slot === 0) {
      // The group's first long string: a slot for its group (only its long strings' places are read).
      slot = ++this.wideCount;
      this.wideSlots[page]![group] = slot;
      if (((slot - 1) * GROUP_SIZE) >>> PAGE_BITS === this.wideLengths.length) {
        this.wideLengths.push(new Uint32Array(PAGE_STRINGS));
      }
    }
    const w = (slot - 1) * GROUP_SIZE;
    this.wideLengths[w >>> PAGE_BITS]![(w & PAGE_MASK) + (at & GROUP_MASK)] = length;
  }

  /** Writes what is staged, after the last string: from now on the table is only read. */
  seal(): void {
    const spill = this.spill;
    if (!spill || this.used === spill.staged) return;
    this.flushStage(spill, 0);
    this.pool = Buffer.alloc(0);
  }

  /** Gives the temp file back; the table cannot be read after this. */
  close(): void {
    const spill = this.spill;
    if (!spill) return;
    this.spill = undefined;
    closeOnCollect.unregister(this);
    closeSync(spill.fd);
    spill.cache.clear();
    spill.lastBlock = -1;
    spill.lastBytes = undefined;
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

  private readonly utf8 = new Utf8Window();

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
    const table = this.table;
    const kind = cdata ? TEXT_DECODE : textKind(buf, start, end);
    if (kind !== TEXT_DECODE) {
      // Kept as they came: reading them as UTF-8 later puts U+FFFD where they are invalid, which JSON made
      // from the bytes themselves would not.
      if (table.validUtf8 && !this.utf8.valid(buf, start, end)) table.validUtf8 = false;
      table.appendBytes(buf, start, end, kind === TEXT_PLAIN);
    } else table.appendString(decodeCellText(buf, start, end, cdata));
  }
}

export async function readSharedStrings(
  zip: ZipArchive,
  partName: string | undefined,
  budget: InflateBudget,
  spill: SpillOptions = { memoryBytes: 0 },
): Promise<SharedStrings> {
  const info = partName === undefined ? undefined : zip.get(partName);
  if (!info) return new SharedStrings();
  const table = new SharedStrings(info.entry.uncompressedSize, spill);
  // Count attributes are ignored on purpose: they are often wrong (MalformedSSTCount.xlsx).
  const handler = new SharedStringsHandler(table);
  const tokenizer = new XmlTokenizer(info.name, handler, ["si", "t", "rPh"]);
  handler.tokenizer = tokenizer;
  try {
    await scanPart(zip, info, budget, tokenizer);
  } catch (error) {
    table.close();
    throw error;
  }
  table.seal();
  return table;
}
