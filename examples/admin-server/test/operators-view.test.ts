import { describe, expect, it } from "vitest";
import { canRedrive, describeFailure, sortUploads } from "../web/operators-view.ts";

describe("the operators' view", () => {
  it("offers a redrive for the statuses Step Functions redrives", () => {
    for (const executionStatus of ["FAILED", "TIMED_OUT", "ABORTED"])
      expect(canRedrive({ executionStatus })).toBe(true);
    for (const executionStatus of ["RUNNING", "SUCCEEDED", "PENDING_REDRIVE"])
      expect(canRedrive({ executionStatus })).toBe(false);
  });

  it("says where and why an upload failed", () => {
    expect(describeFailure({ failure: { code: "IMPORT_REFUSED", message: "refused", chunkIndex: 3 } })).toBe(
      "IMPORT_REFUSED in chunk 3: refused",
    );
    expect(
      describeFailure({ failure: { code: "WORKBOOK_CORRUPT", message: "broken zip", chunkIndex: null } }),
    ).toBe("WORKBOOK_CORRUPT: broken zip");
    expect(describeFailure({ failure: null })).toBe("");
  });

  it("lists the newest first", () => {
    const items = [
      { id: "a", startedAt: "2026-11-30T10:00:00.000Z", stoppedAt: "2026-11-30T10:01:00.000Z" },
      { id: "b", startedAt: "2026-11-30T12:00:00.000Z", stoppedAt: null },
      { id: "c", startedAt: "2026-11-30T11:00:00.000Z", stoppedAt: "2026-11-30T11:05:00.000Z" },
    ];
    expect(sortUploads(items).map((i) => i.id)).toEqual(["b", "c", "a"]);
  });
});
