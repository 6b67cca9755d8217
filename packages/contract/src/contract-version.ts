/**
 * The message contract's version and chunk ids, apart from the zod schemas in contract.ts so the converter can
 * use them without loading zod.
 */
/**
 * 2: messages carry a pointer to the chunk's bytes in the bucket (claim check) instead of its rows; failure
 * records are written to the bucket instead of the dead-letter queue.
 * 3: a chunk names its columns once and carries each row as an array of values in that order (`[row, ...values]`),
 * its cell warnings in one list beside the rows, instead of every row keyed by name.
 */
export const CONTRACT_VERSION = 3 as const;

export function chunkIdFor(uploadId: string, index: number): string {
  return `${uploadId}/${String(index).padStart(6, "0")}`;
}
