import { afterEach, describe, expect, it, vi } from "vitest";

/** The Lambda entry modules wire their handler at import: a missing variable must fail the cold start, by name. */
describe.each([
  [
    "start",
    () => import("../../src/handlers/start.ts"),
    { STATE_MACHINE_ARN: "arn:aws:states:eu-west-1:1:stateMachine:m" },
    "STATE_MACHINE_ARN",
  ],
  ["convert", () => import("../../src/handlers/convert.ts"), { BUCKET_NAME: "b" }, "BUCKET_NAME"],
  ["summarize", () => import("../../src/handlers/summarize.ts"), { BUCKET_NAME: "b" }, "BUCKET_NAME"],
  [
    "summarize with the Slack success summary",
    () => import("../../src/handlers/summarize.ts"),
    { BUCKET_NAME: "b", SLACK_NOTIFY_SUCCESS: "true", STAGE: "prod", AWS_REGION: "eu-west-1" },
    "STAGE",
  ],
  [
    "notify-failure",
    () => import("../../src/handlers/notify-failure.ts"),
    { BUCKET_NAME: "b", PROCESSED_PREFIX: "processed/", STAGE: "test", AWS_REGION: "eu-west-1" },
    "BUCKET_NAME",
  ],
  [
    "notify-failure (stage)",
    () => import("../../src/handlers/notify-failure.ts"),
    { BUCKET_NAME: "b", STAGE: "test", AWS_REGION: "eu-west-1", SLACK_WEBHOOK_PARAMETER: "/sst/x" },
    "STAGE",
  ],
  [
    "chunk-dead-letter",
    () => import("../../src/handlers/chunk-dead-letter.ts"),
    { MAX_RECEIVE_COUNT: "5", STAGE: "test", AWS_REGION: "eu-west-1" },
    "MAX_RECEIVE_COUNT",
  ],
])("%s entry point", (_name, load, env, firstRequired) => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it("exports a handler and its factory when configured", async () => {
    for (const [key, value] of Object.entries(env)) vi.stubEnv(key, value);
    const module = await load();
    expect(typeof module.handler).toBe("function");
    expect(typeof module.createHandler).toBe("function");
  });

  it(`fails at import naming ${firstRequired} when it is missing`, async () => {
    for (const [key, value] of Object.entries(env)) vi.stubEnv(key, key === firstRequired ? "" : value);
    vi.resetModules();
    await expect(load()).rejects.toThrow(`Missing required environment variable ${firstRequired}`);
  });
});
