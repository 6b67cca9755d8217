import { createWriteStream } from "node:fs";
import { convertWorkbook, deriveUploadId, openFileSource } from "@sluice/core";

/** Converts a workbook into a JSON Lines file of chunks; returns the manifest. */
export async function convertToJsonl(path: string, outFile: string) {
  const source = await openFileSource(path);
  const out = createWriteStream(outFile);
  try {
    return await convertWorkbook({
      source,
      uploadId: deriveUploadId(path, String(source.size)),
      sink: {
        async writeChunk(line) {
          // The bytes are lent until this resolves: wait for the write itself, not just the queue.
          await new Promise<void>((resolve, reject) => out.write(line, (e) => (e ? reject(e) : resolve())));
        },
      },
      options: { chunkRows: 500, chunkBytes: 200 * 1024 },
    });
  } finally {
    out.end();
    await source.close();
  }
}
