import {
  type Chunk,
  ChunkSchema,
  CONTRACT_VERSION,
  chunkIdFor,
  chunkRows,
  type KeyedChunk,
  keyedChunk,
} from "@sluice/contract";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rowDataFactory } from "../src/chunk-rows.ts";

/**
 * Contract 3's compact chunk: the column names once, each row `[row, value per column]`, the cell warnings beside
 * the rows. ChunkSchema's rules that the JSON Schema cannot state all, and the one expansion to rows keyed by name
 * (`chunkRows`, `keyedChunk`) that the consumer SDK hands a handler.
 */

function chunkOf(fields: Partial<Chunk> = {}): Chunk {
  return {
    v: CONTRACT_VERSION,
    uploadId: "u",
    index: 0,
    chunkId: chunkIdFor("u", 0),
    firstRow: 2,
    lastRow: 5,
    columns: ["sku", "qty", "note"],
    rows: [
      [2, "A-1", 3, null],
      [3, "B-2", null, "fragile"],
      [5, "C-3", 1, ""],
    ],
    warnings: [{ row: 3, column: "qty", code: "CELL_ERROR", message: "#DIV/0! became null" }],
    ...fields,
  };
}

/** The messages of ChunkSchema's issues, each with its path. */
function issues(value: unknown): string[] {
  const result = ChunkSchema.safeParse(value);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("ChunkSchema", () => {
  it("accepts a compact chunk, with or without warnings", () => {
    expect(issues(chunkOf())).toEqual([]);
    const { warnings: _warnings, ...without } = chunkOf();
    expect(issues(without)).toEqual([]);
    // As the converter writes it: one JSON line.
    expect(ChunkSchema.parse(JSON.parse(JSON.stringify(chunkOf())))).toEqual(chunkOf());
  });

  it("refuses a row with fewer or more values than the chunk has columns, naming the row", () => {
    expect(
      issues(
        chunkOf({
          rows: [
            [2, "A-1", 3, null],
            [3, "B-2", null],
            [5, "C-3", 1, ""],
          ],
        }),
      ),
    ).toEqual(["rows.1: has 2 values, the chunk has 3 columns"]);
    expect(issues(chunkOf({ rows: [[2, "A-1", 3, null, "extra"]] }))).toEqual([
      "rows.0: has 4 values, the chunk has 3 columns",
    ]);
    expect(issues(chunkOf({ rows: [[2]] }))).toEqual(["rows.0: has 0 values, the chunk has 3 columns"]);
  });

  it("refuses a row without a positive whole row number first", () => {
    for (const first of [0, -1, 2.5, "2", null]) {
      const value = chunkOf({ rows: [[first as number, "A-1", 3, null]] });
      expect(issues(value).length, JSON.stringify(first)).toBeGreaterThan(0);
    }
    expect(ChunkSchema.safeParse({ ...chunkOf(), rows: [[]] }).success).toBe(false);
  });

  it("refuses a value that is not a string, number, boolean or null", () => {
    for (const bad of [{ n: 1 }, [1], undefined]) {
      expect(ChunkSchema.safeParse({ ...chunkOf(), rows: [[2, "A-1", bad, null]] }).success).toBe(false);
    }
  });

  it('refuses columns that repeat a name, or a column named "__proto__"', () => {
    expect(issues(chunkOf({ columns: ["sku", "qty", "sku"] }))).toEqual(["columns: column names repeat"]);
    expect(issues(chunkOf({ columns: ["sku", "__proto__", "note"] }))).toEqual([
      'columns: a column is named "__proto__"',
    ]);
    // Names that only look alike are distinct columns.
    expect(issues(chunkOf({ columns: ["sku", "SKU", "sku "] }))).toEqual([]);
    expect(issues(chunkOf({ columns: ["constructor", "toString", "hasOwnProperty"] }))).toEqual([]);
  });

  it("refuses a chunk without columns or rows", () => {
    expect(issues(chunkOf({ columns: [], rows: [[2]] }))).toEqual([
      "columns: Too small: expected array to have >=1 items",
    ]);
    expect(issues(chunkOf({ rows: [] })).length).toBeGreaterThan(0);
    const { columns: _columns, ...without } = chunkOf();
    expect(issues(without).length).toBeGreaterThan(0);
  });

  it("refuses an empty warnings array (absent when there are none) and a warning without its row", () => {
    expect(issues(chunkOf({ warnings: [] })).length).toBeGreaterThan(0);
    const { row: _row, ...withoutRow } = chunkOf().warnings![0]!;
    expect(ChunkSchema.safeParse({ ...chunkOf(), warnings: [withoutRow] }).success).toBe(false);
    expect(issues(chunkOf({ warnings: [{ ...chunkOf().warnings![0]!, row: 0 }] })).length).toBeGreaterThan(0);
  });

  it("refuses a chunk of contract version 2, rows keyed by name", () => {
    const v2 = {
      v: 2,
      uploadId: "u",
      index: 0,
      chunkId: chunkIdFor("u", 0),
      firstRow: 2,
      lastRow: 2,
      rows: [{ row: 2, data: { sku: "A-1" } }],
    };
    expect(ChunkSchema.safeParse(v2).success).toBe(false);
    expect(ChunkSchema.safeParse({ ...v2, v: CONTRACT_VERSION }).success).toBe(false);
  });
});

describe("chunkRows", () => {
  it("keys each row's values by the chunk's columns, in column order, nulls kept", () => {
    const rows = chunkRows(chunkOf());
    expect(rows).toEqual([
      { row: 2, data: { sku: "A-1", qty: 3, note: null } },
      {
        row: 3,
        data: { sku: "B-2", qty: null, note: "fragile" },
        warnings: [{ column: "qty", code: "CELL_ERROR", message: "#DIV/0! became null" }],
      },
      { row: 5, data: { sku: "C-3", qty: 1, note: "" } },
    ]);
    for (const { data } of rows) expect(Object.keys(data)).toEqual(["sku", "qty", "note"]);
    // Every column present, even one that is null in every row.
    expect(rows.every(({ data }) => Object.hasOwn(data, "note"))).toBe(true);
  });

  it("attaches each warning to its row, several to one row in the chunk's order, none where there are none", () => {
    const rows = chunkRows(
      chunkOf({
        warnings: [
          { row: 2, column: "qty", code: "CELL_ERROR", message: "first" },
          { row: 5, column: "sku", code: "CELL_ERROR", message: "last row" },
          { row: 2, column: "note", code: "OTHER", message: "second" },
        ],
      }),
    );
    expect(rows.map((r) => r.warnings)).toEqual([
      [
        { column: "qty", code: "CELL_ERROR", message: "first" },
        { column: "note", code: "OTHER", message: "second" },
      ],
      undefined,
      [{ column: "sku", code: "CELL_ERROR", message: "last row" }],
    ]);
    expect(Object.hasOwn(rows[1]!, "warnings")).toBe(false);
    const { warnings: _warnings, ...without } = chunkOf();
    expect(chunkRows(without).some((r) => "warnings" in r)).toBe(false);
  });

  it("ignores a warning for a row that is not in the chunk (before, between or after its rows)", () => {
    const rows = chunkRows(
      chunkOf({
        warnings: [
          { row: 1, column: "sku", code: "CELL_ERROR", message: "before" },
          { row: 4, column: "sku", code: "CELL_ERROR", message: "a gap: skipped empty row" },
          { row: 9, column: "sku", code: "CELL_ERROR", message: "after" },
          { row: 5, column: "qty", code: "CELL_ERROR", message: "kept" },
        ],
      }),
    );
    expect(rows.map((r) => r.warnings?.map((w) => w.message))).toEqual([undefined, undefined, ["kept"]]);
  });

  it("finds warnings' rows in a large chunk", () => {
    const count = 10_000;
    const chunk = chunkOf({
      columns: ["n"],
      firstRow: 2,
      lastRow: 2 * count,
      // Every other row number: gaps as skipped empty rows leave them.
      rows: Array.from({ length: count }, (_, i): [number, number] => [2 + 2 * i, i]),
      warnings: [7, 2, 2 * count, 9_998, 3, 2 * count + 2].map((row) => ({
        row,
        column: "n",
        code: "CELL_ERROR",
        message: `row ${row}`,
      })),
    });
    const warned = chunkRows(chunk)
      .filter((r) => r.warnings)
      .map((r) => [r.row, r.warnings!.map((w) => w.message)]);
    expect(warned).toEqual([
      [2, ["row 2"]],
      [9_998, ["row 9998"]],
      [2 * count, [`row ${2 * count}`]],
    ]);
  });

  it("gives rows keyed by names that are Object.prototype's own, as plain data", () => {
    const rows = chunkRows(
      chunkOf({ columns: ["constructor", "toString", "hasOwnProperty"], rows: [[2, "a", "b", null]] }),
    );
    expect(rows[0]!.data).toEqual({ constructor: "a", toString: "b", hasOwnProperty: null });
    expect(Object.getPrototypeOf(rows[0]!.data)).toBe(Object.prototype);
  });

  it('has no prototype pollution path: a "__proto__" column never passes ChunkSchema', () => {
    const line =
      '{"v":3,"uploadId":"u","index":0,"chunkId":"u/000000","firstRow":2,"lastRow":2,' +
      '"columns":["__proto__","polluted"],"rows":[[2,null,true]]}';
    const parsed = ChunkSchema.safeParse(JSON.parse(line));
    expect(parsed.success).toBe(false);
    // A keyed row or warning in the line is not a row of this contract either.
    const keyed =
      '{"v":3,"uploadId":"u","index":0,"chunkId":"u/000000","firstRow":2,"lastRow":2,' +
      '"columns":["polluted"],"rows":[{"row":2,"data":{"__proto__":{"polluted":true}}}]}';
    expect(ChunkSchema.safeParse(JSON.parse(keyed)).success).toBe(false);
    // Extra keys of a warning are dropped by the schema, and never reach Object.prototype.
    const warning =
      '{"v":3,"uploadId":"u","index":0,"chunkId":"u/000000","firstRow":2,"lastRow":2,"columns":["a"],' +
      '"rows":[[2,1]],"warnings":[{"row":2,"column":"a","code":"C","message":"m","__proto__":{"polluted":true}}]}';
    const chunk = ChunkSchema.parse(JSON.parse(warning));
    const rows = chunkRows(chunk);
    expect(rows[0]!.warnings).toEqual([{ column: "a", code: "C", message: "m" }]);
    expect(Object.getPrototypeOf(rows[0]!.warnings![0])).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(rows[0]!.data)).toBe(Object.prototype);
  });
});

