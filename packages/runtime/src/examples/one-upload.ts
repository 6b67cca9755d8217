import { createChunkConsumer } from "@sluice/consumer";
import { LocalRuntime } from "@sluice/runtime";

/** One upload through the local runtime, answered by an admin server that accepts every row. */
export async function runOneUpload(workbook: Buffer, name: string) {
  const runtime = await LocalRuntime.start({ config: { maxConcurrency: 4, chunkRows: 500 } });
  const consumer = createChunkConsumer({
    ...runtime.adminServerConnection(),
    waitTimeSeconds: 1,
    handler: async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }),
  });
  consumer.start();
  try {
    const upload = await runtime.upload(workbook, name);
    return await runtime.waitForExecution(upload.executionArn);
  } finally {
    await consumer.stop();
    await runtime.stop();
  }
}
