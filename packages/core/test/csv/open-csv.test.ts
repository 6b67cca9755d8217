import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import iconv from "iconv-lite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ByteSource, bufferSource, openFileSource } from "../../src/byte-source.ts";
import { openCsv } from "../../src/csv/open-csv.ts";
import { SluiceError } from "../../src/errors.ts";
import { type ReadLimits, resolveLimits } from "../../src/limits.ts";
import type { CellValue, OpenedSheet, RawRow } from "../../src/workbook-reader.ts";
import { piecewiseSource } from "../piecewise-source.ts";

const chunkedSource = (bytes: Buffer, size: number) => piecewiseSource(bytes, size, "chunked.csv");

const corpus = fileURLToPath(new URL("../../../../../shared/corpus/", import.meta.url));

async function open(bytes: Buffer | string, name = "orders.csv", limits: Partial<ReadLimits> = {}) {
  const source = bufferSource(typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes, name);
  return openCsv(source, { limits: resolveLimits(limits) });
}

async function allRows(sheet: OpenedSheet): Promise<RawRow[]> {
  const rows: RawRow[] = [];
  for await (const batch of sheet.rows()) rows.push(...batch);
  return rows;
}

async function read(bytes: Buffer | string, name?: string, limits?: Partial<ReadLimits>) {
  const sheet = await open(bytes, name, limits);
  return { sheet, rows: await allRows(sheet) };
}

/** Rows as [row number, cells] pairs, easy to compare. */
const pairs = (rows: RawRow[]): [number, CellValue[]][] => rows.map((r) => [r.row, r.cells]);

async function failure(promise: Promise<unknown>): Promise<SluiceError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SluiceError);
    return error as SluiceError;
  }
  throw new Error("expected a failure");
}

const KOREAN = '주문번호,고객명,전화번호\n0001,김민준,010-1234-5678\n0002,"이서연, 대리",\n';
const KOREAN_ROWS: [number, CellValue[]][] = [
  [1, ["주문번호", "고객명", "전화번호"]],
  [2, ["0001", "김민준", "010-1234-5678"]],
  [3, ["0002", "이서연, 대리", null]],
];

