import { computeProgress } from "@sluice/admin";
import { describe, expect, it } from "vitest";

/** The rate and ETA arithmetic uploadStatus and `sluice status` share. */

describe("computeProgress (rate and ETA)", () => {
  const base = { totalRows: 10_000, totalChunks: 20, running: 0, failed: 0, stoppedAt: null };
  it.each([
    [
      "mid-way",
      { ...base, succeeded: 5, running: 4, startedAt: 0, now: 10_000 },
      {
        chunksDone: 5,
        chunksInFlight: 4,
        chunksPending: 11,
        percent: 25,
        chunksPerSecond: 0.5,
        rowsPerSecond: 250,
        etaSeconds: 30,
      },
    ],
    [
      "nothing done yet: no rate, no ETA",
      { ...base, succeeded: 0, running: 2, startedAt: 0, now: 5_000 },
      { chunksPerSecond: null, rowsPerSecond: null, etaSeconds: null, percent: 0, chunksPending: 18 },
    ],
    [
      "all done",
      { ...base, succeeded: 20, startedAt: 0, stoppedAt: 8_000, now: 60_000 },
      { percent: 100, etaSeconds: 0, chunksPerSecond: 2.5, rowsPerSecond: 1250, chunksPending: 0 },
    ],
    [
      "stopped with failures: no ETA",
      { ...base, succeeded: 3, failed: 1, startedAt: 0, stoppedAt: 3_000, now: 9_000 },
      { etaSeconds: null, chunksFailed: 1, chunksPending: 16, chunksPerSecond: 1 },
    ],
    [
      "totals not known yet",
      { ...base, totalRows: null, totalChunks: null, succeeded: 0, startedAt: null, now: 1 },
      { percent: null, chunksPending: null, etaSeconds: null },
    ],
    [
      "a workbook with no chunks",
      { ...base, totalRows: 0, totalChunks: 0, succeeded: 0, startedAt: null, now: 1 },
      { percent: 100, etaSeconds: 0 },
    ],
  ])("%s", (_, input, expected) => {
    expect(computeProgress(input)).toMatchObject(expected);
  });

  it("rounds the ETA up to a whole second", () => {
    expect(computeProgress({ ...base, succeeded: 3, startedAt: 0, now: 7_000 }).etaSeconds).toBe(
      Math.ceil(17 / (3 / 7)),
    );
  });
});
