import { SummarySchema } from "@sluice/contract";
import { LoopbackSlack } from "@sluice/test-support/loopback-slack";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createHandler, type SummarizeDeps } from "../../src/handlers/create-summarize-handler.ts";
import {
  BUCKET,
  convertOutput,
  EXECUTION_ARN,
  executionInput,
  jsonl,
  silentLogger,
  taskResult,
} from "../factories.ts";
import { chunksJsonl, itemsJsonl, manifest, PREFIX } from "../reports/fixtures.ts";
import { parseCsv, s3Store } from "../s3-store.ts";

const store = s3Store();
const RESULTS = "sluice-results";
const MANIFEST_KEY = `${PREFIX}run-1/manifest.json`;
const delivery = {
  MapRunArn: "arn:aws:states:eu-west-1:123456789012:mapRun:sluice-upload/Deliver:abc",
  ResultWriterDetails: { Bucket: RESULTS, Key: MANIFEST_KEY },
};
const rejectedRow = (row: number) => ({
  row,
  code: "INVALID_EMAIL",
  message: `Row ${row}: email is not valid`,
});

let slack: LoopbackSlack;
beforeAll(async () => {
  slack = await LoopbackSlack.start();
});
afterAll(async () => {
  await slack.stop();
});

function handler(overrides: Partial<SummarizeDeps> = {}) {
  return createHandler({
    s3: store.client(),
    bucketName: BUCKET,
    processedPrefix: "processed/",
    logger: silentLogger(),
    now: () => new Date("2026-01-05T10:01:40.000Z"),
    stage: "prod",
    region: "eu-west-1",
    slackWebhookUrl: slack.url,
    // Retries as in Lambda (4 attempts), with short waits.
    slackRetry: { baseDelayMs: 5 },
    reportLink: async (bucket, key) =>
      `https://${bucket}.s3.eu-west-1.amazonaws.com/${key}?X-Amz-Signature=abc`,
    ...overrides,
  });
}

/** Four chunks of 10 rows; chunk 1 had two rows rejected, chunk 3 four; results listed out of order. */
function arrange(rejectedIn: Record<number, number[]> = { 1: [13, 12], 3: [35, 32, 33, 34] }) {
  store.put(BUCKET, `${PREFIX}manifest.json`, manifest({ totalRows: 40, totalChunks: 4 }));
  store.put(BUCKET, `${PREFIX}chunks.jsonl`, chunksJsonl(4, 10));
  store.put(BUCKET, `${PREFIX}items.jsonl`, itemsJsonl(4, 10));
  const child = (index: number, durationMs: number) => {
    const rejected = (rejectedIn[index] ?? []).map(rejectedRow);
    return taskResult({ chunkIndex: index, accepted: 10 - rejected.length, rejected, durationMs });
  };
  store.put(RESULTS, `${PREFIX}run-1/SUCCEEDED_0.json`, jsonl([child(3, 4000), child(0, 1000)]));
  store.put(RESULTS, `${PREFIX}run-1/SUCCEEDED_1.json`, jsonl([child(2, 3000), child(1, 2000)]));
  store.put(RESULTS, MANIFEST_KEY, {
    DestinationBucket: RESULTS,
    ResultFiles: {
      SUCCEEDED: [
        { Key: `${PREFIX}run-1/SUCCEEDED_0.json`, Size: 1 },
        { Key: `${PREFIX}run-1/SUCCEEDED_1.json`, Size: 1 },
      ],
      FAILED: [],
      PENDING: [],
    },
  });
}

const event = () => ({
  ...executionInput({ source: { bucket: BUCKET, key: "uploads/Q1 orders.xlsx" } }),
  convert: convertOutput({ totalRows: 40, totalChunks: 4 }),
  delivery,
  execution: { arn: EXECUTION_ARN },
});

function summaryJson() {
  return SummarySchema.parse(JSON.parse(store.get(BUCKET, `${PREFIX}summary.json`)!.toString("utf8")));
}