describe("encoding", () => {
  const utf16 = (text: string, bigEndian: boolean): Buffer => {
    const le = Buffer.from(text, "utf16le");
    return bigEndian ? Buffer.from(le).swap16() : le;
  };
  describe.each([
    ["utf-8", false, Buffer.from(KOREAN, "utf8")],
    ["utf-8", true, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(KOREAN, "utf8")])],
    ["utf-16le", true, Buffer.concat([Buffer.from([0xff, 0xfe]), utf16(KOREAN, false)])],
    ["utf-16be", true, Buffer.concat([Buffer.from([0xfe, 0xff]), utf16(KOREAN, true)])],
    ["cp949", false, iconv.encode(KOREAN, "cp949")],
  ] as const)("%s (BOM: %s)", (encoding, bom, bytes) => {
    it("decodes to the same rows and reports the encoding", async () => {
      const { sheet, rows } = await read(bytes);
      expect(sheet.details).toMatchObject({ encoding, bom, delimiter: "," });
      expect(pairs(rows)).toEqual(KOREAN_ROWS);
      // The BOM is not part of the first header name.
      expect(rows[0]?.cells[0]).toBe("주문번호");
    });
  });

  it("keeps UTF-8 when a multi-byte character is cut by the end of the 64 KiB sniff window", async () => {
    const line = "가나다,라마바\n";
    let text = "a,b\n";
    // "가" is 3 bytes: put one across the 65,536-byte boundary.
    while (Buffer.byteLength(text) < 65_535) text += "x,y\n";
    text = text.slice(0, text.length - (Buffer.byteLength(text) - 65_535));
    text += `${line}`;
    const bytes = Buffer.from(text, "utf8");
    expect(bytes.subarray(0, 65_536).toString("utf8").endsWith("\ufffd")).toBe(true);
    const { sheet, rows } = await read(bytes);
    expect(sheet.details.encoding).toBe("utf-8");
    expect(rows.at(-1)?.cells.join("|")).toContain("가나다");
  });

  it("fails with ENCODING_INVALID on an invalid byte after 100 KiB of valid UTF-8, never emitting U+FFFD", async () => {
    let text = "이름,값\n";
    while (Buffer.byteLength(text) < 100 * 1024) text += "한글,123\n";
    const validLength = Buffer.byteLength(text);
    const bytes = Buffer.concat([Buffer.from(text), Buffer.from([0xc7, 0xd1, 0x2c, 0x31, 0x0a])]);
    const sheet = await open(bytes);
    expect(sheet.details.encoding).toBe("utf-8");
    const seen: RawRow[] = [];
    const error = await failure(
      (async () => {
        for await (const batch of sheet.rows()) seen.push(...batch);
      })(),
    );
    expect(error.code).toBe("ENCODING_INVALID");
    expect(error.details).toMatchObject({ encoding: "utf-8", offset: validLength });
    expect(seen.some((r) => r.cells.some((c) => typeof c === "string" && c.includes("\ufffd")))).toBe(false);
  });

  it("switches to CP949 when the first non-ASCII byte comes after an all-ASCII head", async () => {
    let text = "id,name,memo\r\n";
    for (let i = 0; Buffer.byteLength(text) < 100 * 1024; i++) text += `${i},kim,ok\r\n`;
    const tailRows = '9001,김민준,"서울, 강남구"\r\n9002,이서연,메모\r\n';
    const sheet = await open(iconv.encode(text + tailRows, "cp949"));
    expect(sheet.details.encoding).toBe("utf-8");
    const rows = await allRows(sheet);
    expect(rows.slice(-2).map((r) => r.cells)).toEqual([
      ["9001", "김민준", "서울, 강남구"],
      ["9002", "이서연", "메모"],
    ]);
    expect(sheet.details.encoding).toBe("cp949");
  });

  it("fails with ENCODING_INVALID on a UTF-8 sequence cut by the end of the file", async () => {
    let text = "a,b\n";
    while (Buffer.byteLength(text) < 70 * 1024) text += "1,2\n";
    const error = await failure(read(Buffer.concat([Buffer.from(text), Buffer.from([0xea, 0xb0])])));
    expect(error.code).toBe("ENCODING_INVALID");
  });

  it("rejects bytes that are neither UTF-8 nor CP949 instead of inventing characters", async () => {
    // Latin-1 "é," is not a CP949 pair.
    const error = await failure(read(Buffer.from("caf\xe9,x\n", "latin1")));
    expect(error.code).toBe("ENCODING_INVALID");
    expect(error.details.encoding).toBe("cp949");
  });
});

describe("delimiters", () => {
  const records = [
    ["id", "name", "memo"],
    ["1", "Kim", "a, b; c | d"],
    ["2", "Lee", "x"],
  ];
  describe.each([
    [",", ","],
    [";", ";"],
    ["\t", "tab"],
    ["|", "pipe"],
  ])("%j (%s)", (delimiter) => {
    const text = records
      .map((r) => r.map((v) => (/[,;|\t]/.test(v) ? `"${v}"` : v)).join(delimiter))
      .join("\r\n");
    it("is detected, ignoring delimiters inside quotes", async () => {
      const { sheet, rows } = await read(`${text}\r\n`);
      expect(sheet.details.delimiter).toBe(delimiter);
      expect(rows.map((r) => r.cells)).toEqual(records);
    });
    it("is taken from an Excel sep= line, which is not a row", async () => {
      const { sheet, rows } = await read(`sep=${delimiter}\r\n${text}`);
      expect(sheet.details).toMatchObject({ delimiter, sepLine: true });
      expect(pairs(rows)).toEqual(records.map((r, i) => [i + 1, r]));
    });
  });

  it("prefers ; over the decimal commas of a European export", async () => {
    const { sheet, rows } = await read("name;price;qty\nfoo;1,5;2\nbar;2,25;10\nbaz;3;1\n");
    expect(sheet.details.delimiter).toBe(";");
    expect(rows[1]?.cells).toEqual(["foo", "1,5", "2"]);
  });

  it("sep= overrides what the content suggests", async () => {
    const { rows } = await read("sep=|\na,b|c\n1,2|3\n");
    expect(rows.map((r) => r.cells)).toEqual([
      ["a,b", "c"],
      ["1,2", "3"],
    ]);
  });

  it("defaults to , for a single column", async () => {
    const { sheet, rows } = await read("name\nKim\nLee\n");
    expect(sheet.details.delimiter).toBe(",");
    expect(rows.map((r) => r.cells)).toEqual([["name"], ["Kim"], ["Lee"]]);
  });
});

