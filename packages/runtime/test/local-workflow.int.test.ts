import { SendTaskHeartbeatCommand, SendTaskSuccessCommand, SFNClient } from "@aws-sdk/client-sfn";
import { CONTRACT_VERSION } from "@sluice/contract";
import { DEFAULT_STAGE_CONFIG, PLACEHOLDER, workflowAsl } from "@sluice/workflow";
import { describe, expect, it } from "vitest";
import type { Asl } from "../src/local-workflow.ts";
import { StepFunctionsApi } from "../src/step-functions-api.ts";
import { StatesError, type TaskTokens } from "../src/task-tokens.ts";
import {
  callbackChild,
  lambdaArn,
  lastRunTypes,
  mapWorkflow,
  NO_ANSWER,
  putJsonl,
  QUEUE_URL,
  readText,
  useWorkflowHarness,
  workflowWith,
} from "./support/workflow-harness.ts";

/**
 * LocalWorkflow on small hand-written ASL documents: redrive by the history's unfinished state, usage as AWS
 * bills it, payload limits, task timers, and the SQS integration's errors.
 */

useWorkflowHarness([PLACEHOLDER.bucket]);

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ n: i }));
let uploads = 0;
/** A fresh items object and results prefix per test. */
async function upload(n: number) {
  const id = `u${++uploads}`;
  await putJsonl(`items/${id}.jsonl`, items(n));
  return { key: `items/${id}.jsonl`, prefix: `results/${id}/` };
}

interface Manifest {
  ResultFiles: Record<"SUCCEEDED" | "FAILED" | "PENDING", { Key: string }[]>;
}

const fail = (name: string, message: string) => Object.assign(new Error(message), { name });

describe("usage, counted as AWS bills a Standard workflow", () => {
  it("counts parent states, one transition per child started and the child's states", async () => {
    const { workflow } = workflowWith(mapWorkflow());
    const execution = workflow.start("usage", await upload(3));
    expect((await execution.done).status).toBe("SUCCEEDED");
    // Prepare, Deliver, Done + 3 child starts + 3 child states (Send).
    expect(workflow.usage(execution.executionArn)).toEqual({
      transitions: 3 + 3 + 3,
      childExecutions: 3,
      lambdaInvocations: 0,
      lambdaMs: 0,
    });
  });

  it("adds a transition and a Lambda invocation per Retry attempt", async () => {
    let calls = 0;
    const asl: Asl = {
      StartAt: "Flaky",
      States: {
        Flaky: {
          Type: "Task",
          Resource: lambdaArn("flaky"),
          Retry: [{ ErrorEquals: ["Busy"], MaxAttempts: 3 }],
          End: true,
        },
      },
    };
    const { workflow } = workflowWith(asl, {
      lambdas: {
        flaky: async () => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          if (++calls < 3) throw fail("Busy", "try again");
          return { ok: true };
        },
      },
    });
    const execution = workflow.start("retry", {});
    expect((await execution.done).status).toBe("SUCCEEDED");
    const usage = workflow.usage(execution.executionArn)!;
    // One state entered, two retries.
    expect(usage).toMatchObject({ transitions: 3, childExecutions: 0, lambdaInvocations: 3 });
    expect(usage.lambdaMs).toBeGreaterThanOrEqual(3 * 5);
  });
});

