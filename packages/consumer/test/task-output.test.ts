import {
  CONTRACT_VERSION,
  TASK_FAILURE_LIMITS,
  TaskFailureCauseSchema,
  TaskResultSchema,
  unpackRejectedRows,
} from "@sluice/contract";
import { describe, expect, it } from "vitest";
import { buildSuccessOutput, describeFailure, TASK_OUTPUT_LIMIT_BYTES } from "../src/index.ts";
import { truncate } from "../src/task-output.ts";

const chunk = { uploadId: "u1", index: 7 };

describe("buildSuccessOutput", () => {
  it("builds a TaskResult the contract accepts", () => {
    const { result, output, messagesShortenedTo } = buildSuccessOutput(
      { accepted: 2, rejected: [{ row: 4, code: "BAD", message: "bad" }] },
      chunk,
      12.6,
    );
    expect(result).toEqual({
      v: CONTRACT_VERSION,
      uploadId: "u1",
      chunkIndex: 7,
      accepted: 2,
      rejected: { reasons: [{ code: "BAD", message: "bad" }], rows: [[4, 0]] },
      durationMs: 13,
    });
    expect(TaskResultSchema.parse(JSON.parse(output))).toEqual(result);
    expect(messagesShortenedTo).toBeUndefined();
  });

  it("cuts codes to 64 and messages to 1000 characters", () => {
    const { result } = buildSuccessOutput(
      { accepted: 0, rejected: [{ row: 2, code: "C".repeat(100), message: "m".repeat(2000) }] },
      chunk,
      0,
    );
    expect(result.rejected.reasons[0]?.code).toHaveLength(64);
    expect(result.rejected.reasons[0]?.message).toHaveLength(1000);
  });

  it.each<[string, unknown]>([
    ["undefined", undefined],
    ["negative accepted", { accepted: -1, rejected: [] }],
    ["rejected not an array", { accepted: 1, rejected: {} }],
    ["row 0", { accepted: 1, rejected: [{ row: 0, code: "X", message: "" }] }],
    ["empty code", { accepted: 1, rejected: [{ row: 1, code: "", message: "" }] }],
  ])("throws HANDLER_RESULT_INVALID for %s", (_, answer) => {
    expect(() => buildSuccessOutput(answer, chunk, 0)).toThrow(
      expect.objectContaining({ code: "HANDLER_RESULT_INVALID" }),
    );
  });

  describe("checked against the chunk it answers (rows 2, 3, 5, 6: row 4 was an empty row)", () => {
    const rows = [2, 3, 5, 6].map((row) => ({ row }));
    const against = { ...chunk, rows };
    const bad = (row: number) => ({ row, code: "BAD", message: "bad" });

    it.each<[string, { accepted: number; rejected: ReturnType<typeof bad>[] }]>([
      ["all accepted", { accepted: 4, rejected: [] }],
      ["some rejected", { accepted: 2, rejected: [bad(3), bad(6)] }],
      ["all rejected", { accepted: 0, rejected: [bad(2), bad(3), bad(5), bad(6)] }],
    ])("accepts a result that counts every row once: %s", (_, answer) => {
      expect(buildSuccessOutput(answer, against, 0).result.accepted).toBe(answer.accepted);
    });

    it.each<[string, { accepted: number; rejected: ReturnType<typeof bad>[] }, string]>([
      [
        "999 accepted rows",
        { accepted: 999, rejected: [] },
        "accepted (999) + rejected (0) = 999 rows, more than the chunk's 4",
      ],
      [
        "rows counted nowhere",
        { accepted: 1, rejected: [bad(2)] },
        "accepted (1) + rejected (1) = 2 rows, fewer than the chunk's 4",
      ],
      [
        "the same row rejected twice",
        { accepted: 2, rejected: [bad(3), bad(3)] },
        "row 3 is rejected more than once",
      ],
      [
        "a row outside the chunk",
        { accepted: 3, rejected: [bad(9)] },
        "rejected row 9 is not in the chunk (rows 2 to 6)",
      ],
      [
        "a row in the chunk's range that is not one of its rows",
        { accepted: 3, rejected: [bad(4)] },
        "rejected row 4 is not in the chunk (rows 2 to 6)",
      ],
      [
        "everything at once",
        { accepted: 5, rejected: [bad(1), bad(7), bad(2), bad(2), bad(2)] },
        "accepted (5) + rejected (5) = 10 rows, more than the chunk's 4; rejected rows 1, 7 are not in the chunk (rows 2 to 6); row 2 is rejected more than once",
      ],
    ])("throws HANDLER_RESULT_INVALID for %s, saying what is wrong", (_, answer, problem) => {
      expect(() => buildSuccessOutput(answer, against, 0)).toThrow(
        expect.objectContaining({
          code: "HANDLER_RESULT_INVALID",
          message: `The handler's result for chunk 7 does not fit the chunk's 4 rows: ${problem}`,
        }),
      );
    });

    it("checks before the 256 KiB rule: 20,000 rejected rows for a 4-row chunk is a handler bug, not too large", () => {
      const rejected = Array.from({ length: 20_000 }, (_, i) => bad(i + 2));
      expect(() => buildSuccessOutput({ accepted: 0, rejected }, against, 0)).toThrow(
        expect.objectContaining({
          code: "HANDLER_RESULT_INVALID",
          message: expect.stringContaining(
            "rejected rows 4, 7, 8, 9, 10, 11, 12, 13, 14, 15 and 19986 more are not in the chunk",
          ),
        }),
      );
    });
  });

  it("keeps every rejected row under 256 KiB by cutting all messages to one common length", () => {
    // 500 rows × 1000 three-byte characters ≈ 1.5 MB before the rule.
    const rejected = Array.from({ length: 500 }, (_, i) => ({
      row: i + 2,
      code: "INVALID",
      message: `${i} ${"가".repeat(1000)}`,
    }));
    const { result, output, messagesShortenedTo } = buildSuccessOutput({ accepted: 0, rejected }, chunk, 1);
    expect(Buffer.byteLength(output, "utf8")).toBeLessThanOrEqual(TASK_OUTPUT_LIMIT_BYTES);
    const rows = unpackRejectedRows(result.rejected);
    expect(rows).toHaveLength(500);
    expect(rows.map((r) => r.row)).toEqual(rejected.map((r) => r.row));
    expect(messagesShortenedTo).toBeGreaterThan(100);
    expect(messagesShortenedTo).toBeLessThan(1000);
    // The longest that fits: one more character would not.
    expect(Math.max(...rows.map((r) => r.message.length))).toBe(messagesShortenedTo);
    expect(TaskResultSchema.parse(JSON.parse(output))).toEqual(result);
  });

  it("answers a 10,000-row chunk whose every row is rejected, each reason once", () => {
    const rejected = Array.from({ length: 10_000 }, (_, i) => ({
      row: i + 2,
      code: i % 3 === 0 ? "QUANTITY_INVALID" : "PHONE_INVALID",
      message: i % 3 === 0 ? "Quantity must be at least 1" : "Phone must look like 010-1234-5678",
    }));
    const { result, output, messagesShortenedTo } = buildSuccessOutput({ accepted: 0, rejected }, chunk, 1);
    expect(Buffer.byteLength(output, "utf8")).toBeLessThanOrEqual(TASK_OUTPUT_LIMIT_BYTES);
    expect(messagesShortenedTo).toBeUndefined();
    expect(result.rejected.reasons).toHaveLength(2);
    expect(unpackRejectedRows(result.rejected)).toEqual(rejected);
  });

  it("keeps 10,000 rows rejected with 10,000 different messages by cutting the messages", () => {
    const rejected = Array.from({ length: 10_000 }, (_, i) => ({
      row: i + 2,
      code: "DUPLICATE_ORDER",
      message: `Order ORD-2026-${String(i).padStart(6, "0")} was already imported by upload orders-3f9c2a1b7e4d`,
    }));
    const { result, output, messagesShortenedTo } = buildSuccessOutput({ accepted: 0, rejected }, chunk, 1);
    expect(Buffer.byteLength(output, "utf8")).toBeLessThanOrEqual(TASK_OUTPUT_LIMIT_BYTES);
    expect(messagesShortenedTo).toBeLessThan(40);
    const rows = unpackRejectedRows(result.rejected);
    expect(rows.map((r) => [r.row, r.code])).toEqual(rejected.map((r) => [r.row, r.code]));
  });

  it("fails with TASK_RESULT_TOO_LARGE when even empty messages do not fit, instead of dropping rows", () => {
    const rejected = Array.from({ length: 30_000 }, (_, i) => ({
      row: i + 2,
      code: "C".repeat(64),
      message: "m",
    }));
    expect(() => buildSuccessOutput({ accepted: 0, rejected }, chunk, 1)).toThrow(
      expect.objectContaining({ code: "TASK_RESULT_TOO_LARGE" }),
    );
  });
});

