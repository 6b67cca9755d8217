import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bufferSource, openFileSource } from "../src/byte-source.ts";

describe("openFileSource", () => {
  it("reads ranges and streams, and survives a stream stopped early", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sluice-source-"));
    try {
      const bytes = Buffer.alloc(1024 * 1024, 0);
      for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251;
      await writeFile(join(dir, "f.bin"), bytes);
      const source = await openFileSource(join(dir, "f.bin"), "f.bin");
      expect(source.size).toBe(bytes.length);
      expect(await source.read(1000, 10)).toEqual(bytes.subarray(1000, 1010));
      expect(await source.read(bytes.length - 4, 10)).toEqual(bytes.subarray(bytes.length - 4));
      for await (const _piece of source.stream(0)) break;
      expect(await source.read(5, 3)).toEqual(bytes.subarray(5, 8));
      const pieces: Buffer[] = [];
      for await (const piece of source.stream(100, 300_000)) pieces.push(piece as Buffer);
      expect(Buffer.concat(pieces)).toEqual(bytes.subarray(100, 300_000));
      await source.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("bufferSource", () => {
  it("streams the requested range", async () => {
    const source = bufferSource(Buffer.from("hello world"), "b");
    const pieces: Buffer[] = [];
    for await (const piece of source.stream(6)) pieces.push(piece as Buffer);
    expect(Buffer.concat(pieces).toString()).toBe("world");
  });
});
