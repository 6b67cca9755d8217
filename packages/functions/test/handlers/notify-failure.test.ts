import { Readable } from "node:stream";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { DeadLetterRecordSchema } from "@sluice/core";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DeadLetterQueue } from "../../src/adapters/dead-letter-queue.ts";
import { createHandler, type NotifyFailureDeps } from "../../src/handlers/create-notify-failure-handler.ts";
import {
  convertOutput,
  DLQ_URL,
  EXECUTION_ARN,
  executionInput,
  serviceError,
  silentLogger,
} from "../factories.ts";
import { LoopbackSlack } from "../slack-server.ts";

const sqs = mockClient(SQSClient);
const s3 = mockClient(S3Client);
const jsonBody = (value: unknown) => Readable.from([Buffer.from(JSON.stringify(value))]);
// client-ssm 3.699 is typed against older @smithy types than aws-sdk-client-mock 4.1 expects; the runtime is
// the same, so the stub is typed by hand here.
interface GetParameterStub {
  resolves(output: { Parameter?: { Name?: string; Type?: string; Value?: string } }): unknown;
  rejects(error: Error): unknown;
}
const ssm = mockClient(SSMClient as never) as unknown as {
  reset(): void;
  on(command: unknown): GetParameterStub;
  commandCalls(command: unknown): { args: [{ input: unknown }] }[];
};
const onGetParameter = () => ssm.on(GetParameterCommand);
const PARAMETER = "/sst/sluice/prod/Secret/SLACK_WEBHOOK_URL/value";

let slack: LoopbackSlack;
beforeAll(async () => {
  slack = await LoopbackSlack.start();
});
afterAll(async () => {
  await slack.stop();
});

function handler(overrides: Partial<NotifyFailureDeps> = {}) {
  return createHandler({
    deadLetterQueue: new DeadLetterQueue({
      client: new SQSClient({ region: "eu-west-1" }),
      queueUrl: DLQ_URL,
    }),
    stage: "prod",
    region: "eu-west-1",
    slackWebhookUrl: slack.url,
    logger: silentLogger(),
    now: () => new Date("2026-01-05T10:05:00.000Z"),
    ...overrides,
  });
}

const lambdaCause = JSON.stringify({
  errorType: "WORKBOOK_ENCRYPTED",
  errorMessage:
    "The workbook is password-protected (encrypted); remove the password in Excel and upload it again",
  trace: [
    "WORKBOOK_ENCRYPTED: The workbook is password-protected",
    "    at convert (file:///var/task/index.mjs:1:1)",
  ],
});

function failureState(overrides: Record<string, unknown> = {}) {
  return {
    ...executionInput({
      source: { bucket: "sluice-uploads", key: "uploads/2026/Q1 orders.xlsx", versionId: "v9" },
    }),
    error: { Error: "WORKBOOK_ENCRYPTED", Cause: lambdaCause },
    executionArn: EXECUTION_ARN,
    ...overrides,
  };
}

function sentRecord() {
  const body = sqs.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageBody;
  return DeadLetterRecordSchema.parse(JSON.parse(body ?? "null"));
}

