import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import { type Chunk, ChunkSchema, CONTRACT_VERSION, keyedChunk } from "@sluice/contract";
import { describe, expect, it } from "vitest";
import { isPlainChunk } from "../src/chunk-shape.ts";
import { fetchChunk } from "../src/index.ts";

/** A chunk as the converter writes it: every cell type, empty cells, a row with a warning. */
function validChunk(): Chunk {
  return {
    v: CONTRACT_VERSION,
    uploadId: "u1",
    index: 0,
    chunkId: "u1/000000",
    firstRow: 2,
    lastRow: 4,
    columns: ["name", "qty", "price", "paid", "memo"],
    rows: [
      [2, "김민준", 3, 1.5, true, null],
      [3, "", -0, 1e21, false, "x"],
      [4, null, null, null, null, null],
    ],
    warnings: [{ row: 4, column: "qty", code: "NUMBER_AS_TEXT", message: "…" }],
  };
}

/** A chunk parsed from JSON, as the consumer parses it, for the mutations to change. */
type Parsed = Record<string, unknown> & {
  columns: unknown[];
  rows: unknown[][];
  warnings: Record<string, unknown>[];
};

const parsedCopy = (): Parsed => JSON.parse(JSON.stringify(validChunk()));

const defineProto = (target: object, value: unknown) =>
  Object.defineProperty(target, "__proto__", { value, enumerable: true, configurable: true, writable: true });

/** Each a change to a valid chunk that ChunkSchema refuses, or accepts but would return changed. */
const MUTATIONS: Record<string, (c: Parsed) => void> = {
  // The envelope.
  "wrong version": (c) => {
    c.v = CONTRACT_VERSION + 1;
  },
  "the previous contract version": (c) => {
    c.v = CONTRACT_VERSION - 1;
  },
  "empty uploadId": (c) => {
    c.uploadId = "";
  },
  "numeric chunkId": (c) => {
    c.chunkId = 7;
  },
  "negative index": (c) => {
    c.index = -1;
  },
  "fractional index": (c) => {
    c.index = 0.5;
  },
  "firstRow 0": (c) => {
    c.firstRow = 0;
  },
  "lastRow beyond the safe integers": (c) => {
    c.lastRow = 2 ** 53;
  },
  "lastRow as text": (c) => {
    c.lastRow = "4";
  },
  "a missing key": (c) => {
    delete c.chunkId;
  },
  "no columns key": (c) => {
    delete (c as Record<string, unknown>).columns;
  },
  "no rows key": (c) => {
    delete (c as Record<string, unknown>).rows;
  },
  "an extra top-level key (zod strips it)": (c) => {
    c.extra = 1;
  },
  "a top-level __proto__ key": (c) => {
    defineProto(c, {});
  },
  "a top-level data key (a contract 2 habit)": (c) => {
    c.data = {};
  },
  // The columns.
  "empty columns": (c) => {
    c.columns = [];
  },
  "columns not an array": (c) => {
    c.columns = "name,qty,price,paid,memo" as never;
  },
  "columns as an object": (c) => {
    c.columns = { 0: "name", 1: "qty", 2: "price", 3: "paid", 4: "memo", length: 5 } as never;
  },
  "a duplicate column": (c) => {
    c.columns[1] = "name";
  },
  "a __proto__ column": (c) => {
    c.columns[4] = "__proto__";
  },
  "a numeric column name": (c) => {
    c.columns[1] = 1;
  },
  "a null column name": (c) => {
    c.columns[0] = null;
  },
  "a column more than the rows have": (c) => {
    c.columns.push("extra");
  },
  "a column fewer than the rows have": (c) => {
    c.columns.pop();
  },
  // The rows.
  "no rows": (c) => {
    c.rows = [];
  },
  "rows not an array": (c) => {
    c.rows = { 0: c.rows[0] } as never;
  },
  "a row that is null": (c) => {
    c.rows[1] = null as never;
  },
  "a row that is an object (contract 2's keyed row)": (c) => {
    c.rows[1] = { row: 3, data: { name: "", qty: 0, price: 1e21, paid: false, memo: "x" } } as never;
  },
  "a row that is an empty array": (c) => {
    c.rows[1] = [];
  },
  "a row of the row number only": (c) => {
    c.rows[1] = [3];
  },
  "a row one value short": (c) => {
    c.rows[0]!.pop();
  },
  "a row one value long": (c) => {
    c.rows[2]!.push(null);
  },
  "every row one value short": (c) => {
    for (const row of c.rows) row.pop();
  },
  "a row number 0": (c) => {
    c.rows[0]![0] = 0;
  },
  "a negative row number": (c) => {
    c.rows[0]![0] = -2;
  },
  "a fractional row number": (c) => {
    c.rows[0]![0] = 2.5;
  },
  "a row number beyond the safe integers": (c) => {
    c.rows[0]![0] = 2 ** 53;
  },
  "a row number as text": (c) => {
    c.rows[0]![0] = "2";
  },
  "a row number null": (c) => {
    c.rows[0]![0] = null;
  },
  "a cell that is an object": (c) => {
    c.rows[0]![2] = { n: 1 };
  },
  "a cell that is an array": (c) => {
    c.rows[0]![2] = [1];
  },
  "a cell that is Infinity": (c) => {
    c.rows[1]![3] = Number.POSITIVE_INFINITY;
  },
  "a cell that is NaN": (c) => {
    c.rows[1]![3] = Number.NaN;
  },
  "a cell that is undefined": (c) => {
    c.rows[1]![5] = undefined;
  },
  "a row with a hole": (c) => {
    delete c.rows[1]![2];
  },
  // The warnings.
  "empty warnings": (c) => {
    c.warnings = [];
  },
  "warnings null": (c) => {
    c.warnings = null as never;
  },
  "warnings not an array": (c) => {
    c.warnings = { row: 4, column: "a", code: "b", message: "c" } as never;
  },
  "a warning that is null": (c) => {
    c.warnings[0] = null as never;
  },
  "a warning that is an array": (c) => {
    c.warnings[0] = [4, "a", "b", "c"] as never;
  },
  "a warning without row (contract 2's row warning)": (c) => {
    delete c.warnings[0]!.row;
  },
  "a warning without message": (c) => {
    delete c.warnings[0]!.message;
  },
  "a warning with row 0": (c) => {
    c.warnings[0]!.row = 0;
  },
  "a warning with a fractional row": (c) => {
    c.warnings[0]!.row = 4.5;
  },
  "a warning with the row as text": (c) => {
    c.warnings[0]!.row = "4";
  },
  "a warning with a numeric code": (c) => {
    c.warnings[0]!.code = 1;
  },
  "a warning with a null column": (c) => {
    c.warnings[0]!.column = null;
  },
  "a warning with an extra key (zod strips it)": (c) => {
    c.warnings[0]!.at = 1;
  },
  "a warning with a __proto__ key": (c) => {
    defineProto(c.warnings[0]!, {});
  },
};

