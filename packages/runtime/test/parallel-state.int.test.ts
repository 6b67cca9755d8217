import { describe, expect, it } from "vitest";
import type { Asl } from "../src/local-workflow.ts";
import {
  jsonlMap,
  lambdaArn,
  lastRunTypes,
  NO_ANSWER,
  putJsonl,
  QUEUE_URL,
  useWorkflowHarness,
  workflowWith,
} from "./support/workflow-harness.ts";

/**
 * Parallel states as AWS runs them ("Parallel workflow state",
 * https://docs.aws.amazon.com/step-functions/latest/dg/state-parallel.html): branches at once, outputs in branch
 * order, a failing branch stops the others; and as RedriveExecution redrives them ("redrives only the iterations
 * and branches that failed or aborted", https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html).
 */

useWorkflowHarness();

const fail = (name: string, message: string) => Object.assign(new Error(message), { name });
/** A Lambda task; it ends its branch unless `extra` gives it a Next. */
const task = (fn: string, extra: Record<string, unknown> = {}) => ({
  Type: "Task",
  Resource: lambdaArn(fn),
  ...("Next" in extra ? {} : { End: true }),
  ...extra,
});
/** A callback task (SQS + task token) that sends `{ taskToken, branch }` and waits for its answer. */
const callback = (branch: string) => ({
  Type: "Task",
  Resource: "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
  TimeoutSeconds: 30,
  Parameters: { QueueUrl: QUEUE_URL, MessageBody: { "taskToken.$": "$$.Task.Token", branch } },
  End: true,
});

/** Both → Done, where Both is a Parallel state of `branches` (each `{ StartAt, States }`). */
function parallel(branches: Record<string, unknown>[], extra: Record<string, unknown> = {}): Asl {
  return {
    StartAt: "Both",
    States: {
      Both: { Type: "Parallel", Branches: branches, ResultPath: "$.branches", Next: "Done", ...extra },
      Done: { Type: "Succeed" },
    },
  } as unknown as Asl;
}

