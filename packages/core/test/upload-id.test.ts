import { describe, expect, it } from "vitest";
import { deriveUploadId } from "../src/upload-id.ts";

describe("deriveUploadId", () => {
  it("is readable, deterministic and execution-name safe", () => {
    const id = deriveUploadId("uploads/2026/Orders March.xlsx", "v1");
    expect(id).toMatch(/^orders-march-[0-9a-f]{12}$/);
    expect(deriveUploadId("uploads/2026/Orders March.xlsx", "v1")).toBe(id);
    expect(deriveUploadId("uploads/2026/Orders March.xlsx", "v2")).not.toBe(id);
  });

  it.each(["주문.xlsx", "....csv", "a".repeat(300)])(
    "stays within 80 characters of [a-z0-9-] for %s",
    (name) => {
      const id = deriveUploadId(name, "etag");
      expect(id).toMatch(/^[a-z0-9-]{1,80}$/);
      expect(id.length).toBeLessThanOrEqual(80);
    },
  );
});
