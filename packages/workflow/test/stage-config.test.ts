import { describe, expect, it } from "vitest";
import {
  chunkRetentionSeconds,
  DEFAULT_STAGE_CONFIG,
  MAX_RETENTION_SECONDS,
  stageConfig,
} from "../src/stage-config.ts";

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
        SLUICE_UPLOAD_DEADLINE_SECONDS: "7200",
        SLUICE_VISIBILITY_TIMEOUT_SECONDS: "60",
        SLUICE_MAX_RECEIVE_COUNT: "3",
        SLUICE_NOTIFY_SUCCESS: "true",
        SLUICE_ALLOWED_ORIGINS: "https://admin.example.com, http://localhost:5173",
      }),
    ).toEqual({
      maxConcurrency: 8,
      chunkRows: 200,
      chunkBytes: 102_400,
      uploadDeadlineSeconds: 7200,
      visibilityTimeoutSeconds: 60,
      maxReceiveCount: 3,
      notifySuccess: true,
      allowedOrigins: ["https://admin.example.com", "http://localhost:5173"],
    });
  });

  it("allows no origin by default (no CORS rule)", () => {
    expect(stageConfig({}).allowedOrigins).toEqual([]);
    expect(stageConfig({ SLUICE_ALLOWED_ORIGINS: " " }).allowedOrigins).toEqual([]);
  });

  it.each([
    ["a path", "https://admin.example.com/upload"],
    ["a trailing slash", "https://admin.example.com/"],
    ["a wildcard", "https://*.example.com"],
    ["everything", "*"],
    ["another scheme", "ftp://admin.example.com"],
    ["no scheme", "admin.example.com"],
    ["an upper-case host (browsers send it lower-case)", "https://Admin.example.com"],
    ["the default port spelled out", "https://admin.example.com:443"],
    ["an empty entry", "https://admin.example.com,,https://b.example.com"],
  ])("refuses an allowed origin with %s, naming SLUICE_ALLOWED_ORIGINS", (_name, value) => {
    expect(() => stageConfig({ SLUICE_ALLOWED_ORIGINS: value })).toThrow(
      /SLUICE_ALLOWED_ORIGINS must be comma-separated origins/,
    );
  });

  it.each([
    [{ SLUICE_MAX_CONCURRENCY: "four" }, /SLUICE_MAX_CONCURRENCY must be a whole number/],
    [{ SLUICE_MAX_CONCURRENCY: "0" }, /SLUICE_MAX_CONCURRENCY must be 1\.\.1000/],
    [{ SLUICE_CHUNK_BYTES: "100" }, /SLUICE_CHUNK_BYTES must be 1024\.\.67108864/],
    [{ SLUICE_UPLOAD_DEADLINE_SECONDS: "30" }, /SLUICE_UPLOAD_DEADLINE_SECONDS must be 60\.\.1123200/],
    [{ SLUICE_UPLOAD_DEADLINE_SECONDS: "1209600" }, /SLUICE_UPLOAD_DEADLINE_SECONDS must be 60\.\.1123200/],
    [{ SLUICE_VISIBILITY_TIMEOUT_SECONDS: "43201" }, /SLUICE_VISIBILITY_TIMEOUT_SECONDS must be 1\.\.43200/],
    [{ SLUICE_NOTIFY_SUCCESS: "yes" }, /SLUICE_NOTIFY_SUCCESS must be true or false/],
  ])("fails the deploy with the variable's name for %j", (env, message) => {
    expect(() => stageConfig(env)).toThrow(message);
  });

  it.each([
    ["SLUICE_HEARTBEAT_SECONDS", /no longer a setting: chunks no longer have a heartbeat timeout/],
    ["SLUICE_CHUNK_TIMEOUT_SECONDS", /no longer a setting: use SLUICE_UPLOAD_DEADLINE_SECONDS/],
    ["SLUICE_CHUNK_RETRIES", /no longer a setting: .*SLUICE_MAX_RECEIVE_COUNT/],
  ])("refuses the retired %s and says what replaced it", (name, message) => {
    expect(() => stageConfig({ [name]: "60" })).toThrow(message);
  });

  it("keeps a waiting chunk in the queue past the deadline, within what SQS allows", () => {
    const day = 24 * 60 * 60;
    expect(chunkRetentionSeconds(DEFAULT_STAGE_CONFIG)).toBe(4 * day);
    const long = { ...DEFAULT_STAGE_CONFIG, uploadDeadlineSeconds: 10 * day };
    expect(chunkRetentionSeconds(long)).toBe(11 * day);
    const longest = stageConfig({ SLUICE_UPLOAD_DEADLINE_SECONDS: String(13 * day) });
    expect(chunkRetentionSeconds(longest)).toBe(MAX_RETENTION_SECONDS);
  });
});
