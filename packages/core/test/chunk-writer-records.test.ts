import { type ChunkBounds, ChunkSchema, chunkRows } from "@sluice/contract";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ChunkMeta, ChunkWriter, RecordEncoder } from "../src/chunk-writer.ts";
import type { ByteRecord, CellValue } from "../src/workbook-reader.ts";

/**
 * A byte record of `values` (null: an empty cell) as the csv scanner gives one: the values back to back in UTF-8,
 * a quoted value with its quotes doubled (the encoder undoes them), after `lead` bytes of something else.
 */
function byteRecord(row: number, values: (string | null)[], quotedFlags: boolean[], lead = 3): ByteRecord {
  const parts: Buffer[] = [Buffer.from("x".repeat(lead))];
  let at = lead;
  const starts = new Int32Array(values.length);
  const ends = new Int32Array(values.length);
  const quoted = new Uint8Array(values.length);
  values.forEach((value, i) => {
    const q = quotedFlags[i] === true;
    const bytes = Buffer.from(q ? (value ?? "").replaceAll('"', '""') : (value ?? ""), "utf8");
    starts[i] = at;
    ends[i] = at + bytes.length;
    quoted[i] = q ? 1 : 0;
    parts.push(bytes, Buffer.from(","));
    at += bytes.length + 1;
  });
  const bytes = Buffer.concat(parts);
  return {
    row,
    bytes,
    count: values.length,
    starts,
    ends,
    quoted,
    span: values.length > 0 ? ends[values.length - 1]! - starts[0]! : 0,
    text: (i) => values[i] ?? "",
  };
}

/** What the string path serializes for the same row: `JSON.stringify([row, ...values])`, header order, null for empty. */
function expectedJson(row: number, columns: number[], values: (string | null)[]): string {
  return JSON.stringify([
    row,
    ...columns.map((c) => (values[c] === undefined || values[c] === "" ? null : values[c])),
  ]);
}

// Text with everything JSON has to escape, next to multi-byte text and quotes.
const value = fc.oneof(
  fc.constant(null),
  fc.string({ unit: "grapheme", maxLength: 8 }),
  fc
    .array(
      fc.constantFrom(
        '"',
        '""',
        "\\",
        "\n",
        "\r",
        "\t",
        "\b",
        "\f",
        "\u0000",
        "\u001f",
        "\u007f",
        "\u2028",
        "a",
        "가",
        "😀",
      ),
      {
        maxLength: 10,
      },
    )
    .map((parts) => parts.join("")),
);

describe("RecordEncoder", () => {
  it("writes the bytes JSON.stringify writes for the same row, escapes and quoted fields included", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(value, fc.boolean()), { maxLength: 8 }),
        fc.uniqueArray(
          fc.oneof(
            fc.string({ maxLength: 6 }),
            fc.constantFrom("__proto__", 'a"b', "\\", "이름", "1", "10", "2", "007", "4294967295"),
          ),
          {
            minLength: 1,
            maxLength: 10,
          },
        ),
        fc.integer({ min: 1, max: 2_000_000_000 }),
        (cells, names, row) => {
          // Header columns: some inside the record, some beyond it (written as null), in ascending order.
          const columns = names.map((_, k) => k);
          const values = cells.map(([v]) => v);
          const record = byteRecord(
            row,
            values,
            cells.map(([, q]) => q),
          );
          const encoder = new RecordEncoder();
          encoder.setHeader(columns);
          const out = Buffer.alloc(encoder.maxBytes(record) + 8);
          const end = encoder.encode(record, out, 5);
          const json = out.toString("utf8", 5, end);
          expect(json).toBe(expectedJson(row, columns, values));
          expect(end - 5).toBe(encoder.exactBytes(record));
          expect(end - 5).toBeLessThanOrEqual(encoder.maxBytes(record));
        },
      ),
      { seed: 14, numRuns: 2000 },
    );
  });
});

const NAMES = ["a", "b", "c", "d"];

