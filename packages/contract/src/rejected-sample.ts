import { z } from "zod";

/**
 * The first rejected rows an upload keeps verbatim, with their reasons: in summary.json (`rejectedSamples`) once it
 * succeeded, in failure.json (`rejectedSample`) for the rows rejected before it failed. Its own module because
 * both messages.ts and summary.ts use it.
 */

/** How many rejected rows are kept verbatim (the lowest chunk index and row first). */
export const REJECTED_SAMPLE_LIMIT = 20;

export const RejectedSampleSchema = z.object({
  chunkIndex: z.number().int().nonnegative(),
  row: z.number().int().positive(),
  code: z.string(),
  message: z.string(),
});

export type RejectedSample = z.infer<typeof RejectedSampleSchema>;
