/** How large a chunk may be: the converter cuts chunks within these bounds, the consumer refuses larger ones. */
export interface ChunkBounds {
  /** Rows per chunk at most. */
  rows: number;
  /** Serialized bytes of one chunk (envelope included, newline not) at most. */
  bytes: number;
}

/**
 * Chunks travel by pointer (the rows stay in the bucket), so their size is bound by what an admin server holds at
 * once (concurrency x bytes) and by what an upload costs (one child execution per chunk), not by Step Functions'
 * payload limit. 10,000 rows of a typical 12-column orders sheet are about 2 MB (3.4 MB before contract 3 named each
 * column once per chunk instead of once per row).
 */
export const DEFAULT_CHUNK_BOUNDS: Readonly<ChunkBounds> = Object.freeze({
  rows: 10_000,
  bytes: 4 * 1024 * 1024,
});

/** The largest chunk: the converter holds one chunk's bytes in memory, an admin server `concurrency` of them. */
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;
