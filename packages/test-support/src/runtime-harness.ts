import { type ChunkHandler, createChunkConsumer } from "@sluice/consumer";
import { LocalRuntime } from "@sluice/runtime";
import { afterEach } from "vitest";

/** A csv of orders, `rows` data rows, quantities 1..5 in turn. */
export function ordersCsv(
  rows: number,
  columns: "id,quantity" | "id,customer,quantity" = "id,customer,quantity",
): Buffer {
  const lines =
    columns === "id,quantity"
      ? ["order_id,quantity", ...Array.from({ length: rows }, (_, i) => `ORD-${i + 1},${(i % 5) + 1}`)]
      : [
          "order_id,customer,quantity",
          ...Array.from({ length: rows }, (_, i) => `ORD-${i + 1},고객 ${i + 1},${(i % 5) + 1}`),
        ];
  return Buffer.from(`${lines.join("\n")}\n`);
}

const running: { stop(): Promise<unknown> }[] = [];

/** Registers the cleanup: every runtime and consumer started through this harness stops after each test. */
export function useRuntimeCleanup(): void {
  afterEach(async () => {
    while (running.length) await running.pop()!.stop();
  });
}

/** A local runtime with short retry pauses, stopped after the test. */
export async function runtimeWith(
  options: Parameters<typeof LocalRuntime.start>[0] = {},
): Promise<LocalRuntime> {
  const runtime = await LocalRuntime.start({
    retryIntervalMs: 50,
    outDir: "/tmp/sluice-test-out",
    ...options,
  });
  running.push(runtime);
  return runtime;
}

/** The consumer SDK on the runtime's chunk queue with quick polling and heartbeats, stopped after the test. */
export function consume(runtime: LocalRuntime, handler: ChunkHandler, concurrency = 4) {
  const consumer = createChunkConsumer({
    ...runtime.adminServerConnection(),
    concurrency,
    waitTimeSeconds: 1,
    heartbeatSeconds: 2,
    visibilityTimeoutSeconds: 10,
    handler,
  });
  consumer.start();
  running.push({ stop: () => consumer.stop({ timeoutMs: 2_000 }) });
  return consumer;
}

/** Something else to stop after the test, after what was started later. */
export function stopAfterTest(stop: () => Promise<unknown>): void {
  running.push({ stop });
}
