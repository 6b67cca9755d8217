import { describe, expect, it, vi } from "vitest";

describe("package entry", () => {
  it("exports the factories and adapters without reading the environment (the local runtime imports it)", async () => {
    vi.stubEnv("STATE_MACHINE_ARN", "");
    vi.stubEnv("BUCKET_NAME", "");
    vi.stubEnv("MAX_RECEIVE_COUNT", "");
    vi.stubEnv("STAGE", "");
    const functions = await import("../src/index.ts");
    for (const name of [
      "createStartHandler",
      "createConvertHandler",
      "createSummarizeHandler",
      "createNotifyFailureHandler",
      "createChunkDeadLetterHandler",
      "buildFailureRecord",
      "S3ByteSource",
      "S3ChunkSink",
      "SlackNotifier",
      "buildFailureAlert",
      "buildFailureFollowUp",
      "estimateCost",
      "estimateUploadUsage",
      "transitionsOf",
      "findFirstFailedChild",
      "resultLines",
      "buildSuccessAlert",
      "presignedReportLink",
      "writeRejectedRowsReport",
      "tallyMapRun",
      "RejectedRowCollector",
      "toLambdaError",
    ] as const) {
      expect(typeof functions[name], name).toBe("function");
    }
    expect(functions.ExecutionStatusChangeEventSchema.safeParse({}).success).toBe(false);
    expect(functions.WORKFLOW_TRANSITIONS).toEqual({ parent: 5, perChunk: 2 });
    expect(functions.PRICES.stateTransition.usd).toBe(0.025);
    vi.unstubAllEnvs();
  });
});
