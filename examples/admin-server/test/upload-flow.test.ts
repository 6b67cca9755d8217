import type { UploadStatusView } from "@sluice/admin";
import { describe, expect, it } from "vitest";
import {
  canPickFile,
  INITIAL_STATE,
  isPolling,
  nextState,
  transferPercent,
  type UploadPageEvent,
  type UploadPageState,
} from "../web/upload-flow.ts";

const file = {
  name: "주문 목록.xlsx",
  size: 2000,
  type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
};

function status(
  stage: UploadStatusView["stage"],
  overrides: Partial<UploadStatusView> = {},
): UploadStatusView {
  return {
    uploadId: "upload-1",
    stage,
    executionStatus: stage === "waiting" ? null : stage === "failed" ? "FAILED" : "RUNNING",
    fileName: file.name,
    key: "uploads/forms/upload-1.xlsx",
    startedAt: null,
    stoppedAt: null,
    totals: null,
    chunks: { done: 0, inFlight: 0, failed: 0, pending: null },
    rows: { accepted: null, rejected: null, done: null },
    percent: null,
    rowsPerSecond: null,
    etaSeconds: null,
    rejectedSample: [],
    reportUrl: null,
    failure: null,
    fileWarnings: [],
    redriveCount: 0,
    consoleUrl: null,
    settled: stage === "succeeded" || stage === "failed",
    updatedAt: "2026-11-30T23:00:00.000Z",
    ...overrides,
  };
}

const run = (events: UploadPageEvent[], from: UploadPageState = INITIAL_STATE) =>
  events.reduce(nextState, from);

describe("the upload page's states", () => {
  it("a file goes from signing to uploading to following to finished", () => {
    let state = run([{ type: "file-chosen", file }]);
    expect(state).toEqual({ kind: "signing", file });
    expect(canPickFile(state)).toBe(false);
    state = run([{ type: "form-ready", uploadId: "upload-1" }], state);
    expect(state).toMatchObject({ kind: "uploading", uploadId: "upload-1", loaded: 0, total: 2000 });
    expect(transferPercent(state)).toBe(0);
    state = run([{ type: "put-progress", loaded: 500, total: 2000 }], state);
    expect(transferPercent(state)).toBe(25);
    // A late, smaller progress event does not move the bar back.
    state = run([{ type: "put-progress", loaded: 100, total: 2000 }], state);
    expect(transferPercent(state)).toBe(25);
    state = run([{ type: "put-progress", loaded: 2000, total: 2000 }, { type: "put-done" }], state);
    expect(state).toMatchObject({ kind: "following", uploadId: "upload-1", status: null });
    expect(transferPercent(state)).toBe(100);
    state = run([{ type: "status", status: status("converting") }], state);
    expect(state).toMatchObject({ kind: "following", status: { stage: "converting" } });
    state = run([{ type: "status", status: status("succeeded") }], state);
    expect(state).toMatchObject({ kind: "finished", status: { stage: "succeeded" }, file });
    expect(canPickFile(state)).toBe(true);
  });

  it("a refused form, a refused PUT and a failed import each end in their own state", () => {
    expect(
      run([
        { type: "file-chosen", file },
        { type: "form-refused", code: "UPLOAD_TOO_LARGE", message: "too large" },
      ]),
    ).toEqual({ kind: "refused", file, code: "UPLOAD_TOO_LARGE", message: "too large" });
    expect(
      run([
        { type: "file-chosen", file },
        { type: "form-ready", uploadId: "upload-1" },
        { type: "put-failed", message: "SignatureDoesNotMatch" },
      ]),
    ).toEqual({ kind: "upload-failed", file, uploadId: "upload-1", message: "SignatureDoesNotMatch" });
    const failed = status("failed", { failure: { code: "IMPORT_REFUSED", message: "no", chunkIndex: 3 } });
    expect(
      run([
        { type: "follow", uploadId: "upload-1" },
        { type: "status", status: failed },
      ]),
    ).toMatchObject({
      kind: "finished",
      file: null,
      status: { failure: { chunkIndex: 3 } },
    });
  });

  it("after a failure, keeps asking until the outcome is settled (the failure record lands a moment later)", () => {
    const early = status("failed", {
      settled: false,
      failure: { code: "States.ExceedToleratedFailureThreshold", message: "", chunkIndex: null },
    });
    let state = run([
      { type: "follow", uploadId: "upload-1" },
      { type: "status", status: early },
    ]);
    expect(state).toMatchObject({ kind: "finished", status: { settled: false } });
    expect(isPolling(state)).toBe(true);
    const sample = [
      { chunkIndex: 0, row: 98, code: "INVALID_VALUE", message: "Quantity (0) must be at least 1" },
    ];
    const recorded = status("failed", {
      failure: { code: "IMPORT_REFUSED", message: "no", chunkIndex: 2 },
      rejectedSample: sample,
    });
    state = nextState(state, { type: "status", status: recorded });
    expect(state).toMatchObject({ kind: "finished", status: { rejectedSample: sample, settled: true } });
    expect(isPolling(state)).toBe(false);
    // Settled: a late answer changes nothing.
    expect(nextState(state, { type: "status", status: early })).toBe(state);
  });

  it("ignores what does not fit: a second file while one is sent, another upload's status, a late progress", () => {
    const uploading = run([
      { type: "file-chosen", file },
      { type: "form-ready", uploadId: "upload-1" },
    ]);
    expect(nextState(uploading, { type: "file-chosen", file: { ...file, name: "other.csv" } })).toBe(
      uploading,
    );
    expect(nextState(uploading, { type: "reset" })).toBe(uploading);
    const following = run([{ type: "put-done" }], uploading);
    expect(
      nextState(following, { type: "status", status: status("delivering", { uploadId: "upload-2" }) }),
    ).toBe(following);
    expect(nextState(following, { type: "put-progress", loaded: 1, total: 2 })).toBe(following);
    expect(nextState(INITIAL_STATE, { type: "status", status: status("succeeded") })).toBe(INITIAL_STATE);
  });

  it("counts failed polls until a status comes back, and stops at an unknown upload", () => {
    let state = run([
      { type: "follow", uploadId: "upload-1" },
      { type: "poll-failed", message: "offline" },
      { type: "poll-failed", message: "offline" },
    ]);
    expect(state).toMatchObject({ kind: "following", pollFailures: 2, pollError: "offline" });
    state = nextState(state, { type: "status", status: status("delivering") });
    expect(state).toMatchObject({ kind: "following", pollFailures: 0, pollError: null });
    expect(nextState(state, { type: "not-found", code: "UPLOAD_NOT_FOUND", message: "no upload" })).toEqual({
      kind: "lost",
      uploadId: "upload-1",
      code: "UPLOAD_NOT_FOUND",
      message: "no upload",
    });
  });
});
