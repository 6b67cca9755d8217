import { describe, expect, it } from "vitest";
import {
  BLOCK_KIT_LIMITS,
  buildFailureAlert,
  buildFailureFollowUp,
  type FailureAlertInput,
  type FailureFollowUpInput,
  type ReportReference,
  truncate,
} from "../../src/alerts/failure-alert.ts";
import { EXECUTION_ARN } from "../factories.ts";

function input(overrides: Partial<FailureAlertInput> = {}): FailureAlertInput {
  return {
    uploadId: "orders-0123456789ab",
    sourceKey: "uploads/orders.xlsx",
    stage: "prod",
    status: "FAILED",
    errorCode: "WORKBOOK_ENCRYPTED",
    errorMessage: "The workbook is password-protected",
    failureRecord: {
      bucket: "sluice-uploads",
      key: "processed/orders-0123456789ab/failure.json",
      written: true,
    },
    executionArn: EXECUTION_ARN,
    region: "us-east-1",
    ...overrides,
  };
}

function allTexts(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(allTexts);
  if (value && typeof value === "object") return Object.values(value).flatMap(allTexts);
  return [];
}

describe("buildFailureAlert", () => {
  it("shows the file's warnings after the error, and names their codes in the fallback text", () => {
    const warning = { code: "FORMAT_EXTENSION_MISMATCH", message: "named .xlsx, but its content is csv" };
    const message = buildFailureAlert(input({ fileWarnings: [warning] }));
    expect(message.blocks.map((b) => b.type)).toEqual([
      "header",
      "section",
      "section",
      "section",
      "context",
      "actions",
    ]);
    expect(allTexts(message.blocks[3])).toContain(
      ":warning: *Warning*\n• `FORMAT_EXTENSION_MISMATCH` named .xlsx, but its content is csv",
    );
    expect(message.text).toMatch(/; warnings: FORMAT_EXTENSION_MISMATCH$/);
    expect(buildFailureAlert(input()).text).not.toContain("warnings");
  });

  it("is pure: the same input gives the same message", () => {
    expect(buildFailureAlert(input())).toEqual(buildFailureAlert(input()));
  });

  it("links the execution in the console of the ARN's partition and region (the contract's link)", () => {
    const button = (executionArn: string) =>
      buildFailureAlert(input({ executionArn })).blocks.find((b) => b.type === "actions");
    expect(JSON.stringify(button(EXECUTION_ARN))).toContain(
      `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${EXECUTION_ARN}`,
    );
    const gov = EXECUTION_ARN.replace("arn:aws:", "arn:aws-us-gov:").replace("eu-west-1", "us-gov-west-1");
    expect(JSON.stringify(button(gov))).toContain(
      `https://console.amazonaws-us-gov.com/states/home?region=us-gov-west-1#/v2/executions/details/${gov}`,
    );
    // A partition without a console known here: no button rather than a wrong link.
    const iso = EXECUTION_ARN.replace("arn:aws:", "arn:aws-iso:").replace("eu-west-1", "us-iso-east-1");
    expect(button(iso)).toBeUndefined();
  });

  it("has no button without an execution ARN, and no rows field when rows are unknown", () => {
    const { blocks } = buildFailureAlert(input({ executionArn: undefined }));
    expect(blocks.map((b) => b.type)).toEqual(["header", "section", "section", "context"]);
    expect(JSON.stringify(blocks)).not.toContain("*Rows*");
  });

  it("escapes mrkdwn control characters from the file name and message", () => {
    const { blocks } = buildFailureAlert(
      input({ sourceKey: "u/<script>&.csv", errorMessage: "a <b> & ```c```" }),
    );
    const texts = allTexts(blocks.slice(1)).join("\n");
    expect(texts).toContain("&lt;script&gt;&amp;.csv");
    expect(texts).toContain("a &lt;b&gt; &amp; '''c'''");
    expect(texts).not.toContain("<script>");
  });

  it("truncates every text to its Block Kit limit", () => {
    const long = "é<".repeat(10_000);
    const message = buildFailureAlert(
      input({
        sourceKey: `uploads/${"n".repeat(5000)}.xlsx`,
        errorMessage: long,
        stage: long,
        uploadId: long,
        errorCode: long,
        failureRecord: { bucket: long, key: long, written: true },
      }),
    );
    expect(message.blocks.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.blocks);
    const header = message.blocks[0] as { text: { text: string } };
    expect(header.text.text.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.headerText);
    const fields = (message.blocks[1] as { fields: { text: string }[] }).fields;
    for (const field of fields) expect(field.text.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.fieldText);
    const section = (message.blocks[2] as { text: { text: string } }).text.text;
    expect(section.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.sectionText);
    expect(section.startsWith("*Error*\n```")).toBe(true);
    expect(section.endsWith("```")).toBe(true);
    for (const element of (message.blocks[3] as { elements: { text: string }[] }).elements) {
      expect(element.text.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.contextText);
    }
    expect(message.text.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.fallbackText);
  });

  it("truncate never splits an escaped entity or a surrogate pair", () => {
    expect(truncate("abc", 3)).toBe("abc");
    expect(truncate("abcd", 3)).toBe("ab…");
    expect(truncate("ab&amp;cd", 5)).toBe("ab…");
    expect(truncate("a😀b", 3)).toBe("a…");
  });

  it("names the failed chunk and its rows, the Map's counts, the failure record and how to redrive", () => {
    const message = buildFailureAlert(
      input({
        errorCode: "CHUNK_DEAD_LETTERED",
        errorMessage: "Chunk 3 (rows 1502-2001, 500 rows) was received 5 times without an answer",
        totalRows: 250_000,
        failedChunk: { index: 3, firstRow: 1502, lastRow: 2001, rows: 500 },
        chunks: { total: 100, succeeded: 97, failed: 2, pending: 1 },
        redriveCount: 1,
      }),
    );
    expect(message.blocks.map((b) => b.type)).toEqual(["header", "section", "section", "context", "actions"]);
    const fields = (message.blocks[1] as { fields: { text: string }[] }).fields.map((f) => f.text);
    expect(fields.slice(4)).toEqual([
      "*Rows*\n250,000",
      "*Failed chunk*\nChunk 3: rows 1,502-2,001 (500 rows)",
      "*Chunks*\n97 succeeded, 2 failed, 1 not answered of 100",
      "*Redrives so far*\n1",
    ]);
    const context = allTexts(message.blocks[3]).join("\n");
    expect(context).toContain(
      "*Failure record*: `s3://sluice-uploads/processed/orders-0123456789ab/failure.json`",
    );
    expect(context).toContain(
      "https://us-east-1.console.aws.amazon.com/s3/object/sluice-uploads?region=us-east-1",
    );
    expect(context).toContain("`sluice redrive orders-0123456789ab`");
    expect(message.text).toMatch(/CHUNK_DEAD_LETTERED: .* \[chunk 3, rows 1502-2001\]$/);
  });

  it("says so when the failure record could not be written, and headlines a timeout or an abort", () => {
    const unwritten = buildFailureAlert(
      input({ status: "TIMED_OUT", failureRecord: { bucket: "b", key: "k/failure.json", written: false } }),
    );
    expect(JSON.stringify(unwritten.blocks[0])).toContain("Upload timed out: orders.xlsx");
    expect(allTexts(unwritten.blocks[3]).join("\n")).toContain(
      ":warning: *The failure record could not be written* to `s3://b/k/failure.json`",
    );
    expect(JSON.stringify(buildFailureAlert(input({ status: "ABORTED" })).blocks[0])).toContain(
      "Upload aborted",
    );
    const noRecord = buildFailureAlert(input({ failureRecord: undefined }));
    expect(allTexts(noRecord.blocks[3]).join("\n")).toContain("No failure record");
  });

  const report = (overrides: Partial<ReportReference> = {}): ReportReference => ({
    bucket: "sluice-uploads",
    csvKey: "processed/orders-0123456789ab/rejected-rows.csv",
    xlsxKey: "processed/orders-0123456789ab/rejected-rows.xlsx",
    rows: 100_000,
    capped: true,
    csvUrl:
      "https://sluice-uploads.s3.amazonaws.com/processed/orders-0123456789ab/rejected-rows.csv?X-Amz-Signature=1",
    xlsxUrl:
      "https://sluice-uploads.s3.amazonaws.com/processed/orders-0123456789ab/rejected-rows.xlsx?X-Amz-Signature=2",
    ...overrides,
  });
  const sample = (row: number, message = `Row ${row} is wrong`) => ({ row, code: "BAD_ROW", message });
  const followUp = (overrides: Partial<FailureFollowUpInput> = {}): FailureFollowUpInput => ({
    uploadId: "orders-0123456789ab",
    sourceKey: "uploads/orders.xlsx",
    stage: "prod",
    accepted: 120_000,
    rejected: 130_000,
    region: "us-east-1",
    ...overrides,
  });

  it("follows up with the rows answered before the failure, at most three samples, and the report", () => {
    const message = buildFailureFollowUp(
      followUp({
        rejectedSamples: [sample(2), sample(3), sample(4), sample(5)],
        rejectedRowsReport: report(),
      }),
    );
    expect(message.blocks.map((b) => b.type)).toEqual(["section", "section", "context", "actions"]);
    const summary = allTexts(message.blocks[0]).join("\n");
    expect(summary).toContain("accepted 120,000 rows and rejected 130,000");
    const samples = (message.blocks[1] as { text: { text: string } }).text.text;
    expect(samples.startsWith("*Rejected rows* (3 of 130,000)")).toBe(true);
    expect(samples).not.toContain("Row 5");
    const context = allTexts(message.blocks[2]).join("\n");
    expect(context).toContain("capped at the first 100,000 rows");
    expect(context).toContain("s3://sluice-uploads/processed/orders-0123456789ab/rejected-rows.xlsx");
    const buttons = (message.blocks[3] as { elements: { action_id: string; url: string }[] }).elements;
    expect(buttons.map((b) => b.action_id)).toEqual(["open-rejected-rows-xlsx", "open-rejected-rows-csv"]);
    expect(buttons[1]?.url).toBe(report().csvUrl);
    expect(message.text).toBe(
      "Before the upload of orders.xlsx failed (upload orders-0123456789ab): 120,000 accepted, 130,000 rejected",
    );
    const withoutReport = buildFailureFollowUp(followUp({ rejectedSamples: [sample(2)] }));
    expect(allTexts(withoutReport.blocks).join("\n")).toContain("could not be written");
  });

  it("keeps the follow-up's samples, buttons and report line within Block Kit's limits, whatever their size", () => {
    const huge = "<&>".repeat(5000);
    const message = buildFailureFollowUp(
      followUp({
        sourceKey: `uploads/${huge}.xlsx`,
        accepted: 1,
        rejected: 3,
        rejectedSamples: [sample(2, huge), sample(3, huge), { row: 4, code: huge, message: huge }],
        rejectedRowsReport: report({
          csvKey: `processed/${"k".repeat(3000)}.csv`,
          csvUrl: `https://example.test/${"u".repeat(3001)}`,
          xlsxUrl: "/tmp/out/orders/rejected-rows.xlsx",
        }),
      }),
    );
    expect(message.blocks.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.blocks);
    for (const block of message.blocks.slice(0, 2)) {
      expect((block as { text: { text: string } }).text.text.length).toBeLessThanOrEqual(
        BLOCK_KIT_LIMITS.sectionText,
      );
    }
    const samples = (message.blocks[1] as { text: { text: string } }).text.text;
    // Each sample keeps its own line: one long message does not push the others out.
    expect(samples.split("\n").filter((l) => l.startsWith("•"))).toHaveLength(3);
    for (const element of (message.blocks[2] as { elements: { text: string }[] }).elements) {
      expect(element.text.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.contextText);
    }
    // A URL past Slack's 3,000 characters, or a local file path, gets no button; the path is shown as text.
    expect(message.blocks.map((b) => b.type)).toEqual(["section", "section", "context"]);
    expect(allTexts(message.blocks[2]).join("\n")).toContain("`/tmp/out/orders/rejected-rows.xlsx`");
    expect(message.text.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.fallbackText);
  });
});
