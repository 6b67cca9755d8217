import { LAMBDA_THROTTLED } from "@sluice/workflow";
import { describe, expect, it } from "vitest";
import { LambdaConcurrency } from "../src/lambda-concurrency.ts";
import { StatesError } from "../src/task-tokens.ts";

describe("LambdaConcurrency", () => {
  it("lets `limit` invocations of a function run at once and throttles the next, per function", () => {
    const concurrency = new LambdaConcurrency(2);
    const first = concurrency.acquire("convert");
    const second = concurrency.acquire("convert");
    expect(first).toBeTypeOf("function");
    expect(second).toBeTypeOf("function");
    expect(concurrency.acquire("summarize")).toBeTypeOf("function");
    const refused = concurrency.acquire("convert");
    expect(refused).toBeInstanceOf(StatesError);
    expect((refused as StatesError).name).toBe(LAMBDA_THROTTLED);
    expect((refused as StatesError).message).toMatch(
      /^Rate Exceeded\. \(Service: AWSLambda; Status Code: 429; Error Code: TooManyRequestsException; Request ID: [0-9a-f-]{36}; Proxy: null\)$/,
    );
    // A slot given back once frees one invocation, however often it is called.
    (first as () => void)();
    (first as () => void)();
    expect(concurrency.running("convert")).toBe(1);
    expect(concurrency.acquire("convert")).toBeTypeOf("function");
    expect(concurrency.acquire("convert")).toBeInstanceOf(StatesError);
  });

  it("refuses a limit that is not a whole number of 1 or more", () => {
    for (const limit of [0, -1, 1.5, Number.NaN])
      expect(() => new LambdaConcurrency(limit)).toThrow(RangeError);
  });
});