describe("rowDataFactory", () => {
  /**
   * The keyed object built one key at a time, each an own data property ("__proto__" too, which an assignment
   * would not add): what the factory must equal, key order included.
   */
  function oneByOne(columns: readonly string[], record: readonly unknown[]) {
    const data: Record<string, unknown> = {};
    columns.forEach((name, k) => {
      Object.defineProperty(data, name, {
        value: record[k + 1],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    });
    return data;
  }
  const refuse = () => {
    throw new EvalError("Code generation from strings disallowed for this context");
  };
  const columnNames = fc.uniqueArray(
    fc.oneof(
      fc.string(),
      fc.string({ unit: "grapheme" }),
      fc.constantFrom("constructor", "__proto__", "0", "1e3", "a\u2028b", '"};'),
    ),
    { minLength: 1, maxLength: 20 },
  );

  it("builds the same object as adding the keys one by one, for any column names, compiled or not", () => {
    fc.assert(
      fc.property(
        columnNames,
        fc.array(fc.oneof(fc.string(), fc.double(), fc.boolean(), fc.constant(null)), {
          minLength: 20,
          maxLength: 20,
        }),
        (columns, values) => {
          const record = [7, ...values.slice(0, columns.length)] as Chunk["rows"][number];
          const expected = oneByOne(columns, record);
          for (const dataOf of [rowDataFactory(columns), rowDataFactory(columns, refuse)]) {
            const data = dataOf(record);
            expect(Object.keys(data)).toEqual(Object.keys(expected));
            // Entries, not toStrictEqual: that compares the objects' `.constructor`, which for a column named
            // "constructor" holding NaN is never equal to itself.
            expect(Object.entries(data)).toEqual(Object.entries(expected));
            expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('makes "__proto__" an own property, never the prototype, compiled or not (though ChunkSchema refuses the name)', () => {
    for (const dataOf of [rowDataFactory(["__proto__", "b"]), rowDataFactory(["__proto__", "b"], refuse)]) {
      const data = dataOf([2, { polluted: true } as never, 1]);
      expect(Object.getOwnPropertyNames(data)).toEqual(["__proto__", "b"]);
      expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
      expect((data as { polluted?: unknown }).polluted).toBeUndefined();
    }
  });

  it("gives chunks with other columns their own keys (one cached column list at a time)", () => {
    const a = chunkRows(chunkOf({ columns: ["x", "y", "z"], rows: [[2, 1, 2, 3]] }));
    const b = chunkRows(chunkOf({ columns: ["z", "y", "x"], rows: [[2, 1, 2, 3]] }));
    const c = chunkRows(chunkOf({ columns: ["x", "y", "z"], rows: [[2, 4, 5, 6]] }));
    expect(a[0]!.data).toEqual({ x: 1, y: 2, z: 3 });
    expect(Object.keys(b[0]!.data)).toEqual(["z", "y", "x"]);
    expect(b[0]!.data).toEqual({ z: 1, y: 2, x: 3 });
    expect(c[0]!.data).toEqual({ x: 4, y: 5, z: 6 });
  });
});

describe("keyedChunk", () => {
  it("is the chunk with its rows keyed (chunkRows), its columns kept, its warnings on their rows", () => {
    const chunk = chunkOf();
    const keyed: KeyedChunk = keyedChunk(chunk);
    const { rows: _rows, warnings: _warnings, ...envelope } = chunk;
    expect(keyed).toEqual({ ...envelope, rows: chunkRows(chunk) });
    expect(keyed.columns).toEqual(["sku", "qty", "note"]);
    expect("warnings" in keyed).toBe(false);
    expect(keyed.rows[1]!.warnings).toEqual([
      { column: "qty", code: "CELL_ERROR", message: "#DIV/0! became null" },
    ]);
    // The compact chunk is left as it was.
    expect(chunk).toEqual(chunkOf());
  });

  it("keeps every row, in the chunk's order, with its row number", () => {
    const keyed = keyedChunk(chunkOf());
    expect(keyed.rows.map((r) => r.row)).toEqual([2, 3, 5]);
    expect(keyed.rows).toHaveLength(chunkOf().rows.length);
  });
});
