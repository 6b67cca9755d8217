import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { DescribeExecutionCommand, ListMapRunsCommand, SFNClient } from "@aws-sdk/client-sfn";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { CONTRACT_VERSION, type FailureRecord, FailureRecordSchema } from "@sluice/contract";
import { LoopbackSlack } from "@sluice/test-support/loopback-slack";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createHandler, type NotifyFailureDeps } from "../../src/handlers/create-notify-failure-handler.ts";
import {
  BUCKET,
  EXECUTION_ARN,
  jsonl,
  MAP_RUN_ARN,
  serviceError,
  silentLogger,
  taskResult,
} from "../factories.ts";
import {
  abortedChild,
  failedChild,
  failureEvent,
  lambdaCause,
  MAP_FAILED,
  MAP_RUN_ID,
  sfnStub,
  taskFailureCause,
  UPLOAD_INPUT,
} from "../notify-fixtures.ts";
import { manifest, PREFIX } from "../reports/fixtures.ts";
import { s3Store } from "../s3-store.ts";

const store = s3Store();
const sfn = sfnStub();
// client-ssm is typed against other @smithy types than aws-sdk-client-mock expects; the runtime is the same.
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
const RECORD_KEY = `${PREFIX}failure.json`;
const RUN = `${PREFIX}${MAP_RUN_ID}/`;

let slack: LoopbackSlack;
beforeAll(async () => {
  slack = await LoopbackSlack.start();
});
afterAll(async () => {
  await slack.stop();
});

function handler(overrides: Partial<NotifyFailureDeps> = {}) {
  return createHandler({
    sfn: new SFNClient({ region: "eu-west-1" }),
    s3: store.client(),
    bucketName: BUCKET,
    processedPrefix: "processed/",
    stage: "prod",
    region: "eu-west-1",
    slackWebhookUrl: slack.url,
    // Retries as in Lambda (4 attempts), with short waits.
    slackRetry: { baseDelayMs: 5 },
    logger: silentLogger(),
    now: () => new Date("2026-01-05T10:06:00.000Z"),
    ...overrides,
  });
}

function storedRecord(): FailureRecord {
  const bytes = store.get(BUCKET, RECORD_KEY);
  if (!bytes) throw new Error("failure.json was not written");
  return FailureRecordSchema.parse(JSON.parse(bytes.toString("utf8")));
}

interface Block {
  type: string;
  text?: { text: string };
  fields?: { text: string }[];
  elements?: { text: string | { text: string }; url?: string }[];
}
const blocksOf = (i = 0) => (slack.received[i]?.json.blocks ?? []) as unknown as Block[];

/** Conversion finished; the Map Run failed at chunk 2, whose record follows an aborted chunk's. */
function arrangeMapFailure() {
  store.put(BUCKET, `${PREFIX}manifest.json`, manifest({ totalRows: 1000, totalChunks: 4 }));
  store.put(
    BUCKET,
    `${RUN}SUCCEEDED_0.json`,
    jsonl([taskResult({ chunkIndex: 0 }), taskResult({ chunkIndex: 1 })]),
  );
  store.put(
    BUCKET,
    `${RUN}FAILED_0.json`,
    jsonl([
      abortedChild(3),
      failedChild(
        2,
        502,
        250,
        "DUPLICATE_ORDER",
        taskFailureCause(2, 502, 250, "Order ORD-1 exists", "DUPLICATE_ORDER"),
      ),
    ]),
  );
  store.put(BUCKET, `${RUN}manifest.json`, {
    DestinationBucket: BUCKET,
    MapRunArn: MAP_RUN_ARN,
    ResultFiles: {
      SUCCEEDED: [{ Key: `${RUN}SUCCEEDED_0.json`, Size: 1 }],
      FAILED: [{ Key: `${RUN}FAILED_0.json`, Size: 1 }],
      PENDING: [],
    },
  });
  sfn.arrange({
    ...MAP_FAILED,
    mapRuns: [{ mapRunArn: MAP_RUN_ARN, startDate: new Date("2026-01-05T10:00:05Z") }],
    itemCounts: { total: 4, succeeded: 2, failed: 1, aborted: 1 },
  });
}

