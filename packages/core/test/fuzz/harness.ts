import { existsSync, readdirSync, readFileSync } from "node:fs";
import { inflateRawSync } from "node:zlib";
import { type Chunk, ChunkSchema, chunkRows, ERROR_CODES, ManifestSchema } from "@sluice/contract";
import { corpusDir, hasCorpus } from "@sluice/test-support/shared-corpus";
import ExcelJS from "exceljs";
import fc from "fast-check";
import iconv from "iconv-lite";
import XLSX from "xlsx";
import { bufferSource } from "../../src/byte-source.ts";
import { convertWorkbook } from "../../src/convert-workbook.ts";
import { type ZipFileSpec, zip } from "../xlsx/ooxml-fixtures.ts";

/**
 * The converter fuzzer: real workbooks and csv files (the repository's examples, the shared corpus, a few csv
 * texts written here) mutated at the byte, zip-entry and XML level, plus tables generated here and written as
 * xlsx (by SheetJS) or csv (by a writer here). The property, for every case:
 *
 * - the conversion ends within TIME_BOUND_MS, without the process growing past RSS_BOUND_BYTES or the chunks
 *   growing past OUTPUT_BOUND_BYTES;
 * - it either succeeds with well-formed rows, or throws an error whose `code` is a workbook-area code of the
 *   contract's ERROR_CODES. SOURCE_READ_FAILED counts as a failure here: the source is in memory and cannot
 *   fail, so that code can only mean an untyped exception escaped a reader;
 * - what is compared, and with what (honestly): a generated table must come back exactly, row numbers included,
 *   and SheetJS (0.18.5, an independent reader) must read the same values from the same xlsx bytes; a valid
 *   re-packaging of a real workbook (entries reordered, stored instead of deflated, data descriptors, zip64)
 *   must convert exactly as the original does. A mutation that may break the file (flips, truncation, dropped
 *   or emptied entries, malformed XML) is held to the typed-error-or-success rule only: no independent reader
 *   agrees on what a broken file means.
 */

export const TIME_BOUND_MS = 10_000;
export const RSS_BOUND_BYTES = 1536 * 1024 * 1024;
export const OUTPUT_BOUND_BYTES = 256 * 1024 * 1024;

const ROOT = new URL("../../../../", import.meta.url);

export interface Seed {
  name: string;
  bytes: Buffer;
  kind: "xlsx" | "csv" | "other";
}

/** Valid csv texts in the encodings and dialects the reader supports. */
function csvSeeds(): Seed[] {
  const korean = '이름,수량,메모\n김치,3,매운\n된장,10,"구수한, 맛"\n';
  return [
    { name: "plain.csv", bytes: Buffer.from('name,qty,note\nkim,7,"a, b"\nlee,,x\n'), kind: "csv" },
    { name: "bom-semicolon.csv", bytes: Buffer.from("\ufeffa;b;c\r\n1;2;3\r\n4;5;6\r\n"), kind: "csv" },
    {
      name: "utf16le.csv",
      bytes: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("a\tb\n😀\t中文\n", "utf16le")]),
      kind: "csv",
    },
    { name: "cp949.csv", bytes: iconv.encode(korean, "cp949"), kind: "csv" },
    { name: "sep-line.csv", bytes: Buffer.from('sep=|\na|b\n"x|y"|"q""uote"\n'), kind: "csv" },
  ];
}

/** The examples and the shared corpus (read in place, never copied), plus the csv texts above. */
export function loadSeeds(options: { large?: boolean } = {}): Seed[] {
  const seeds: Seed[] = [];
  const kindOf = (name: string): Seed["kind"] =>
    name.endsWith(".xlsx") ? "xlsx" : name.endsWith(".csv") ? "csv" : "other";
  for (const name of ["orders-with-errors.xlsx", ...(options.large ? ["orders.xlsx"] : [])]) {
    const url = new URL(`examples/${name}`, ROOT);
    if (existsSync(url)) seeds.push({ name, bytes: readFileSync(url), kind: "xlsx" });
  }
  if (hasCorpus) {
    for (const name of readdirSync(corpusDir).sort()) {
      if (name === "README.md") continue;
      seeds.push({ name, bytes: readFileSync(`${corpusDir}${name}`), kind: kindOf(name) });
    }
  }
  seeds.push(...csvSeeds());
  return seeds;
}

// ---------------------------------------------------------------------------------------------------------
// Zip entries: read a seed's entries, write them back (with our test zip writer, which computes CRCs).

export interface Entry {
  name: string;
  data: Buffer;
}

/** The entries of a zip by its central directory, or undefined when it is not one this simple reader reads. */
export function readEntries(bytes: Buffer): Entry[] | undefined {
  try {
    const end = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    if (end < 0) return undefined;
    const count = bytes.readUInt16LE(end + 10);
    let at = bytes.readUInt32LE(end + 16);
    const entries: Entry[] = [];
    for (let i = 0; i < count; i++) {
      if (bytes.readUInt32LE(at) !== 0x02014b50) return undefined;
      const method = bytes.readUInt16LE(at + 10);
      const size = bytes.readUInt32LE(at + 20);
      const nameLength = bytes.readUInt16LE(at + 28);
      const extraLength = bytes.readUInt16LE(at + 30);
      const commentLength = bytes.readUInt16LE(at + 32);
      const local = bytes.readUInt32LE(at + 42);
      const name = bytes.toString("utf8", at + 46, at + 46 + nameLength);
      const start = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
      const raw = bytes.subarray(start, start + size);
      const data =
        method === 0 ? Buffer.from(raw) : inflateRawSync(raw, { maxOutputLength: 64 * 1024 * 1024 });
      entries.push({ name, data });
      at += 46 + nameLength + extraLength + commentLength;
    }
    return entries;
  } catch {
    return undefined;
  }
}

