import { describe, expect, it } from "vitest";
import {
  BUCKET,
  callbackChild,
  lambdaArn,
  listKeys,
  mapWorkflow,
  putJsonl,
  QUEUE_URL,
  readText,
  useWorkflowHarness,
  workflowWith,
} from "./support/workflow-harness.ts";

/**
 * The local Map Run through LocalWorkflow: ResultWriter's WriterConfig and export layout, tolerated failures,
 * results on failure, results without a ResultWriter, child input limits, and the redrive of a STANDARD child
 * from the state where it stopped.
 */

useWorkflowHarness();

let uploads = 0;
async function upload(n: number) {
  const id = `m${++uploads}`;
  await putJsonl(
    `items/${id}.jsonl`,
    Array.from({ length: n }, (_, i) => ({ n: i })),
  );
  return { key: `items/${id}.jsonl`, prefix: `results/${id}/` };
}

const locked = () => Object.assign(new Error("the table is locked"), { name: "DB_LOCKED" });

interface Manifest {
  DestinationBucket: string;
  MapRunArn: string;
  ResultFiles: Record<"SUCCEEDED" | "FAILED" | "PENDING", { Key: string; Size: number }[]>;
}

async function manifestOf(output: unknown): Promise<Manifest> {
  const details = (output as { delivery: { ResultWriterDetails: { Bucket: string; Key: string } } }).delivery
    .ResultWriterDetails;
  expect(details.Bucket).toBe(BUCKET);
  return JSON.parse(await readText(details.Key));
}

const jsonLines = (text: string) =>
  text
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));