describe("notify-failure handler", () => {
  beforeEach(() => {
    sqs.reset();
    ssm.reset();
    sqs.on(SendMessageCommand).resolves({ MessageId: "m-1" });
    slack.received.length = 0;
    slack.status = 200;
  });

  it("names the failed chunk and its real error when the Map failed, from the Map Run's results", async () => {
    s3.reset();
    const prefix = "processed/orders-0123456789ab/";
    s3.on(ListObjectsV2Command).resolves({
      Contents: [
        { Key: `${prefix}manifest.json` },
        { Key: `${prefix}chunks.jsonl` },
        { Key: `${prefix}run-1/manifest.json` },
      ],
    });
    s3.on(GetObjectCommand, { Key: `${prefix}run-1/manifest.json` }).resolves({
      Body: jsonBody({
        ResultFiles: {
          FAILED: [{ Key: `${prefix}run-1/FAILED_0.json`, Size: 1 }],
          SUCCEEDED: [],
          PENDING: [],
        },
      }),
    } as never);
    const cause = JSON.stringify({
      chunkIndex: 2,
      firstRow: 1002,
      lastRow: 1501,
      failure: {
        Error: "DUPLICATE_ORDER",
        Cause: JSON.stringify({ message: "Order ORD-1 exists", code: "DUPLICATE_ORDER" }),
      },
    });
    s3.on(GetObjectCommand, { Key: `${prefix}run-1/FAILED_0.json` }).resolves({
      Body: jsonBody([
        { Status: "ABORTED", Error: "States.Aborted" },
        { Status: "FAILED", Error: "DUPLICATE_ORDER", Cause: cause },
      ]),
    } as never);
    await handler({ s3: new S3Client({ region: "eu-west-1" }) })(
      failureState({
        convert: convertOutput(),
        error: {
          Error: "States.ExceedToleratedFailureThreshold",
          Cause: "The specified tolerated failure threshold was exceeded",
        },
      }),
    );
    expect(sentRecord()).toMatchObject({
      chunkIndex: 2,
      error: { code: "DUPLICATE_ORDER", cause: "Order ORD-1 exists" },
    });
  });

  it("keeps the Map's own error when its results cannot be read", async () => {
    s3.reset();
    s3.on(ListObjectsV2Command).rejects(new Error("AccessDenied"));
    await handler({ s3: new S3Client({ region: "eu-west-1" }) })(
      failureState({
        convert: convertOutput(),
        error: { Error: "States.ExceedToleratedFailureThreshold", Cause: "exceeded" },
      }),
    );
    expect(sentRecord().error).toEqual({ code: "States.ExceedToleratedFailureThreshold", cause: "exceeded" });
  });

  it("takes the execution ARN the workflow records in $.execution", async () => {
    const state: Record<string, unknown> = failureState({
      execution: { arn: EXECUTION_ARN, startTime: "2026-01-05T10:00:00Z" },
    });
    delete state.executionArn;
    await handler()(state);
    expect(sentRecord().executionArn).toBe(EXECUTION_ARN);
  });

  it("sends a dead-letter record that follows the contract, then posts the alert", async () => {
    const result = await handler()(failureState());
    const record = sentRecord();
    expect(record).toEqual({
      v: 1,
      kind: "upload-failure",
      uploadId: "orders-0123456789ab",
      executionArn: EXECUTION_ARN,
      source: { bucket: "sluice-uploads", key: "uploads/2026/Q1 orders.xlsx", versionId: "v9" },
      error: {
        code: "WORKBOOK_ENCRYPTED",
        cause:
          "The workbook is password-protected (encrypted); remove the password in Excel and upload it again",
      },
      failedAt: "2026-01-05T10:05:00.000Z",
    });
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input.QueueUrl).toBe(DLQ_URL);
    expect(result).toEqual({ record, slack: "posted", report: null });
    expect(slack.received).toHaveLength(1);
  });

  it("posts Block Kit: header, fields, error, DLQ location, a console button and a text fallback", async () => {
    await handler()(failureState({ convert: convertOutput({ totalRows: 12_345 }) }));
    const post = slack.received[0]!;
    expect(post.path).toBe("/services/T000/B000/XXXX");
    expect(post.contentType).toBe("application/json");
    const blocks = post.json.blocks ?? [];
    expect(blocks.map((b) => b.type)).toEqual(["header", "section", "section", "context", "actions"]);
    expect(JSON.stringify(blocks[0])).toContain("Upload failed: Q1 orders.xlsx");
    const fields = (blocks[1] as { fields: { text: string }[] }).fields.map((f) => f.text);
    expect(fields).toEqual([
      "*File*\nQ1 orders.xlsx",
      "*Stage*\nprod",
      "*Upload id*\n`orders-0123456789ab`",
      "*Error code*\n`WORKBOOK_ENCRYPTED`",
      "*Rows*\n12,345",
    ]);
    expect((blocks[2] as { text: { text: string } }).text.text).toContain("password-protected");
    expect(JSON.stringify(blocks[3])).toContain("sluice-dead-letters");
    const button = (blocks[4] as { elements: { url: string }[] }).elements[0];
    expect(button?.url).toBe(
      `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${EXECUTION_ARN}`,
    );
    expect(post.json.text).toMatch(
      /^Upload failed: Q1 orders\.xlsx \(stage prod, upload orders-0123456789ab\): WORKBOOK_ENCRYPTED: /,
    );
  });

  it("keeps the chunk index of a chunk failure and its cause", async () => {
    const cause = JSON.stringify({ chunkIndex: 17, cause: "admin server: database unavailable" });
    const result = await handler()(
      failureState({ error: { Error: "CHUNK_REJECTED", Cause: cause }, convert: convertOutput() }),
    );
    expect(result.record).toMatchObject({
      chunkIndex: 17,
      error: { code: "CHUNK_REJECTED", cause: "admin server: database unavailable" },
      processed: { bucket: "sluice-uploads", prefix: "processed/orders-0123456789ab/" },
    });
    expect(DeadLetterRecordSchema.safeParse(sentRecord()).success).toBe(true);
    const fields = JSON.stringify(slack.received[0]?.json.blocks?.[1]);
    expect(fields).toContain("*Chunk*\\n17");
  });

  it("truncates a huge cause to Block Kit's limits; Slack still accepts the message", async () => {
    const huge = `${"<tag> & ".repeat(2000)}END`;
    const result = await handler()(failureState({ error: { Error: "States.TaskFailed", Cause: huge } }));
    expect(result.record.error.cause.length).toBeLessThanOrEqual(4096);
    const blocks = slack.received[0]?.json.blocks ?? [];
    const section = (blocks[2] as { text: { text: string } }).text.text;
    expect(section.length).toBeLessThanOrEqual(3000);
    expect(section.endsWith("…```")).toBe(true);
    expect(section).not.toMatch(/&[a-z]{0,3}…/);
    expect((slack.received[0]?.json.text ?? "").length).toBeLessThanOrEqual(3000);
  });

  it("still sends the record when Slack is down, and reports slack: failed", async () => {
    slack.status = 500;
    const result = await handler()(failureState());
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
    expect(result.slack).toBe("failed");
    expect(slack.received).toHaveLength(1);
  });

  it("reports slack: failed when nothing listens at the webhook URL", async () => {
    const closed = await LoopbackSlack.start();
    const url = closed.url;
    await closed.stop();
    const result = await handler({ slackWebhookUrl: url })(failureState());
    expect(result.slack).toBe("failed");
    expect(sentRecord().uploadId).toBe("orders-0123456789ab");
  });

  it("skips Slack when no webhook is configured", async () => {
    const result = await handler({ slackWebhookUrl: undefined })(failureState());
    expect(result.slack).toBe("skipped");
    expect(slack.received).toHaveLength(0);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
  });

  it("reads the webhook URL from the SSM SecureString parameter, decrypted, once per container", async () => {
    ssm
      .on(GetParameterCommand)
      .resolves({ Parameter: { Name: PARAMETER, Type: "SecureString", Value: slack.url } });
    const notify = handler({
      slackWebhookUrl: undefined,
      slackWebhookParameter: PARAMETER,
      ssm: new SSMClient({ region: "eu-west-1" }),
    });
    expect((await notify(failureState())).slack).toBe("posted");
    expect((await notify(failureState())).slack).toBe("posted");
    expect(ssm.commandCalls(GetParameterCommand).map((c) => c.args[0].input)).toEqual([
      { Name: PARAMETER, WithDecryption: true },
    ]);
    expect(slack.received).toHaveLength(2);
  });

  it.each([
    ["a missing parameter", () => onGetParameter().rejects(serviceError("ParameterNotFound", "")), "skipped"],
    ["an empty parameter", () => onGetParameter().resolves({ Parameter: { Value: " " } }), "skipped"],
    [
      "a parameter it may not read",
      () => onGetParameter().rejects(serviceError("AccessDeniedException", "no")),
      "failed",
    ],
  ])("never fails on %s (slack: %s)", async (_what, arrange, outcome) => {
    arrange();
    const notify = handler({
      slackWebhookUrl: undefined,
      slackWebhookParameter: PARAMETER,
      ssm: new SSMClient({ region: "eu-west-1" }),
    });
    await expect(notify(failureState())).resolves.toMatchObject({ slack: outcome });
    expect(slack.received).toHaveLength(0);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
  });

  it("throws when the dead-letter record cannot be sent, so Step Functions retries; Slack is not posted", async () => {
    sqs.on(SendMessageCommand).rejects(serviceError("InternalError", "SQS is unwell", 500));
    await expect(handler()(failureState())).rejects.toThrow(/SQS is unwell/);
    expect(slack.received).toHaveLength(0);
  });

  it("names the error UNKNOWN when the state carries none", async () => {
    const { error: _e, ...state } = failureState();
    const result = await handler({ slackWebhookUrl: undefined })(state);
    expect(result.record.error).toEqual({ code: "UNKNOWN", cause: "" });
  });
});