export type Packing = Omit<ZipFileSpec, "name" | "data">;

export function writeEntries(entries: Entry[], packing: Packing = {}): Buffer {
  return zip(entries.map((entry) => ({ ...packing, name: entry.name, data: entry.data })));
}

// ---------------------------------------------------------------------------------------------------------
// Mutations. Positions are fractions in [0, 1) of whatever they apply to, so a case shrinks and replays alike.

// Unbiased: fast-check favours values near 0, which would put nearly every edit on a file's first byte.
const fraction = fc.noBias(fc.integer({ min: 0, max: 2 ** 30 - 1 })).map((n) => n / 2 ** 30);
const at = (length: number, f: number) => Math.min(length, Math.floor(f * length));

/** Text a hostile or broken XML part may hold: malformed markup, huge dimensions, deep nesting, bad bytes. */
const XML_SNIPPETS: (string | Buffer)[] = [
  "<",
  ">",
  "&",
  "</",
  "&#0;",
  "&#x110000;",
  "&#xD800;",
  "&#99999999999;",
  "&bogus;",
  "&lt",
  "<![CDATA[",
  "]]>",
  "\u0000",
  Buffer.from([0xc3]),
  Buffer.from([0xff, 0xfe]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xc0, 0xaf]),
  '<!DOCTYPE x [<!ENTITY a "b">]>',
  '<?xml version="1.0" encoding="UTF-16"?>',
  '<row r="4294967296">',
  '<row r="0"><c r="A0"><v>1</v></c></row>',
  '<row r="1048577"><c r="A1048577"><v>1</v></c></row>',
  '<row r="99999999999999999999"><c><v>1</v></c></row>',
  '<c r="XFD1048576"><v>1</v></c>',
  '<c r="XFE1"><v>1</v></c>',
  '<c r="ZZZZZZZZZZZZ1"><v>1</v></c>',
  '<c r="A1" t="s"><v>99999999</v></c>',
  '<c r="A1" t="s"><v>-1</v></c>',
  '<c r="A1" t="s"><v>1.5</v></c>',
  '<c r="B1" s="99999999"><v>45000</v></c>',
  '<c r="B1" s="-1"><v>45000</v></c>',
  '<c r="C1"><v>1e400</v></c>',
  '<c r="C1"><v>NaN</v></c>',
  '<c r="C1"><v>0x10</v></c>',
  '<c r="C1" t="d"><v>not a date</v></c>',
  '<c r="C1" t="b"><v>2</v></c>',
  '<c r="C1" t="e"><v>#N/A</v></c>',
  '<c r="C1" t="inlineStr"><is><r><t>a</t></r><rPh><t>b</t></rPh></is></c>',
  '<dimension ref="A1:XFD1048576"/>',
  "<sheetData>",
  "</sheetData>",
  "</worksheet>",
  "<x:y xmlns:x=''>",
  "_x0000_",
  "_xD800_",
  "_x",
  `<c r="D1" t="inlineStr"><is><t>${"y".repeat(40_000)}</t></is></c>`,
  `<c r="D1" t="str"><v>${"z".repeat(70_000)}</v></c>`,
  `<row>${'<c t="inlineStr"><is><t>w</t></is></c>'.repeat(2_000)}</row>`,
  `<c r="E1" ${Array.from({ length: 2_000 }, (_, i) => `a${i}="${i}"`).join(" ")}><v>1</v></c>`,
  `<numFmt numFmtId="999" formatCode="${"[".repeat(5_000)}"/>`,
  '<numFmt numFmtId="14" formatCode="yyyy-mm-dd hh:mm:ss.000 AM/PM [h]"/>',
  '<sheet name="X" sheetId="9" r:id="rId999"/>',
  '<Relationship Id="rId1" Type="x/worksheet" Target="../../../../etc/passwd"/>',
  '<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="xl/workbook.xml"/>',
  '<workbookPr date1904="maybe"/>',
];

/** Nesting a recursive reader would overflow its stack on. */
const nesting = (depth: number) => "<a>".repeat(depth);

export type XmlEdit =
  | { op: "insert"; snippet: number; pos: number }
  | { op: "nest"; depth: number; pos: number }
  | { op: "delete"; pos: number; length: number }
  | { op: "truncate"; pos: number }
  | { op: "duplicate"; pos: number; length: number }
  | { op: "hugeRef"; match: number; ref: number }
  | { op: "diagonal"; rows: number };

const HUGE_REFS = ["XFD1048576", "A1048577", "XFE1", "A4294967297", "AAAAAAA1", "A0", "1A", "", "A-1"];