describe("notify-failure handler", () => {
  beforeEach(() => {
    store.reset();
    ssm.reset();
    sfn.arrange({ error: "WORKBOOK_ENCRYPTED", cause: lambdaCause });
    slack.received.length = 0;
    slack.status = 200;
  });

  it("writes processed/<uploadId>/failure.json for a conversion failure, then posts the alert", async () => {
    const result = await handler()(failureEvent());
    const record = storedRecord();
    expect(record).toEqual({
      v: CONTRACT_VERSION,
      kind: "upload-failure",
      uploadId: "orders-0123456789ab",
      executionArn: EXECUTION_ARN,
      status: "FAILED",
      redriveCount: 0,
      source: { bucket: BUCKET, key: "uploads/2026/Q1 orders.xlsx", versionId: "v9" },
      error: {
        code: "WORKBOOK_ENCRYPTED",
        cause:
          "The workbook is password-protected (encrypted); remove the password in Excel and upload it again",
      },
      failedAt: "2026-01-05T10:05:00.000Z",
    });
    expect(result).toEqual({ record, slack: "posted", report: null, followUp: "none" });
    // The execution is described first; with no Map Run nothing else is read but manifest.json.
    expect(sfn.mock.commandCalls(DescribeExecutionCommand)[0]?.args[0].input).toEqual({
      executionArn: EXECUTION_ARN,
    });
    expect(store.mock.commandCalls(ListObjectsV2Command)).toHaveLength(0);
    expect(store.reads).toEqual([`${BUCKET}/${PREFIX}manifest.json`]);
    expect(slack.received).toHaveLength(1);
  });

  it("posts Block Kit: header, fields, error, the record's location, how to redrive, the execution", async () => {
    await handler()(failureEvent());
    const post = slack.received[0]!;
    expect(post.path).toBe("/services/T000/B000/XXXX");
    const blocks = blocksOf();
    expect(blocks.map((b) => b.type)).toEqual(["header", "section", "section", "context", "actions"]);
    expect(JSON.stringify(blocks[0])).toContain("Upload failed: Q1 orders.xlsx");
    expect(blocks[1]?.fields?.map((f) => f.text)).toEqual([
      "*File*\nQ1 orders.xlsx",
      "*Stage*\nprod",
      "*Upload id*\n`orders-0123456789ab`",
      "*Error code*\n`WORKBOOK_ENCRYPTED`",
    ]);
    expect(blocks[2]?.text?.text).toContain("password-protected");
    const context = JSON.stringify(blocks[3]);
    expect(context).toContain(`s3://${BUCKET}/${RECORD_KEY}`);
    expect(context).toContain("sluice redrive orders-0123456789ab");
    expect(blocks[4]?.elements?.[0]?.url).toBe(
      `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${EXECUTION_ARN}`,
    );
    expect(post.json.text).toMatch(
      /^Upload failed: Q1 orders\.xlsx \(stage prod, upload orders-0123456789ab\): WORKBOOK_ENCRYPTED: /,
    );
  });

  it("names the failed chunk, its rows and real error, and the Map Run's counts, from the Map Run", async () => {
    arrangeMapFailure();
    const result = await handler()(failureEvent());
    expect(storedRecord()).toMatchObject({
      processed: { bucket: BUCKET, prefix: PREFIX },
      error: { code: "DUPLICATE_ORDER", cause: "Order ORD-1 exists" },
      failedChunk: { index: 2, firstRow: 502, lastRow: 751, rows: 250 },
      chunks: { total: 4, succeeded: 2, failed: 2, pending: 0 },
      progress: { accepted: 500, rejected: 0 },
    });
    expect(result.followUp).toBe("none");
    const fields = blocksOf()[1]?.fields?.map((f) => f.text);
    expect(fields).toEqual([
      "*File*\nQ1 orders.xlsx",
      "*Stage*\nprod",
      "*Upload id*\n`orders-0123456789ab`",
      "*Error code*\n`DUPLICATE_ORDER`",
      "*Rows*\n1,000",
      "*Failed chunk*\nChunk 2: rows 502-751 (250 rows)",
      "*Chunks*\n2 succeeded, 2 failed of 4",
    ]);
  });

  it("names the file by the original name the manifest recorded, in the alert and its fallback text", async () => {
    arrangeMapFailure();
    store.put(
      BUCKET,
      `${PREFIX}manifest.json`,
      manifest({ totalRows: 1000, totalChunks: 4, originalName: "2026년 주문.xlsx" }),
    );
    await handler()(failureEvent());
    expect(blocksOf()[1]?.fields?.[0]?.text).toBe("*File*\n2026년 주문.xlsx");
    expect(slack.received[0]?.json.text).toContain("2026년 주문.xlsx");
    expect(JSON.stringify(slack.received[0]?.json)).not.toContain("Q1 orders.xlsx");
  });

  it("keeps the Map's own error when its results cannot be read", async () => {
    arrangeMapFailure();
    store.mock.on(ListObjectsV2Command).rejects(serviceError("AccessDenied", "Access Denied", 403));
    await handler()(failureEvent());
    expect(storedRecord()).toMatchObject({
      error: { code: MAP_FAILED.error, cause: MAP_FAILED.cause },
      chunks: { total: 4, succeeded: 2, failed: 2, pending: 0 },
    });
    expect(storedRecord().failedChunk).toBeUndefined();
  });

  it("prefers the manifest of the execution's newest Map Run over an older one left by an earlier attempt", async () => {
    arrangeMapFailure();
    const older = `${PREFIX}0ld-run/`;
    store.put(BUCKET, `${older}FAILED_0.json`, jsonl([failedChild(0, 2, 250, "OLD_ERROR", "{}")]));
    store.put(BUCKET, `${older}manifest.json`, {
      MapRunArn: `${MAP_RUN_ARN.slice(0, MAP_RUN_ARN.lastIndexOf(":"))}:0ld-run`,
      ResultFiles: { SUCCEEDED: [], FAILED: [{ Key: `${older}FAILED_0.json`, Size: 1 }], PENDING: [] },
    });
    await handler()(failureEvent());
    expect(storedRecord().error.code).toBe("DUPLICATE_ORDER");
    expect(store.reads).not.toContain(`${BUCKET}/${older}FAILED_0.json`);
  });

  it("does nothing when the execution is no longer failed (redriven since)", async () => {
    sfn.arrange({ status: "RUNNING", redriveCount: 1 });
    const result = await handler()(failureEvent());
    expect(result).toEqual({ record: null, slack: "skipped", report: null, followUp: "none" });
    expect(store.objects.size).toBe(0);
    expect(slack.received).toHaveLength(0);
    expect(sfn.mock.commandCalls(ListMapRunsCommand)).toHaveLength(0);
  });

  it.each([
    ["TIMED_OUT", undefined, "States.Timeout", "Upload timed out"],
    ["ABORTED", undefined, "EXECUTION_ABORTED", "Upload aborted"],
  ])("records a %s execution without an error as %s", async (status, error, code, headline) => {
    sfn.arrange({ status, error, redriveCount: 2 });
    await handler()(failureEvent({ status }));
    expect(storedRecord()).toMatchObject({ status, redriveCount: 2, error: { code, cause: "" } });
    expect(JSON.stringify(blocksOf()[0])).toContain(headline);
    expect(JSON.stringify(blocksOf()[1])).toContain("*Redrives so far*\\n2");
  });

  it("throws when DescribeExecution fails and the event carries no input (Lambda retries the event)", async () => {
    sfn.mock.on(DescribeExecutionCommand).rejects(sfn.throttled());
    await expect(handler()(failureEvent())).rejects.toThrow(/Rate exceeded/);
    expect(slack.received).toHaveLength(0);
  });

  it("falls back to the event's detail when DescribeExecution fails but the input is there", async () => {
    sfn.mock.on(DescribeExecutionCommand).rejects(sfn.throttled());
    await handler()(
      failureEvent({ input: JSON.stringify(UPLOAD_INPUT), error: "WORKBOOK_CORRUPT", cause: "bad zip" }),
    );
    expect(storedRecord()).toMatchObject({
      error: { code: "WORKBOOK_CORRUPT", cause: "bad zip" },
      failedAt: "2026-01-05T10:05:00.000Z",
    });
  });

  it("still alerts, naming the execution, when its input names no upload; writes no record", async () => {
    sfn.arrange({ input: { hello: "world" }, error: "States.Runtime", cause: "boom" });
    const result = await handler()(failureEvent());
    expect(result).toEqual({ record: null, slack: "posted", report: null, followUp: "none" });
    expect(store.objects.size).toBe(0);
    expect(JSON.stringify(blocksOf())).toContain("No failure record");
  });

  it("rejects an event that is not an execution status change as INVALID_OPTION", async () => {
    await expect(handler()({ "detail-type": "Object Created", source: "aws.s3" })).rejects.toMatchObject({
      name: "INVALID_OPTION",
    });
    expect(sfn.mock.calls()).toHaveLength(0);
  });

  it("alerts even when the record cannot be written, says so, and throws last so Lambda retries", async () => {
    arrangeMapFailure();
    store.mock
      .on(PutObjectCommand, { Key: RECORD_KEY })
      .rejects(serviceError("InternalError", "S3 is unwell", 500));
    await expect(handler()(failureEvent())).rejects.toMatchObject({
      name: "FAILURE_RECORD_WRITE_FAILED",
      message: expect.stringContaining(RECORD_KEY),
    });
    expect(slack.received).toHaveLength(1);
    expect(JSON.stringify(blocksOf()[3])).toContain("could not be written");
    // Everything else was attempted before the throw: the large read and the record's second write.
    expect(store.reads).toContain(`${BUCKET}/${RUN}SUCCEEDED_0.json`);
    expect(
      store.mock.commandCalls(PutObjectCommand).filter((c) => c.args[0].input.Key === RECORD_KEY),
    ).toHaveLength(2);
  });

  it("writes the record when Slack is down, and reports slack: failed", async () => {
    slack.status = 500;
    const result = await handler()(failureEvent());
    expect(result.slack).toBe("failed");
    expect(storedRecord().error.code).toBe("WORKBOOK_ENCRYPTED");
    // A 5xx is retried: every attempt reached Slack, none was posted.
    expect(slack.received).toHaveLength(4);
  });

  it("reports slack: failed when nothing listens at the webhook URL", async () => {
    const closed = await LoopbackSlack.start();
    const url = closed.url;
    await closed.stop();
    const result = await handler({ slackWebhookUrl: url })(failureEvent());
    expect(result.slack).toBe("failed");
    expect(storedRecord().uploadId).toBe("orders-0123456789ab");
  });

  it("skips Slack when no webhook is configured", async () => {
    const result = await handler({ slackWebhookUrl: undefined })(failureEvent());
    expect(result.slack).toBe("skipped");
    expect(slack.received).toHaveLength(0);
    expect(storedRecord().uploadId).toBe("orders-0123456789ab");
  });

  it("truncates a huge cause: the record within its bound, the alert within Block Kit's limits", async () => {
    const huge = `${"<tag> & ".repeat(2000)}END`;
    sfn.arrange({ error: "States.TaskFailed", cause: huge });
    const result = await handler()(failureEvent());
    expect(result.record?.error.cause.length).toBeLessThanOrEqual(4096);
    const section = blocksOf()[2]?.text?.text ?? "";
    expect(section.length).toBeLessThanOrEqual(3000);
    expect(section.endsWith("…```")).toBe(true);
    expect(section).not.toMatch(/&[a-z]{0,3}…/);
    expect((slack.received[0]?.json.text ?? "").length).toBeLessThanOrEqual(3000);
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
    expect((await notify(failureEvent())).slack).toBe("posted");
    expect((await notify(failureEvent())).slack).toBe("posted");
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
    await expect(notify(failureEvent())).resolves.toMatchObject({ slack: outcome });
    expect(slack.received).toHaveLength(0);
    expect(storedRecord().uploadId).toBe("orders-0123456789ab");
  });
});