function collect() {
  const lines: { line: Buffer; meta: ChunkMeta }[] = [];
  return {
    lines,
    sink: {
      async writeChunk(line: Buffer, meta: ChunkMeta) {
        lines.push({ line: Buffer.from(line), meta }); // lent: copied to keep
      },
    },
  };
}

/** The reference writer: each row's JSON string through `add`, then flushed; the chunks and each add's answer. */
async function throughStrings(bounds: ChunkBounds, rows: [json: string, row: number][], names = NAMES) {
  const via = collect();
  const writer = new ChunkWriter("up-1", bounds, via.sink);
  writer.setColumns(names);
  const results: unknown[] = [];
  for (const [json, row] of rows) results.push(await writer.add(json, row));
  await writer.flush();
  return { via, results };
}

describe("ChunkWriter.addRecord", () => {
  it("cuts the same chunks as add() with the row's JSON string, and refuses the same rows as too large", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(value, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1024, max: 1400 }),
        async (rows, rowBound, chunkBytes) => {
          const columns = [0, 1, 2, 3];
          const bounds = { rows: rowBound, bytes: chunkBytes };
          const big = (values: (string | null)[], r: number) =>
            r % 5 === 0 ? values.map((v) => (v === null ? v : v.repeat(80))) : values;
          const { via: viaString, results: stringResults } = await throughStrings(
            bounds,
            rows.map((row, r) => [expectedJson(r + 2, columns, big(row, r)), r + 2]),
          );

          const viaBytes = collect();
          const byteWriter = new ChunkWriter("up-1", bounds, viaBytes.sink);
          byteWriter.setColumns(NAMES);
          const encoder = new RecordEncoder();
          encoder.setHeader(columns);
          const byteResults: unknown[] = [];
          for (let r = 0; r < rows.length; r++) {
            const values = big(rows[r]!, r);
            const record = byteRecord(
              r + 2,
              values,
              values.map((_, i) => (r + i) % 2 === 0),
            );
            byteResults.push(byteWriter.addRecord(encoder, record));
            if (r % 3 === 0) await byteWriter.drain();
          }
          await byteWriter.flush();

          expect(byteResults).toEqual(stringResults);
          expect(viaBytes.lines.map((l) => l.meta)).toEqual(viaString.lines.map((l) => l.meta));
          expect(Buffer.concat(viaBytes.lines.map((l) => l.line))).toEqual(
            Buffer.concat(viaString.lines.map((l) => l.line)),
          );
        },
      ),
      { seed: 14, numRuns: 300 },
    );
  });

  it("hands sealed chunks to the sink only on drain, one at a time and in order, the last left writing", async () => {
    const started: number[] = [];
    const order: number[] = [];
    let writing = 0;
    const writer = new ChunkWriter(
      "up-1",
      { rows: 2, bytes: 100_000 },
      {
        async writeChunk(_line, meta) {
          expect(writing).toBe(0);
          writing++;
          started.push(meta.index);
          await new Promise((resolve) => setTimeout(resolve, 1));
          order.push(meta.index);
          writing--;
        },
      },
    );
    writer.setColumns(["v"]);
    const encoder = new RecordEncoder();
    encoder.setHeader([0]);
    for (let r = 2; r < 9; r++) writer.addRecord(encoder, byteRecord(r, [`v${r}`], [false]));
    expect(started).toEqual([]);
    await writer.drain();
    // The last chunk handed over is still being written while the caller goes on reading rows.
    expect(started).toEqual([0, 1, 2]);
    expect(order).toEqual([0, 1]);
    await writer.flush();
    expect(order).toEqual([0, 1, 2, 3]);
  });

  it("throws a write that failed in flight from the next drain, and none is left unhandled", async () => {
    let calls = 0;
    const writer = new ChunkWriter(
      "up-1",
      { rows: 1, bytes: 100_000 },
      {
        async writeChunk() {
          calls++;
          await new Promise((resolve) => setTimeout(resolve, 1));
          throw new Error("disk full");
        },
      },
    );
    writer.setColumns(["v"]);
    const encoder = new RecordEncoder();
    encoder.setHeader([0]);
    writer.addRecord(encoder, byteRecord(2, ["a"], [false]));
    writer.addRecord(encoder, byteRecord(3, ["b"], [false]));
    // The first write fails while in flight; the drain that follows reports it rather than writing on.
    await writer.drain();
    writer.addRecord(encoder, byteRecord(4, ["c"], [false]));
    await expect(writer.drain()).rejects.toMatchObject({ code: "OUTPUT_WRITE_FAILED" });
    expect(calls).toBe(1);
  });
});