describe("RedriveExecution, from the state with an Entered and no Exited event", () => {
  it("a Map whose one item failed, no Catch: reruns only that item of the same Map Run, then SUCCEEDS", async () => {
    const seen = new Map<number, number>();
    let broken = true;
    const { workflow, sent } = workflowWith(mapWorkflow({ MaxConcurrency: 1 }), {
      consume: (body) => {
        const index = Number(body.index);
        seen.set(index, (seen.get(index) ?? 0) + 1);
        if (index === 2 && broken) throw fail("DB_LOCKED", "the table is locked");
        return { index };
      },
    });
    const where = await upload(3);
    const execution = workflow.start("redrive-map", where);
    await execution.done;
    expect(execution).toMatchObject({ status: "FAILED", error: "States.ExceedToleratedFailureThreshold" });
    const [mapRun] = workflow.mapRunsOf(execution.executionArn);
    expect(mapRun!.counts()).toMatchObject({ succeeded: 2, failed: 1, pendingRedrive: 1 });
    const prepareUsage = workflow.usage(execution.executionArn)!;

    broken = false;
    const redriven = workflow.redrive(execution.executionArn);
    expect(redriven).toBe(execution);
    expect(execution).toMatchObject({ status: "RUNNING", redriveCount: 1 });
    await execution.done;
    expect(execution.status).toBe("SUCCEEDED");
    expect(Object.fromEntries(seen)).toEqual({ 0: 1, 1: 1, 2: 2 });
    expect(sent).toHaveLength(4);

    // The same Map Run, redriven; the history of the redrive starts at the Map state.
    expect(workflow.mapRunsOf(execution.executionArn)).toHaveLength(1);
    expect(mapRun!).toMatchObject({ status: "SUCCEEDED", redriveCount: 1 });
    expect(mapRun!.counts()).toMatchObject({
      succeeded: 3,
      failed: 0,
      total: 3,
      resultsWritten: 3,
      pending: 0,
    });
    expect(lastRunTypes(workflow, execution.executionArn)).toEqual([
      "ExecutionRedriven",
      "MapStateEntered",
      "MapStateStarted",
      "MapRunRedriven",
      "MapRunSucceeded",
      "MapStateSucceeded",
      "MapStateExited",
      "SucceedStateEntered",
      "SucceedStateExited",
      "ExecutionSucceeded",
    ]);
    // The redrive: itself, the Map and Done, one child redriven and its state. Prepare is not run again.
    expect(workflow.usage(execution.executionArn)!.transitions).toBe(
      prepareUsage.transitions + 1 + 2 + 1 + 1,
    );

    // Every item once in the results: the earlier successes are kept.
    const details = (execution.output as { delivery: { ResultWriterDetails: { Key: string } } }).delivery;
    const manifest = JSON.parse(await readText(details.ResultWriterDetails.Key)) as Manifest;
    const lines = (await Promise.all(manifest.ResultFiles.SUCCEEDED.map((f) => readText(f.Key)))).flatMap(
      (text) =>
        text
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line)),
    );
    expect(lines.map((l: { index: number }) => l.index).sort()).toEqual([0, 1, 2]);
    expect(manifest.ResultFiles.FAILED).toEqual([]);

    expect(() => workflow.redrive(execution.executionArn)).toThrow(
      expect.objectContaining({ name: "ExecutionNotRedrivable" }),
    );
  });

  it("the same Map with a Catch to a Fail state: re-enters only the Fail state and fails again", async () => {
    const seen: number[] = [];
    const asl = mapWorkflow(
      { Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "Failed" }] },
      { Failed: { Type: "Fail", Error: "DeliveryFailed", Cause: "a chunk failed" } },
    );
    const { workflow } = workflowWith(asl, {
      consume: (body) => {
        seen.push(Number(body.index));
        if (Number(body.index) === 1) throw fail("DB_LOCKED", "the table is locked");
        return { index: body.index };
      },
    });
    const execution = workflow.start("redrive-fail-state", await upload(3));
    await execution.done;
    expect(execution).toMatchObject({ status: "FAILED", error: "DeliveryFailed" });
    // The caught Map exited; the Fail state did not.
    expect(execution.unfinishedState()).toMatchObject({ name: "Failed" });
    const sends = seen.length;

    workflow.redrive(execution.executionArn);
    await execution.done;
    expect(execution).toMatchObject({ status: "FAILED", error: "DeliveryFailed", redriveCount: 1 });
    expect(seen).toHaveLength(sends);
    expect(workflow.mapRunsOf(execution.executionArn)[0]!.redriveCount).toBe(0);
    expect(lastRunTypes(workflow, execution.executionArn)).toEqual([
      "ExecutionRedriven",
      "FailStateEntered",
      "ExecutionFailed",
    ]);
  });

  it("a failing Lambda Task with no Catch: reruns that task only, not the states before it", async () => {
    const calls = { first: 0, second: 0 };
    let broken = true;
    const asl: Asl = {
      StartAt: "First",
      States: {
        First: { Type: "Task", Resource: lambdaArn("first"), ResultPath: "$.first", Next: "Second" },
        Second: {
          Type: "Task",
          Resource: lambdaArn("second"),
          Parameters: {
            "first.$": "$.first",
            "executionId.$": "$$.Execution.Id",
            "startTime.$": "$$.Execution.StartTime",
            "input.$": "$$.Execution.Input",
          },
          ResultPath: "$.second",
          End: true,
        },
      },
    };
    const { workflow } = workflowWith(asl, {
      lambdas: {
        first: async () => ({ step: ++calls.first }),
        second: async (event) => {
          calls.second++;
          if (broken) throw fail("REPORT_FAILED", "the report store is down");
          return event;
        },
      },
    });
    const execution = workflow.start("redrive-task", { upload: "a" });
    await execution.done;
    expect(execution).toMatchObject({ status: "FAILED", error: "REPORT_FAILED" });
    expect(JSON.parse(execution.cause!)).toMatchObject({
      errorType: "REPORT_FAILED",
      errorMessage: "the report store is down",
    });

    broken = false;
    workflow.redrive(execution.executionArn);
    await execution.done;
    expect(execution.status).toBe("SUCCEEDED");
    expect(calls).toEqual({ first: 1, second: 2 });
    // The context object is the execution's, not the resumed state's: same input and start time.
    expect(execution.output).toEqual({
      upload: "a",
      first: { step: 1 },
      second: {
        first: { step: 1 },
        executionId: execution.executionArn,
        startTime: execution.startDate.toISOString(),
        input: { upload: "a" },
      },
    });
    expect(lastRunTypes(workflow, execution.executionArn).slice(0, 2)).toEqual([
      "ExecutionRedriven",
      "TaskStateEntered",
    ]);
  });

  it("refuses what AWS refuses", async () => {
    const { workflow } = workflowWith({ StartAt: "Done", States: { Done: { Type: "Succeed" } } });
    const execution = workflow.start("done", {});
    await execution.done;
    expect(() => workflow.redrive(execution.executionArn)).toThrow(
      expect.objectContaining({ name: "ExecutionNotRedrivable" }),
    );
    expect(() => workflow.redrive(`${execution.executionArn}-nope`)).toThrow(
      expect.objectContaining({ name: "ExecutionDoesNotExist" }),
    );
  });

  it("redrives an ABORTED execution from the state that was running", async () => {
    const { workflow, tokens } = workflowWith(
      { StartAt: "Wait", States: { Wait: { ...callbackChild().States.Send } } } as unknown as Asl,
      { consume: () => NO_ANSWER },
    );
    const execution = workflow.start("stopped", { item: 1, index: 0 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(tokens.pending).toBe(1);
    workflow.stop(execution.executionArn, { error: "Operator", cause: "stopped by hand" });
    await execution.done;
    expect(execution).toMatchObject({ status: "ABORTED", error: "Operator" });
    expect(tokens.pending).toBe(0);
    workflow.redrive(execution.executionArn);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(tokens.pending).toBe(1);
    workflow.stop(execution.executionArn);
    await execution.done;
    expect(execution.status).toBe("ABORTED");
  });
});

