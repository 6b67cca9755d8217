import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DeadLetterQueue } from "../../src/adapters/dead-letter-queue.ts";
import { createHandler, type NotifyFailureDeps } from "../../src/handlers/create-notify-failure-handler.ts";
import {
  BUCKET,
  childExecution,
  convertOutput,
  DLQ_URL,
  EXECUTION_ARN,
  executionInput,
  silentLogger,
  taskResult,
} from "../factories.ts";
import { chunksJsonl, manifest, PREFIX } from "../reports/fixtures.ts";
import { parseCsv, s3Store } from "../s3-store.ts";
import { LoopbackSlack } from "../slack-server.ts";

const sqs = mockClient(SQSClient);
const store = s3Store();
const rejectedRow = (row: number) => ({
  row,
  code: "INVALID_EMAIL",
  message: `Row ${row}: ${"email is not valid ".repeat(20)}`,
});

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
    s3: store.client(),
    stage: "prod",
    region: "eu-west-1",
    slackWebhookUrl: slack.url,
    logger: silentLogger(),
    now: () => new Date("2026-01-05T10:05:00.000Z"),
    reportLink: async (bucket, key) => `https://example.test/${bucket}/${key}?sig=1`,
    ...overrides,
  });
}

/** A Map that failed at chunk 2 after chunks 0 and 1 were answered with rejected rows; results under the prefix. */
function arrangeFailedMap() {
  store.put(BUCKET, `${PREFIX}manifest.json`, manifest({ totalRows: 40, totalChunks: 4 }));
  store.put(BUCKET, `${PREFIX}chunks.jsonl`, chunksJsonl(4, 10));
  store.put(BUCKET, `${PREFIX}run-9/SUCCEEDED_0.json`, [
    childExecution(taskResult({ chunkIndex: 1, accepted: 7, rejected: [15, 12, 13].map(rejectedRow) })),
    childExecution(taskResult({ chunkIndex: 0, accepted: 8, rejected: [4, 9].map(rejectedRow) })),
  ]);
  const cause = JSON.stringify({
    chunkIndex: 2,
    firstRow: 22,
    lastRow: 31,
    failure: { Error: "DB_LOCKED", Cause: JSON.stringify({ message: "the orders table is locked" }) },
  });
  store.put(BUCKET, `${PREFIX}run-9/FAILED_0.json`, [{ Status: "FAILED", Error: "DB_LOCKED", Cause: cause }]);
  store.put(BUCKET, `${PREFIX}run-9/manifest.json`, {
    ResultFiles: {
      SUCCEEDED: [{ Key: `${PREFIX}run-9/SUCCEEDED_0.json`, Size: 1 }],
      FAILED: [{ Key: `${PREFIX}run-9/FAILED_0.json`, Size: 1 }],
      PENDING: [],
    },
  });
}

const mapFailure = () => ({
  ...executionInput({ source: { bucket: BUCKET, key: "uploads/orders.xlsx" } }),
  convert: convertOutput({ totalRows: 40, totalChunks: 4 }),
  error: { Error: "States.ExceedToleratedFailureThreshold", Cause: "exceeded" },
  execution: { arn: EXECUTION_ARN },
});

interface Block {
  type: string;
  text?: { text: string };
  fields?: { text: string }[];
  elements?: { text: string | { text: string }; url?: string }[];
}