describe("describeFailure", () => {
  it.each<[string, unknown, string]>([
    ["a string code", Object.assign(new Error("locked"), { code: "DB_LOCKED" }), "DB_LOCKED"],
    ["a named error", new TypeError("x is undefined"), "TypeError"],
    ["a plain Error", new Error("plain"), "HANDLER_ERROR"],
    ["a thrown string", "just text", "HANDLER_ERROR"],
    ["a numeric code", Object.assign(new RangeError("r"), { code: 42 }), "RangeError"],
  ])("uses %s", (_, thrown, error) => {
    expect(describeFailure(thrown).error).toBe(error);
  });

  it("puts the message and the code in a JSON TaskFailureCause", () => {
    expect(describeFailure(Object.assign(new Error("locked"), { code: "DB_LOCKED" }))).toEqual({
      error: "DB_LOCKED",
      cause: JSON.stringify({ message: "locked", code: "DB_LOCKED" }),
    });
    expect(JSON.parse(describeFailure("just text").cause)).toEqual({
      message: "just text",
      code: "HANDLER_ERROR",
    });
  });

  it("names the chunk and the receive count in the cause when it knows them", () => {
    const { error, cause } = describeFailure(
      Object.assign(new Error("refused"), { code: "CHUNK_REJECTED" }),
      {
        chunk: { index: 4, firstRow: 2002, lastRow: 2501, rows: 500 },
        receiveCount: 3,
      },
    );
    expect(error).toBe("CHUNK_REJECTED");
    expect(TaskFailureCauseSchema.strict().parse(JSON.parse(cause))).toEqual({
      message: "refused",
      code: "CHUNK_REJECTED",
      chunkIndex: 4,
      firstRow: 2002,
      lastRow: 2501,
      rows: 500,
      receiveCount: 3,
    });
  });

  it("keeps error and cause within Step Functions' limits, the cause still valid JSON", () => {
    const thrown = Object.assign(new Error('"quoted" '.repeat(10_000)), { code: "E".repeat(300) });
    const { error, cause } = describeFailure(thrown, {
      chunk: { index: 1, firstRow: 2, lastRow: 3, rows: 2 },
      receiveCount: 1,
    });
    expect(error.length).toBeLessThanOrEqual(TASK_FAILURE_LIMITS.errorLength);
    expect(cause.length).toBeLessThanOrEqual(TASK_FAILURE_LIMITS.causeLength);
    expect(cause.length).toBeGreaterThan(TASK_FAILURE_LIMITS.causeLength - 50);
    const parsed = TaskFailureCauseSchema.parse(JSON.parse(cause));
    expect(parsed.message.endsWith("…")).toBe(true);
    expect(parsed).toMatchObject({ code: error, chunkIndex: 1, rows: 2, receiveCount: 1 });
  });
});

describe("truncate", () => {
  it("never splits a surrogate pair", () => {
    const text = `ab${"😀".repeat(5)}`;
    for (let max = 0; max < text.length; max++) {
      const cut = truncate(text, max);
      expect(cut.length).toBeLessThanOrEqual(max);
      expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    }
  });
});