// Every kind of cell value a reader gives, with the ones JSON.stringify treats specially.
const cell: fc.Arbitrary<CellValue | undefined> = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.double(),
  fc.constantFrom(-0, Number.NaN, Number.POSITIVE_INFINITY, -1.2345678901234567e-6, 1e21, 5e-324),
  fc.integer(),
  fc.string({ unit: "binary", maxLength: 8 }),
  fc.string({
    unit: fc.constantFrom(
      "\ud800",
      "\udfff",
      "\ud83d",
      "\ude00",
      '"',
      "\\",
      "\u0000",
      "\n",
      "가",
      "a",
      "\u2028",
    ),
    maxLength: 8,
  }),
);

describe("RecordEncoder.encodeCells", () => {
  it("writes the bytes JSON.stringify and Buffer.write give for the same row: lone surrogates, -0, NaN, holes", () => {
    fc.assert(
      fc.property(
        fc.array(cell, { maxLength: 10 }),
        fc.uniqueArray(fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom("1", "10", "x y", "이름")), {
          minLength: 1,
          maxLength: 10,
        }),
        fc.integer({ min: 1, max: 2_000_000_000 }),
        (cells, names, row) => {
          const columns = names.map((_, k) => k);
          const encoder = new RecordEncoder();
          encoder.setHeader(columns);
          const expected = Buffer.from(
            JSON.stringify([row, ...columns.map((c) => cells[c] ?? null)]),
            "utf8",
          );
          const out = Buffer.alloc(encoder.maxCellsBytes(cells) + 8);
          const end = encoder.encodeCells(cells, row, out, 2);
          expect(out.subarray(2, end)).toEqual(expected);
          expect(end - 2).toBe(encoder.exactCellsBytes(cells, row));
        },
      ),
      { seed: 14, numRuns: 3000 },
    );
  });

  it("cuts the same chunks through addCells as through add() with JSON.stringify", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(cell, { maxLength: 4 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1024, max: 1400 }),
        async (rows, rowBound, chunkBytes) => {
          const columns = [0, 1, 2, 3];
          const bounds = { rows: rowBound, bytes: chunkBytes };
          const widen = (cells: (CellValue | undefined)[], r: number) =>
            r % 5 === 0 ? cells.map((v) => (typeof v === "string" ? v.repeat(120) : v)) : cells;
          const json = (cells: (CellValue | undefined)[], row: number) =>
            JSON.stringify([row, ...columns.map((c) => cells[c] ?? null)]);
          const { via: viaString, results: stringResults } = await throughStrings(
            bounds,
            rows.map((row, r) => [json(widen(row, r), r + 2), r + 2]),
          );
          const viaCells = collect();
          const cellWriter = new ChunkWriter("up-1", bounds, viaCells.sink);
          cellWriter.setColumns(NAMES);
          const encoder = new RecordEncoder();
          encoder.setHeader(columns);
          const cellResults: unknown[] = [];
          for (let r = 0; r < rows.length; r++) {
            cellResults.push(cellWriter.addCells(encoder, widen(rows[r]!, r), r + 2));
            if (r % 4 === 0) await cellWriter.drain();
          }
          await cellWriter.flush();
          expect(cellResults).toEqual(stringResults);
          expect(Buffer.concat(viaCells.lines.map((l) => l.line))).toEqual(
            Buffer.concat(viaString.lines.map((l) => l.line)),
          );
          expect(viaCells.lines.map((l) => l.meta)).toEqual(viaString.lines.map((l) => l.meta));
        },
      ),
      { seed: 14, numRuns: 300 },
    );
  });
});

