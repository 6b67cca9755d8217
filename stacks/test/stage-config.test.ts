import { describe, expect, it } from "vitest";
import { DEFAULT_STAGE_CONFIG, stageConfig, visibilityTimeoutSeconds } from "../stage-config.ts";

describe("stageConfig", () => {
  it("uses the defaults when nothing is set", () => {
    expect(stageConfig({})).toEqual(DEFAULT_STAGE_CONFIG);
  });

  it("reads every setting from its variable", () => {
    expect(
      stageConfig({
        SLUICE_MAX_CONCURRENCY: "8",
        SLUICE_CHUNK_ROWS: "200",
        SLUICE_CHUNK_BYTES: "102400",
        SLUICE_HEARTBEAT_SECONDS: "60",
        SLUICE_CHUNK_TIMEOUT_SECONDS: "600",
        SLUICE_CHUNK_RETRIES: "0",
        SLUICE_MAX_RECEIVE_COUNT: "3",
        SLUICE_NOTIFY_SUCCESS: "true",
      }),
    ).toEqual({
      maxConcurrency: 8,
      chunkRows: 200,
      chunkBytes: 102_400,
      heartbeatSeconds: 60,
      chunkTimeoutSeconds: 600,
      chunkRetries: 0,
      maxReceiveCount: 3,
      notifySuccess: true,
    });
  });

  it.each([
    [{ SLUICE_MAX_CONCURRENCY: "four" }, /SLUICE_MAX_CONCURRENCY must be a whole number/],
    [{ SLUICE_MAX_CONCURRENCY: "0" }, /SLUICE_MAX_CONCURRENCY must be 1\.\.1000/],
    [{ SLUICE_CHUNK_BYTES: "300000" }, /SLUICE_CHUNK_BYTES must be 1024\.\.245760/],
    [{ SLUICE_HEARTBEAT_SECONDS: "4000" }, /must be longer than SLUICE_HEARTBEAT_SECONDS/],
    [{ SLUICE_NOTIFY_SUCCESS: "yes" }, /SLUICE_NOTIFY_SUCCESS must be true or false/],
  ])("fails the deploy with the variable's name for %j", (env, message) => {
    expect(() => stageConfig(env)).toThrow(message);
  });

  it("keeps the queue's visibility timeout longer than the heartbeat", () => {
    expect(visibilityTimeoutSeconds(DEFAULT_STAGE_CONFIG)).toBeGreaterThan(
      DEFAULT_STAGE_CONFIG.heartbeatSeconds,
    );
  });
});
