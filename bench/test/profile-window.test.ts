import { describe, expect, it } from "vitest";
import { within } from "../profile-window.ts";

describe("within", () => {
  // Samples at 1000 + 10, 30, 60, 100 µs.
  const profile = { startTime: 1000, samples: [7, 8, 9, 7], timeDeltas: [10, 20, 30, 40], nodes: ["kept"] };

  it("keeps the samples whose time falls in the window, both ends included", () => {
    const cut = within(profile, { from: 1030, to: 1060 });
    expect(cut.samples).toEqual([8, 9]);
    expect(cut.timeDeltas).toEqual([20, 30]);
    expect(cut.nodes).toBe(profile.nodes);
    expect(profile.samples).toEqual([7, 8, 9, 7]);
  });

  it("times each sample by the deltas before it, not by its index", () => {
    expect(within(profile, { from: 1061, to: 1100 }).samples).toEqual([7]);
    expect(within(profile, { from: 0, to: 1009 }).samples).toEqual([]);
    expect(within(profile, { from: 0, to: 5000 }).samples).toEqual([7, 8, 9, 7]);
  });
});