describe("payload limits (256 KiB)", () => {
  it("a Lambda result over the limit fails with States.DataLimitExceeded, which States.ALL does not catch", async () => {
    const asl: Asl = {
      StartAt: "Big",
      States: {
        Big: {
          Type: "Task",
          Resource: lambdaArn("big"),
          Catch: [{ ErrorEquals: ["States.ALL"], Next: "Caught" }],
          End: true,
        },
        Caught: { Type: "Succeed" },
      },
    };
    const { workflow } = workflowWith(asl, { lambdas: { big: async () => ({ text: "é".repeat(140_000) }) } });
    const execution = workflow.start("big", {});
    await execution.done;
    expect(execution).toMatchObject({ status: "FAILED", error: "States.DataLimitExceeded" });
  });

  it("the API refuses a SendTaskSuccess output over the limit (ValidationException), and the task keeps waiting", async () => {
    const { workflow, tokens, sent } = workflowWith(
      { StartAt: "Wait", States: { Wait: { ...callbackChild().States.Send } } } as unknown as Asl,
      { consume: () => NO_ANSWER },
    );
    const api = new StepFunctionsApi(tokens, {
      startExecution: () => {
        throw new Error("unused");
      },
      describeExecution: () => ({}),
    });
    const endpoint = await api.listen();
    const sfn = new SFNClient({
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    try {
      const execution = workflow.start("callback", { item: 1, index: 0 });
      while (sent.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const taskToken = String(sent[0]!.taskToken);
      const big = JSON.stringify({ text: "x".repeat(262_144) });
      await expect(sfn.send(new SendTaskSuccessCommand({ taskToken, output: big }))).rejects.toMatchObject({
        name: "ValidationException",
      });
      expect(tokens.isWaiting(taskToken)).toBe(true);
      await sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify({ ok: true }) }));
      await execution.done;
      expect(execution).toMatchObject({ status: "SUCCEEDED", output: { ok: true } });
    } finally {
      sfn.destroy();
      await api.close();
    }
  });
});

