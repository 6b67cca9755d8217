/**
 * The message contract's version and chunk ids, apart from the zod schemas in contract.ts so the converter can
 * use them without loading zod.
 */
export const CONTRACT_VERSION = 1 as const;

export function chunkIdFor(uploadId: string, index: number): string {
  return `${uploadId}/${String(index).padStart(6, "0")}`;
}
