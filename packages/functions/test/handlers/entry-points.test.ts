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
    {
      DEAD_LETTER_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/1/q",
      STAGE: "test",
      AWS_REGION: "eu-west-1",
    },
    "DEAD_LETTER_QUEUE_URL",
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