describe("callback task timers and the SQS integration", () => {
  const callbackWorkflow = (task: Record<string, unknown>): Asl =>
    ({ StartAt: "Wait", States: { Wait: { ...callbackChild(task).States.Send } } }) as unknown as Asl;

  it("without HeartbeatSeconds there is no heartbeat clock, heartbeats are accepted, TimeoutSeconds fails it", async () => {
    const { workflow, tokens, sent } = workflowWith(
      callbackWorkflow({ TimeoutSeconds: 1, Retry: [{ ErrorEquals: ["States.Timeout"], MaxAttempts: 1 }] }),
      { consume: () => NO_ANSWER },
    );
    const started = Date.now();
    const execution = workflow.start("timeout", { item: 1, index: 0 });
    while (sent.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    tokens.heartbeat(String(sent[0]!.taskToken));
    await execution.done;
    expect(execution).toMatchObject({ status: "FAILED", error: "States.Timeout" });
    // Each attempt timed out after its own TimeoutSeconds, with a fresh token and a fresh message.
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(sent).toHaveLength(2);
    expect(new Set(sent.map((m) => m.taskToken)).size).toBe(2);
    expect(() => tokens.heartbeat(String(sent[0]!.taskToken))).toThrow(
      expect.objectContaining({ name: "TaskTimedOut" }),
    );
    expect(tokens.pending).toBe(0);
  });

  it("with HeartbeatSeconds, a missed heartbeat fails the task; heartbeats keep it alive", async () => {
    const asl = callbackWorkflow({ HeartbeatSeconds: 1, TimeoutSeconds: 10 });
    const silent = workflowWith(asl, { consume: () => NO_ANSWER });
    const missed = silent.workflow.start("missed", { item: 1, index: 0 });
    await missed.done;
    expect(missed).toMatchObject({ status: "FAILED", error: "States.HeartbeatTimeout" });

    const alive = workflowWith(asl, { consume: () => NO_ANSWER });
    const kept = alive.workflow.start("kept", { item: 1, index: 0 });
    while (alive.sent.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const taskToken = String(alive.sent[0]!.taskToken);
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 400));
      alive.tokens.heartbeat(taskToken);
    }
    alive.tokens.succeed(taskToken, { ok: true });
    expect((await kept.done).status).toBe("SUCCEEDED");
  });

  it("States.TaskFailed does not catch a task's States.Timeout", async () => {
    const asl = callbackWorkflow({ TimeoutSeconds: 1 });
    (asl.States.Wait as Record<string, unknown>).Catch = [
      { ErrorEquals: ["States.TaskFailed"], Next: "Caught" },
    ];
    asl.States.Caught = { Type: "Succeed" };
    const { workflow } = workflowWith(asl, { consume: () => NO_ANSWER });
    const execution = workflow.start("not-caught", { item: 1, index: 0 });
    await execution.done;
    expect(execution).toMatchObject({ status: "FAILED", error: "States.Timeout" });
  });

  it("a SendMessage that throws fails the attempt as SQS.AmazonSQSException, retried with a fresh token", async () => {
    const tokensSeen: string[] = [];
    let calls = 0;
    const { workflow, tokens } = workflowWith(
      callbackWorkflow({ Retry: [{ ErrorEquals: ["SQS.AmazonSQSException"], MaxAttempts: 2 }] }),
      {
        sendMessage: async ({ MessageBody }) => {
          calls++;
          tokensSeen.push(String(JSON.parse(MessageBody).taskToken));
          throw Object.assign(new Error("The specified queue does not exist."), {
            name: "QueueDoesNotExist",
            $metadata: { httpStatusCode: 400, requestId: "r-1" },
          });
        },
      },
    );
    const execution = workflow.start("send-fails", { item: 1, index: 0 });
    await execution.done;
    expect(execution).toMatchObject({ status: "FAILED", error: "SQS.AmazonSQSException" });
    expect(execution.cause).toContain("The specified queue does not exist.");
    expect(execution.cause).toContain("Status Code: 400");
    expect(calls).toBe(3);
    expect(new Set(tokensSeen).size).toBe(3);
    // No token is left waiting, no timer is left running.
    expect(tokens.pending).toBe(0);
    expect(lastRunTypes(workflow, execution.executionArn)).toContain("TaskFailed");
  });

  it("a SendMessage that gets no answer fails as SQS.SdkClientException", async () => {
    const { workflow, tokens } = workflowWith(callbackWorkflow({}), {
      sendMessage: async () => {
        throw new StatesError("Error", "connect ECONNREFUSED 127.0.0.1:1");
      },
    });
    const execution = workflow.start("no-sqs", { item: 1, index: 0 });
    await execution.done;
    expect(execution).toMatchObject({ status: "FAILED", error: "SQS.SdkClientException" });
    expect(tokens.pending).toBe(0);
  });

  it("a token answered before SendMessage returned still succeeds, after its submission", async () => {
    const seen: string[] = [];
    let tokens: TaskTokens | undefined;
    const harness = workflowWith(callbackWorkflow({}), {
      sendMessage: async ({ MessageBody }) => {
        tokens!.succeed(String(JSON.parse(MessageBody).taskToken), { early: true });
        await new Promise((resolve) => setTimeout(resolve, 20));
        return { MessageId: "m-1" };
      },
    });
    tokens = harness.tokens;
    harness.workflow.on("callback_sent", () => seen.push("sent"));
    harness.workflow.on("callback_settled", (e: { status: string }) => seen.push(e.status));
    const execution = harness.workflow.start("early", { item: 1, index: 0 });
    await execution.done;
    expect(execution).toMatchObject({ status: "SUCCEEDED", output: { early: true } });
    expect(seen).toEqual(["sent", "SUCCEEDED"]);
    const types = lastRunTypes(harness.workflow, execution.executionArn);
    expect(types.indexOf("TaskSubmitted")).toBeLessThan(types.indexOf("TaskSucceeded"));
  });

  it("records the callback task's events in the history", async () => {
    const { workflow } = workflowWith(callbackWorkflow({}), { consume: () => ({ done: true }) });
    const execution = workflow.start("history", { item: 1, index: 0 });
    await execution.done;
    expect(execution.status).toBe("SUCCEEDED");
    expect(workflow.history(execution.executionArn)!.map((e) => e.type)).toEqual([
      "ExecutionStarted",
      "TaskStateEntered",
      "TaskScheduled",
      "TaskStarted",
      "TaskSubmitted",
      "TaskSucceeded",
      "TaskStateExited",
      "ExecutionSucceeded",
    ]);
    const scheduled = workflow.history(execution.executionArn)![2]!;
    expect(
      JSON.parse((scheduled.taskScheduledEventDetails as { parameters: string }).parameters),
    ).toMatchObject({
      QueueUrl: QUEUE_URL,
    });
  });
});