describe("ResultWriter", () => {
  it("JSONL + COMPACT: a succeeded child's entry is its output, a failed child's the full record", async () => {
    const { workflow } = workflowWith(mapWorkflow({ ToleratedFailureCount: 1 }), {
      consume: (body) => {
        if (body.index === 1) throw locked();
        return { index: body.index, accepted: 10 };
      },
    });
    const where = await upload(4);
    const execution = workflow.start("compact", where);
    await execution.done;
    expect(execution.status).toBe("SUCCEEDED");
    const [mapRun] = workflow.mapRunsOf(execution.executionArn);
    expect(mapRun!.mapRunArn).toMatch(
      /^arn:aws:states:us-east-1:000000000000:mapRun:test-machine\/Deliver:[0-9a-f-]{36}$/,
    );
    expect(mapRun!.counts()).toMatchObject({ total: 4, succeeded: 3, failed: 1, resultsWritten: 4 });

    const manifest = await manifestOf(execution.output);
    const base = `${where.prefix}${mapRun!.mapRunId}`;
    expect(manifest).toEqual({
      DestinationBucket: BUCKET,
      MapRunArn: mapRun!.mapRunArn,
      ResultFiles: {
        SUCCEEDED: [{ Key: `${base}/SUCCEEDED_0.json`, Size: expect.any(Number) }],
        FAILED: [{ Key: `${base}/FAILED_0.json`, Size: expect.any(Number) }],
        PENDING: [],
      },
    });
    expect(await listKeys(base)).toEqual([
      `${base}/FAILED_0.json`,
      `${base}/SUCCEEDED_0.json`,
      `${base}/manifest.json`,
    ]);
    const succeeded = jsonLines(await readText(manifest.ResultFiles.SUCCEEDED[0]!.Key));
    expect(succeeded.sort((a, b) => a.index - b.index)).toEqual([
      { index: 0, accepted: 10 },
      { index: 2, accepted: 10 },
      { index: 3, accepted: 10 },
    ]);
    const [failed, ...more] = jsonLines(await readText(manifest.ResultFiles.FAILED[0]!.Key));
    expect(more).toEqual([]);
    expect(failed).toEqual({
      ExecutionArn: expect.stringMatching(/:execution:test-machine\/Deliver:/),
      Input: JSON.stringify({ item: { n: 1 }, index: 1 }),
      InputDetails: { Included: true },
      Name: expect.any(String),
      RedriveCount: 0,
      StartDate: expect.any(String),
      StopDate: expect.any(String),
      StateMachineArn: "arn:aws:states:us-east-1:000000000000:stateMachine:test-machine/Deliver",
      Status: "FAILED",
      Error: "DB_LOCKED",
      Cause: "the table is locked",
    });
  });

  it("no WriterConfig: NONE, a JSON array of full records (Input and Output as JSON text)", async () => {
    const { workflow } = workflowWith(
      mapWorkflow({
        ResultWriter: {
          Resource: "arn:aws:states:::s3:putObject",
          Parameters: { Bucket: BUCKET, "Prefix.$": "$.prepared.prefix" },
        },
      }),
      { consume: (body) => ({ index: body.index }) },
    );
    const execution = workflow.start("none", await upload(2));
    await execution.done;
    const manifest = await manifestOf(execution.output);
    const records = JSON.parse(await readText(manifest.ResultFiles.SUCCEEDED[0]!.Key)) as Record<
      string,
      unknown
    >[];
    expect(records).toHaveLength(2);
    for (const record of records) {
      expect(record).toMatchObject({ Status: "SUCCEEDED", OutputDetails: { Included: true } });
      const input = JSON.parse(String(record.Input));
      expect(JSON.parse(String(record.Output))).toEqual({ index: input.index });
    }
  });

  it("JSON + COMPACT: a JSON array of the outputs", async () => {
    const { workflow } = workflowWith(
      mapWorkflow({
        ResultWriter: {
          Resource: "arn:aws:states:::s3:putObject",
          Parameters: { Bucket: BUCKET, "Prefix.$": "$.prepared.prefix" },
          WriterConfig: { OutputType: "JSON", Transformation: "COMPACT" },
        },
      }),
      { consume: (body) => body.index },
    );
    const execution = workflow.start("json-compact", await upload(3));
    await execution.done;
    const manifest = await manifestOf(execution.output);
    expect((JSON.parse(await readText(manifest.ResultFiles.SUCCEEDED[0]!.Key)) as number[]).sort()).toEqual([
      0, 1, 2,
    ]);
  });

  it("FLATTEN fails the Map with States.Runtime before any child starts", async () => {
    const { workflow, sent } = workflowWith(
      mapWorkflow({
        ResultWriter: {
          Resource: "arn:aws:states:::s3:putObject",
          Parameters: { Bucket: BUCKET, "Prefix.$": "$.prepared.prefix" },
          WriterConfig: { OutputType: "JSONL", Transformation: "FLATTEN" },
        },
        Catch: [{ ErrorEquals: ["States.ALL"], Next: "Done" }],
      }),
    );
    const execution = workflow.start("flatten", await upload(2));
    await execution.done;
    expect(execution).toMatchObject({ status: "FAILED", error: "States.Runtime" });
    expect(execution.cause).toMatch(/FLATTEN is not supported by the local runtime/);
    expect(sent).toEqual([]);
  });

  it("writes the results when the Map Run fails, in bounded files, and leaves the unread items pending", async () => {
    const { workflow } = workflowWith(mapWorkflow({ MaxConcurrency: 1 }), {
      resultsPerFile: 2,
      consume: (body) => {
        if (body.index === 3) throw locked();
        return { index: body.index };
      },
    });
    const where = await upload(5);
    const execution = workflow.start("failed-results", where);
    await execution.done;
    expect(execution).toMatchObject({ status: "FAILED", error: "States.ExceedToleratedFailureThreshold" });
    const [mapRun] = workflow.mapRunsOf(execution.executionArn);
    expect(mapRun).toMatchObject({ status: "FAILED", error: "States.ExceedToleratedFailureThreshold" });
    expect(mapRun!.counts()).toMatchObject({
      succeeded: 3,
      failed: 1,
      pending: 1,
      resultsWritten: 4,
      pendingRedrive: 1,
    });
    const base = `${where.prefix}${mapRun!.mapRunId}`;
    const manifest = JSON.parse(await readText(`${base}/manifest.json`)) as Manifest;
    expect(manifest.ResultFiles.SUCCEEDED.map((f) => f.Key)).toEqual([
      `${base}/SUCCEEDED_0.json`,
      `${base}/SUCCEEDED_1.json`,
    ]);
    expect(manifest.ResultFiles.FAILED.map((f) => f.Key)).toEqual([`${base}/FAILED_0.json`]);
    for (const file of [...manifest.ResultFiles.SUCCEEDED, ...manifest.ResultFiles.FAILED]) {
      expect(Buffer.byteLength(await readText(file.Key))).toBe(file.Size);
    }
  });
});

