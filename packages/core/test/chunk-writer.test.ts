import { createHash } from "node:crypto";
import { ChunkPointerSchema, ChunkSchema, chunkRows } from "@sluice/contract";
import { describe, expect, it } from "vitest";
import { bufferSource } from "../src/byte-source.ts";
import { type ChunkMeta, ChunkWriter, chunkPointer } from "../src/chunk-writer.ts";
import { convertWorkbook } from "../src/convert-workbook.ts";
import { OutputWriteError, type SluiceError } from "../src/errors.ts";

function collect() {
  const lines: { line: string; meta: ChunkMeta }[] = [];
  return {
    lines,
    sink: {
      async writeChunk(line: Buffer, meta: ChunkMeta) {
        expect(line.at(-1)).toBe(0x0a);
        lines.push({ line: line.subarray(0, -1).toString("utf8"), meta });
      },
    },
  };
}

function rowJson(row: number, text: string) {
  const json = JSON.stringify([row, text]);
  return { json, bytes: Buffer.byteLength(json) };
}

describe("ChunkWriter", () => {
  it("cuts chunks at the row bound", async () => {
    const { lines, sink } = collect();
    const writer = new ChunkWriter("up-1", { rows: 3, bytes: 100_000 }, sink);
    writer.setColumns(["text"]);
    for (let row = 2; row < 10; row++) {
      const { json } = rowJson(row, `r${row}`);
      await writer.add(json, row);
    }
    await writer.flush();
    expect(lines.map((l) => l.meta.rows)).toEqual([3, 3, 2]);
    const chunks = lines.map((l) => ChunkSchema.parse(JSON.parse(l.line)));
    expect(chunks.map((c) => [c.index, c.firstRow, c.lastRow])).toEqual([
      [0, 2, 4],
      [1, 5, 7],
      [2, 8, 9],
    ]);
    expect(chunks[1]!.chunkId).toBe("up-1/000001");
    expect(writer.chunks).toBe(3);
    expect(writer.bytes).toBe(lines.reduce((sum, l) => sum + Buffer.byteLength(l.line) + 1, 0));
  });

  it.each([1024, 4096, 10_000])(
    "never writes a line over %i bytes, multibyte text included",
    async (limit) => {
      const { lines, sink } = collect();
      const writer = new ChunkWriter("업로드", { rows: 10_000, bytes: limit }, sink);
      writer.setColumns(["text"]);
      for (let row = 1; row <= 300; row++) {
        const { json, bytes } = rowJson(row, "한글".repeat(row % 37));
        expect(bytes).toBeLessThanOrEqual(writer.maxRowBytes);
        await writer.add(json, row);
      }
      await writer.flush();
      for (const { line, meta } of lines) {
        expect(Buffer.byteLength(line)).toBe(meta.bytes);
        expect(meta.bytes).toBeLessThanOrEqual(limit);
      }
      const rows = lines.flatMap((l) => chunkRows(ChunkSchema.parse(JSON.parse(l.line))).map((r) => r.row));
      expect(rows).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    },
  );

  it("fits a row of exactly maxRowBytes alone in a chunk", async () => {
    const { lines, sink } = collect();
    const writer = new ChunkWriter("u", { rows: 10, bytes: 2048 }, sink);
    writer.setColumns(["text"]);
    const prefix = JSON.stringify([7, ""]).length;
    const { json, bytes } = rowJson(7, "x".repeat(writer.maxRowBytes - prefix));
    expect(bytes).toBe(writer.maxRowBytes);
    await writer.add(json, 7);
    await writer.flush();
    expect(lines).toHaveLength(1);
    expect(lines[0]!.meta.bytes).toBeLessThanOrEqual(2048);
  });

  it("gives each chunk its offset in the file and the SHA-256 of its bytes, what a pointer names", async () => {
    const { lines, sink } = collect();
    const writer = new ChunkWriter("up-1", { rows: 4, bytes: 100_000 }, sink);
    writer.setColumns(["text"]);
    for (let row = 2; row < 13; row++) await writer.add(rowJson(row, "é".repeat(row)).json, row);
    await writer.flush();
    // The file as a sink writes it: every line with its newline, one after the other.
    const file = Buffer.concat(lines.map((l) => Buffer.from(`${l.line}\n`)));
    expect(lines.map((l) => l.meta.offset)).toEqual(
      lines.map((_, i) => lines.slice(0, i).reduce((sum, l) => sum + l.meta.bytes + 1, 0)),
    );
    for (const { meta } of lines) {
      const range = file.subarray(meta.offset, meta.offset + meta.bytes);
      expect(ChunkSchema.parse(JSON.parse(range.toString("utf8"))).index).toBe(meta.index);
      expect(meta.sha256).toBe(createHash("sha256").update(range).digest("base64"));
      expect(file[meta.offset + meta.bytes]).toBe(0x0a);
    }
    const pointer = chunkPointer(lines[1]!.meta, "uploads", "processed/up-1/chunks.jsonl");
    expect(ChunkPointerSchema.parse(pointer)).toEqual({
      index: 1,
      chunkId: "up-1/000001",
      firstRow: 6,
      lastRow: 9,
      rows: 4,
      bucket: "uploads",
      key: "processed/up-1/chunks.jsonl",
      offset: lines[0]!.meta.bytes + 1,
      length: lines[1]!.meta.bytes,
      sha256: lines[1]!.meta.sha256,
    });
  });

  it("lends a full chunk's bytes until its write settles, then fills them again; a short chunk is a copy", async () => {
    // A sink that reads the bytes only after an await, as a network or disk write does.
    const lines: string[] = [];
    const buffers: ArrayBufferLike[] = [];
    let writing = 0;
    const sink = {
      async writeChunk(line: Buffer) {
        writing++;
        const before = line.toString("utf8");
        await new Promise((resolve) => setTimeout(resolve, 1));
        expect(line.toString("utf8")).toBe(before);
        lines.push(before);
        buffers.push(line.buffer);
        writing--;
      },
    };
    const writer = new ChunkWriter("up-lend", { rows: 40, bytes: 2048 }, sink);
    writer.setColumns(["text"]);
    let row = 1;
    // Rows of ~60 bytes: 2 KiB fills well before 40 rows (lent), then rows of ~12 bytes hit the row bound first.
    for (; row <= 400; row++) await writer.add(rowJson(row, "x".repeat(48 + (row % 7))).json, row);
    for (; row <= 600; row++) await writer.add(JSON.stringify([row, null]), row);
    await writer.flush();
    expect(writing).toBe(0);
    const chunks = lines.map((line) => ChunkSchema.parse(JSON.parse(line)));
    expect(chunks.flatMap((c) => c.rows.map((r) => r[0]))).toEqual(
      Array.from({ length: 600 }, (_, i) => i + 1),
    );
    // The full chunks came from a few buffers used again and again; the short ones (the last five) are copies.
    const full = chunks.findIndex((c) => c.firstRow > 400);
    expect(full).toBeGreaterThan(10);
    const lent = new Set(buffers.slice(0, full - 1));
    expect(lent.size).toBeLessThanOrEqual(3);
    expect(buffers.slice(-4).filter((b) => lent.has(b))).toEqual([]);
  });

  it("writes nothing when no row was added", async () => {
    const { lines, sink } = collect();
    const writer = new ChunkWriter("u", { rows: 10, bytes: 2048 }, sink);
    writer.setColumns(["text"]);
    await writer.flush();
    expect(lines).toHaveLength(0);
  });

  it("a sink's untyped failure is OUTPUT_WRITE_FAILED (retryable), its typed one passes unchanged", async () => {
    const failing = (error: unknown) => ({
      async writeChunk() {
        throw error;
      },
    });
    const plain = await convertWorkbook({
      source: bufferSource(Buffer.from("a\n1\n"), "in.csv"),
      uploadId: "u",
      sink: failing(new Error("socket hang up")),
    }).catch((e: unknown) => e as SluiceError);
    expect(plain).toMatchObject({ code: "OUTPUT_WRITE_FAILED", retryable: true });
    expect((plain as SluiceError).message).toMatch(/Writing chunk 0 failed: socket hang up/);
    const typed = new OutputWriteError("the bucket said no");
    const writer = new ChunkWriter("u", { rows: 1, bytes: 2048 }, failing(typed));
    writer.setColumns(["text"]);
    await expect(
      Promise.resolve(writer.add(rowJson(2, "x").json, 2)).then(() => writer.flush()),
    ).rejects.toBe(typed);
  });
});
