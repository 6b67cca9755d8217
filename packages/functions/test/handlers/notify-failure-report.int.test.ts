import { SFNClient } from "@aws-sdk/client-sfn";
import { FailureRecordSchema, REJECTED_SAMPLE_LIMIT } from "@sluice/contract";
import { LoopbackSlack } from "@sluice/test-support/loopback-slack";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SlackMessage } from "../../src/alerts/failure-alert.ts";
import { createHandler, type NotifyFailureDeps } from "../../src/handlers/create-notify-failure-handler.ts";
import { BUCKET, jsonl, MAP_RUN_ARN, silentLogger, taskResult } from "../factories.ts";
import {
  abortedChild,
  failedChild,
  failureEvent,
  MAP_FAILED,
  MAP_RUN_ID,
  sfnStub,
  taskFailureCause,
} from "../notify-fixtures.ts";
import { chunksJsonl, itemsJsonl, manifest, PREFIX } from "../reports/fixtures.ts";
import { parseCsv, s3Store } from "../s3-store.ts";

const store = s3Store();
const sfn = sfnStub();
const RUN = `${PREFIX}${MAP_RUN_ID}/`;
const RECORD = `${BUCKET}/${PREFIX}failure.json`;
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
    reportLink: async (bucket, key) => `https://example.test/${bucket}/${key}?sig=1`,
    ...overrides,
  });
}

const storedRecord = () =>
  FailureRecordSchema.parse(JSON.parse(store.get(BUCKET, `${PREFIX}failure.json`)!.toString()));

/**
 * Four chunks of 10 rows: chunks 0 and 1 answered with rejected rows, chunk 2 failed (after an aborted chunk's
 * record, and before a second FAILED file that must never be read), chunk 3 aborted.
 */
function arrangeFailedMap() {
  store.put(BUCKET, `${PREFIX}manifest.json`, manifest({ totalRows: 40, totalChunks: 4 }));
  store.put(BUCKET, `${PREFIX}chunks.jsonl`, chunksJsonl(4, 10));
  store.put(BUCKET, `${PREFIX}items.jsonl`, itemsJsonl(4, 10));
  store.put(
    BUCKET,
    `${RUN}SUCCEEDED_0.json`,
    jsonl([
      taskResult({ chunkIndex: 1, accepted: 7, rejected: [15, 12, 13].map(rejectedRow) }),
      taskResult({ chunkIndex: 0, accepted: 8, rejected: [4, 9].map(rejectedRow) }),
    ]),
  );
  const cause = taskFailureCause(2, 22, 10, "the orders table is locked", "DB_LOCKED");
  store.put(
    BUCKET,
    `${RUN}FAILED_0.json`,
    jsonl([abortedChild(3), failedChild(2, 22, 10, "DB_LOCKED", cause)]),
  );
  store.put(BUCKET, `${RUN}FAILED_1.json`, jsonl([failedChild(3, 32, 10, "NEVER_READ", "{}")]));
  store.put(BUCKET, `${RUN}manifest.json`, {
    DestinationBucket: BUCKET,
    MapRunArn: MAP_RUN_ARN,
    ResultFiles: {
      SUCCEEDED: [{ Key: `${RUN}SUCCEEDED_0.json`, Size: 1 }],
      FAILED: [
        { Key: `${RUN}FAILED_0.json`, Size: 1 },
        { Key: `${RUN}FAILED_1.json`, Size: 1 },
      ],
      PENDING: [],
    },
  });
  sfn.arrange({
    ...MAP_FAILED,
    mapRuns: [{ mapRunArn: MAP_RUN_ARN, startDate: new Date("2026-01-05T10:00:05Z") }],
    itemCounts: { total: 4, succeeded: 2, failed: 1, aborted: 1 },
  });
}

interface Block {
  type: string;
  text?: { text: string };
  fields?: { text: string }[];
  elements?: { text: string | { text: string }; url?: string }[];
}