const xmlEdit = (maxDiagonal: number): fc.Arbitrary<XmlEdit> =>
  fc.oneof(
    fc.record({
      op: fc.constant("insert" as const),
      snippet: fc.nat({ max: XML_SNIPPETS.length - 1 }),
      pos: fraction,
    }),
    fc.record({
      op: fc.constant("nest" as const),
      depth: fc.integer({ min: 1, max: 200_000 }),
      pos: fraction,
    }),
    fc.record({ op: fc.constant("delete" as const), pos: fraction, length: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ op: fc.constant("truncate" as const), pos: fraction }),
    fc.record({
      op: fc.constant("duplicate" as const),
      pos: fraction,
      length: fc.integer({ min: 1, max: 4096 }),
    }),
    fc.record({
      op: fc.constant("hugeRef" as const),
      match: fraction,
      ref: fc.nat({ max: HUGE_REFS.length - 1 }),
    }),
    // Each row one column further: every value widens the header, and every later row carries every key.
    fc.record({ op: fc.constant("diagonal" as const), rows: fc.integer({ min: 100, max: maxDiagonal }) }),
  );

export function applyXmlEdit(data: Buffer, edit: XmlEdit): Buffer {
  const p = at(data.length, "pos" in edit ? edit.pos : 0);
  switch (edit.op) {
    case "insert": {
      const snippet = XML_SNIPPETS[edit.snippet]!;
      return Buffer.concat([data.subarray(0, p), Buffer.from(snippet), data.subarray(p)]);
    }
    case "nest":
      return Buffer.concat([data.subarray(0, p), Buffer.from(nesting(edit.depth)), data.subarray(p)]);
    case "delete":
      return Buffer.concat([data.subarray(0, p), data.subarray(p + edit.length)]);
    case "truncate":
      return data.subarray(0, p);
    case "duplicate":
      return Buffer.concat([data.subarray(0, p + edit.length), data.subarray(p)]);
    case "diagonal": {
      const end = data.lastIndexOf("</sheetData>");
      if (end < 0) return data;
      const cells: string[] = [];
      for (let i = 0; i < edit.rows; i++) {
        const r = 1_000_000 + i;
        cells.push(`<row r="${r}"><c r="${columnLetters(i + 1)}${r}"><v>${i}</v></c></row>`);
      }
      return Buffer.concat([data.subarray(0, end), Buffer.from(cells.join("")), data.subarray(end)]);
    }
    case "hugeRef": {
      const text = data.toString("latin1");
      const refs = [...text.matchAll(/ r="[A-Z]*\d*"/g)];
      if (refs.length === 0) return data;
      const m = refs[at(refs.length - 1, edit.match)]!;
      const replaced = ` r="${HUGE_REFS[edit.ref]}"`;
      return Buffer.concat([
        data.subarray(0, m.index),
        Buffer.from(replaced, "latin1"),
        data.subarray(m.index + m[0].length),
      ]);
    }
  }
}

function columnLetters(index: number): string {
  let s = "";
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26))
    s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

export type EntryEdit =
  | { op: "drop"; entry: number }
  | { op: "duplicate"; entry: number }
  | { op: "empty"; entry: number }
  | { op: "reorder"; key: number }
  | { op: "xml"; entry: number; edits: XmlEdit[] };

const entryEdit = (maxDiagonal: number): fc.Arbitrary<EntryEdit> =>
  fc.oneof(
    { weight: 1, arbitrary: fc.record({ op: fc.constant("drop" as const), entry: fraction }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("duplicate" as const), entry: fraction }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("empty" as const), entry: fraction }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("reorder" as const), key: fc.nat() }) },
    {
      weight: 5,
      arbitrary: fc.record({
        op: fc.constant("xml" as const),
        entry: fraction,
        edits: fc.array(xmlEdit(maxDiagonal), { minLength: 1, maxLength: 3 }),
      }),
    },
  );

/** XML parts first: the edits that matter land on the parts the reader reads. */
function byInterest(entries: Entry[]): number[] {
  const score = (name: string) =>
    /worksheets\/|sheet\d*\.xml$/i.test(name)
      ? 0
      : /sharedStrings|workbook\.xml|styles|\.rels$/i.test(name)
        ? 1
        : 2;
  return entries.map((_, i) => i).sort((a, b) => score(entries[a]!.name) - score(entries[b]!.name));
}

export function applyEntryEdit(entries: Entry[], edit: EntryEdit): Entry[] {
  if (entries.length === 0) return entries;
  const order = byInterest(entries);
  // Squared fractions favour the interesting parts without ruling the others out.
  const pick = (f: number) => order[at(order.length - 1, f * f)]!;
  const copy = [...entries];
  switch (edit.op) {
    case "drop":
      copy.splice(pick(edit.entry), 1);
      return copy;
    case "duplicate": {
      const i = pick(edit.entry);
      copy.splice(i + 1, 0, { name: copy[i]!.name, data: Buffer.from("<x/>") });
      copy.splice(i, 0, copy[i]!);
      return copy;
    }
    case "empty": {
      const i = pick(edit.entry);
      copy[i] = { name: copy[i]!.name, data: Buffer.alloc(0) };
      return copy;
    }
    case "reorder":
      return shuffle(copy, edit.key);
    case "xml": {
      const i = pick(edit.entry);
      let data = copy[i]!.data;
      for (const x of edit.edits) data = applyXmlEdit(data, x);
      copy[i] = { name: copy[i]!.name, data };
      return copy;
    }
  }
}