describe("Map Run items and thresholds", () => {
  it("without a ResultWriter, the Map's result is the children's outputs in item order", async () => {
    const { ResultWriter: _none, ...map } = mapWorkflow().States.Deliver as Record<string, unknown>;
    const asl = mapWorkflow({ ...map, MaxConcurrency: 0 });
    delete (asl.States.Deliver as Record<string, unknown>).ResultWriter;
    const { workflow } = workflowWith(asl, {
      consume: async (body) => {
        await new Promise((resolve) => setTimeout(resolve, (5 - Number(body.index)) * 10));
        return { index: body.index };
      },
    });
    const execution = workflow.start("array", await upload(5));
    await execution.done;
    expect((execution.output as { delivery: unknown }).delivery).toEqual(
      [0, 1, 2, 3, 4].map((index) => ({ index })),
    );
  });

  it("ToleratedFailurePercentage: fails only when the failures exceed that share of all items", async () => {
    const run = async (failing: number[]) => {
      const { workflow } = workflowWith(mapWorkflow({ ToleratedFailurePercentage: 25, MaxConcurrency: 1 }), {
        consume: (body) => {
          if (failing.includes(Number(body.index))) throw locked();
          return {};
        },
      });
      const execution = workflow.start(`pct-${failing.join("-")}`, await upload(4));
      return (await execution.done).status;
    };
    expect(await run([0])).toBe("SUCCEEDED");
    expect(await run([0, 1])).toBe("FAILED");
  });

  it("a child input over 256 KiB after ItemSelector fails that item with States.DataLimitExceeded", async () => {
    const asl = mapWorkflow({
      ToleratedFailureCount: 1,
      ItemSelector: { "index.$": "$$.Map.Item.Index", "a.$": "$.padding", "b.$": "$.padding" },
    });
    const { workflow, sent } = workflowWith(asl, { consume: () => ({}) });
    // The execution's input is within the limit; the child's, with the padding twice, is not.
    const execution = workflow.start("big-child", { ...(await upload(1)), padding: "x".repeat(150_000) });
    await execution.done;
    expect(execution.status).toBe("SUCCEEDED");
    expect(sent).toEqual([]);
    const manifest = await manifestOf(execution.output);
    expect(manifest.ResultFiles.SUCCEEDED).toEqual([]);
    const [failed] = jsonLines(await readText(manifest.ResultFiles.FAILED[0]!.Key));
    expect(failed).toMatchObject({ Status: "FAILED", Error: "States.DataLimitExceeded" });
  });

  it("redrives an unsuccessful STANDARD child from the state where it stopped", async () => {
    const enriched: number[] = [];
    let broken = true;
    const child = callbackChild();
    const asl = mapWorkflow({
      ItemProcessor: {
        ...child,
        StartAt: "Enrich",
        States: {
          Enrich: { Type: "Task", Resource: lambdaArn("enrich"), ResultPath: "$.enriched", Next: "Send" },
          Send: {
            ...child.States.Send,
            Parameters: {
              QueueUrl: QUEUE_URL,
              MessageBody: {
                "taskToken.$": "$$.Task.Token",
                "index.$": "$.index",
                "enriched.$": "$.enriched",
              },
            },
          },
        },
      },
    });
    const { workflow } = workflowWith(asl, {
      lambdas: {
        enrich: async (event) => {
          const index = (event as { index: number }).index;
          enriched.push(index);
          return { by: "enrich", index };
        },
      },
      consume: (body) => {
        if (body.index === 1 && broken) throw locked();
        return body.enriched;
      },
    });
    const execution = workflow.start("child-redrive", await upload(2));
    await execution.done;
    expect(execution.status).toBe("FAILED");
    broken = false;
    workflow.redrive(execution.executionArn);
    await execution.done;
    expect(execution.status).toBe("SUCCEEDED");
    // Enrich ran once per item: the redriven child resumed at Send with the input Send had entered with.
    expect(enriched.sort()).toEqual([0, 1]);
    const manifest = await manifestOf(execution.output);
    const outputs = jsonLines(await readText(manifest.ResultFiles.SUCCEEDED[0]!.Key));
    expect(outputs.sort((a, b) => a.index - b.index)).toEqual([
      { by: "enrich", index: 0 },
      { by: "enrich", index: 1 },
    ]);
  });
});