describe("SendTaskHeartbeat through the API", () => {
  it("is accepted for a task without HeartbeatSeconds", async () => {
    const { workflow, tokens, sent } = workflowWith(
      { StartAt: "Wait", States: { Wait: { ...callbackChild().States.Send } } } as unknown as Asl,
      { consume: () => NO_ANSWER },
    );
    const api = new StepFunctionsApi(tokens, {
      startExecution: () => {
        throw new Error("unused");
      },
      describeExecution: () => ({}),
    });
    const sfn = new SFNClient({
      endpoint: await api.listen(),
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    try {
      const execution = workflow.start("heartbeat", { item: 1, index: 0 });
      while (sent.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const taskToken = String(sent[0]!.taskToken);
      await sfn.send(new SendTaskHeartbeatCommand({ taskToken }));
      await sfn.send(new SendTaskSuccessCommand({ taskToken, output: "{}" }));
      expect((await execution.done).status).toBe("SUCCEEDED");
    } finally {
      sfn.destroy();
      await api.close();
    }
  });
});

describe("the stack's own ASL (npm run asl)", () => {
  it("runs with fake handlers: chunks delivered, results written, summary from the context object", async () => {
    const asl = workflowAsl({ ...DEFAULT_STAGE_CONFIG, maxConcurrency: 2 }) as unknown as Asl;
    const pointers = [0, 1, 2].map((index) => ({
      index,
      chunkId: `c${index}`,
      firstRow: index * 10 + 2,
      lastRow: index * 10 + 11,
      rows: 10,
      bucket: PLACEHOLDER.bucket,
      key: "processed/up1/chunks.jsonl",
      offset: index * 100,
      length: 100,
      sha256: "0".repeat(64),
    }));
    await putJsonl("processed/up1/items.jsonl", pointers, PLACEHOLDER.bucket);
    const convert = (totalChunks: number) => async () => ({
      totalRows: totalChunks * 10,
      totalChunks,
      processed: { itemsKey: "processed/up1/items.jsonl", prefix: "processed/up1/" },
    });
    const run = async (name: string, totalChunks: number) => {
      const { workflow, sent } = workflowWith(asl, {
        stateMachineArn: `arn:aws:states:${PLACEHOLDER.region}:${PLACEHOLDER.account}:stateMachine:sluice-upload`,
        lambdas: {
          [PLACEHOLDER.functions.convert]: convert(totalChunks),
          [PLACEHOLDER.functions.summarize]: async (event) => ({ summarized: event }),
        },
        consume: (body) => ({
          uploadId: body.uploadId,
          chunkIndex: (body.chunk as { index: number }).index,
          accepted: 10,
          rejected: [],
        }),
      });
      const execution = workflow.start(name, {
        uploadId: name,
        source: { bucket: PLACEHOLDER.bucket, key: `uploads/${name}.csv` },
        receivedAt: "2026-01-01T00:00:00.000Z",
      });
      await execution.done;
      return { workflow, sent, execution };
    };

    const { workflow, sent, execution } = await run("up1", 3);
    expect(execution.status).toBe("SUCCEEDED");
    expect(sent.map((m) => (m.chunk as { index: number }).index).sort()).toEqual([0, 1, 2]);
    expect(sent[0]).toMatchObject({
      v: CONTRACT_VERSION,
      kind: "chunk",
      uploadId: "up1",
      totals: { totalRows: 30, totalChunks: 3 },
    });
    const summary = (execution.output as { summarized: Record<string, unknown> }).summarized;
    expect(summary.execution).toEqual({
      arn: execution.executionArn,
      startTime: execution.startDate.toISOString(),
    });
    const delivery = summary.delivery as {
      MapRunArn: string;
      ResultWriterDetails: { Bucket: string; Key: string };
    };
    expect(delivery.MapRunArn).toMatch(/:mapRun:sluice-upload\/DeliverChunks:/);
    const manifest = JSON.parse(
      await readText(delivery.ResultWriterDetails.Key, PLACEHOLDER.bucket),
    ) as Manifest;
    const results = (
      await Promise.all(manifest.ResultFiles.SUCCEEDED.map((f) => readText(f.Key, PLACEHOLDER.bucket)))
    ).flatMap((text) =>
      text
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line)),
    );
    expect(results.map((r: { chunkIndex: number }) => r.chunkIndex).sort()).toEqual([0, 1, 2]);
    // Convert, Any chunks?, Deliver chunks, Summarize, Upload complete; 3 children of one state each.
    expect(workflow.usage(execution.executionArn)).toMatchObject({
      transitions: 5 + 3 + 3,
      childExecutions: 3,
      lambdaInvocations: 2,
    });

    const empty = await run("up2", 0);
    expect(empty.execution.status).toBe("SUCCEEDED");
    expect(empty.sent).toEqual([]);
    expect((empty.execution.output as { summarized: { delivery: unknown } }).summarized.delivery).toEqual({});
    expect(empty.workflow.usage(empty.execution.executionArn)).toMatchObject({
      transitions: 5,
      childExecutions: 0,
    });
  });
  it.each([
    ["as deployed (no Catch)", "SUCCEEDED", false],
    ["with a Catch -> Fail on the Map, as before contract v2", "FAILED", true],
  ] as const)(
    "redrives a failed chunk of the workflow %s: the redrive ends %s",
    async (_, after, withCatch) => {
      const asl = workflowAsl({ ...DEFAULT_STAGE_CONFIG, maxConcurrency: 1 }) as unknown as Asl;
      if (withCatch) {
        // What the design looked like before: a Catch on the Map that ends the execution in a Fail state.
        asl.States["Deliver chunks"] = {
          ...asl.States["Deliver chunks"]!,
          Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "Upload failed" }],
        };
        asl.States["Upload failed"] = { Type: "Fail", Error: "UPLOAD_FAILED", Cause: "a chunk failed" };
      }
      const name = withCatch ? "caught" : "uncaught";
      const pointers = [0, 1, 2].map((index) => ({ index, rows: 10 }));
      await putJsonl(`processed/${name}/items.jsonl`, pointers, PLACEHOLDER.bucket);
      let broken = true;
      const { workflow, sent } = workflowWith(asl, {
        stateMachineArn: `arn:aws:states:${PLACEHOLDER.region}:${PLACEHOLDER.account}:stateMachine:sluice-upload`,
        lambdas: {
          [PLACEHOLDER.functions.convert]: async () => ({
            totalRows: 30,
            totalChunks: 3,
            processed: { itemsKey: `processed/${name}/items.jsonl`, prefix: `processed/${name}/` },
          }),
          [PLACEHOLDER.functions.summarize]: async () => ({ summarized: true }),
        },
        consume: (body) => {
          const index = (body.chunk as { index: number }).index;
          if (index === 1 && broken) throw Object.assign(new Error("refused"), { name: "CHUNK_REJECTED" });
          return { chunkIndex: index, accepted: 10, rejected: { reasons: [], rows: [] } };
        },
      });
      const execution = workflow.start(name, {
        uploadId: name,
        source: {},
        receivedAt: "2026-01-01T00:00:00Z",
      });
      await execution.done;
      expect(execution.status).toBe("FAILED");
      broken = false;
      const before = sent.length;
      workflow.redrive(execution.executionArn);
      await execution.done;
      expect(execution.status).toBe(after);
      // Without the Catch the unsuccessful chunks run again (the failed one, and the one never started at
      // MaxConcurrency 1), chunk 0 does not; with it, AWS re-runs only the Fail state.
      const again = sent.slice(before).map((m) => (m.chunk as { index: number }).index);
      expect(again).toEqual(withCatch ? [] : [1, 2]);
    },
  );
});