function shuffle<T>(items: T[], key: number): T[] {
  let state = key >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Bytes a broken csv may hold: invalid UTF-8, another encoding's text, stray BOMs, NULs, quotes. */
const CSV_SNIPPETS: Buffer[] = [
  Buffer.from([0xc3]),
  Buffer.from([0xff]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xc0, 0xaf]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]),
  iconv.encode("한글,깨짐\n", "cp949"),
  Buffer.from("한글,정상\n"),
  Buffer.from("mixed,ütf-16\n", "utf16le"),
  Buffer.from([0xef, 0xbb, 0xbf]),
  Buffer.from([0xff, 0xfe]),
  Buffer.from([0xfe, 0xff]),
  Buffer.from([0]),
  Buffer.from('"'),
  Buffer.from('"unclosed,'),
  Buffer.from("\r"),
  Buffer.from("\n\n\n"),
  Buffer.from("sep=;\n"),
  Buffer.from("sep=\n"),
  Buffer.from(`${"a,".repeat(20_000)}\n`),
  Buffer.from(`"${"q".repeat(40_000)}"\n`),
  Buffer.from("😀,🎉\n"),
  Buffer.from([0xf0, 0x9f, 0x98]),
];

export type ByteEdit =
  | { op: "flip"; pos: number; mask: number }
  | { op: "truncate"; pos: number }
  | { op: "insert"; pos: number; snippet: number }
  | { op: "zero"; pos: number; length: number };

const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("flip" as const),
      pos: fraction,
      mask: fc.integer({ min: 1, max: 255 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("truncate" as const), pos: fraction }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("insert" as const),
      pos: fraction,
      snippet: fc.nat({ max: CSV_SNIPPETS.length - 1 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("zero" as const),
      pos: fraction,
      length: fc.integer({ min: 1, max: 512 }),
    }),
  },
);

export function applyByteEdit(bytes: Buffer, edit: ByteEdit): Buffer {
  if (bytes.length === 0) return bytes;
  switch (edit.op) {
    case "flip": {
      const copy = Buffer.from(bytes);
      const p = at(copy.length - 1, edit.pos);
      copy[p] = copy[p]! ^ edit.mask;
      return copy;
    }
    case "truncate":
      return bytes.subarray(0, at(bytes.length, edit.pos));
    case "insert": {
      const p = at(bytes.length, edit.pos);
      return Buffer.concat([bytes.subarray(0, p), CSV_SNIPPETS[edit.snippet]!, bytes.subarray(p)]);
    }
    case "zero": {
      const copy = Buffer.from(bytes);
      const p = at(copy.length, edit.pos);
      copy.fill(0, p, Math.min(copy.length, p + edit.length));
      return copy;
    }
  }
}

const packing: fc.Arbitrary<Packing> = fc.record({
  store: fc.boolean(),
  descriptor: fc.boolean(),
  zip64: fc.boolean(),
  level: fc.constantFrom(undefined, 0, 1, 9),
});

// ---------------------------------------------------------------------------------------------------------
// Cases.

export type Table = { header: string[]; rows: (string | number | boolean | null)[][] };

export type FuzzCase =
  | { kind: "mutated"; seed: number; entryEdits: EntryEdit[]; packing: Packing; byteEdits: ByteEdit[] }
  | { kind: "repacked"; seed: number; reorder: number; packing: Packing }
  | {
      kind: "xlsx-table";
      table: Table;
      sst: boolean;
      compression: boolean;
      repack?: Packing;
      /** Writes one cell a second time, with another value, right after itself (a fraction picks the cell). */
      repeatCell?: number;
    }
  | { kind: "csv-table"; table: Table; dialect: CsvDialect }
  | { kind: "exceljs-table"; table: Table; dates: DateCell[]; sharedStrings: boolean };

/** A date written by exceljs into a cell of the table, with the format that decides its ISO shape. */
export interface DateCell {
  row: number;
  column: number;
  /** Whole seconds since 1970 (UTC); exceljs writes dates as UTC serials. */
  epochSeconds: number;
  format: "yyyy-mm-dd" | "yyyy-mm-dd hh:mm:ss" | "hh:mm:ss";
}

export interface CsvDialect {
  delimiter: "," | ";" | "\t" | "|";
  eol: "\n" | "\r\n";
  quoteAll: boolean;
  encoding: "utf-8" | "utf-8-bom" | "utf-16le" | "utf-16be" | "cp949";
  sepLine: boolean;
}

/** Header names the header rules keep as they are: trimmed, unique, never `name_2`-shaped. */
const headerName = fc
  .tuple(
    fc.constantFrom("id", "이름", "qty", "note", "Ünïcode", "😀", "中文", "a b", 'x"y'),
    fc.nat({ max: 999 }),
  )
  .map(([word, n]) => `${word}#${n}`);

const cellText = fc.oneof(
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }),
  fc.constantFrom(
    " padded ",
    "0012",
    "1e5",
    "TRUE",
    "=1+1",
    "line\nbreak",
    "tab\there",
    "😀👍🏽",
    "김치",
    '"q"',
  ),
);

