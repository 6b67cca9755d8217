import { describe, expect, it } from "vitest";
import { ConfigError, describeConfig, loadConfig } from "../src/config.ts";

const base = {
  DATABASE_URL: "postgres://admin:secret@db.internal:5432/shop",
  CHUNK_QUEUE_URL: "https://sqs.ap-northeast-2.amazonaws.com/123456789012/sluice-prod-chunks",
  AWS_REGION: "ap-northeast-2",
  SLUICE_BUCKET: "sluice-prod-uploads",
  STATE_MACHINE_ARN: "arn:aws:states:ap-northeast-2:123456789012:stateMachine:sluice-prod-upload",
};

describe("loadConfig", () => {
  it("reads AWS settings with defaults and no endpoints", () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({
      databaseUrl: base.DATABASE_URL,
      chunkQueueUrl: base.CHUNK_QUEUE_URL,
      region: "ap-northeast-2",
      sqsEndpoint: undefined,
      sfnEndpoint: undefined,
      s3Endpoint: undefined,
      port: 3000,
      concurrency: 4,
      heartbeatSeconds: 30,
      visibilityTimeoutSeconds: 120,
      importDelayMs: 0,
      importRefuseChunk: undefined,
      bucket: "sluice-prod-uploads",
      stateMachineArn: base.STATE_MACHINE_ARN,
      uploadMaxBytes: 100 * 1024 * 1024,
      tenant: undefined,
    });
    expect(describeConfig(config).databaseUrl).toBe("postgres://admin:***@db.internal:5432/shop");
  });

  it("fails at start naming every missing or malformed variable", () => {
    const error = (() => {
      try {
        loadConfig({
          DATABASE_URL: "mysql://x",
          CONSUMER_CONCURRENCY: "0",
          HEARTBEAT_SECONDS: "200",
          IMPORT_REFUSE_CHUNK: "-1",
          STATE_MACHINE_ARN: "sluice-upload",
          UPLOAD_MAX_BYTES: String(6 * 1024 ** 3),
          SLUICE_TENANT: "Acme Corp",
        });
      } catch (e) {
        return e;
      }
    })() as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.problems).toEqual([
      'DATABASE_URL must be a postgres: or postgresql: URL, got "mysql://x"',
      "CHUNK_QUEUE_URL is required (stack output ChunkQueueUrl)",
      "AWS_REGION is required (e.g. ap-northeast-2)",
      'CONSUMER_CONCURRENCY must be an integer from 1 to 100, got "0"',
      "HEARTBEAT_SECONDS (200) must be less than VISIBILITY_TIMEOUT_SECONDS (120)",
      "SLUICE_BUCKET is required (stack output BucketName)",
      'STATE_MACHINE_ARN must be a state machine ARN, got "sluice-upload"',
      `UPLOAD_MAX_BYTES must be an integer from 1 to ${5 * 1024 ** 3}, got "${6 * 1024 ** 3}"`,
      'SLUICE_TENANT must be [a-z0-9-], 1 to 40 long, got "Acme Corp"',
      `IMPORT_REFUSE_CHUNK must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}, got "-1"`,
    ]);
  });

  it("reads the test knobs", () => {
    expect(loadConfig({ ...base, IMPORT_DELAY_MS: "400", IMPORT_REFUSE_CHUNK: "3" })).toMatchObject({
      importDelayMs: 400,
      importRefuseChunk: 3,
    });
  });

  it("reads the upload form settings", () => {
    expect(loadConfig({ ...base, UPLOAD_MAX_BYTES: "1048576", SLUICE_TENANT: "acme" })).toMatchObject({
      uploadMaxBytes: 1048576,
      tenant: "acme",
    });
  });

  it("takes the local runtime's endpoints", () => {
    const config = loadConfig({
      ...base,
      AWS_ENDPOINT_URL_SQS: "http://127.0.0.1:4566",
      AWS_ENDPOINT_URL_SFN: "http://127.0.0.1:8083",
      AWS_ENDPOINT_URL_S3: "http://127.0.0.1:4566",
      PORT: "0",
    });
    expect(config).toMatchObject({
      sqsEndpoint: "http://127.0.0.1:4566",
      sfnEndpoint: "http://127.0.0.1:8083",
      s3Endpoint: "http://127.0.0.1:4566",
      port: 0,
    });
  });
});