describe("notify-failure: the large read after the record and the alert", () => {
  beforeEach(() => {
    store.reset();
    slack.received.length = 0;
    slack.status = 200;
  });

  it("records and alerts before reading the succeeded results, then reports the rejected rows and follows up", async () => {
    arrangeFailedMap();
    // What had been read, and whether failure.json existed, when each message went out.
    const timeline: { text: string; reads: string[]; record: boolean }[] = [];
    const result = await handler({
      slackWebhookUrl: undefined,
      alertSink: async (message: SlackMessage) => {
        timeline.push({ text: message.text, reads: [...store.reads], record: store.objects.has(RECORD) });
        return "posted";
      },
    })(failureEvent());

    expect(timeline).toHaveLength(2);
    expect(timeline[0]?.text).toMatch(
      /^Upload failed: Q1 orders\.xlsx .*: DB_LOCKED: the orders table is locked/,
    );
    expect(timeline[0]?.record).toBe(true);
    expect(timeline[0]?.reads).not.toContain(`${BUCKET}/${RUN}SUCCEEDED_0.json`);
    // The search for the failed chunk stopped at the first FAILED record.
    expect(store.reads).not.toContain(`${BUCKET}/${RUN}FAILED_1.json`);
    expect(timeline[1]?.text).toBe(
      "Before the upload of Q1 orders.xlsx failed (upload orders-0123456789ab): 15 accepted, 5 rejected",
    );

    expect(result).toMatchObject({ slack: "posted", followUp: "posted" });
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
    // failure.json was updated with what was answered before the failure and the report.
    expect(storedRecord()).toMatchObject({
      error: { code: "DB_LOCKED", cause: "the orders table is locked" },
      failedChunk: { index: 2, firstRow: 22, lastRow: 31, rows: 10 },
      chunks: { total: 4, succeeded: 2, failed: 2, pending: 0 },
      progress: { accepted: 15, rejected: 5 },
      rejectedRowsReport: result.report,
    });
    // ...and the first of those rows with their reasons, as the summary keeps them, for a page to show.
    expect(storedRecord().rejectedSample).toEqual(
      [
        [0, 4],
        [0, 9],
        [1, 12],
        [1, 13],
        [1, 15],
      ].map(([chunkIndex, row]) => ({ chunkIndex, ...rejectedRow(row!) })),
    );
    expect(result.record).toEqual(storedRecord());
  });

  it("posts the follow-up as Block Kit: counts, three samples, the report's location and buttons", async () => {
    arrangeFailedMap();
    await handler()(failureEvent());
    expect(slack.received).toHaveLength(2);
    const blocks = (slack.received[1]?.json.blocks ?? []) as unknown as Block[];
    expect(blocks.map((b) => b.type)).toEqual(["section", "section", "context", "actions"]);
    expect(blocks[0]?.text?.text).toContain("accepted 15 rows and rejected 5");
    const samples = blocks[1]?.text?.text ?? "";
    expect(samples.length).toBeLessThanOrEqual(3000);
    expect(samples.split("\n").filter((l) => l.startsWith("•"))).toEqual([
      expect.stringMatching(/^• Row 4 \(chunk 0\): `INVALID_EMAIL` Row 4: email/),
      expect.stringMatching(/^• Row 9 \(chunk 0\)/),
      expect.stringMatching(/^• Row 12 \(chunk 1\)/),
    ]);
    expect(JSON.stringify(blocks[2])).toContain(`s3://${BUCKET}/${PREFIX}rejected-rows.xlsx`);
    const buttons = blocks[3]?.elements ?? [];
    expect(buttons.map((b) => (b.text as { text: string }).text)).toEqual([
      "Rejected rows (.xlsx)",
      "Rejected rows (.csv)",
    ]);
    expect(buttons[1]?.url).toBe(`https://example.test/${BUCKET}/${PREFIX}rejected-rows.csv?sig=1`);
  });

  it("records at most REJECTED_SAMPLE_LIMIT rejected rows, the lowest chunk and row first", async () => {
    arrangeFailedMap();
    // Chunks of 12 rows: chunk 0 is rows 2-13, chunk 1 rows 14-25, every one of them rejected.
    store.put(BUCKET, `${PREFIX}chunks.jsonl`, chunksJsonl(4, 12));
    store.put(BUCKET, `${PREFIX}items.jsonl`, itemsJsonl(4, 12));
    const rows = (first: number) => Array.from({ length: 12 }, (_, i) => first + i);
    store.put(
      BUCKET,
      `${RUN}SUCCEEDED_0.json`,
      jsonl([
        taskResult({ chunkIndex: 1, accepted: 0, rejected: rows(14).reverse().map(rejectedRow) }),
        taskResult({ chunkIndex: 0, accepted: 0, rejected: rows(2).map(rejectedRow) }),
      ]),
    );
    const result = await handler()(failureEvent());
    expect(result.record?.progress).toEqual({ accepted: 0, rejected: 24 });
    const sample = storedRecord().rejectedSample ?? [];
    expect(sample.map((r) => [r.chunkIndex, r.row])).toEqual(
      Array.from({ length: REJECTED_SAMPLE_LIMIT }, (_, i) => [i < 12 ? 0 : 1, i + 2]),
    );
  });

  it("sends no follow-up and writes no report when nothing was rejected; the progress is still recorded", async () => {
    arrangeFailedMap();
    store.put(BUCKET, `${RUN}SUCCEEDED_0.json`, jsonl([taskResult({ chunkIndex: 0, accepted: 10 })]));
    const result = await handler()(failureEvent());
    expect(result).toMatchObject({ report: null, followUp: "none" });
    expect(slack.received).toHaveLength(1);
    expect(storedRecord().progress).toEqual({ accepted: 10, rejected: 0 });
    expect(storedRecord().rejectedRowsReport).toBeUndefined();
    expect(storedRecord().rejectedSample).toBeUndefined();
  });

  it("leaves impossible answers out of the progress and the report, without failing", async () => {
    arrangeFailedMap();
    store.put(
      BUCKET,
      `${RUN}SUCCEEDED_0.json`,
      jsonl([
        taskResult({ chunkIndex: 0, accepted: 8, rejected: [4, 9].map(rejectedRow) }),
        // 999 rows for a 10-row chunk, and a row rejected twice: neither is added up.
        taskResult({ chunkIndex: 1, accepted: 999 }),
        taskResult({ chunkIndex: 1, accepted: 8, rejected: [15, 15].map(rejectedRow) }),
      ]),
    );
    const result = await handler()(failureEvent());
    expect(result.record?.progress).toEqual({ accepted: 8, rejected: 2 });
    expect(storedRecord().progress).toEqual({ accepted: 8, rejected: 2 });
    expect(result.report?.rows).toBe(2);
    expect(slack.received[1]?.json.text).toContain("8 accepted, 2 rejected");
  });

  it("shows the manifest's file warnings in the failure alert", async () => {
    arrangeFailedMap();
    const warning = {
      code: "FORMAT_EXTENSION_MISMATCH",
      message: 'The file "Q1 orders.xlsx" is named as an Excel workbook (.xlsx), but its content is csv',
    };
    store.put(
      BUCKET,
      `${PREFIX}manifest.json`,
      manifest({ totalRows: 40, totalChunks: 4, fileWarnings: [warning] }),
    );
    await handler()(failureEvent());
    const alert = slack.received[0]!.json;
    expect(alert.text).toMatch(/; warnings: FORMAT_EXTENSION_MISMATCH$/);
    const texts = ((alert.blocks ?? []) as unknown as Block[]).map((b) => b.text?.text ?? "");
    expect(texts).toContainEqual(expect.stringContaining("`FORMAT_EXTENSION_MISMATCH` The file"));
  });

  it("reports the progress after a Summarize failure: the Map succeeded, no chunk failed", async () => {
    arrangeFailedMap();
    store.put(BUCKET, `${RUN}manifest.json`, {
      ResultFiles: { SUCCEEDED: [{ Key: `${RUN}SUCCEEDED_0.json`, Size: 1 }], FAILED: [], PENDING: [] },
    });
    sfn.arrange({
      error: "TASK_RESULT_INVALID",
      cause: JSON.stringify({ errorType: "TASK_RESULT_INVALID", errorMessage: "bad output" }),
      mapRuns: [{ mapRunArn: MAP_RUN_ARN, startDate: new Date() }],
      itemCounts: { total: 2, succeeded: 2 },
    });
    const result = await handler()(failureEvent());
    expect(result.record).toMatchObject({
      error: { code: "TASK_RESULT_INVALID", cause: "bad output" },
      chunks: { total: 2, succeeded: 2, failed: 0, pending: 0 },
      progress: { accepted: 15, rejected: 5 },
    });
    expect(result.record?.failedChunk).toBeUndefined();
    expect(result.report?.rows).toBe(5);
  });

  it("keeps the record and both messages when the report cannot be written", async () => {
    arrangeFailedMap();
    store.objects.delete(`${BUCKET}/${PREFIX}chunks.jsonl`);
    const result = await handler()(failureEvent());
    expect(result).toMatchObject({ report: null, slack: "posted", followUp: "posted" });
    expect(storedRecord().progress).toEqual({ accepted: 15, rejected: 5 });
    expect(JSON.stringify(slack.received[1]?.json)).toContain("could not be written");
  });

  it("skips the large read when the Lambda is about to time out; the record and alert are already out", async () => {
    arrangeFailedMap();
    const result = await handler()(failureEvent(), { getRemainingTimeInMillis: () => 10_000 });
    expect(result).toMatchObject({ report: null, followUp: "none", slack: "posted" });
    expect(store.reads).not.toContain(`${BUCKET}/${RUN}SUCCEEDED_0.json`);
    expect(storedRecord().progress).toBeUndefined();
    expect(storedRecord().failedChunk?.index).toBe(2);
  });

  it("stops the large read at its time budget without failing", async () => {
    arrangeFailedMap();
    const result = await handler({ reportTimeoutMs: 1 })(failureEvent());
    expect(result.slack).toBe("posted");
    expect(storedRecord().error.code).toBe("DB_LOCKED");
  });

  it("never loses the record when Slack answers 500", async () => {
    arrangeFailedMap();
    slack.status = 500;
    const result = await handler()(failureEvent());
    expect(result).toMatchObject({ slack: "failed", followUp: "failed" });
    expect(result.report?.rows).toBe(5);
    expect(storedRecord().rejectedRowsReport?.rows).toBe(5);
  });
});
