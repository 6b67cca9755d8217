import { failureEventPattern } from "@sluice/workflow";
import { describe, expect, it } from "vitest";
import {
  type AsyncFailureContext,
  executionStatusChangeEvent,
  invokeAsync,
  matchesPattern,
  STATUS_CHANGE_PAYLOAD_LIMIT_BYTES,
} from "../src/event-rules.ts";

const SM = "arn:aws:states:us-east-1:123456789012:stateMachine:sluice-upload";
const EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:sluice-upload:upload-42";

describe("executionStatusChangeEvent", () => {
  it("has the documented envelope and detail", () => {
    const event = executionStatusChangeEvent(
      {
        executionArn: EXECUTION,
        stateMachineArn: SM,
        status: "FAILED",
        startDate: new Date("2026-01-02T03:04:05.678Z"),
        stopDate: 1767323100123,
        input: '{"key":"uploads/a.xlsx"}',
        output: '{"ignored":true}',
        error: "States.TaskFailed",
        cause: "the convert task failed",
      },
      { id: "e-1", time: new Date("2026-01-02T03:05:00.999Z") },
    );
    expect(event).toEqual({
      version: "0",
      id: "e-1",
      "detail-type": "Step Functions Execution Status Change",
      source: "aws.states",
      account: "123456789012",
      time: "2026-01-02T03:05:00Z",
      region: "us-east-1",
      resources: [EXECUTION],
      detail: {
        executionArn: EXECUTION,
        stateMachineArn: SM,
        name: "upload-42",
        status: "FAILED",
        startDate: Date.parse("2026-01-02T03:04:05.678Z"),
        stopDate: 1767323100123,
        input: '{"key":"uploads/a.xlsx"}',
        inputDetails: { included: true },
        output: null, // set only for SUCCEEDED
        outputDetails: null,
        error: "States.TaskFailed",
        cause: "the convert task failed",
        stateMachineVersionArn: null,
        stateMachineAliasArn: null,
        redriveCount: 0,
        redriveDate: null,
        redriveStatus: "REDRIVABLE",
        redriveStatusReason: null,
      },
    });
  });

  it("fills a running or succeeded execution's redrive status and output as DescribeExecution does", () => {
    const running = executionStatusChangeEvent({
      executionArn: EXECUTION,
      stateMachineArn: SM,
      status: "RUNNING",
      startDate: 1,
      input: "{}",
    });
    expect(running.detail).toMatchObject({
      stopDate: null,
      output: null,
      outputDetails: null,
      error: null,
      cause: null,
      redriveStatus: "NOT_REDRIVABLE",
      redriveStatusReason: "Execution is RUNNING and cannot be redriven",
    });
    expect(running.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(running.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const succeeded = executionStatusChangeEvent({
      executionArn: EXECUTION,
      stateMachineArn: SM,
      status: "SUCCEEDED",
      startDate: 1,
      stopDate: 2,
      input: "{}",
      output: '"done"',
      redriveCount: 1,
      redriveDate: new Date(5),
    });
    expect(succeeded.detail).toMatchObject({
      output: '"done"',
      outputDetails: { included: true },
      redriveCount: 1,
      redriveDate: 5,
      redriveStatus: "NOT_REDRIVABLE",
      redriveStatusReason: "Execution is SUCCEEDED and cannot be redriven",
    });
  });

  it("leaves out an input or output whose escaped size passes 248 KB, and says so", () => {
    const big = JSON.stringify({ rows: "r".repeat(STATUS_CHANGE_PAYLOAD_LIMIT_BYTES) });
    const half = JSON.stringify({ rows: "h".repeat(STATUS_CHANGE_PAYLOAD_LIMIT_BYTES / 2) });
    const both = executionStatusChangeEvent({
      executionArn: EXECUTION,
      stateMachineArn: SM,
      status: "SUCCEEDED",
      startDate: 1,
      input: half,
      output: half,
    });
    // Together over the limit: the input goes, the output (under the limit alone) stays.
    expect(both.detail.input).toBeNull();
    expect(both.detail.inputDetails).toEqual({ included: false });
    expect(both.detail.output).toBe(half);
    expect(both.detail.outputDetails).toEqual({ included: true });

    const hugeOutput = executionStatusChangeEvent({
      executionArn: EXECUTION,
      stateMachineArn: SM,
      status: "SUCCEEDED",
      startDate: 1,
      input: "{}",
      output: big,
    });
    expect(hugeOutput.detail).toMatchObject({
      input: null,
      inputDetails: { included: false },
      output: null,
      outputDetails: { included: false },
    });
  });

  it("rejects an ARN that is not a Step Functions execution's", () => {
    expect(() =>
      executionStatusChangeEvent({
        executionArn: "nope",
        stateMachineArn: SM,
        status: "FAILED",
        startDate: 0,
      }),
    ).toThrow(/not a Step Functions execution ARN/);
  });
});

describe("matchesPattern", () => {
  const event = (status: string, stateMachineArn = SM) =>
    executionStatusChangeEvent({
      executionArn: EXECUTION,
      stateMachineArn,
      status: status as "FAILED",
      startDate: 0,
    });
  const pattern = failureEventPattern(SM);

  it("matches the workflow's failure pattern on a failed, timed-out or aborted execution of its state machine", () => {
    for (const status of ["FAILED", "TIMED_OUT", "ABORTED"])
      expect(matchesPattern(pattern, event(status))).toBe(true);
  });

  it("does not match a status outside the list, or another state machine", () => {
    expect(matchesPattern(pattern, event("SUCCEEDED"))).toBe(false);
    expect(matchesPattern(pattern, event("RUNNING"))).toBe(false);
    expect(matchesPattern(pattern, event("FAILED", `${SM}-other`))).toBe(false);
    expect(matchesPattern(pattern, { ...event("FAILED"), source: "aws.lambda" })).toBe(false);
    expect(matchesPattern(pattern, { ...event("FAILED"), "detail-type": "Other" })).toBe(false);
  });

  it("needs every listed field, nested fields included, and compares exactly", () => {
    const nested = { detail: { outer: { inner: ["x"] }, flag: [true], count: [3] } };
    expect(matchesPattern(nested, { detail: { outer: { inner: "x" }, flag: true, count: 3, more: 1 } })).toBe(
      true,
    );
    expect(matchesPattern(nested, { detail: { outer: { inner: "X" }, flag: true, count: 3 } })).toBe(false);
    expect(matchesPattern(nested, { detail: { outer: { inner: "x" }, flag: true, count: "3" } })).toBe(false);
    expect(matchesPattern(nested, { detail: { outer: { inner: "x" }, flag: true } })).toBe(false);
    expect(matchesPattern(nested, { detail: { outer: "x", flag: true, count: 3 } })).toBe(false);
    expect(matchesPattern(nested, { detail: null })).toBe(false);
  });

  it("matches null and the empty string only as themselves, and arrays by intersection", () => {
    expect(matchesPattern({ detail: { error: [null] } }, { detail: { error: null } })).toBe(true);
    expect(matchesPattern({ detail: { error: [null] } }, { detail: { error: "" } })).toBe(false);
    expect(matchesPattern({ detail: { error: [null] } }, { detail: {} })).toBe(false);
    expect(matchesPattern({ detail: { error: [""] } }, { detail: { error: null } })).toBe(false);
    expect(matchesPattern({ resources: ["a", "b"] }, { resources: ["c", "b"] })).toBe(true);
    expect(matchesPattern({ resources: ["a"] }, { resources: ["c"] })).toBe(false);
    expect(
      matchesPattern({ detail: { items: { id: ["2"] } } }, { detail: { items: [{ id: "1" }, { id: "2" }] } }),
    ).toBe(true);
  });

  it("throws for content filters it does not implement", () => {
    const e = event("FAILED");
    expect(() => matchesPattern({ source: [{ prefix: "aws." }] } as never, e)).toThrow(/"prefix" operator/);
    expect(() => matchesPattern({ detail: { status: [{ "anything-but": "RUNNING" }] } } as never, e)).toThrow(
      /"anything-but" operator.*not implemented/,
    );
    expect(() => matchesPattern({ detail: { n: [{ numeric: [">", 0] }] } } as never, e)).toThrow(/numeric/);
    expect(() => matchesPattern({ detail: { error: [{ exists: true }] } } as never, e)).toThrow(/exists/);
    expect(() => matchesPattern({ $or: [{ source: ["x"] }] } as never, e)).toThrow(/\$or/);
    expect(() => matchesPattern({ source: "aws.states" } as never, e)).toThrow(/expected an object/);
    expect(() => matchesPattern({ source: [] }, e)).toThrow(/empty list/);
  });
});

describe("invokeAsync", () => {
  const fast = { retryDelaysMs: [5, 10] };

  it("runs once when the function succeeds", async () => {
    const successes: unknown[] = [];
    const result = await invokeAsync(async (n: number) => n * 2, 21, {
      ...fast,
      onSuccess: (_event, value) => {
        successes.push(value);
      },
      onFailure: () => {
        throw new Error("not expected");
      },
    });
    expect(result).toEqual({ status: "succeeded", attempts: 1, result: 42 });
    expect(successes).toEqual([42]);
  });

  it("retries a throwing function twice with the delays, then calls onFailure once", async () => {
    const times: number[] = [];
    const failures: [unknown, unknown, AsyncFailureContext][] = [];
    const result = await invokeAsync(
      (event: { id: string }) => {
        times.push(Date.now());
        throw new Error(`attempt ${times.length} for ${event.id}`);
      },
      { id: "e1" },
      {
        retryDelaysMs: [30, 60],
        onFailure: (event, error, context) => {
          failures.push([event, error, context]);
        },
      },
    );
    expect(times).toHaveLength(3);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(25);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(55);
    expect(failures).toEqual([
      [
        { id: "e1" },
        new Error("attempt 3 for e1"),
        { condition: "RetriesExhausted", approximateInvokeCount: 3 },
      ],
    ]);
    expect(result).toMatchObject({ status: "failed", attempts: 3, condition: "RetriesExhausted" });
  });

  it("succeeds on a retry without calling onFailure", async () => {
    let calls = 0;
    let failed = false;
    const result = await invokeAsync(
      () => {
        calls += 1;
        if (calls < 2) throw new Error("transient");
        return "ok";
      },
      {},
      {
        ...fast,
        onFailure: () => {
          failed = true;
        },
      },
    );
    expect(result).toEqual({ status: "succeeded", attempts: 2, result: "ok" });
    expect(failed).toBe(false);
  });

  it("honours fewer retry attempts and the maximum event age", async () => {
    let calls = 0;
    const none = await invokeAsync(
      () => {
        calls += 1;
        throw new Error("x");
      },
      {},
      { ...fast, maximumRetryAttempts: 0 },
    );
    expect(none).toMatchObject({ status: "failed", attempts: 1 });
    expect(calls).toBe(1);

    const contexts: AsyncFailureContext[] = [];
    const aged = await invokeAsync(
      () => {
        throw new Error("y");
      },
      {},
      {
        retryDelaysMs: [30],
        maximumEventAgeMs: 10,
        onFailure: (_e, _err, context) => void contexts.push(context),
      },
    );
    expect(aged).toMatchObject({ status: "failed", attempts: 1, condition: "EventAgeExceeded" });
    expect(contexts).toEqual([{ condition: "EventAgeExceeded", approximateInvokeCount: 1 }]);
  });

  it("never rejects: a throwing onFailure goes to onError, and an abort settles as aborted", async () => {
    const errors: unknown[] = [];
    const result = await invokeAsync(
      () => Promise.reject(new Error("handler")),
      {},
      {
        ...fast,
        onFailure: () => Promise.reject(new Error("destination")),
        onError: (error) => errors.push(error),
      },
    );
    expect(result.status).toBe("failed");
    expect(errors).toEqual([new Error("destination")]);

    const controller = new AbortController();
    let failed = false;
    const pending = invokeAsync(
      () => {
        throw new Error("z");
      },
      {},
      {
        retryDelaysMs: [60_000],
        signal: controller.signal,
        onFailure: () => {
          failed = true;
        },
      },
    );
    setTimeout(() => controller.abort(), 10);
    await expect(pending).resolves.toEqual({ status: "aborted", attempts: 1 });
    expect(failed).toBe(false);
  });
});
