import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChunkSchema, chunkRows, ManifestSchema } from "@sluice/contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { strictEnv } from "./support/cli-process.ts";
import { zipBombXlsx } from "./support/zip-bomb.ts";

const BIN = new URL("../bin/sluice.js", import.meta.url).pathname;
let dir: string;

function sluice(...args: string[]) {
  return sluiceWith({}, ...args);
}

function sluiceWith(env: Record<string, string>, ...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: dir,
    encoding: "utf8",
    env: strictEnv({ ...process.env, ...env }),
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-cli-"));
  const lines = ["id,name,qty", ...Array.from({ length: 1234 }, (_, i) => `${i + 1},이름 ${i + 1},${i % 7}`)];
  await writeFile(join(dir, "orders.csv"), `${lines.join("\r\n")}\r\n`);
  await writeFile(
    join(dir, "garbage.bin"),
    Buffer.from([0x25, 0x50, 0x44, 0x46, 0x00, 0x01, 0x02, 0x03, 0xff, 0x00]),
  );
  await writeFile(join(dir, "empty.csv"), "");
  await writeFile(join(dir, "bomb.xlsx"), zipBombXlsx(200_000));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("sluice convert", () => {
  it("converts a csv named .xlsx by its content and says so with a warning code", async () => {
    await writeFile(join(dir, "named-wrong.xlsx"), "id,name\n1,one\n2,two\n");
    const { code, stdout, stderr } = sluice("convert", "named-wrong.xlsx", "--out", "out/named-wrong");
    expect(code).toBe(0);
    expect(stderr).toMatch(/^warning FORMAT_EXTENSION_MISMATCH: .+/m);
    const summary = JSON.parse(stdout.trim().split("\n").pop()!);
    expect(summary).toMatchObject({ rows: 2, format: "csv" });
    expect(summary.fileWarnings).toEqual([expect.objectContaining({ code: "FORMAT_EXTENSION_MISMATCH" })]);
  });

  it("writes manifest.json and chunks.jsonl and ends stdout with a JSON summary", async () => {
    const { code, stdout, stderr } = sluice("convert", "orders.csv", "--out", "out/a", "--chunk-rows", "100");
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const summary = JSON.parse(stdout.trim().split("\n").pop()!);
    expect(summary).toMatchObject({
      rows: 1234,
      chunks: 13,
      sheet: "orders",
      header: ["id", "name", "qty"],
      format: "csv",
    });

    const manifest = ManifestSchema.parse(
      JSON.parse(await readFile(join(dir, "out/a/manifest.json"), "utf8")),
    );
    expect(manifest).toMatchObject({ totalRows: 1234, totalChunks: 13, headerRow: 1, format: "csv" });
    const jsonl = await readFile(join(dir, "out/a/chunks.jsonl"), "utf8");
    expect(Buffer.byteLength(jsonl)).toBe(manifest.bytes);
    const chunks = jsonl
      .trimEnd()
      .split("\n")
      .map((line) => ChunkSchema.parse(JSON.parse(line)));
    expect(chunks.map((c) => c.index)).toEqual([...Array(13).keys()]);
    expect(chunks.every((c) => c.columns.join() === "id,name,qty")).toBe(true);
    expect(chunks[0]!.rows[0]).toEqual([2, "1", "이름 1", "0"]);
    const rows = chunks.flatMap((c) => chunkRows(c));
    expect(rows).toHaveLength(1234);
    expect(rows[0]).toEqual({ row: 2, data: { id: "1", name: "이름 1", qty: "0" } });
    expect(rows.at(-1)!.row).toBe(1235);
  });

  it("gives the same output from the TypeScript sources as from the bundle", async () => {
    expect(sluiceWith({ SLUICE_FROM_SOURCE: "1" }, "convert", "orders.csv", "--out", "out/src").code).toBe(0);
    expect(sluice("convert", "orders.csv", "--out", "out/bundle").code).toBe(0);
    const [fromSource, fromBundle] = await Promise.all(
      ["out/src", "out/bundle"].map((d) => readFile(join(dir, d, "chunks.jsonl"), "utf8")),
    );
    expect(fromSource).toBe(fromBundle);
  });

  it("produces the same chunks when run again", async () => {
    sluice("convert", "orders.csv", "--out", "out/b1");
    sluice("convert", "orders.csv", "--out", "out/b2");
    const [first, second] = await Promise.all(
      ["out/b1", "out/b2"].map((d) => readFile(join(dir, d, "chunks.jsonl"), "utf8")),
    );
    expect(first).toBe(second);
    expect(first!.length).toBeGreaterThan(0);
  });

  it.each([
    ["garbage.bin", "UNSUPPORTED_FORMAT"],
    ["empty.csv", "EMPTY_WORKBOOK"],
  ])("exits 2 with a coded error for %s and leaves nothing behind", async (file, code) => {
    const result = sluice("convert", file, "--out", "out/bad");
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^error ${code}: .+`));
    const entries = await readdir(join(dir, "out")).catch(() => [] as string[]);
    expect(entries.filter((e) => e.includes("bad"))).toEqual([]);
  });

  // Small chunks keep file writes in flight when the limit stops the conversion: the sink is torn down under
  // them, and that must end in the typed error, not an unhandled stream error (ERR_STREAM_DESTROYED).
  it.each(["1", "10", "100"])(
    "a limit reached while chunks are being written (--chunk-rows %s) exits 2 with its code and leaves nothing behind",
    async (chunkRows) => {
      const out = `out/bomb-${chunkRows}`;
      const result = sluice("convert", "bomb.xlsx", "--out", out, "--chunk-rows", chunkRows);
      expect(result.stderr).toMatch(/^error INFLATION_RATIO_EXCEEDED: [^\n]+\n$/);
      expect(result.stderr).not.toMatch(/ERR_STREAM_DESTROYED|node:events/);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
      const entries = await readdir(join(dir, "out")).catch(() => [] as string[]);
      expect(entries.filter((e) => e.includes(`bomb-${chunkRows}`))).toEqual([]);
    },
  );

  it.each([
    [["convert"], /expected one input file/],
    [["convert", "missing.xlsx"], /no such file/],
    [["convert", "orders.csv", "--chunk-rows", "zero"], /--chunk-rows must be a positive integer/],
    [["convert", "orders.csv", "--bogus"], /Unknown option/],
    [["explode"], /unknown command/],
  ])("rejects bad usage %j with exit 2", (args, message) => {
    const result = sluice(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error INVALID_OPTION: /);
    expect(result.stderr).toMatch(message);
  });

  it("prints its usage for --help or -h, as the top-level usage says every command does", () => {
    for (const args of [["--help"], ["orders.csv", "-h", "--out", "out/help"]]) {
      const result = sluice("convert", ...args);
      expect(result.code).toBe(0);
      expect(result.stderr).toBe("");
      expect(result.stdout.split("\n")[0]).toBe(
        "usage: sluice convert <file> [--out DIR] [--sheet NAME] [--chunk-rows N] [--chunk-bytes N] [--upload-id ID]",
      );
    }
    expect(sluice("--help").stdout).toContain('Run "sluice <command> --help" for a command\'s options.');
    // Asking for help converts nothing, even with a file named.
    expect(existsSync(join(dir, "out/help"))).toBe(false);
  });

  it("names the sheets when the requested one does not exist", () => {
    const result = sluice("convert", "orders.csv", "--sheet", "Nope", "--out", "out/c");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      'error SHEET_NOT_FOUND: Sheet "Nope" not found; the workbook has: "orders"',
    );
  });
});
