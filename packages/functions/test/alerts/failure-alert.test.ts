import { describe, expect, it } from "vitest";
import {
  BLOCK_KIT_LIMITS,
  buildFailureAlert,
  executionConsoleUrl,
  type FailureAlertInput,
  truncate,
} from "../../src/alerts/failure-alert.ts";
import { EXECUTION_ARN } from "../factories.ts";

function input(overrides: Partial<FailureAlertInput> = {}): FailureAlertInput {
  return {
    uploadId: "orders-0123456789ab",
    sourceKey: "uploads/orders.xlsx",
    stage: "prod",
    errorCode: "WORKBOOK_ENCRYPTED",
    errorMessage: "The workbook is password-protected",
    deadLetterQueue: "sluice-dead-letters",
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
  it("is pure: the same input gives the same message", () => {
    expect(buildFailureAlert(input())).toEqual(buildFailureAlert(input()));
  });

  it("links the execution in the console of the ARN's region", () => {
    expect(executionConsoleUrl(EXECUTION_ARN, "us-east-1")).toBe(
      `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${EXECUTION_ARN}`,
    );
    expect(executionConsoleUrl("not-an-arn", "us-east-1")).toMatch(
      /^https:\/\/us-east-1\.console\.aws\.amazon\.com\/.*region=us-east-1#/,
    );
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
        deadLetterQueue: long,
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
    const context = (message.blocks[3] as { elements: { text: string }[] }).elements[0]!.text;
    expect(context.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.contextText);
    expect(message.text.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.fallbackText);
  });

  it("truncate never splits an escaped entity or a surrogate pair", () => {
    expect(truncate("abc", 3)).toBe("abc");
    expect(truncate("abcd", 3)).toBe("ab…");
    expect(truncate("ab&amp;cd", 5)).toBe("ab…");
    expect(truncate("a😀b", 3)).toBe("a…");
  });
});
