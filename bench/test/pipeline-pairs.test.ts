import { describe, expect, it } from "vitest";
import { medianPair, type PipelinePair, pairRatio } from "../pipeline-pairs.ts";

const run = (seconds: number, status = "SUCCEEDED") => ({ rows: 1_000_000, seconds, status });
const pair = (alone: number | null, seconds: number, status = "SUCCEEDED"): PipelinePair => {
  const pipeline = run(seconds, status);
  return { alone, pipeline, ratio: pairRatio(alone, pipeline) };
};

describe("pairRatio", () => {
  it("is end-to-end rows/s over conversion-alone rows/s, none without both", () => {
    expect(pairRatio(250_000, run(8))).toBeCloseTo(0.5);
    expect(pairRatio(null, run(8))).toBeNull();
    expect(pairRatio(250_000, run(8, "FAILED"))).toBeNull();
  });
});

describe("medianPair", () => {
  it("reports the pair with the median ratio, with that pair's own figures", () => {
    // Ratios 0.40, 0.50, 0.45 (in that order): the median is the third pair, not the middle one run.
    const pairs = [pair(250_000, 10), pair(250_000, 8), pair(200_000, 1_000_000 / 90_000)];
    const median = medianPair(pairs);
    expect(median).toBe(pairs[2]);
    expect(median.ratio).toBeCloseTo(0.45);
  });

  it("takes the lower middle pair of an even count, and skips pairs without a ratio", () => {
    const pairs = [pair(250_000, 8), pair(null, 5), pair(250_000, 10), pair(250_000, 5, "FAILED")];
    expect(medianPair(pairs)).toBe(pairs[2]);
    const unrated = [pair(null, 5), pair(null, 6)];
    expect(medianPair(unrated)).toBe(unrated[0]);
  });
});
