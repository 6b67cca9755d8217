import { S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { type ChunkConsumerOptions, createChunkConsumer, InvalidOptionError } from "../src/index.ts";

const base: ChunkConsumerOptions = {
  queueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/chunks",
  sqs: new SQSClient({ region: "eu-west-1" }),
  sfn: new SFNClient({ region: "eu-west-1" }),
  s3: new S3Client({ region: "eu-west-1" }),
  handler: async () => ({ accepted: 0, rejected: [] }),
};

describe("createChunkConsumer options", () => {
  it("accepts the required options alone and starts idle", () => {
    const consumer = createChunkConsumer(base);
    expect(consumer.status).toEqual({
      running: false,
      inFlight: 0,
      processed: 0,
      failed: 0,
      abandonedHandlers: 0,
    });
  });

  it.each<[string, Partial<Record<keyof ChunkConsumerOptions, unknown>>, string]>([
    ["queueUrl missing", { queueUrl: undefined }, "queueUrl must be an http(s) SQS queue URL, got undefined"],
    ["queueUrl a name", { queueUrl: "chunks" }, 'queueUrl must be an http(s) SQS queue URL, got "chunks"'],
    ["sqs missing", { sqs: undefined }, "sqs must be an SQSClient from @aws-sdk/client-sqs, got undefined"],
    ["sfn not a client", { sfn: {} }, "sfn must be an SFNClient from @aws-sdk/client-sfn, got an object"],
    ["s3 missing", { s3: undefined }, "s3 must be an S3Client from @aws-sdk/client-s3, got undefined"],
    [
      "s3 not a client",
      { s3: { send: "x" } },
      "s3 must be an S3Client from @aws-sdk/client-s3, got an object",
    ],
    ["s3 a bucket name", { s3: "uploads" }, 's3 must be an S3Client from @aws-sdk/client-s3, got "uploads"'],
    ["maxChunkBytes 0", { maxChunkBytes: 0 }, "maxChunkBytes must be an integer from 1 to 67108864, got 0"],
    [
      "maxChunkBytes over 64 MiB",
      { maxChunkBytes: 64 * 1024 * 1024 + 1 },
      "maxChunkBytes must be an integer from 1 to 67108864, got 67108865",
    ],
    [
      "maxChunkBytes 1.5",
      { maxChunkBytes: 1.5 },
      "maxChunkBytes must be an integer from 1 to 67108864, got 1.5",
    ],
    [
      "maxChunkBytes a string",
      { maxChunkBytes: "64MiB" },
      'maxChunkBytes must be an integer from 1 to 67108864, got "64MiB"',
    ],
    [
      "handler missing",
      { handler: "x" },
      'handler must be a function (chunk, ctx) => Promise<result>, got "x"',
    ],
    ["concurrency 0", { concurrency: 0 }, "concurrency must be an integer from 1 to 100, got 0"],
    ["concurrency 1.5", { concurrency: 1.5 }, "concurrency must be an integer from 1 to 100, got 1.5"],
    ["concurrency 101", { concurrency: 101 }, "concurrency must be an integer from 1 to 100, got 101"],
    [
      "waitTimeSeconds 21",
      { waitTimeSeconds: 21 },
      "waitTimeSeconds must be an integer from 0 to 20, got 21",
    ],
    [
      "visibilityTimeoutSeconds 0",
      { visibilityTimeoutSeconds: 0 },
      "visibilityTimeoutSeconds must be an integer from 1 to 43200, got 0",
    ],
    [
      "heartbeat not below visibility",
      { heartbeatSeconds: 120 },
      "heartbeatSeconds must be a number greater than 0 and less than visibilityTimeoutSeconds (120), got 120",
    ],
    [
      "heartbeat 0",
      { heartbeatSeconds: 0, visibilityTimeoutSeconds: 10 },
      "heartbeatSeconds must be a number greater than 0 and less than visibilityTimeoutSeconds (10), got 0",
    ],
    [
      "handlerTimeoutSeconds 0",
      { handlerTimeoutSeconds: 0 },
      "handlerTimeoutSeconds must be a number greater than 0 and at most 43200, got 0",
    ],
    [
      "handlerTimeoutSeconds over 12 hours",
      { handlerTimeoutSeconds: 43_201 },
      "handlerTimeoutSeconds must be a number greater than 0 and at most 43200, got 43201",
    ],
    [
      "handlerTimeoutSeconds Infinity",
      { handlerTimeoutSeconds: Number.POSITIVE_INFINITY },
      "handlerTimeoutSeconds must be a number greater than 0 and at most 43200, got Infinity",
    ],
    [
      "handlerTimeoutSeconds a string",
      { handlerTimeoutSeconds: "15m" },
      'handlerTimeoutSeconds must be a number greater than 0 and at most 43200, got "15m"',
    ],
    ["retry.attempts 0", { retry: { attempts: 0 } }, "retry.attempts must be an integer from 1 to 20, got 0"],
    [
      "retry.baseMs negative",
      { retry: { baseMs: -1 } },
      "retry.baseMs must be an integer from 0 to 60000, got -1",
    ],
    [
      "retry.maxMs under baseMs",
      { retry: { baseMs: 500, maxMs: 100 } },
      "retry.maxMs must be an integer from 500 to 300000, got 100",
    ],
    [
      "logger without error",
      { logger: { warn() {} } },
      "logger must have warn and error methods (console will do), got an object",
    ],
  ])("rejects %s with a precise message", (_, override, message) => {
    const attempt = () => createChunkConsumer({ ...base, ...override } as ChunkConsumerOptions);
    expect(attempt).toThrow(InvalidOptionError);
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (error) {
      expect(error).toMatchObject({ code: "INVALID_OPTION", message });
    }
  });

  it("accepts maxChunkBytes from 1 byte to 64 MiB", () => {
    for (const maxChunkBytes of [1, 4 * 1024 * 1024, 64 * 1024 * 1024]) {
      expect(() => createChunkConsumer({ ...base, maxChunkBytes })).not.toThrow();
    }
  });

  it("accepts handlerTimeoutSeconds from a fraction of a second to 12 hours", () => {
    for (const handlerTimeoutSeconds of [0.05, 900, 43_200]) {
      expect(() => createChunkConsumer({ ...base, handlerTimeoutSeconds })).not.toThrow();
    }
  });

  it("rejects a bad stop timeout and resolves stop() at once when never started", async () => {
    const consumer = createChunkConsumer(base);
    await expect(consumer.stop({ timeoutMs: -1 })).rejects.toThrow(
      "stop timeoutMs must be an integer of 0 or more, got -1",
    );
    await expect(consumer.stop()).resolves.toEqual({ timedOut: false, abandoned: 0 });
  });
});