describe("ChunkWriter: a chunk's columns and warnings", () => {
  it("closes the chunk being filled when the columns change; each chunk names its own", async () => {
    const via = collect();
    const writer = new ChunkWriter("up-1", { rows: 100, bytes: 100_000 }, via.sink);
    const encoder = new RecordEncoder();
    writer.setColumns(["a"]);
    encoder.setHeader([0]);
    // Columns set again before any row: no empty chunk.
    writer.setColumns(["a"]);
    writer.addCells(encoder, ["x"], 2);
    writer.addCells(encoder, ["y"], 3);
    writer.setColumns(["column_0", "a"]);
    encoder.setHeader([0, 1]);
    writer.addCells(encoder, ["p", "q"], 4);
    await writer.flush();
    const chunks = via.lines.map((l) => ChunkSchema.parse(JSON.parse(l.line.toString("utf8"))));
    expect(chunks.map((c) => [c.columns, c.rows])).toEqual([
      [
        ["a"],
        [
          [2, "x"],
          [3, "y"],
        ],
      ],
      [["column_0", "a"], [[4, "p", "q"]]],
    ]);
  });

  it("keeps each row's warnings in its chunk, every line within the byte bound, and refuses only what fits nowhere", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            cells: fc.array(cell, { minLength: 2, maxLength: 2 }),
            warnings: fc.array(fc.string({ unit: "grapheme", maxLength: 60 }), { maxLength: 3 }),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1024, max: 1400 }),
        async (rows, chunkRowBound, chunkBytes) => {
          const via = collect();
          const writer = new ChunkWriter("up-1", { rows: chunkRowBound, bytes: chunkBytes }, via.sink);
          const encoder = new RecordEncoder();
          writer.setColumns(["a", "b"]);
          encoder.setHeader([0, 1]);
          const kept: { row: number; warnings: string[] }[] = [];
          for (let r = 0; r < rows.length; r++) {
            const { cells, warnings } = rows[r]!;
            const row = r + 2;
            // Every fifth row's messages are long enough that some cannot fit a chunk at all.
            const messages = r % 5 === 0 ? warnings.map((m) => m.repeat(20)) : warnings;
            const json = messages.map((message) => JSON.stringify({ row, column: "b", code: "W", message }));
            // The row and its warnings in a chunk of their own: `,"warnings":[` ... `]` around them.
            const alone =
              encoder.exactCellsBytes(cells, row) +
              (json.length > 0 ? ',"warnings":['.length + 1 + Buffer.byteLength(json.join(",")) : 0);
            const added = writer.addCells(encoder, cells, row, json);
            expect(added).toEqual(
              alone <= writer.maxRowBytes ? { added: true } : { added: false, bytes: alone },
            );
            if (added.added) kept.push({ row, warnings: messages });
            if (r % 4 === 0) await writer.drain();
          }
          await writer.flush();
          const chunks = via.lines.map((l) => {
            expect(l.line.length - 1).toBeLessThanOrEqual(chunkBytes);
            expect(l.meta.bytes).toBe(l.line.length - 1);
            return ChunkSchema.parse(JSON.parse(l.line.toString("utf8")));
          });
          const rowsBack = chunks.flatMap((c) => chunkRows(c));
          expect(rowsBack.map((r) => r.row)).toEqual(kept.map((k) => k.row));
          expect(rowsBack.map((r) => (r.warnings ?? []).map((w) => w.message))).toEqual(
            kept.map((k) => k.warnings),
          );
        },
      ),
      { seed: 14, numRuns: 300 },
    );
  });
});