function tableArb(cell: fc.Arbitrary<string | number | boolean | null>): fc.Arbitrary<Table> {
  return fc.integer({ min: 1, max: 6 }).chain((width) =>
    fc.record({
      header: fc.uniqueArray(headerName, { minLength: width, maxLength: width }),
      rows: fc.array(fc.array(cell, { minLength: width, maxLength: width }), { maxLength: 25 }),
    }),
  );
}

const xlsxCell = fc.oneof(
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 3, arbitrary: cellText },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.integer({ min: -1e9, max: 1e9 }),
      fc
        .double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 })
        .map((n) => (n === 0 ? 0 : n)),
    ),
  },
  { weight: 1, arbitrary: fc.boolean() },
);

/** Csv cells: text without the other delimiters, so the delimiter a person meant is the only reading. */
const csvCell = fc.oneof(
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 4, arbitrary: cellText.map((s) => s.replace(/[,;\t|\r]/g, "_")) },
);

/**
 * `maxDiagonalRows` bounds the sheet whose every row widens the header (output rows x columns): 4,000 rows is
 * about 140 MB of chunks, a few seconds; `npm test`, which runs beside other suites, keeps it smaller.
 */
export function caseArbitrary(
  seeds: Seed[],
  options: { maxDiagonalRows?: number } = {},
): fc.Arbitrary<FuzzCase> {
  const maxDiagonal = options.maxDiagonalRows ?? 4_000;
  const zipSeeds = seeds.map((s, i) => (s.kind === "xlsx" ? i : -1)).filter((i) => i >= 0);
  const seedIndex = fc.nat({ max: seeds.length - 1 });
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant("mutated" as const),
        seed: seedIndex,
        entryEdits: fc.array(entryEdit(maxDiagonal), { maxLength: 2 }),
        packing,
        byteEdits: fc.array(byteEdit, { maxLength: 2 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("repacked" as const),
        seed: zipSeeds.length ? fc.constantFrom(...zipSeeds) : seedIndex,
        reorder: fc.nat(),
        packing,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record(
        {
          kind: fc.constant("xlsx-table" as const),
          table: tableArb(xlsxCell),
          sst: fc.boolean(),
          compression: fc.boolean(),
          repack: packing,
          // One generated table in five gets a cell written twice; the others are compared with SheetJS.
          repeatCell: fc.oneof(
            { weight: 4, arbitrary: fc.constant(undefined) },
            { weight: 1, arbitrary: fraction },
          ),
        },
        { requiredKeys: ["kind", "table", "sst", "compression", "repeatCell"] },
      ),
    },
    {
      weight: 1,
      arbitrary: tableArb(xlsxCell).chain((table) =>
        fc.record({
          kind: fc.constant("exceljs-table" as const),
          table: fc.constant(table),
          dates: fc.array(
            fc.record({
              row: fc.nat({ max: Math.max(0, table.rows.length - 1) }),
              column: fc.nat({ max: table.header.length - 1 }),
              // 1900-03-01 to 2099-12-31: clear of Excel's fictitious 1900-02-29.
              epochSeconds: fc.integer({ min: -2_203_891_200, max: 4_102_358_400 }),
              format: fc.constantFrom(
                "yyyy-mm-dd" as const,
                "yyyy-mm-dd hh:mm:ss" as const,
                "hh:mm:ss" as const,
              ),
            }),
            { maxLength: 6 },
          ),
          sharedStrings: fc.boolean(),
        }),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant("csv-table" as const),
        table: tableArb(csvCell),
        dialect: fc.record({
          delimiter: fc.constantFrom(",", ";", "\t", "|"),
          eol: fc.constantFrom("\n", "\r\n"),
          quoteAll: fc.boolean(),
          encoding: fc.constantFrom("utf-8", "utf-8-bom", "utf-16le", "utf-16be", "cp949"),
          sepLine: fc.boolean(),
        }),
      }),
    },
  );
}

export interface Materialized {
  name: string;
  bytes: Buffer;
  /** Exact rows the conversion must give (generated tables). */
  expected?: { header: string[]; rows: { row: number; data: Record<string, unknown> }[] };
  /** A file whose conversion this one must equal (a valid re-packaging). */
  sameAs?: Buffer;
  /** With `expected`: failing with a typed error is as right as giving exactly the expected rows. */
  expectedOrError?: boolean;
  /** A file whose conversion, when it succeeds, this one must equal unless this one fails. */
  sameOrError?: Buffer;
  /** SheetJS's reading of these bytes (the same table, as written before any re-packaging) must equal ours. */
  sheetJsBytes?: Buffer;
}

function expectedRows(table: Table, firstRow: number) {
  const rows = table.rows.flatMap((cells, i) =>
    cells.every((c) => c === null)
      ? []
      : [{ row: firstRow + i, data: Object.fromEntries(table.header.map((h, k) => [h, cells[k] ?? null])) }],
  );
  return { header: table.header, rows };
}

