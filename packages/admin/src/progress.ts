/**
 * Rate and ETA from a Map Run's counts: the one copy of this arithmetic, used by uploadStatus and by
 * `sluice status` (the CLI imports it from here).
 */
export interface ProgressInput {
  totalRows: number | null;
  totalChunks: number | null;
  succeeded: number;
  running: number;
  /** Failed, timed out and aborted chunks. */
  failed: number;
  /** When delivery started (the Map Run's start), ms since the epoch. */
  startedAt: number | null;
  /** When delivery stopped, if it did. */
  stoppedAt: number | null;
  now: number;
}

export interface Progress {
  chunksDone: number;
  chunksInFlight: number;
  chunksFailed: number;
  chunksPending: number | null;
  /** Chunks done of the total, 0-100, one decimal. */
  percent: number | null;
  chunksPerSecond: number | null;
  /** Estimated from the mean rows per chunk. */
  rowsPerSecond: number | null;
  /** Seconds until every chunk is done at the current rate; 0 when done; null when unknown or stopped. */
  etaSeconds: number | null;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Rate and ETA from counts and times: pure, so the arithmetic is tested on its own. */
export function computeProgress(input: ProgressInput): Progress {
  const { totalChunks, totalRows, succeeded, running, failed } = input;
  const elapsedSeconds =
    input.startedAt === null ? 0 : ((input.stoppedAt ?? input.now) - input.startedAt) / 1000;
  const chunksPerSecond = elapsedSeconds > 0 && succeeded > 0 ? succeeded / elapsedSeconds : null;
  const rowsPerChunk = totalChunks && totalRows !== null ? totalRows / totalChunks : null;
  const remaining = totalChunks === null ? null : Math.max(0, totalChunks - succeeded);
  let etaSeconds: number | null = null;
  if (remaining === 0) etaSeconds = 0;
  else if (remaining !== null && chunksPerSecond !== null && input.stoppedAt === null)
    etaSeconds = Math.ceil(remaining / chunksPerSecond);
  return {
    chunksDone: succeeded,
    chunksInFlight: running,
    chunksFailed: failed,
    chunksPending: totalChunks === null ? null : Math.max(0, totalChunks - succeeded - running - failed),
    percent: totalChunks ? round((100 * succeeded) / totalChunks, 1) : totalChunks === 0 ? 100 : null,
    chunksPerSecond: chunksPerSecond === null ? null : round(chunksPerSecond, 2),
    rowsPerSecond:
      chunksPerSecond === null || rowsPerChunk === null ? null : Math.round(chunksPerSecond * rowsPerChunk),
    etaSeconds,
  };
}
