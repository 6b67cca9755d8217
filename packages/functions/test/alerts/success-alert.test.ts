import { describe, expect, it } from "vitest";
import { BLOCK_KIT_LIMITS } from "../../src/alerts/failure-alert.ts";
import { buildSuccessAlert, type SuccessAlertInput } from "../../src/alerts/success-alert.ts";
import { EXECUTION_ARN } from "../factories.ts";

function input(overrides: Partial<SuccessAlertInput> = {}): SuccessAlertInput {
  return {
    uploadId: "orders-0123456789ab",
    sourceKey: "uploads/orders.xlsx",
    stage: "prod",
    rows: 1_000_000,
    chunks: 2000,
    chunksFailed: 0,
    accepted: 1_000_000,
    rejected: 0,
    rowErrors: 0,
    durationMs: 754_000,
    rowsPerSecond: 1326.26,
    summaryLocation: "s3://sluice-uploads/processed/orders-0123456789ab/summary.json",
    executionArn: EXECUTION_ARN,
    region: "us-east-1",
    ...overrides,
  };
}

describe("buildSuccessAlert", () => {
  it("is pure and says what happened: rows, chunks, accepted, rejected, duration, throughput", () => {
    const message = buildSuccessAlert(input());
    expect(buildSuccessAlert(input())).toEqual(message);
    expect(message.blocks.map((b) => b.type)).toEqual(["header", "section", "context", "actions"]);
    expect(JSON.stringify(message.blocks[0])).toContain(":white_check_mark: Upload processed: orders.xlsx");
    const fields = (message.blocks[1] as { fields: { text: string }[] }).fields.map((f) => f.text);
    expect(fields).toEqual([
      "*File*\norders.xlsx",
      "*Stage*\nprod",
      "*Upload id*\n`orders-0123456789ab`",
      "*Rows*\n1,000,000",
      "*Chunks*\n2,000",
      "*Accepted*\n1,000,000",
      "*Rejected*\n0",
      "*Duration*\n12 min 34 s",
      "*Throughput*\n1,326 rows/s",
    ]);
    const button = (message.blocks[3] as { elements: { url: string }[] }).elements[0];
    expect(button?.url).toBe(
      `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${EXECUTION_ARN}`,
    );
    expect(message.text).toBe(
      "Upload processed: orders.xlsx (stage prod, upload orders-0123456789ab): 1,000,000 rows, 1,000,000 accepted, 0 rejected in 12 min 34 s",
    );
  });

  it("warns when rows were rejected or not converted, and stays within 10 fields", () => {
    const message = buildSuccessAlert(input({ rejected: 5, rowErrors: 2, chunksFailed: 1 }));
    expect(JSON.stringify(message.blocks[0])).toContain(":warning: Upload processed with rejected rows");
    const fields = (message.blocks[1] as { fields: { text: string }[] }).fields.map((f) => f.text);
    expect(fields).toHaveLength(10);
    expect(fields).toContain("*Rows not converted*\n2");
    expect(fields).toContain("*Chunks*\n2,000 (1 failed)");
  });

  it("truncates to Block Kit's limits", () => {
    const long = "<é>".repeat(5000);
    const message = buildSuccessAlert(
      input({
        sourceKey: long,
        stage: long,
        uploadId: long,
        summaryLocation: long,
        rejected: 3,
        rejectedSamples: [1, 2, 3, 4].map((row) => ({ row, code: long, message: long })),
      }),
    );
    expect(message.blocks.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.blocks);
    const header = message.blocks[0] as { text: { text: string } };
    expect(header.text.text.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.headerText);
    for (const field of (message.blocks[1] as { fields: { text: string }[] }).fields) {
      expect(field.text.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.fieldText);
    }
    const samples = (message.blocks[2] as { text: { text: string } }).text.text;
    expect(samples.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.sectionText);
    expect(samples.split("\n").filter((l) => l.startsWith("•"))).toHaveLength(3);
    expect(message.text.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.fallbackText);
  });

  it("has no actions without an execution ARN", () => {
    const message = buildSuccessAlert(input({ executionArn: undefined, summaryLocation: undefined }));
    expect(message.blocks.map((b) => b.type)).toEqual(["header", "section"]);
  });

  it("shows the file's warnings, headlines them, and names their codes in the fallback text", () => {
    const warning = {
      code: "FORMAT_EXTENSION_MISMATCH",
      message: 'The file "orders.xlsx" is named as an Excel workbook (.xlsx), but its content is <csv> text',
    };
    const message = buildSuccessAlert(input({ fileWarnings: [warning] }));
    expect(message.blocks.map((b) => b.type)).toEqual(["header", "section", "section", "context", "actions"]);
    expect(JSON.stringify(message.blocks[0])).toContain(
      ":warning: Upload processed with warnings: orders.xlsx",
    );
    expect((message.blocks[2] as { text: { text: string } }).text.text).toBe(
      ':warning: *Warning*\n• `FORMAT_EXTENSION_MISMATCH` The file "orders.xlsx" is named as an Excel workbook (.xlsx), but its content is &lt;csv&gt; text',
    );
    expect(message.text).toMatch(/^Upload processed with warnings: .*; warnings: FORMAT_EXTENSION_MISMATCH$/);
    // Rejected rows still lead the headline.
    const both = buildSuccessAlert(input({ fileWarnings: [warning], rejected: 3, accepted: 999_997 }));
    expect(JSON.stringify(both.blocks[0])).toContain("Upload processed with rejected rows");
  });

  it("keeps many long warnings within one section's limit", () => {
    const many = Array.from({ length: 30 }, (_, i) => ({ code: `W_${i}`, message: "m".repeat(5000) }));
    const message = buildSuccessAlert(input({ fileWarnings: many }));
    const text = (message.blocks[2] as { text: { text: string } }).text.text;
    expect(text.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.sectionText);
    expect(text).toContain("`W_4`");
    expect(text).not.toContain("`W_5`");
    expect(text).toContain("…and 25 more (see the manifest)");
  });
});
