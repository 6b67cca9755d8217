import { afterEach, describe, expect, it, vi } from "vitest";
import { createLogger, logUpload } from "../src/logger.ts";

describe("logUpload", () => {
  afterEach(() => vi.restoreAllMocks());

  it("appends the upload id to every line, and drops the previous upload's", () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const logger = createLogger("sluice-test", { logLevel: "INFO" });
    logUpload(logger, "first-upload");
    logger.info("one");
    logger.appendKeys({ extra: 1 });
    logUpload(logger, "second-upload");
    logger.info("two");
    const entries = lines.map((l) => JSON.parse(l));
    expect(entries.map((e) => [e.message, e.uploadId, e.extra])).toEqual([
      ["one", "first-upload", undefined],
      ["two", "second-upload", undefined],
    ]);
    expect(entries[0]?.service).toBe("sluice-test");
  });
});
