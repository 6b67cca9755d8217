/**
 * The message contract's version and chunk ids, apart from the zod schemas in contract.ts so the converter can
 * use them without loading zod.
 */
/**
 * 2: messages carry a pointer to the chunk's bytes in the bucket (claim check) instead of its rows; failure
 * records are written to the bucket instead of the dead-letter queue.
 */
export const CONTRACT_VERSION = 2;
export function chunkIdFor(uploadId, index) {
  return `${uploadId}/${String(index).padStart(6, "0")}`;
}