describe("records", () => {
  describe.each([
    ["CRLF", "\r\n"],
    ["LF", "\n"],
    ["CR", "\r"],
  ])("%s line endings", (label, eol) => {
    const text = [
      "id,note,qty",
      `1,"first line${eol}second line",3`,
      `2,"he said ""hi""",`,
      "",
      `3,"",0`,
      ",,",
      "",
      "",
    ].join(eol);
    it("keeps quoted line breaks and doubled quotes, skips empty records, numbers rows like a spreadsheet", async () => {
      const { sheet, rows } = await read(text);
      expect(sheet.details.lineEnding).toBe(label);
      expect(pairs(rows)).toEqual([
        [1, ["id", "note", "qty"]],
        [2, ["1", `first line${eol}second line`, "3"]],
        [3, ["2", 'he said "hi"', null]],
        [5, ["3", null, "0"]],
      ]);
    });
    it("gives the same rows whatever the chunking of the stream", async () => {
      const bytes = Buffer.from(`sep=,${eol}${text}`);
      const expected = pairs(await allRows(await open(bytes)));
      for (const size of [1, 2, 3, 7]) {
        const sheet = await openCsv(chunkedSource(bytes, size), { limits: resolveLimits() });
        expect(pairs(await allRows(sheet))).toEqual(expected);
      }
    });
  });

  it("keeps every value a string: leading zeros, phone numbers, dates, numbers", async () => {
    const { rows } = await read("zip,phone,date,amount,flag\n00501,010-0000-0001,2024-01-02,1e3,TRUE\n");
    expect(rows[1]?.cells).toEqual(["00501", "010-0000-0001", "2024-01-02", "1e3", "TRUE"]);
  });

  it("keeps whitespace-only values and a record with only a last field", async () => {
    const { rows } = await read("a,b\n , \n,x\n");
    expect(pairs(rows)).toEqual([
      [1, ["a", "b"]],
      [2, [" ", " "]],
      [3, [null, "x"]],
    ]);
  });

  it("reads a last record without a line break and a file with no records", async () => {
    expect(pairs((await read("a,b\n1,2")).rows)).toEqual([
      [1, ["a", "b"]],
      [2, ["1", "2"]],
    ]);
    expect((await read("\r\n\r\n")).rows).toEqual([]);
    expect((await read("sep=;")).rows).toEqual([]);
  });

  it("emits batches of a few hundred rows", async () => {
    let text = "n,v\n";
    for (let i = 0; i < 2000; i++) text += `${i},v${i}\n`;
    const sizes: number[] = [];
    for await (const batch of (await open(text)).rows()) sizes.push(batch.length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(2001);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1000);
    expect(sizes.length).toBeGreaterThan(1);
  });

  it("keeps a quote inside an unquoted field as text", async () => {
    const { rows } = await read('a,b\n2,ab"c\n3,5" pipe\n');
    expect(rows.map((r) => r.cells)).toEqual([
      ["a", "b"],
      ["2", 'ab"c'],
      ["3", '5" pipe'],
    ]);
  });

  it.each([
    ["text after a closing quote", 'a,b\n1,"x"y,z\n2,3\n'],
    ["a quote never closed", 'a,b\n1,"unterminated\n2,3\n'],
    ["a lone quote at the end", 'a,b\n1,"'],
  ])("survives malformed quotes (%s), keeping papaparse's reading", async (_, text) => {
    const { rows } = await read(text);
    expect(rows[0]).toEqual({ row: 1, cells: ["a", "b"] });
    // papaparse reads on to the next quote that can close the field, here the end of the file.
    expect(rows[1]?.row).toBe(2);
    expect(rows[1]?.cells[0]).toBe("1");
  });
});