describe("Parallel state", () => {
  it("runs its branches at once on the state's input, and its result is their outputs in branch order", async () => {
    // The first branch finishes only once the second has started: run one after the other, they would hang.
    let secondStarted!: () => void;
    const started = new Promise<void>((resolve) => {
      secondStarted = resolve;
    });
    const { workflow } = workflowWith(
      parallel(
        [
          { StartAt: "First", States: { First: task("first") } },
          {
            StartAt: "Second",
            States: { Second: task("second", { ResultSelector: { "second.$": "$.n" } }) },
          },
        ],
        { Parameters: { "n.$": "$.n", "id.$": "$$.Execution.Name" } },
      ),
      {
        lambdas: {
          first: async (event) => {
            await started;
            return { first: event };
          },
          second: async (event) => {
            secondStarted();
            return event;
          },
        },
      },
    );
    const execution = workflow.start("branches", { n: 7 });
    await execution.done;
    expect(execution.status).toBe("SUCCEEDED");
    expect(execution.output).toEqual({
      n: 7,
      branches: [{ first: { n: 7, id: "branches" } }, { second: 7 }],
    });
    const types = lastRunTypes(workflow, execution.executionArn);
    expect(types.slice(0, 3)).toEqual(["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted"]);
    expect(types.slice(-5)).toEqual([
      "ParallelStateSucceeded",
      "ParallelStateExited",
      "SucceedStateEntered",
      "SucceedStateExited",
      "ExecutionSucceeded",
    ]);
    // Both branches' states are in the execution's history; Both, First, Second and Done are transitions.
    expect(types.filter((t) => t === "TaskStateEntered")).toHaveLength(2);
    expect(workflow.usage(execution.executionArn)!.transitions).toBe(4);
  });

  it("a failing branch stops the others and fails the state with its error; a running Lambda is not stopped", async () => {
    let slowFinished = false;
    const { workflow, tokens } = workflowWith(
      parallel([
        { StartAt: "Wait", States: { Wait: callback("wait") } },
        { StartAt: "Slow", States: { Slow: task("slow") } },
        { StartAt: "Broken", States: { Broken: task("broken") } },
      ]),
      {
        consume: () => NO_ANSWER,
        lambdas: {
          slow: async () => {
            await new Promise((resolve) => setTimeout(resolve, 150));
            slowFinished = true;
            return {};
          },
          broken: async () => {
            await new Promise((resolve) => setTimeout(resolve, 30));
            throw fail("SHEET_BROKEN", "the sheet is broken");
          },
        },
      },
    );
    const execution = workflow.start("stops-the-others", {});
    await execution.done;
    expect(execution).toMatchObject({ status: "FAILED", error: "SHEET_BROKEN" });
    expect(JSON.parse(execution.cause!)).toMatchObject({ errorMessage: "the sheet is broken" });
    // The waiting callback task was stopped; the Lambda function already invoked runs on to its end.
    expect(tokens.pending).toBe(0);
    expect(slowFinished).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(slowFinished).toBe(true);
    const types = lastRunTypes(workflow, execution.executionArn);
    expect(types).toContain("ParallelStateFailed");
    expect(types).not.toContain("ParallelStateExited");
    expect(types.at(-1)).toBe("ExecutionFailed");
  });

  it("a Catch on the state handles a branch's error by its name; a Retry runs every branch again", async () => {
    const calls = { steady: 0, flaky: 0 };
    const { workflow } = workflowWith(
      {
        StartAt: "Both",
        States: {
          Both: {
            Type: "Parallel",
            Branches: [
              { StartAt: "Steady", States: { Steady: task("steady") } },
              { StartAt: "Flaky", States: { Flaky: task("flaky") } },
            ],
            Retry: [{ ErrorEquals: ["BUSY"], MaxAttempts: 1 }],
            Catch: [{ ErrorEquals: ["BROKEN"], ResultPath: "$.error", Next: "Caught" }],
            Next: "Done",
          },
          Caught: { Type: "Pass", End: true },
          Done: { Type: "Succeed" },
        },
      } as unknown as Asl,
      {
        lambdas: {
          steady: async () => ({ steady: ++calls.steady }),
          flaky: async () => {
            calls.flaky++;
            if (calls.flaky === 1) throw fail("BUSY", "try again");
            throw fail("BROKEN", "for good");
          },
        },
      },
    );
    const execution = workflow.start("retry-and-catch", {});
    await execution.done;
    expect(execution.status).toBe("SUCCEEDED");
    expect(calls).toEqual({ steady: 2, flaky: 2 });
    expect(execution.output).toMatchObject({ error: { Error: "BROKEN" } });
  });

  it("a redrive runs only the branches that failed or were stopped, each from where it stopped, and keeps the others' outputs", async () => {
    const calls = { prepare: 0, load: 0, side: 0 };
    let broken = true;
    let answer = false;
    const { workflow, sent } = workflowWith(
      parallel([
        {
          StartAt: "Prepare",
          States: {
            Prepare: task("prepare", { ResultPath: "$.prepared", Next: "Load" }),
            Load: task("load", { InputPath: "$.prepared" }),
          },
        },
        { StartAt: "Side", States: { Side: task("side") } },
        { StartAt: "Ask", States: { Ask: callback("ask") } },
      ]),
      {
        consume: (body) => (answer ? { answered: body.branch } : NO_ANSWER),
        lambdas: {
          prepare: async () => ({ prepared: ++calls.prepare }),
          load: async (event) => {
            calls.load++;
            await new Promise((resolve) => setTimeout(resolve, 30));
            if (broken) throw fail("DB_DOWN", "the database is down");
            return { loaded: event };
          },
          side: async () => ({ side: ++calls.side }),
        },
      },
    );
    const execution = workflow.start("redrive-branches", { upload: "u" });
    await execution.done;
    expect(execution).toMatchObject({ status: "FAILED", error: "DB_DOWN" });
    expect(sent).toHaveLength(1);

    broken = false;
    answer = true;
    workflow.redrive(execution.executionArn);
    await execution.done;
    expect(execution.status).toBe("SUCCEEDED");
    // Prepare and Side succeeded in the first run and did not run again; Load ran again with the input it
    // entered with; the stopped callback task was sent again.
    expect(calls).toEqual({ prepare: 1, load: 2, side: 1 });
    expect(sent).toHaveLength(2);
    expect(execution.output).toEqual({
      upload: "u",
      branches: [{ loaded: { prepared: 1 } }, { side: 1 }, { answered: "ask" }],
    });
    const redrive = lastRunTypes(workflow, execution.executionArn);
    expect(redrive.slice(0, 3)).toEqual([
      "ExecutionRedriven",
      "ParallelStateEntered",
      "ParallelStateStarted",
    ]);
    expect(redrive.filter((t) => t === "TaskStateEntered")).toHaveLength(2);
  });

  it("a Distributed Map in a branch: a redrive redrives its Map Run with only the failed items", async () => {
    await putJsonl("items/parallel.jsonl", [{ n: 0 }, { n: 1 }, { n: 2 }]);
    const seen = new Map<number, number>();
    let broken = true;
    const { workflow } = workflowWith(
      parallel([
        { StartAt: "Convert", States: { Convert: task("convert") } },
        {
          StartAt: "Deliver",
          States: {
            Deliver: jsonlMap({ Key: "items/parallel.jsonl" }, { MaxConcurrency: 1, End: true }),
          },
        },
      ]),
      {
        lambdas: { convert: async () => ({ converted: true }) },
        consume: (body) => {
          const index = Number(body.index);
          seen.set(index, (seen.get(index) ?? 0) + 1);
          if (index === 1 && broken) throw fail("DB_LOCKED", "the table is locked");
          return { index };
        },
      },
    );
    const execution = workflow.start("map-in-branch", {});
    await execution.done;
    expect(execution).toMatchObject({ status: "FAILED", error: "States.ExceedToleratedFailureThreshold" });
    const [mapRun] = workflow.mapRunsOf(execution.executionArn);
    expect(mapRun!.counts()).toMatchObject({ succeeded: 1, failed: 1 });

    broken = false;
    workflow.redrive(execution.executionArn);
    await execution.done;
    expect(execution).toMatchObject({ status: "SUCCEEDED" });
    expect(workflow.mapRunsOf(execution.executionArn)).toHaveLength(1);
    expect(mapRun).toMatchObject({ status: "SUCCEEDED", redriveCount: 1 });
    expect(Object.fromEntries(seen)).toEqual({ 0: 1, 1: 2, 2: 1 });
    expect(execution.output).toEqual({
      branches: [{ converted: true }, [{ index: 0 }, { index: 1 }, { index: 2 }]],
    });
    expect(lastRunTypes(workflow, execution.executionArn)).toContain("MapRunRedriven");
  });

  it("refuses a Parallel state inside a branch (the local runtime does not nest them)", () => {
    const nested = parallel([
      {
        StartAt: "Inner",
        States: {
          Inner: { Type: "Parallel", Branches: [{ StartAt: "X", States: { X: task("x") } }], End: true },
        },
      },
    ]);
    expect(() => workflowWith(nested, { lambdas: { x: async () => ({}) } })).toThrow(
      /no Parallel state inside a Parallel branch/,
    );
  });
});
