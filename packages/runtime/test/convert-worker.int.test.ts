import { performance } from "node:perf_hooks";
import { ordersCsv, runtimeWith, useRuntimeCleanup } from "@sluice/test-support/runtime-harness";
import { describe, expect, it } from "vitest";
import type { RuntimeEvent } from "../src/local-runtime.ts";
import { locateConvertWorker, WorkerLambda } from "../src/worker-lambda.ts";

useRuntimeCleanup();

const workerData = {
  clientConfig: {
    region: "us-east-1",
    endpoint: "http://127.0.0.1:9",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  },
  bucketName: "sluice-uploads",
  processedPrefix: "processed/",
  chunkRows: 10_000,
  chunkBytes: 4 * 1024 * 1024,
  logLevel: "SILENT" as const,
};

describe("the convert function in its own thread", () => {
  it("converts while the runtime's event loop stays free for the emulator and the workflow", async () => {
    const runtime = await runtimeWith();
    let from: ReturnType<typeof performance.eventLoopUtilization> | undefined;
    const converted = new Promise<{ utilization: number; totalRows: number }>((resolve) => {
      runtime.on("progress", (event: RuntimeEvent) => {
        if (event.type === "upload_started") from = performance.eventLoopUtilization();
        if (event.type === "converted") {
          resolve({
            utilization: performance.eventLoopUtilization(from).utilization,
            totalRows: event.totalRows,
          });
        }
      });
    });
    await runtime.upload(ordersCsv(300_000), "orders.csv");
    const { utilization, totalRows } = await converted;
    expect(totalRows).toBe(300_000);
    // Converted on this thread, the loop was busy 99% of the time (measured); in a worker about 35-40%: this
    // thread only answers the worker's S3 requests.
    expect(utilization).toBeLessThan(0.8);
  });

  it("runs from the sources through tsx, and a Lambda error crosses the thread with its name, message and trace", async () => {
    const entry = locateConvertWorker();
    expect(entry?.url.pathname).toMatch(/packages\/runtime\/src\/convert-worker\.ts$/);
    expect(entry?.tsx?.tsconfig).toMatch(/tsconfig\.json$/);
    const lambda = new WorkerLambda(entry!, workerData);
    try {
      const error = await lambda.invoke({ uploadId: 42 }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error).toBeInstanceOf(Error);
      // As the handler throws it in this thread: a SluiceError named by its code, the handler's trace.
      expect(error?.name).toBe("INVALID_OPTION");
      expect(error?.message).toMatch(/^Invalid convert input/);
      expect(error?.stack).toMatch(/at withLambdaErrors .*packages\/functions\/src\/lambda-error\.ts/);
    } finally {
      await lambda.close();
    }
  });

  it("runs invocations that overlap in environments of their own, reuses an idle one, and ends extra idle ones", async () => {
    const lambda = new WorkerLambda(
      { url: new URL("./support/exit-worker.mjs", import.meta.url) },
      workerData,
      200,
    );
    type Echo = { threadId: number };
    try {
      const [a, b, c] = (await Promise.all([
        lambda.invoke({ delayMs: 300 }),
        lambda.invoke({ delayMs: 300 }),
        lambda.invoke({ delayMs: 300 }),
      ])) as Echo[];
      // One request per environment at a time: three at once ran in three threads.
      expect(new Set([a!.threadId, b!.threadId, c!.threadId]).size).toBe(3);
      expect(lambda.environments).toBe(3);
      // The next invocation takes a warm one.
      const next = (await lambda.invoke({ delayMs: 0 })) as Echo;
      expect([a!.threadId, b!.threadId, c!.threadId]).toContain(next.threadId);
      expect(lambda.environments).toBe(3);
      // Idle past idleMs, all but one end; the one left still answers.
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(lambda.environments).toBe(1);
      await expect(lambda.invoke({ n: 4 })).resolves.toEqual({ echoed: { n: 4 } });
    } finally {
      await lambda.close();
    }
  });

  it("fails the invocations of a worker that exits and starts a new one for the next", async () => {
    const lambda = new WorkerLambda(
      { url: new URL("./support/exit-worker.mjs", import.meta.url) },
      workerData,
    );
    try {
      await expect(lambda.invoke({ n: 1 })).resolves.toEqual({ echoed: { n: 1 } });
      await expect(lambda.invoke({ exit: true })).rejects.toThrow(/exited with code 3/);
      await expect(lambda.invoke({ n: 2 })).resolves.toEqual({ echoed: { n: 2 } });
    } finally {
      await lambda.close();
    }
    await expect(lambda.invoke({ n: 3 })).rejects.toThrow(/stopped/);
  });
});
