import { DEFAULT_CHUNK_BOUNDS } from "@sluice/contract";
import { describe, expect, it } from "vitest";
import {
  loadChunkDeadLetterConfig,
  loadConvertConfig,
  loadNotifyFailureConfig,
  loadStartConfig,
  loadSummarizeConfig,
  normalizePrefix,
} from "../src/config.ts";

describe("config", () => {
  it.each([
    ["start", () => loadStartConfig({}), "STATE_MACHINE_ARN"],
    ["convert", () => loadConvertConfig({}), "BUCKET_NAME"],
    ["summarize", () => loadSummarizeConfig({ BUCKET_NAME: " " }), "BUCKET_NAME"],
    [
      "notify-failure",
      () => loadNotifyFailureConfig({ STAGE: "prod", AWS_REGION: "eu-west-1" }),
      "BUCKET_NAME",
    ],
    ["notify-failure stage", () => loadNotifyFailureConfig({ BUCKET_NAME: "b", AWS_REGION: "r" }), "STAGE"],
    ["notify-failure region", () => loadNotifyFailureConfig({ BUCKET_NAME: "b", STAGE: "s" }), "AWS_REGION"],
    ["chunk dead-letter", () => loadChunkDeadLetterConfig({ STAGE: "prod" }), "MAX_RECEIVE_COUNT"],
  ])("%s fails at start-up naming the missing variable", (_what, load, name) => {
    expect(load).toThrow(`Missing required environment variable ${name}`);
  });

  it("convert takes defaults from core and validates chunk bounds", () => {
    expect(loadConvertConfig({ BUCKET_NAME: "b" })).toEqual({
      bucketName: "b",
      processedPrefix: "processed/",
      chunkRows: DEFAULT_CHUNK_BOUNDS.rows,
      chunkBytes: DEFAULT_CHUNK_BOUNDS.bytes,
    });
    expect(
      loadConvertConfig({
        BUCKET_NAME: "b",
        CHUNK_ROWS: "100",
        CHUNK_BYTES: "65536",
        PROCESSED_PREFIX: "out",
      }),
    ).toMatchObject({
      chunkRows: 100,
      chunkBytes: 65536,
      processedPrefix: "out/",
    });
    expect(() => loadConvertConfig({ BUCKET_NAME: "b", CHUNK_ROWS: "ten" })).toThrow(
      /CHUNK_ROWS must be an integer/,
    );
    expect(() => loadConvertConfig({ BUCKET_NAME: "b", CHUNK_BYTES: "100" })).toThrow(
      /CHUNK_BYTES must be an integer from 1024 to 67108864/,
    );
    expect(() => loadConvertConfig({ BUCKET_NAME: "b", CHUNK_BYTES: String(64 * 1024 * 1024 + 1) })).toThrow(
      /CHUNK_BYTES must be an integer from 1024/,
    );
  });

  it("notify-failure: the bucket and its processed prefix; the Slack settings are optional", () => {
    expect(
      loadNotifyFailureConfig({
        BUCKET_NAME: "uploads",
        STAGE: "dev",
        AWS_REGION: "eu-west-1",
        SLACK_WEBHOOK_PARAMETER: "/p",
      }),
    ).toEqual({
      bucketName: "uploads",
      processedPrefix: "processed/",
      stage: "dev",
      region: "eu-west-1",
      slackWebhookUrl: undefined,
      slackWebhookParameter: "/p",
    });
    expect(
      loadNotifyFailureConfig({ BUCKET_NAME: "b", STAGE: "s", AWS_REGION: "r", PROCESSED_PREFIX: "out" }),
    ).toMatchObject({ processedPrefix: "out/" });
  });

  it("chunk dead-letter: MAX_RECEIVE_COUNT is a receive count of 1 to 1000", () => {
    expect(loadChunkDeadLetterConfig({ MAX_RECEIVE_COUNT: "5", STAGE: "prod" })).toEqual({
      maxReceiveCount: 5,
      stage: "prod",
    });
    expect(loadChunkDeadLetterConfig({ MAX_RECEIVE_COUNT: "1" })).toEqual({
      maxReceiveCount: 1,
      stage: undefined,
    });
    for (const bad of ["0", "1001", "2.5", "five"]) {
      expect(() => loadChunkDeadLetterConfig({ MAX_RECEIVE_COUNT: bad })).toThrow(
        /MAX_RECEIVE_COUNT must be an integer from 1 to 1000/,
      );
    }
  });

  it.each([
    ["processed", "processed/"],
    ["processed/", "processed/"],
    ["/a/b", "a/b/"],
    ["", ""],
  ])("normalizes the prefix %j", (raw, normalized) => {
    expect(normalizePrefix(raw)).toBe(normalized);
  });

  it("summarize: the success summary is off unless SLACK_NOTIFY_SUCCESS=true, which needs STAGE and AWS_REGION", () => {
    expect(loadSummarizeConfig({ BUCKET_NAME: "b" })).toEqual({
      bucketName: "b",
      processedPrefix: "processed/",
      notifySuccess: false,
      stage: undefined,
      region: undefined,
      slackWebhookUrl: undefined,
      slackWebhookParameter: undefined,
      summarizeMemoryMb: undefined,
    });
    expect(loadSummarizeConfig({ BUCKET_NAME: "b", AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "512" })).toMatchObject({
      summarizeMemoryMb: 512,
    });
    expect(
      loadSummarizeConfig({
        BUCKET_NAME: "b",
        SLACK_NOTIFY_SUCCESS: "TRUE",
        STAGE: "prod",
        AWS_REGION: "eu-west-1",
        SLACK_WEBHOOK_PARAMETER: "/p",
      }),
    ).toMatchObject({ notifySuccess: true, stage: "prod", region: "eu-west-1", slackWebhookParameter: "/p" });
    expect(() =>
      loadSummarizeConfig({ BUCKET_NAME: "b", SLACK_NOTIFY_SUCCESS: "true", AWS_REGION: "r" }),
    ).toThrow("Missing required environment variable STAGE");
    expect(() => loadSummarizeConfig({ BUCKET_NAME: "b", SLACK_NOTIFY_SUCCESS: "yes" })).toThrow(
      /SLACK_NOTIFY_SUCCESS must be true or false/,
    );
  });
});
