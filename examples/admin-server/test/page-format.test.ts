import { describe, expect, it } from "vitest";
import {
  formatBytes,
  formatCount,
  formatDuration,
  formatPercent,
  formatRate,
  formatTime,
  percentOf,
  STAGE_LABELS,
} from "../web/format.ts";

describe("the page's wording of numbers", () => {
  it("sizes in binary steps, one decimal under 10", () => {
    expect(formatBytes(0)).toBe("0 bytes");
    expect(formatBytes(1)).toBe("1 byte");
    expect(formatBytes(1023)).toBe("1,023 bytes");
    expect(formatBytes(1024)).toBe("1 KB");
    expect(formatBytes(1_966_499)).toBe("1.9 MB");
    expect(formatBytes(100 * 1024 ** 2)).toBe("100 MB");
    expect(formatBytes(5 * 1024 ** 3)).toBe("5 GB");
    expect(formatBytes(-1)).toBe("–");
    expect(formatBytes(1_966_499, "de")).toBe("1,9 MB");
  });

  it("percentages round down, so 100 % means all of it", () => {
    expect(formatPercent(99.99)).toBe("99 %");
    expect(formatPercent(100)).toBe("100 %");
    expect(formatPercent(120)).toBe("100 %");
    expect(formatPercent(-3)).toBe("0 %");
    expect(formatPercent(null)).toBe("–");
    expect(percentOf(512, 1024)).toBe(50);
    expect(percentOf(5, 0)).toBe(0);
    expect(percentOf(2048, 1024)).toBe(100);
  });

  it("counts, rates and durations", () => {
    expect(formatCount(20000)).toBe("20,000");
    expect(formatCount(20000, "ko")).toBe("20,000");
    expect(formatRate(12345.6)).toBe("12,346 rows/s");
    expect(formatRate(null)).toBe("–");
    expect(formatDuration(null)).toBe("–");
    expect(formatDuration(3.2)).toBe("less than 5 s");
    expect(formatDuration(42)).toBe("42 s");
    expect(formatDuration(120)).toBe("2 min");
    expect(formatDuration(185)).toBe("3 min 5 s");
    expect(formatDuration(3600)).toBe("1 h");
    expect(formatDuration(4320)).toBe("1 h 12 min");
  });

  it("times in the reader's zone, and a label for every stage", () => {
    expect(formatTime("2026-11-30T23:41:07.000Z", "en", "UTC")).toBe("Nov 30, 2026, 23:41:07");
    expect(formatTime("2026-11-30T23:41:07.000Z", "en", "Asia/Seoul")).toBe("Dec 1, 2026, 08:41:07");
    expect(formatTime(null)).toBe("–");
    expect(formatTime("not a date")).toBe("–");
    expect(Object.keys(STAGE_LABELS).sort()).toEqual(
      ["converting", "delivering", "failed", "succeeded", "waiting"].sort(),
    );
  });
});