export function writeCsv(table: Table, d: CsvDialect): Buffer | undefined {
  const quote = (v: string) =>
    d.quoteAll || /["\n\r]/.test(v) || v.includes(d.delimiter) || v !== v.trim()
      ? `"${v.replace(/"/g, '""')}"`
      : v;
  const line = (cells: (string | number | boolean | null)[]) =>
    cells.map((c) => (c === null ? "" : quote(String(c)))).join(d.delimiter);
  const text =
    (d.sepLine ? `sep=${d.delimiter}${d.eol}` : "") +
    [line(table.header), ...table.rows.map(line)].map((l) => l + d.eol).join("");
  switch (d.encoding) {
    case "utf-8":
      return Buffer.from(text);
    case "utf-8-bom":
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
    case "utf-16le":
      return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);
    case "utf-16be":
      return Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, "utf16le").swap16()]);
    case "cp949": {
      const bytes = iconv.encode(text, "cp949");
      // Only text CP949 can hold, and only bytes that are not also valid UTF-8 (then UTF-8 is the right reading).
      if (iconv.decode(bytes, "cp949") !== text) return undefined;
      try {
        new TextDecoder("utf-8", { fatal: true }).decode(bytes);
        return undefined;
      } catch {
        return bytes;
      }
    }
  }
}

export async function materialize(c: FuzzCase, seeds: Seed[]): Promise<Materialized> {
  switch (c.kind) {
    case "mutated": {
      const seed = seeds[c.seed]!;
      let bytes = seed.bytes;
      const entries = seed.kind === "xlsx" && c.entryEdits.length > 0 ? readEntries(bytes) : undefined;
      if (entries) {
        let edited = entries;
        for (const edit of c.entryEdits) edited = applyEntryEdit(edited, edit);
        bytes = writeEntries(edited, c.packing);
      }
      for (const edit of c.byteEdits) bytes = applyByteEdit(bytes, edit);
      // Byte edits on a real zip, its entries untouched otherwise: every entry is CRC-checked, so the file
      // either fails or converts exactly as before (a flip in an entry nobody reads changes nothing).
      const zipOnlyBytes = seed.kind === "xlsx" && !entries && c.byteEdits.length > 0;
      // Whole entries dropped, emptied, duplicated (the first of a name is read) or reordered: a part the
      // reader needs is then missing or broken, which must fail, or the rows stay exactly as they were.
      const wholeEntries =
        entries !== undefined && c.byteEdits.length === 0 && c.entryEdits.every((e) => e.op !== "xml");
      const sameOrError = zipOnlyBytes || wholeEntries ? { sameOrError: seed.bytes } : {};
      return { name: seed.name, bytes, ...sameOrError };
    }
    case "repacked": {
      const seed = seeds[c.seed]!;
      const entries = readEntries(seed.bytes);
      if (!entries) return { name: seed.name, bytes: seed.bytes };
      return {
        name: seed.name,
        bytes: writeEntries(shuffle([...entries], c.reorder), c.packing),
        sameAs: seed.bytes,
      };
    }
    case "xlsx-table": {
      const sheet = XLSX.utils.aoa_to_sheet([c.table.header, ...c.table.rows]);
      const book = XLSX.utils.book_new();
      XLSX.utils.book_append_sheet(book, sheet, "Data");
      let bytes = XLSX.write(book, {
        type: "buffer",
        bookType: "xlsx",
        bookSST: c.sst,
        compression: c.compression,
      }) as Buffer;
      // SheetJS reads what it wrote; our writer's zip64 and data descriptors are past what it reads.
      const written = bytes;
      let repeated = false;
      if (c.repack || c.repeatCell !== undefined) {
        let entries = readEntries(bytes);
        if (entries && c.repeatCell !== undefined) {
          const edited = repeatCell(entries, c.repeatCell);
          repeated = edited !== entries;
          entries = edited;
        }
        if (entries) bytes = writeEntries(entries, c.repack ?? {});
      }
      return repeated
        ? // Two values at one address: the file is broken, so failing is right; reading it as the table is too
          // (the second value ignored); any other reading is a value silently replaced.
          { name: "table.xlsx", bytes, expected: expectedRows(c.table, 2), expectedOrError: true }
        : { name: "table.xlsx", bytes, expected: expectedRows(c.table, 2), sheetJsBytes: written };
    }
    case "exceljs-table":
      return exceljsTable(c);
    case "csv-table": {
      const bytes = writeCsv(c.table, c.dialect) ?? writeCsv(c.table, { ...c.dialect, encoding: "utf-8" })!;
      return { name: "table.csv", bytes, expected: expectedRows(c.table, 2) };
    }
  }
}

/** The sheet with one data cell written twice: the copy holds the number 424242 at the same address. */
function repeatCell(entries: Entry[], pick: number): Entry[] {
  const i = entries.findIndex((e) => /worksheets\/sheet1\.xml$/.test(e.name));
  if (i < 0) return entries;
  const xml = entries[i]!.data.toString("utf8");
  const cells = [...xml.matchAll(/<c r="([A-Z]+)(\d+)"[^>]*?(?:\/>|>.*?<\/c>)/g)].filter((m) => m[2] !== "1");
  if (cells.length === 0) return entries;
  const m = cells[at(cells.length - 1, pick)]!;
  const copy = `<c r="${m[1]}${m[2]}"><v>424242</v></c>`;
  const end = m.index + m[0].length;
  const copyEntries = [...entries];
  copyEntries[i] = { name: entries[i]!.name, data: Buffer.from(xml.slice(0, end) + copy + xml.slice(end)) };
  return copyEntries;
}