describe("notify-failure: rows so far, samples and the rejected-rows report", () => {
  beforeEach(() => {
    store.reset();
    sqs.reset();
    sqs.on(SendMessageCommand).resolves({ MessageId: "m-1" });
    slack.received.length = 0;
    slack.status = 200;
  });

  it("finds the Map Run under the processed prefix, writes the report and alerts with counts and 3 samples", async () => {
    arrangeFailedMap();
    const result = await handler()(mapFailure());
    expect(result.record).toMatchObject({ chunkIndex: 2, error: { code: "DB_LOCKED" } });
    expect(result.report).toEqual({
      bucket: BUCKET,
      csvKey: `${PREFIX}rejected-rows.csv`,
      xlsxKey: `${PREFIX}rejected-rows.xlsx`,
      rows: 5,
      capped: false,
    });
    const csv = parseCsv(store.get(BUCKET, `${PREFIX}rejected-rows.csv`)!.toString("utf8").slice(1));
    expect(csv.slice(1).map((r) => [r[0], r[1]])).toEqual(
      [4, 9, 12, 13, 15].map((row) => [String(row), `ORD-${row}`]),
    );

    const post = slack.received[0]!.json;
    const blocks = (post.blocks ?? []) as unknown as Block[];
    expect(blocks.length).toBeLessThanOrEqual(50);
    expect(blocks.map((b) => b.type)).toEqual([
      "header",
      "section",
      "section",
      "section",
      "context",
      "actions",
    ]);
    expect(blocks[0]?.text?.text.length).toBeLessThanOrEqual(150);
    expect(blocks[1]?.fields?.map((f) => f.text)).toEqual([
      "*File*\norders.xlsx",
      "*Stage*\nprod",
      "*Upload id*\n`orders-0123456789ab`",
      "*Error code*\n`DB_LOCKED`",
      "*Rows*\n40",
      "*Chunk*\n2",
      "*Accepted so far*\n15",
      "*Rejected so far*\n5",
    ]);
    const samples = blocks[3]?.text?.text ?? "";
    expect(samples.length).toBeLessThanOrEqual(3000);
    expect(samples.split("\n").filter((l) => l.startsWith("•"))).toEqual([
      expect.stringMatching(/^• Row 4 \(chunk 0\): `INVALID_EMAIL` Row 4: email/),
      expect.stringMatching(/^• Row 9 \(chunk 0\)/),
      expect.stringMatching(/^• Row 12 \(chunk 1\)/),
    ]);
    for (const block of blocks.filter((b) => b.text))
      expect(block.text!.text.length).toBeLessThanOrEqual(3000);
    const context = JSON.stringify(blocks[4]);
    expect(context).toContain("sluice-dead-letters");
    expect(context).toContain(`s3://${BUCKET}/${PREFIX}rejected-rows.xlsx`);
    const buttons = blocks[5]?.elements ?? [];
    expect(buttons.map((b) => (b.text as { text: string }).text)).toEqual([
      "Open execution",
      "Rejected rows (.xlsx)",
      "Rejected rows (.csv)",
    ]);
    for (const b of buttons) expect((b.text as { text: string }).text.length).toBeLessThanOrEqual(75);
    expect(buttons[2]?.url).toBe(`https://example.test/${BUCKET}/${PREFIX}rejected-rows.csv?sig=1`);
    expect(post.text).toContain("[15 accepted, 5 rejected so far]");
  });

  it("uses the ResultWriter location in the state when the failure came after the Map", async () => {
    arrangeFailedMap();
    const result = await handler()({
      ...mapFailure(),
      error: { Error: "TASK_RESULT_INVALID", Cause: "bad output" },
      delivery: {
        MapRunArn: "arn:aws:states:eu-west-1:1:mapRun:x",
        ResultWriterDetails: { Bucket: BUCKET, Key: `${PREFIX}run-9/manifest.json` },
      },
    });
    expect(result.record.error.code).toBe("TASK_RESULT_INVALID");
    expect(result.report?.rows).toBe(5);
    expect(store.mock.commandCalls(ListObjectsV2Command)).toHaveLength(0);
  });

  it("sends the record and alerts without a report when there is no Map Run to read", async () => {
    store.put(BUCKET, `${PREFIX}manifest.json`, manifest());
    const result = await handler()(mapFailure());
    expect(result.report).toBeNull();
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
    expect(result.slack).toBe("posted");
    expect(JSON.stringify(slack.received[0]?.json)).not.toContain("so far");
  });

  it("keeps the record and the alert when the report cannot be written", async () => {
    arrangeFailedMap();
    store.objects.delete(`${BUCKET}/${PREFIX}chunks.jsonl`);
    const result = await handler()(mapFailure());
    expect(result.report).toBeNull();
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
    expect(result.slack).toBe("posted");
    expect(JSON.stringify(slack.received[0]?.json)).toContain("*Rejected so far*\\n5");
  });

  it("skips the report when the Lambda is about to time out", async () => {
    arrangeFailedMap();
    const result = await handler()(mapFailure(), { getRemainingTimeInMillis: () => 5_000 });
    expect(result.report).toBeNull();
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
  });

  it("never loses the record when Slack answers 500", async () => {
    arrangeFailedMap();
    slack.status = 500;
    const result = await handler()(mapFailure());
    expect(result.slack).toBe("failed");
    expect(result.report?.rows).toBe(5);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
  });

  it("hands the full alert to an injected sink instead of the webhook (the local runtime saves it)", async () => {
    arrangeFailedMap();
    const saved: { text: string }[] = [];
    const result = await handler({
      slackWebhookUrl: undefined,
      alertSink: async (message) => {
        saved.push(message);
        return "posted";
      },
    })(mapFailure());
    expect(result.slack).toBe("posted");
    expect(slack.received).toHaveLength(0);
    expect(saved[0]?.text).toContain("[15 accepted, 5 rejected so far]");
    const failing = await handler({
      alertSink: async () => {
        throw new Error("disk full");
      },
    })(mapFailure());
    expect(failing.slack).toBe("failed");
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(2);
  });
});