/** Each a change to a valid chunk that stays valid: the fast check accepts it, ChunkSchema returns it unchanged. */
const VALID_VARIANTS: Record<string, (c: Parsed) => void> = {
  "no warnings": (c) => {
    delete (c as Record<string, unknown>).warnings;
  },
  "one column": (c) => {
    c.columns = ["name"];
    c.rows = c.rows.map((row) => row.slice(0, 2));
  },
  "one row": (c) => {
    c.rows = [c.rows[0]!];
  },
  "column names an object has (constructor, toString, an empty name)": (c) => {
    c.columns = ["constructor", "toString", "", "hasOwnProperty", "__proto__ "];
  },
  "several warnings, on a row not in the chunk too": (c) => {
    c.warnings.push(
      { row: 2, column: "memo", code: "X", message: "" },
      { row: 99, column: "", code: "", message: "" },
    );
  },
  "a row number beyond lastRow (the pointer check, not the schema, refuses it)": (c) => {
    c.rows[2]![0] = 40;
  },
};

describe("isPlainChunk (the fast check in front of ChunkSchema)", () => {
  it("accepts a valid chunk, which ChunkSchema accepts and returns unchanged", () => {
    const json = parsedCopy();
    expect(isPlainChunk(json)).toBe(true);
    const parsed = ChunkSchema.safeParse(json);
    expect(parsed.success).toBe(true);
    expect(parsed.data).toStrictEqual(json);
  });

  it.each(Object.keys(VALID_VARIANTS))("accepts a valid chunk with %s", (name) => {
    const json = parsedCopy();
    VALID_VARIANTS[name]!(json);
    expect(isPlainChunk(json)).toBe(true);
    const parsed = ChunkSchema.safeParse(json);
    expect(parsed.success).toBe(true);
    expect(parsed.data).toStrictEqual(json);
  });

  it.each(Object.keys(MUTATIONS))("answers false for %s (ChunkSchema judges it)", (name) => {
    const json = parsedCopy();
    MUTATIONS[name]!(json);
    expect(isPlainChunk(json)).toBe(false);
  });

  it.each([null, undefined, 3, "chunk", [], new Map(), Object.create(null)])(
    "answers false for %o",
    (value) => {
      expect(isPlainChunk(value)).toBe(false);
    },
  );

  it("answers false for a chunk whose prototype is not Object.prototype", () => {
    expect(isPlainChunk(Object.assign(Object.create(null), parsedCopy()))).toBe(false);
  });

  it("never accepts what ChunkSchema refuses, nor what it would change: every change alone and in pairs", () => {
    const changes = { ...MUTATIONS, ...VALID_VARIANTS };
    const names = Object.keys(changes);
    const cases = [...names.map((n) => [n]), ...names.flatMap((a) => names.map((b) => [a, b]))];
    let accepted = 0;
    for (const applied of cases) {
      const json = parsedCopy();
      try {
        for (const name of applied) changes[name]!(json);
      } catch {
        continue; // the first change removed what the second changes
      }
      if (!isPlainChunk(json)) continue;
      accepted++;
      const parsed = ChunkSchema.safeParse(json);
      expect(parsed.success, applied.join(" + ")).toBe(true);
      expect(parsed.data, applied.join(" + ")).toStrictEqual(json);
    }
    // Some pairs are valid again (a column fewer + every row one value short): the property is not vacuous.
    expect(accepted).toBeGreaterThan(Object.keys(VALID_VARIANTS).length ** 2 / 2);
  });
});