describe("sheet", () => {
  it.each([
    ["orders.csv", "orders"],
    ["uploads/2024/주문 목록.CSV", "주문 목록"],
    ["C:\\Users\\kim\\data.v2.tsv", "data.v2"],
    ["noextension", "noextension"],
  ])("%s is sheet %j", async (name, sheetName) => {
    const sheet = await open("a\n1\n", name);
    expect(sheet.format).toBe("csv");
    expect(sheet.sheets).toEqual([{ name: sheetName, visible: true }]);
    expect(sheet.sheet).toBe(sheetName);
  });

  it("accepts its own name and rejects another with SHEET_NOT_FOUND", async () => {
    const source = bufferSource(Buffer.from("a\n1\n"), "orders.csv");
    const limits = resolveLimits();
    await expect(openCsv(source, { sheet: "orders", limits })).resolves.toMatchObject({ sheet: "orders" });
    const error = await failure(openCsv(source, { sheet: "Sheet1", limits }));
    expect(error.code).toBe("SHEET_NOT_FOUND");
    expect(error.details).toEqual({ sheet: "Sheet1", sheets: ["orders"] });
  });
});

describe("limits", () => {
  it.each([
    ["maxColumns", { maxColumns: 3 }, "a,b,c\n1,2,3,4\n", "TOO_MANY_COLUMNS", 2],
    ["maxCellLength", { maxCellLength: 5 }, "a,b\n12345,123456\n", "CELL_TOO_LONG", 2],
    [
      "maxCellLength in a quoted multi-line field",
      { maxCellLength: 5 },
      'a\n"12\n3456"\n',
      "CELL_TOO_LONG",
      2,
    ],
    ["maxRows (data rows after the header)", { maxRows: 2 }, "h\n1\n\n2\n3\n", "TOO_MANY_ROWS", 5],
  ] as const)("%s", async (_, limits, text, code, row) => {
    const error = await failure(read(text, "x.csv", limits));
    expect(error.code).toBe(code);
    expect(error.details.row).toBe(row);
    expect(error.retryable).toBe(false);
  });

  it("allows exactly the limits", async () => {
    const { rows } = await read("a,b,c\n12345,,\n1\n2\n", "x.csv", {
      maxColumns: 3,
      maxCellLength: 5,
      maxRows: 3,
    });
    expect(rows).toHaveLength(4);
  });

  it("does not count empty records against maxColumns", async () => {
    const { rows } = await read("a\n,,,,,,\nb\n", "x.csv", { maxColumns: 2 });
    expect(rows.map((r) => r.row)).toEqual([1, 3]);
  });

  describe("an unclosed quote in a large file", () => {
    let dir: string;
    let path: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "sluice-csv-"));
      path = join(dir, "unclosed.csv");
      // 32 MiB of records after a quote that never closes.
      const records = Buffer.from("1,plain,text\n".repeat(1024 * 64));
      const parts = [Buffer.from('id,memo,x\n1,"never closed,x\n')];
      for (let size = 0; size < 32 * 1024 * 1024; size += records.length) parts.push(records);
      await writeFile(path, Buffer.concat(parts));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("fails with CELL_TOO_LONG early, having read a bounded part of the file", async () => {
      const source = await openFileSource(path, "unclosed.csv");
      let streamed = 0;
      const counting: ByteSource = {
        ...source,
        read: (offset, length) => source.read(offset, length),
        stream(start, end) {
          const stream = source.stream(start, end);
          stream.on("data", (chunk: Buffer) => {
            streamed += chunk.length;
          });
          return stream;
        },
      };
      try {
        const error = await failure(allRows(await openCsv(counting, { limits: resolveLimits() })));
        expect(error.code).toBe("CELL_TOO_LONG");
        expect(error.details).toMatchObject({ row: 2, column: 1 });
        expect(streamed).toBeLessThan(4 * 1024 * 1024);
      } finally {
        await source.close();
      }
    });
  });
});

