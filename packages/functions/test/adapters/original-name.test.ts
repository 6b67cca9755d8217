import { describe, expect, it } from "vitest";
import { originalNameOf } from "../../src/adapters/original-name.ts";

describe("originalNameOf", () => {
  it.each([
    ["a Korean name", "주문 목록 2026.xlsx"],
    ["spaces, plus and percent signs", "Q1 orders + 50% off.csv"],
    ["an emoji", "orders 📦.xlsx"],
  ])("decodes the percent-encoded name a form wrote: %s", (_name, fileName) => {
    expect(originalNameOf({ "original-name": encodeURIComponent(fileName) })).toBe(fileName);
  });

  it.each([
    ["no metadata", undefined],
    ["no original-name entry", { tenant: "acme" }],
    ["an empty value", { "original-name": "" }],
    ["invalid percent-encoding", { "original-name": "%E0%A4%A" }],
    ["a lone surrogate's bytes", { "original-name": "%ED%A0%80.xlsx" }],
    ["blanks only", { "original-name": "%20%20" }],
    ["a control character", { "original-name": "a%0Ab.xlsx" }],
    ["more than a form could write", { "original-name": "a".repeat(1025) }],
  ])("ignores %s", (_name, metadata) => {
    expect(originalNameOf(metadata)).toBeUndefined();
  });
});