/** A table written by exceljs (shared strings, styles, number formats), dates placed over some cells. */
async function exceljsTable(c: Extract<FuzzCase, { kind: "exceljs-table" }>): Promise<Materialized> {
  const table: Table = { header: c.table.header, rows: c.table.rows.map((r) => [...r]) };
  const book = new ExcelJS.Workbook();
  const sheet = book.addWorksheet("Data");
  sheet.addRow(table.header);
  for (const cells of table.rows) sheet.addRow(cells);
  for (const d of c.dates) {
    if (d.row >= table.rows.length) continue;
    const at = new Date(d.epochSeconds * 1000);
    const cell = sheet.getCell(d.row + 2, d.column + 1);
    cell.value = at;
    cell.numFmt = d.format;
    const iso = at.toISOString().slice(0, 19);
    // The shape the README promises: a time format gives the time of day; a date format gives the date, with
    // the time only when it is not midnight (whether or not the format shows it: nothing is dropped).
    table.rows[d.row]![d.column] =
      d.format === "hh:mm:ss" ? iso.slice(11) : iso.endsWith("T00:00:00") ? iso.slice(0, 10) : iso;
  }
  const bytes = Buffer.from(await book.xlsx.writeBuffer({ useSharedStrings: c.sharedStrings }));
  return { name: "exceljs.xlsx", bytes, expected: expectedRows(table, 2) };
}

// ---------------------------------------------------------------------------------------------------------
// The property.

export type Outcome =
  | {
      ok: true;
      format: string;
      header: string[];
      /** Rows converted; `rows` holds them only when the caller keeps them. */
      count: number;
      /** The first row holding U+FFFD, if any. */
      replacementRow: number | undefined;
      rows: { row: number; data: Record<string, unknown> }[];
      ms: number;
    }
  | { ok: false; code: string; message: string; ms: number };

/** A conversion of in-memory bytes, bounded in time and output. Rejects only for a property violation. */
export async function convertBytes(bytes: Buffer, name: string, keep = true): Promise<Outcome> {
  const started = performance.now();
  // Kept only when something compares them: a hostile file's output may be far larger than the file.
  const rows: { row: number; data: Record<string, unknown> }[] = [];
  let count = 0;
  let lastRow = 0;
  let replacementRow: number | undefined;
  let written = 0;
  const run = convertWorkbook({
    source: bufferSource(bytes, name),
    uploadId: "fuzz",
    sink: {
      async writeChunk(line: Buffer) {
        written += line.length;
        if (written > OUTPUT_BOUND_BYTES)
          throw new FuzzFailure(`output grew past ${OUTPUT_BOUND_BYTES} bytes`);
        // Each chunk as the consumer SDK will check it: the contract's schema, its row range, and row numbers
        // that only grow (a handler's answer names rows by number; two rows with one number are ambiguous).
        // The schema on the envelope and first row; its row rules by hand on every row (zod over a hostile
        // file's hundreds of megabytes would be most of a case's time).
        const json = JSON.parse(line.toString("utf8")) as Chunk;
        const parsed = ChunkSchema.safeParse({ ...json, rows: json.rows?.slice(0, 1) });
        if (!parsed.success) throw new FuzzFailure(`a chunk fails the contract: ${parsed.error.message}`);
        const width = json.columns.length + 1;
        for (const record of json.rows) {
          const row = record[0];
          if (!Number.isInteger(row) || row < 1) throw new FuzzFailure(`bad row number ${row}`);
          if (record.length !== width) {
            throw new FuzzFailure(`row ${row} has ${record.length - 1} values for ${width - 1} columns`);
          }
          for (let k = 1; k < record.length; k++) {
            const v = record[k];
            if (v !== null && typeof v !== "string" && typeof v !== "boolean" && !Number.isFinite(v)) {
              throw new FuzzFailure(`bad value ${JSON.stringify(v)} in row ${row}`);
            }
          }
        }
        const chunk = { ...json, rows: chunkRows(json) };
        if (chunk.firstRow !== chunk.rows[0]!.row || chunk.lastRow !== chunk.rows.at(-1)!.row) {
          throw new FuzzFailure(
            `chunk ${chunk.index} says rows ${chunk.firstRow}-${chunk.lastRow}, holds others`,
          );
        }
        for (const r of chunk.rows) {
          if (r.row <= lastRow) throw new FuzzFailure(`row number ${r.row} comes after row ${lastRow}`);
          lastRow = r.row;
          count++;
          if (replacementRow === undefined && JSON.stringify(r.data).includes("\ufffd"))
            replacementRow = r.row;
          if (keep) rows.push(r);
        }
      },
    },
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new FuzzFailure(`no outcome within ${TIME_BOUND_MS} ms (a hang)`)),
      TIME_BOUND_MS,
    );
  });
  try {
    const manifest = await Promise.race([run, timeout]);
    const ms = performance.now() - started;
    const checked = ManifestSchema.safeParse(manifest);
    if (!checked.success) throw new FuzzFailure(`the manifest fails the contract: ${checked.error.message}`);
    if (manifest.totalRows !== count) {
      throw new FuzzFailure(`manifest says ${manifest.totalRows} rows, the chunks hold ${count}`);
    }
    return { ok: true, format: manifest.format, header: manifest.header, rows, count, replacementRow, ms };
  } catch (error) {
    if (error instanceof FuzzFailure) throw error;
    // The converter wraps what a sink throws; a property violation found in the sink is still one.
    const inner = (error as { cause?: unknown })?.cause;
    if (inner instanceof FuzzFailure) throw inner;
    const ms = performance.now() - started;
    const code = (error as { code?: unknown })?.code;
    const entry =
      typeof code === "string" ? (ERROR_CODES as Record<string, { area: string }>)[code] : undefined;
    if (!(error instanceof Error) || entry === undefined || entry.area !== "workbook") {
      // The source is in memory, so an I/O code (SOURCE_READ_FAILED) here is an untyped exception in disguise.
      const cause = (error as { cause?: unknown })?.cause;
      throw new FuzzFailure(
        `not a typed workbook error: ${String(code ?? "")} ${String((error as Error)?.stack ?? error)}${
          cause ? `\ncaused by: ${String((cause as Error)?.stack ?? cause)}` : ""
        }`,
      );
    }
    return { ok: false, code: code as string, message: error.message, ms };
  } finally {
    clearTimeout(timer);
    // A hung conversion keeps running in the background; its rejection must not become unhandled.
    run.catch(() => {});
  }
}

