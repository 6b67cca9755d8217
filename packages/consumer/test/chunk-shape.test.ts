import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import { type Chunk, ChunkSchema, CONTRACT_VERSION } from "@sluice/contract";
import { describe, expect, it } from "vitest";
import { isPlainChunk } from "../src/chunk-shape.ts";
import { fetchChunk } from "../src/index.ts";

/** A chunk as the converter writes it: every cell type, an empty cell, a row with warnings. */
function validChunk(): Chunk {
  return {
    v: CONTRACT_VERSION,
    uploadId: "u1",
    index: 0,
    chunkId: "u1/000000",
    firstRow: 2,
    lastRow: 4,
    rows: [
      { row: 2, data: { name: "김민준", qty: 3, price: 1.5, paid: true, memo: null } },
      { row: 3, data: { name: "", qty: -0, price: 1e21, paid: false, memo: "x" } },
      {
        row: 4,
        data: {},
        warnings: [{ column: "qty", code: "NUMBER_AS_TEXT", message: "…" }],
      },
    ],
  };
}

/** Each a change to a valid chunk, parsed from JSON as the consumer parses it. */
const MUTATIONS: Record<string, (c: Record<string, unknown> & { rows: Record<string, unknown>[] }) => void> =
  {
    "wrong version": (c) => {
      c.v = CONTRACT_VERSION + 1;
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
    "no rows": (c) => {
      c.rows = [];
    },
    "rows not an array": (c) => {
      c.rows = { 0: c.rows[0] } as never;
    },
    "a missing key": (c) => {
      delete c.chunkId;
    },
    "an extra top-level key (zod strips it)": (c) => {
      c.extra = 1;
    },
    "a top-level __proto__ key": (c) => {
      Object.defineProperty(c, "__proto__", {
        value: {},
        enumerable: true,
        configurable: true,
        writable: true,
      });
    },
    "a row that is null": (c) => {
      c.rows[1] = null as never;
    },
    "a row that is an array": (c) => {
      c.rows[1] = [] as never;
    },
    "a row without data": (c) => {
      delete c.rows[0]!.data;
    },
    "a row number 0": (c) => {
      c.rows[0]!.row = 0;
    },
    "an extra row key (zod strips it)": (c) => {
      c.rows[0]!.note = "x";
    },
    "data that is an array": (c) => {
      c.rows[0]!.data = ["a"];
    },
    "data that is null": (c) => {
      c.rows[0]!.data = null;
    },
    "a cell that is an object": (c) => {
      (c.rows[0]!.data as Record<string, unknown>).qty = { n: 1 };
    },
    "a cell that is an array": (c) => {
      (c.rows[0]!.data as Record<string, unknown>).qty = [1];
    },
    "a data key __proto__ (zod drops it)": (c) => {
      Object.defineProperty(c.rows[0]!.data, "__proto__", {
        value: "x",
        enumerable: true,
        configurable: true,
        writable: true,
      });
    },
    "warnings not an array": (c) => {
      c.rows[2]!.warnings = { column: "a", code: "b", message: "c" };
    },
    "a warning without message": (c) => {
      c.rows[2]!.warnings = [{ column: "a", code: "b" }];
    },
    "a warning with a numeric code": (c) => {
      c.rows[2]!.warnings = [{ column: "a", code: 1, message: "c" }];
    },
    "a warning with an extra key (zod strips it)": (c) => {
      c.rows[2]!.warnings = [{ column: "a", code: "b", message: "c", at: 1 }];
    },
    "warnings null": (c) => {
      c.rows[2]!.warnings = null;
    },
  };

const parsedCopy = () => JSON.parse(JSON.stringify(validChunk()));

describe("isPlainChunk (the fast check in front of ChunkSchema)", () => {
  it("accepts a valid chunk, which ChunkSchema accepts and returns unchanged", () => {
    const json = parsedCopy();
    expect(isPlainChunk(json)).toBe(true);
    const parsed = ChunkSchema.safeParse(json);
    expect(parsed.success).toBe(true);
    expect(parsed.data).toEqual(json);
  });

  it.each(Object.keys(MUTATIONS))("answers false for %s (ChunkSchema judges it)", (name) => {
    const json = parsedCopy();
    MUTATIONS[name]!(json);
    expect(isPlainChunk(json)).toBe(false);
  });

  it("never accepts what ChunkSchema refuses, nor what it would change: every mutation alone and in pairs", () => {
    const names = Object.keys(MUTATIONS);
    const cases = [...names.map((n) => [n]), ...names.flatMap((a) => names.map((b) => [a, b]))];
    for (const applied of cases) {
      const json = parsedCopy();
      try {
        for (const name of applied) MUTATIONS[name]!(json);
      } catch {
        continue; // the first change removed what the second changes
      }
      if (!isPlainChunk(json)) continue;
      const parsed = ChunkSchema.safeParse(json);
      expect(parsed.success, applied.join(" + ")).toBe(true);
      expect(parsed.data, applied.join(" + ")).toStrictEqual(json);
    }
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

  it("still strips keys ChunkSchema strips (the chunk goes to ChunkSchema when the check is unsure)", async () => {
    const chunk = { ...validChunk(), producer: "a newer converter" };
    const bytes = Buffer.from(JSON.stringify(chunk));
    const fetched = await fetchChunk(serve(bytes), pointerFor(bytes, chunk), { maxChunkBytes: 1 << 20 });
    expect(fetched).toStrictEqual(parsedCopy());
  });

  it("still refuses what ChunkSchema refuses, naming the issue (CHUNK_INVALID)", async () => {
    const chunk = validChunk();
    (chunk.rows[0]!.data as Record<string, unknown>).qty = { n: 1 };
    const bytes = Buffer.from(JSON.stringify(chunk));
    await expect(
      fetchChunk(serve(bytes), pointerFor(bytes, chunk), { maxChunkBytes: 1 << 20 }),
    ).rejects.toMatchObject({ code: "CHUNK_INVALID", message: expect.stringContaining("rows.0.data.qty") });
  });
});
