import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { locateConvertWorker } from "../src/worker-lambda.ts";

describe("locateConvertWorker", () => {
  it("finds the worker beside a bundle chunk, and answers undefined for a bundle built without it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sluice-bundle-"));
    try {
      const chunk = pathToFileURL(join(dir, "chunk-ABC123.mjs")).href;
      await writeFile(join(dir, "chunk-ABC123.mjs"), "");
      expect(locateConvertWorker(chunk)).toBeUndefined();
      await writeFile(join(dir, "convert-worker.mjs"), "");
      expect(locateConvertWorker(chunk)).toEqual({ url: new URL("./convert-worker.mjs", chunk) });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