describe("streaming", () => {
  it("pulls the source only as fast as batches are consumed, and stops it when the consumer stops", async () => {
    const line = Buffer.from('12345,김민준,010-1234-5678,"서울, 강남구"\n');
    const total = 200_000;
    let pulled = 0;
    let destroyed = false;
    const base = bufferSource(Buffer.concat([Buffer.from("id,name,phone,addr\n"), line]), "big.csv");
    const source: ByteSource = {
      ...base,
      size: Number.MAX_SAFE_INTEGER,
      stream() {
        let sent = 0;
        const chunk = Buffer.concat(Array.from({ length: 1000 }, () => line));
        return new Readable({
          highWaterMark: 64 * 1024,
          read() {
            if (sent++ >= total / 1000) return this.push(null);
            pulled += chunk.length;
            this.push(chunk);
          },
          destroy(error, callback) {
            destroyed = true;
            callback(error);
          },
        });
      },
    };
    const sheet = await openCsv(source, { limits: resolveLimits() });
    let rows = 0;
    for await (const batch of sheet.rows()) {
      rows += batch.length;
      if (rows >= 2000) break;
    }
    // 200k lines are on offer; only what the first batches needed (plus stream buffering) was read.
    expect(pulled).toBeLessThan(1024 * 1024);
    expect(destroyed).toBe(true);
  });
});

describe("source errors", () => {
  it("wraps a failing stream in SOURCE_READ_FAILED (retryable)", async () => {
    const base = bufferSource(Buffer.from("a,b\n1,2\n"), "x.csv");
    const source: ByteSource = {
      ...base,
      stream: () =>
        new Readable({
          read() {
            this.destroy(new Error("connection reset"));
          },
        }),
    };
    const error = await failure(allRows(await openCsv(source, { limits: resolveLimits() })));
    expect(error.code).toBe("SOURCE_READ_FAILED");
    expect(error.retryable).toBe(true);
  });

  it("wraps a failing read while opening", async () => {
    const base = bufferSource(Buffer.from("a,b\n1,2\n"), "x.csv");
    const source: ByteSource = { ...base, read: () => Promise.reject(new Error("timeout")) };
    expect((await failure(openCsv(source, { limits: resolveLimits() }))).code).toBe("SOURCE_READ_FAILED");
  });
});

describe.skipIf(!existsSync(corpus))("corpus: roo__iso_8859_1.csv", () => {
  it("passes the (already mojibake) UTF-8 text through unchanged, ; delimited, CRLF", async () => {
    const source = await openFileSource(join(corpus, "roo__iso_8859_1.csv"), "roo__iso_8859_1.csv");
    try {
      const sheet = await openCsv(source, { limits: resolveLimits() });
      expect(sheet.details).toMatchObject({
        encoding: "utf-8",
        bom: false,
        delimiter: ";",
        lineEnding: "CRLF",
      });
      expect(sheet.sheet).toBe("roo__iso_8859_1");
      const rows = await allRows(sheet);
      expect(rows[0]?.cells.slice(0, 4)).toEqual(["sic_reference", "category_fr", "category_de", "brand"]);
      expect(rows[1]?.cells.slice(0, 6)).toEqual([
        "MI-12005WC",
        "Montres",
        "Uhren",
        "Miabelle",
        "Miramar; cuir blanc",
        "Miramar; Leder Weiss",
      ]);
      // Every value is a substring of the file's own text: nothing re-encoded or "fixed".
      const original = (await source.read(0, source.size)).toString("utf8");
      for (const row of rows) {
        for (const cell of row.cells) if (typeof cell === "string") expect(original).toContain(cell);
      }
      expect(rows.map((r) => r.row)).toEqual(rows.map((_, i) => i + 1));
    } finally {
      await source.close();
    }
  });
});
if (!existsSync(corpus)) console.warn(`corpus not found at ${corpus}: skipping the corpus csv suite`);
