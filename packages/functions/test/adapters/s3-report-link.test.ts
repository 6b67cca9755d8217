import { S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { presignedReportLink, REPORT_LINK_SECONDS } from "../../src/adapters/s3-report-link.ts";

describe("presignedReportLink", () => {
  it("presigns a GetObject URL valid for 7 days, signed offline", async () => {
    const s3 = new S3Client({
      region: "eu-west-1",
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
    });
    const url = new URL(await presignedReportLink(s3)("sluice-uploads", "processed/a b/rejected-rows.csv"));
    expect(url.hostname).toBe("sluice-uploads.s3.eu-west-1.amazonaws.com");
    expect(decodeURIComponent(url.pathname)).toBe("/processed/a b/rejected-rows.csv");
    expect(url.searchParams.get("X-Amz-Expires")).toBe(String(REPORT_LINK_SECONDS));
    expect(REPORT_LINK_SECONDS).toBe(604_800);
    expect(url.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
  });
});
