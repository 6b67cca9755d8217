import { CAUSE_LIMIT, parseCause } from "@sluice/contract";
import { describe, expect, it } from "vitest";

describe("parseCause", () => {
  it.each([
    [
      "a Lambda error",
      JSON.stringify({
        errorType: "WORKBOOK_CORRUPT",
        errorMessage: "The zip does not open",
        trace: ["at x"],
      }),
      { message: "The zip does not open", errorType: "WORKBOOK_CORRUPT" },
    ],
    [
      "a chunk failure",
      JSON.stringify({ chunkIndex: 3, cause: "database down" }),
      { chunkIndex: 3, message: "database down" },
    ],
    [
      "a chunk failure whose cause is a Lambda error",
      JSON.stringify({
        chunkIndex: 0,
        cause: JSON.stringify({ errorType: "Timeout", errorMessage: "Task timed out" }),
      }),
      { chunkIndex: 0, message: "Task timed out", errorType: "Timeout" },
    ],
    [
      "the workflow's failed chunk, whose cause is the admin server's",
      JSON.stringify({
        chunkIndex: 2,
        firstRow: 1002,
        lastRow: 1501,
        failure: {
          Error: "DUPLICATE_ORDER",
          Cause: JSON.stringify({ message: "Order 7 exists", code: "DUPLICATE_ORDER" }),
        },
      }),
      {
        chunkIndex: 2,
        firstRow: 1002,
        lastRow: 1501,
        message: "Order 7 exists",
        errorType: "DUPLICATE_ORDER",
      },
    ],
    [
      "the workflow's failed chunk after a heartbeat timeout (no Cause)",
      JSON.stringify({
        chunkIndex: 5,
        firstRow: 2,
        lastRow: 9,
        failure: { Error: "States.HeartbeatTimeout" },
      }),
      {
        chunkIndex: 5,
        firstRow: 2,
        lastRow: 9,
        message: "States.HeartbeatTimeout",
        errorType: "States.HeartbeatTimeout",
      },
    ],
    [
      "a TaskFailureCause (the consumer's or the chunk dead-letter handler's)",
      JSON.stringify({
        message: "Chunk 3 (rows 1502-2001, 500 rows) of upload u was received 5 times without an answer",
        code: "CHUNK_DEAD_LETTERED",
        chunkIndex: 3,
        firstRow: 1502,
        lastRow: 2001,
        rows: 500,
        receiveCount: 5,
      }),
      {
        chunkIndex: 3,
        firstRow: 1502,
        lastRow: 2001,
        rows: 500,
        message: "Chunk 3 (rows 1502-2001, 500 rows) of upload u was received 5 times without an answer",
        errorType: "CHUNK_DEAD_LETTERED",
      },
    ],
    [
      "a TaskFailureCause without a chunk",
      JSON.stringify({ message: "Order ORD-1 exists", code: "DUPLICATE_ORDER" }),
      { message: "Order ORD-1 exists", errorType: "DUPLICATE_ORDER" },
    ],
    ["plain text", "States.Timeout after 3600 seconds", { message: "States.Timeout after 3600 seconds" }],
    ["broken JSON", '{"errorMessage": "cut', { message: '{"errorMessage": "cut' }],
    ["JSON without a message", '{"foo":1}', { message: '{"foo":1}' }],
    ["a negative chunk index", '{"chunkIndex":-1,"cause":"x"}', { message: '{"chunkIndex":-1,"cause":"x"}' }],
    ["nothing", undefined, { message: "" }],
  ])("reads %s", (_what, cause, expected) => {
    expect(parseCause(cause)).toEqual(expected);
  });

  it("bounds the message", () => {
    const message = parseCause(JSON.stringify({ errorType: "E", errorMessage: "x".repeat(100_000) })).message;
    expect(message.length).toBe(CAUSE_LIMIT);
    expect(message.endsWith("…")).toBe(true);
  });
});