export class FuzzFailure extends Error {}

/** SheetJS's reading of the first sheet: data rows keyed by the header row, as our rules name them. */
function sheetJsRows(bytes: Buffer, header: string[]) {
  const book = XLSX.read(bytes, { type: "buffer", cellDates: false, cellText: false });
  const sheet = book.Sheets[book.SheetNames[0]!]!;
  const aoa = XLSX.utils.sheet_to_json<unknown[]>(sheet, {
    header: 1,
    raw: true,
    defval: null,
    blankrows: true,
  });
  return aoa
    .slice(1)
    .flatMap((cells, i) =>
      cells.every((c) => c === null)
        ? []
        : [{ row: i + 2, data: Object.fromEntries(header.map((h, k) => [h, cells[k] ?? null])) }],
    );
}

/** The whole property for one case; throws FuzzFailure (or an assertion) on a violation. */
export async function checkCase(input: Materialized): Promise<Outcome> {
  const outcome = await convertBytes(
    input.bytes,
    input.name,
    input.expected !== undefined || input.sameAs !== undefined || input.sameOrError !== undefined,
  );
  if (outcome.ok && outcome.format === "csv" && !holdsReplacementChar(input.bytes)) {
    // The csv reader fails on bytes its encoding cannot decode; it never invents U+FFFD.
    if (outcome.replacementRow !== undefined) {
      throw new FuzzFailure(
        `U+FFFD in row ${outcome.replacementRow}, not in the file: a byte decoded silently`,
      );
    }
  }
  if (input.expected && !(input.expectedOrError && !outcome.ok)) {
    if (!outcome.ok)
      throw new FuzzFailure(`a valid generated file failed: ${outcome.code}: ${outcome.message}`);
    same("the generated table", { header: input.expected.header, rows: input.expected.rows }, outcome);
    if (input.sheetJsBytes) {
      const header = input.expected.header;
      same("SheetJS", { header, rows: sheetJsRows(input.sheetJsBytes, header) }, outcome);
    }
  }
  if (input.sameAs) {
    const original = await convertBytes(input.sameAs, input.name);
    if (original.ok !== outcome.ok) {
      throw new FuzzFailure(
        `a valid re-packaging converts differently: original ${original.ok ? "ok" : original.code}, repacked ${outcome.ok ? "ok" : outcome.code}`,
      );
    }
    if (original.ok && outcome.ok) same("the original file", original, outcome);
    if (!original.ok && !outcome.ok && original.code !== outcome.code) {
      throw new FuzzFailure(`a valid re-packaging fails differently: ${original.code} vs ${outcome.code}`);
    }
  }
  if (input.sameOrError && outcome.ok) {
    const original = await originalOutcome(input.sameOrError, input.name);
    if (original.ok)
      same("the undamaged file (a damaged byte must fail, or change nothing)", original, outcome);
  }
  if (process.memoryUsage().rss > RSS_BOUND_BYTES) {
    throw new FuzzFailure(`RSS ${process.memoryUsage().rss} is past ${RSS_BOUND_BYTES} bytes`);
  }
  return outcome;
}

/** U+FFFD as UTF-8 or UTF-16 (either order) anywhere in the bytes. */
function holdsReplacementChar(bytes: Buffer): boolean {
  return (
    bytes.includes(Buffer.from([0xef, 0xbf, 0xbd])) ||
    bytes.includes(Buffer.from([0xfd, 0xff])) ||
    bytes.includes(Buffer.from([0xff, 0xfd]))
  );
}

const originals = new WeakMap<Buffer, Outcome>();

async function originalOutcome(bytes: Buffer, name: string): Promise<Outcome> {
  let outcome = originals.get(bytes);
  if (!outcome) {
    outcome = await convertBytes(bytes, name);
    originals.set(bytes, outcome);
  }
  return outcome;
}

function same(
  what: string,
  expected: { header: string[]; rows: unknown[] },
  outcome: Outcome & { ok: true },
) {
  const a = JSON.stringify({ header: expected.header, rows: expected.rows });
  const b = JSON.stringify({ header: outcome.header, rows: outcome.rows });
  if (a !== b) {
    throw new FuzzFailure(
      `rows differ from ${what}:\n expected ${a.slice(0, 2000)}\n got      ${b.slice(0, 2000)}`,
    );
  }
}
