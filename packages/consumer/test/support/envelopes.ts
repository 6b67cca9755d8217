import { type ChunkEnvelope, chunkIdFor } from "@sluice/core/contract";

/** A valid chunk envelope with `rows` rows; the task token names the upload and chunk. */
export function makeEnvelope(
  index: number,
  options: { uploadId?: string; rows?: number } = {},
): ChunkEnvelope {
  const uploadId = options.uploadId ?? "upload-1";
  const count = options.rows ?? 3;
  const firstRow = 2 + index * count;
  return {
    v: 1,
    kind: "chunk",
    taskToken: `token-${uploadId}-${index}`,
    uploadId,
    source: { bucket: "uploads", key: `${uploadId}/orders.xlsx` },
    totals: { totalRows: count * 100, totalChunks: 100 },
    chunk: {
      v: 1,
      uploadId,
      index,
      chunkId: chunkIdFor(uploadId, index),
      firstRow,
      lastRow: firstRow + count - 1,
      rows: Array.from({ length: count }, (_, i) => ({
        row: firstRow + i,
        data: { sku: `A-${index}-${i}`, qty: i },
      })),
    },
  };
}