describe("summarize: per-chunk results, the rejected-rows report and the Slack summary", () => {
  beforeEach(() => {
    store.reset();
    slack.received.length = 0;
    slack.status = 200;
  });

  it("lists one entry per chunk by index and links the report from summary.json", async () => {
    arrange();
    const output = await handler()(event());
    const summary = summaryJson();
    expect(summary.chunkResults).toEqual([
      { index: 0, status: "SUCCEEDED", durationMs: 1000, accepted: 10, rejected: 0 },
      { index: 1, status: "SUCCEEDED", durationMs: 2000, accepted: 8, rejected: 2 },
      { index: 2, status: "SUCCEEDED", durationMs: 3000, accepted: 10, rejected: 0 },
      { index: 3, status: "SUCCEEDED", durationMs: 4000, accepted: 6, rejected: 4 },
    ]);
    expect(summary).toMatchObject({ rows: 40, chunks: 4, accepted: 34, rejected: 6, rowsPerSecond: 0.4 });
    expect(summary.rejectedRowsReport).toEqual({
      bucket: BUCKET,
      csvKey: `${PREFIX}rejected-rows.csv`,
      xlsxKey: `${PREFIX}rejected-rows.xlsx`,
      rows: 6,
      capped: false,
    });
    // The execution's output stays small: no per-chunk list, no samples.
    expect(output).not.toHaveProperty("chunkResults");
    expect(output.rejectedRowsReport).toEqual(summary.rejectedRowsReport);
    expect(output.slack).toBe("disabled");

    const csv = parseCsv(store.get(BUCKET, `${PREFIX}rejected-rows.csv`)!.toString("utf8").slice(1));
    expect(csv.slice(1).map((r) => [r[0], r[1], r.at(-2)])).toEqual(
      [12, 13, 32, 33, 34, 35].map((row) => [String(row), `ORD-${row}`, "INVALID_EMAIL"]),
    );
    expect(store.get(BUCKET, `${PREFIX}rejected-rows.xlsx`)?.subarray(0, 2).toString()).toBe("PK");
    expect(slack.received).toHaveLength(0);
  });

  it("writes no report when nothing was rejected", async () => {
    arrange({});
    await handler()(event());
    expect(summaryJson().rejectedRowsReport).toBeNull();
    expect([...store.objects.keys()].filter((k) => k.includes("rejected-rows"))).toEqual([]);
  });

  it("still writes summary.json when the report cannot be written", async () => {
    arrange();
    store.objects.delete(`${BUCKET}/${PREFIX}manifest.json`);
    const output = await handler()(event());
    expect(output.rejected).toBe(6);
    expect(summaryJson().rejectedRowsReport).toBeNull();
  });

  it("posts the Block Kit success summary when SLACK_NOTIFY_SUCCESS is on", async () => {
    arrange();
    const output = await handler({ notifySuccess: true })(event());
    expect(output.slack).toBe("posted");
    expect(slack.received).toHaveLength(1);
    const { json } = slack.received[0]!;
    const blocks = json.blocks ?? [];
    expect(blocks.length).toBeLessThanOrEqual(50);
    expect(blocks.map((b) => b.type)).toEqual(["header", "section", "section", "context", "actions"]);
    const header = (blocks[0] as { text: { text: string } }).text.text;
    expect(header).toBe(":warning: Upload processed with rejected rows: Q1 orders.xlsx");
    const fields = (blocks[1] as { fields: { text: string }[] }).fields.map((f) => f.text);
    expect(fields).toEqual([
      "*File*\nQ1 orders.xlsx",
      "*Stage*\nprod",
      "*Upload id*\n`orders-0123456789ab`",
      "*Rows*\n40",
      "*Chunks*\n4",
      "*Accepted*\n34",
      "*Rejected*\n6",
      "*Duration*\n1 min 40 s",
      "*Throughput*\n0.4 rows/s",
    ]);
    const samples = (blocks[2] as { text: { text: string } }).text.text;
    expect(samples.split("\n").filter((l) => l.startsWith("•"))).toHaveLength(3);
    expect(samples).toContain("*Rejected rows* (3 of 6)");
    const buttons = (blocks[4] as { elements: { url: string; text: { text: string } }[] }).elements;
    expect(buttons.map((b) => b.text.text)).toEqual([
      "Open execution",
      "Rejected rows (.xlsx)",
      "Rejected rows (.csv)",
    ]);
    expect(buttons[0]?.url).toContain(`#/v2/executions/details/${EXECUTION_ARN}`);
    expect(buttons[1]?.url).toBe(
      `https://${BUCKET}.s3.eu-west-1.amazonaws.com/${PREFIX}rejected-rows.xlsx?X-Amz-Signature=abc`,
    );
    expect(json.text).toMatch(/^Upload processed with rejected rows: Q1 orders\.xlsx \(stage prod/);
  });

  it("carries the manifest's file warnings into summary.json and the success message", async () => {
    arrange();
    const warning = { code: "FORMAT_EXTENSION_MISMATCH", message: "named .xlsx, but its content is csv" };
    store.put(
      BUCKET,
      `${PREFIX}manifest.json`,
      manifest({ totalRows: 40, totalChunks: 4, fileWarnings: [warning] }),
    );
    const output = await handler({ notifySuccess: true })(event());
    expect(output).toMatchObject({ slack: "posted", fileWarnings: [warning] });
    expect(summaryJson().fileWarnings).toEqual([warning]);
    const { json } = slack.received[0]!;
    expect(json.text).toMatch(/; warnings: FORMAT_EXTENSION_MISMATCH$/);
    expect(JSON.stringify(json.blocks)).toContain(
      "`FORMAT_EXTENSION_MISMATCH` named .xlsx, but its content is csv",
    );
  });

  it("carries the file's original name into summary.json and names the file by it in the success message", async () => {
    arrange();
    const name = "주문 목록 <1분기>.xlsx";
    store.put(
      BUCKET,
      `${PREFIX}manifest.json`,
      manifest({ totalRows: 40, totalChunks: 4, originalName: name }),
    );
    const output = await handler({ notifySuccess: true })(event());
    expect(output).toMatchObject({ slack: "posted", originalName: name });
    expect(summaryJson().originalName).toBe(name);
    const { json } = slack.received[0]!;
    expect(json.text).toContain(`Upload processed with rejected rows: ${name} (stage prod`);
    const section = json.blocks![1] as { fields: { text: string }[] };
    const fields = section.fields.map((f) => f.text);
    expect(fields[0]).toBe("*File*\n주문 목록 &lt;1분기&gt;.xlsx");
    expect(JSON.stringify(json)).not.toContain("Q1 orders.xlsx");
  });

  it("names the file by its key when the manifest has no original name", async () => {
    arrange();
    await handler({ notifySuccess: true })(event());
    expect(summaryJson()).not.toHaveProperty("originalName");
    expect(slack.received[0]!.json.text).toContain(": Q1 orders.xlsx (stage prod");
  });

  it("does not post when SLACK_NOTIFY_SUCCESS is off", async () => {
    arrange();
    await handler({ notifySuccess: false })(event());
    expect(slack.received).toHaveLength(0);
  });

  it("still succeeds when Slack answers 500, and says so in its output", async () => {
    arrange();
    slack.status = 500;
    const output = await handler({ notifySuccess: true })(event());
    expect(output.slack).toBe("failed");
    expect(slack.received).toHaveLength(4);
    expect(summaryJson().accepted).toBe(34);
  });

  it("still succeeds when the report link cannot be made or no webhook is set", async () => {
    arrange();
    const failingLink = async () => {
      throw new Error("no credentials");
    };
    const output = await handler({ notifySuccess: true, reportLink: failingLink })(event());
    expect(output.slack).toBe("posted");
    const actions = slack.received[0]?.json.blocks?.at(-1) as { elements: unknown[] };
    expect(actions.elements).toHaveLength(1);
    expect(JSON.stringify(slack.received[0]?.json)).toContain(`s3://${BUCKET}/${PREFIX}rejected-rows.xlsx`);
    const skipped = await handler({ notifySuccess: true, slackWebhookUrl: undefined })(event());
    expect(skipped.slack).toBe("skipped");
  });

  it("hands the success message to an injected sink instead of the webhook", async () => {
    arrange();
    const saved: unknown[] = [];
    const output = await handler({
      notifySuccess: true,
      alertSink: async (message) => {
        saved.push(message);
        return "posted";
      },
    })(event());
    expect(output.slack).toBe("posted");
    expect(saved).toHaveLength(1);
    expect(slack.received).toHaveLength(0);
  });
});
