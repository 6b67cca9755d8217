import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChunkSchema, chunkRows } from "@sluice/contract";
import { describe, expect, it } from "vitest";
import { convertToJsonl } from "../src/examples/convert-to-jsonl.ts";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const example = readFileSync(new URL("../src/examples/convert-to-jsonl.ts", import.meta.url), "utf8");

describe("README usage snippet", () => {
  it("is src/examples/convert-to-jsonl.ts, verbatim (which tsc checks)", () => {
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
  });

  it("runs", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sluice-readme-"));
    try {
      await writeFile(join(dir, "in.csv"), "sku,qty\nA-1,3\nB-2,5\n");
      const manifest = await convertToJsonl(join(dir, "in.csv"), join(dir, "chunks.jsonl"));
      expect(manifest).toMatchObject({ totalRows: 2, totalChunks: 1, header: ["sku", "qty"] });
      const [line] = (await readFile(join(dir, "chunks.jsonl"), "utf8")).trimEnd().split("\n");
      expect(chunkRows(ChunkSchema.parse(JSON.parse(line!)))[1]).toEqual({
        row: 3,
        data: { sku: "B-2", qty: "5" },
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
