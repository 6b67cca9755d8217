import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { type ConvertWorkerData, locateConvertWorker, WorkerLambda } from "../src/worker-lambda.ts";

const DATA = {} as ConvertWorkerData;

/** A worker entry written to a temp folder: `source` is its whole module. */
async function workerFile(source: string): Promise<{ url: URL; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "sluice-worker-"));
  const file = join(dir, "convert-worker.mjs");
  await writeFile(file, source);
  return { url: pathToFileURL(file), dir };
}

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

describe("WorkerLambda.warm", () => {
  it("resolves once the worker says its modules are loaded, not when the thread starts", async () => {
    // Loading takes 300 ms here; the echo answers the invocation from the same environment.
    const { url, dir } = await workerFile(`import { parentPort } from "node:worker_threads";
await new Promise((resolve) => setTimeout(resolve, 300));
globalThis.loadedAt = Date.now();
parentPort.postMessage({ loaded: true });
parentPort.on("message", ({ id, event }) => parentPort.postMessage({ id, output: { event, loadedAt: globalThis.loadedAt } }));`);
    const lambda = new WorkerLambda({ url }, DATA);
    try {
      const started = Date.now();
      await lambda.warm();
      const warmedAt = Date.now();
      expect(warmedAt - started).toBeGreaterThanOrEqual(250);
      // Warming again reuses the environment: still one, and the invocation runs in it.
      await lambda.warm();
      expect(lambda.environments).toBe(1);
      const reply = (await lambda.invoke("x")) as { event: string; loadedAt: number };
      expect(reply.event).toBe("x");
      expect(reply.loadedAt).toBeLessThanOrEqual(warmedAt);
      expect(lambda.environments).toBe(1);
    } finally {
      await lambda.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("resolves when the worker fails to load; the invocation after it reports the failure", async () => {
    const { url, dir } = await workerFile(`throw new Error("cannot load the handler");`);
    const lambda = new WorkerLambda({ url }, DATA);
    try {
      await expect(lambda.warm()).resolves.toBeUndefined();
      expect(lambda.environments).toBe(0);
      await expect(lambda.invoke({})).rejects.toThrow(/cannot load the handler|exited/);
    } finally {
      await lambda.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
