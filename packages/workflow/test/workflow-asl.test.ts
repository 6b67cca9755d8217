import validator from "asl-validator";
import { describe, expect, it } from "vitest";
import { STATE } from "../upload-workflow.ts";
import { PLACEHOLDER, resolveIntrinsics, workflowAsl } from "../workflow-asl.ts";

type States = Record<string, Record<string, unknown>>;

describe("workflowAsl", () => {
  const asl = workflowAsl();
  const states = asl.States as States;

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
  });

  it("follows the stage config", () => {
    const custom = workflowAsl({ maxConcurrency: 9, uploadDeadlineSeconds: 600 });
    const deliver = (custom.States as States)[STATE.deliver]!;
    expect(deliver.MaxConcurrency).toBe(9);
    const send = (deliver.ItemProcessor as { States: States }).States[STATE.sendChunk]!;
    expect(send.TimeoutSeconds).toBe(600);
    expect(send.HeartbeatSeconds).toBeUndefined();
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
