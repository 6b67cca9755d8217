import { formUploadKey, parseFormUploadKey, UPLOAD_ID_PATTERN, uploadIdSlug } from "@sluice/contract";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

describe("a form's upload key", () => {
  it("round-trips the upload id, tenant and extension", () => {
    expect(formUploadKey({ uploadId: "orders-3f9a0c1d2e4b", extension: "xlsx" })).toBe(
      "uploads/forms/orders-3f9a0c1d2e4b.xlsx",
    );
    expect(parseFormUploadKey("uploads/forms/acme/orders-3f9a0c1d2e4b.csv")).toEqual({
      uploadId: "orders-3f9a0c1d2e4b",
      tenant: "acme",
      extension: "csv",
    });
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$/),
        fc.option(fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/), { nil: undefined }),
        fc.constantFrom("xlsx" as const, "csv" as const),
        (uploadId, tenant, extension) => {
          const key = formUploadKey({ uploadId, tenant, extension });
          expect(parseFormUploadKey(key)).toEqual({ uploadId, extension, ...(tenant ? { tenant } : {}) });
        },
      ),
    );
  });

  it("refuses ids and tenants that could name another path, and other extensions", () => {
    for (const uploadId of ["", "-a", "a-", "A", "a/b", "../x", "a".repeat(81), "한글"])
      expect(() => formUploadKey({ uploadId, extension: "xlsx" }), uploadId).toThrow(RangeError);
    for (const tenant of ["", "a/b", "..", "A", "a".repeat(41)])
      expect(() => formUploadKey({ uploadId: "x", tenant, extension: "csv" }), tenant).toThrow(RangeError);
    expect(() => formUploadKey({ uploadId: "x", extension: "xls" as never })).toThrow(RangeError);
  });

  it("is undefined for any key a form did not make", () => {
    for (const key of [
      "uploads/orders.xlsx",
      "uploads/forms/orders.ods",
      "uploads/forms/a/b/orders.xlsx",
      "uploads/forms/-x.xlsx",
      "uploads/forms/Orders.xlsx",
      "processed/forms/x.xlsx",
      "uploads/forms/x.xlsx/",
    ])
      expect(parseFormUploadKey(key), key).toBeUndefined();
  });
});

describe("uploadIdSlug", () => {
  it("keeps ASCII words, drops the folder and extension, and falls back to 'upload'", () => {
    expect(uploadIdSlug("in/2024 Orders (final).xlsx")).toBe("2024-orders-final");
    expect(uploadIdSlug("주문 목록.xlsx")).toBe("upload");
    expect(uploadIdSlug("Café.csv")).toBe("cafe");
  });

  it("always makes the first half of a valid upload id", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), (name) => {
        expect(UPLOAD_ID_PATTERN.test(`${uploadIdSlug(name)}-0123456789ab`)).toBe(true);
      }),
    );
  });
});