describe("fetchChunk with the fast check", () => {
  const serve = (bytes: Buffer) =>
    ({
      send: async () => ({ Body: Readable.from([bytes]), ContentLength: bytes.length }),
    }) as unknown as S3Client;
  const pointerFor = (bytes: Buffer, chunk: Chunk) => ({
    uploadId: chunk.uploadId,
    chunk: {
      index: chunk.index,
      chunkId: chunk.chunkId,
      firstRow: chunk.firstRow,
      lastRow: chunk.lastRow,
      rows: chunk.rows.length,
      bucket: "b",
      key: "k",
      offset: 0,
      length: bytes.length,
      sha256: createHash("sha256").update(bytes).digest("base64"),
    },
  });

  it("hands the handler the same keyed chunk whether the fast check or ChunkSchema accepted it", async () => {
    const chunk = validChunk();
    const bytes = Buffer.from(JSON.stringify(chunk));
    const fetched = await fetchChunk(serve(bytes), pointerFor(bytes, chunk), { maxChunkBytes: 1 << 20 });
    expect(fetched).toStrictEqual(keyedChunk(ChunkSchema.parse(JSON.parse(bytes.toString()))));
    expect(fetched.columns).toEqual(["name", "qty", "price", "paid", "memo"]);
    expect(fetched.rows[0]).toStrictEqual({
      row: 2,
      data: { name: "김민준", qty: 3, price: 1.5, paid: true, memo: null },
    });
    expect(fetched.rows[2]).toStrictEqual({
      row: 4,
      data: { name: null, qty: null, price: null, paid: null, memo: null },
      warnings: [{ column: "qty", code: "NUMBER_AS_TEXT", message: "…" }],
    });
  });

  it("still strips keys ChunkSchema strips (the chunk goes to ChunkSchema when the check is unsure)", async () => {
    const chunk = { ...validChunk(), producer: "a newer converter" };
    const bytes = Buffer.from(JSON.stringify(chunk));
    const fetched = await fetchChunk(serve(bytes), pointerFor(bytes, chunk), { maxChunkBytes: 1 << 20 });
    expect(fetched).toStrictEqual(keyedChunk(parsedCopy() as unknown as Chunk));
    expect(fetched).not.toHaveProperty("producer");
  });

  it.each<[string, (c: Chunk) => void, string]>([
    [
      "a cell ChunkSchema refuses",
      (c) => {
        (c.rows[0] as unknown[])[2] = { n: 1 };
      },
      "rows.0.2",
    ],
    [
      "a row of the wrong width",
      (c) => {
        c.rows[1]!.pop();
      },
      "rows.1: has 4 values, the chunk has 5 columns",
    ],
    [
      "a duplicate column",
      (c) => {
        c.columns[1] = "name";
      },
      "columns: column names repeat",
    ],
    [
      "an empty warnings list",
      (c) => {
        c.warnings = [];
      },
      "warnings: Too small",
    ],
  ])("still refuses %s, naming the issue (CHUNK_INVALID)", async (_, mutate, issue) => {
    const chunk = validChunk();
    mutate(chunk);
    const bytes = Buffer.from(JSON.stringify(chunk));
    await expect(
      fetchChunk(serve(bytes), pointerFor(bytes, chunk), { maxChunkBytes: 1 << 20 }),
    ).rejects.toMatchObject({ code: "CHUNK_INVALID", message: expect.stringContaining(issue) });
  });
});
