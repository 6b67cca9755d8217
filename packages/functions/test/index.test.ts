import { describe, expect, it, vi } from "vitest";

describe("package entry", () => {
  it("exports the factories and adapters without reading the environment (the local runtime imports it)", async () => {
    vi.stubEnv("STATE_MACHINE_ARN", "");
    vi.stubEnv("BUCKET_NAME", "");
    vi.stubEnv("DEAD_LETTER_QUEUE_URL", "");
    const functions = await import("../src/index.ts");
    for (const name of [
      "createStartHandler",
      "createConvertHandler",
      "createSummarizeHandler",
      "createNotifyFailureHandler",
      "S3ByteSource",
      "S3ChunkSink",
      "DeadLetterQueue",
      "SlackNotifier",
      "buildFailureAlert",
      "buildSuccessAlert",
      "presignedReportLink",
      "writeRejectedRowsReport",
      "tallyMapRun",
      "RejectedRowCollector",
      "toLambdaError",
    ] as const) {
      expect(typeof functions[name], name).toBe("function");
    }
    expect(functions.SummarySchema.safeParse({}).success).toBe(false);
    expect(functions.RETRYABLE_ERROR_CODES).toEqual(["SOURCE_READ_FAILED", "OUTPUT_WRITE_FAILED"]);
    vi.unstubAllEnvs();
  });
});
