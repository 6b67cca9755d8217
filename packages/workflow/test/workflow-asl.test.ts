import validator from "asl-validator";
import { describe, expect, it } from "vitest";
import { synthesizeWorkflowAsl } from "../src/cdk.ts";
import { DEFAULT_STAGE_CONFIG } from "../src/stage-config.ts";
import { PLACEHOLDER, resolveIntrinsics, workflowAsl } from "../src/workflow-asl.ts";
import { STATE } from "../src/workflow-shape.ts";

type States = Record<string, Record<string, unknown>>;

describe("workflowAsl (no CDK): what the local runtime and the CLI execute", () => {
  const asl = workflowAsl(DEFAULT_STAGE_CONFIG);
  const states = asl.States as States;

  it("is the ASL the construct synthesizes (npm run asl:write keeps upload-workflow-asl.generated.ts so)", () => {
    expect(asl).toEqual(synthesizeWorkflowAsl(DEFAULT_STAGE_CONFIG));
  });

  it.each([
    { maxConcurrency: 1, uploadDeadlineSeconds: 60 },
    { maxConcurrency: 9, uploadDeadlineSeconds: 600 },
    { maxConcurrency: 1000, uploadDeadlineSeconds: 1_123_200 },
  ])("follows the stage config as the construct does: %j", (config) => {
    const settings = { ...DEFAULT_STAGE_CONFIG, ...config };
    expect(workflowAsl(settings)).toEqual(synthesizeWorkflowAsl(settings));
  });

  it("is valid ASL", () => {
    const result = validator(asl);
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });

  it("has no CloudFormation intrinsics left", () => {
    expect(JSON.stringify(asl)).not.toMatch(/Fn::|"Ref"/);
    expect(JSON.stringify(asl)).toContain(`function:${PLACEHOLDER.functions.convert}`);
  });

  it("delivers chunk pointers from the JSONL the converter wrote, results to S3, at the configured concurrency", () => {
    const deliver = states[STATE.deliver]!;
    expect(deliver.MaxConcurrency).toBe(4);
    expect(deliver.ItemReader).toEqual({
      Resource: "arn:aws:states:::s3:getObject",
      ReaderConfig: { InputType: "JSONL" },
      Parameters: { Bucket: PLACEHOLDER.bucket, "Key.$": "$.convert.processed.itemsKey" },
    });
    expect(deliver.ResultWriter).toEqual({
      Resource: "arn:aws:states:::s3:putObject",
      Parameters: { Bucket: PLACEHOLDER.bucket, "Prefix.$": "$.convert.processed.prefix" },
      WriterConfig: { OutputType: "JSONL", Transformation: "COMPACT" },
    });
    expect(deliver.ItemProcessor).toMatchObject({
      ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
    });
    const send = (deliver.ItemProcessor as { States: States }).States[STATE.sendChunk]!;
    expect(send.TimeoutSeconds).toBe(DEFAULT_STAGE_CONFIG.uploadDeadlineSeconds);
    expect(send.HeartbeatSeconds).toBeUndefined();
  });

  it("hands each call its own copy", () => {
    const first = workflowAsl({ maxConcurrency: 2, uploadDeadlineSeconds: 60 });
    workflowAsl({ maxConcurrency: 3, uploadDeadlineSeconds: 120 });
    expect((first.States as States)[STATE.deliver]!.MaxConcurrency).toBe(2);
  });
});

describe("resolveIntrinsics", () => {
  it("joins, resolves pseudo parameters and given references", () => {
    const value = {
      a: { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":sqs:", { Ref: "AWS::Region" }]] },
      b: [{ Ref: "Queue" }, { "Fn::GetAtt": ["Fn", "Arn"] }],
    };
    expect(resolveIntrinsics(value, { Queue: "q-url", "Fn.Arn": "fn-arn" })).toEqual({
      a: `arn:aws:sqs:${PLACEHOLDER.region}`,
      b: ["q-url", "fn-arn"],
    });
  });
});

describe("synthesizeWorkflowAsl", () => {
  it("leaves nothing in the temp folder (no cdk.out per call)", async () => {
    const { mkdtemp, readdir, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const saved = process.env.TMPDIR;
    const temp = await mkdtemp(join(tmpdir(), "sluice-asl-check-"));
    // os.tmpdir() reads TMPDIR on each call, so this folder sees only what the synthesis writes.
    process.env.TMPDIR = temp;
    try {
      expect(synthesizeWorkflowAsl().StartAt).toBeDefined();
      expect(await readdir(temp)).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      await rm(temp, { recursive: true, force: true });
    }
  });
});
