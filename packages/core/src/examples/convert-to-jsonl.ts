import { once } from "node:events";
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
          if (!out.write(line)) await once(out, "drain");
        },
      },
      options: { chunkRows: 500, chunkBytes: 200 * 1024 },
    });
  } finally {
    out.end();
    await source.close();
  }
}
