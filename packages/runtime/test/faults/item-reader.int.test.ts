import { PutObjectCommand } from "@aws-sdk/client-s3";
import { failOnCrash } from "@sluice/test-support/crash-watch";
import { describe, expect, it } from "vitest";
import { BUCKET, mapWorkflow, s3, useWorkflowHarness, workflowWith } from "../support/workflow-harness.ts";

/**
 * The Distributed Map's ItemReader spools the items object to a local file as it reads it. An object that goes
 * bad part-way (a line that is not JSON after thousands that are) stops the spooling with writes still in flight:
 * the Map must fail with States.ItemReaderFailed, and the spool file's stream must leave no rejection behind.
 */

useWorkflowHarness();
failOnCrash();

describe("the ItemReader on an items object that goes bad part-way", () => {
  it("fails the Map with States.ItemReaderFailed, and nothing is left unhandled", async () => {
    const good = Array.from(
      { length: 50_000 },
      (_, i) => `${JSON.stringify({ n: i, pad: "x".repeat(40) })}\n`,
    );
    await s3().send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: "items/bad.jsonl",
        Body: `${good.join("")}this is not JSON\n`,
      }),
    );
    const { workflow, sent } = workflowWith(mapWorkflow());
    const execution = workflow.start("bad-items", { key: "items/bad.jsonl", prefix: "results/bad/" });
    await execution.done;
    expect(execution).toMatchObject({ status: "FAILED", error: "States.ItemReaderFailed" });
    expect(execution.cause).toMatch(/Line 50001 of .* is not JSON/);
    expect(sent).toEqual([]);
    // The spool file's stream reports its end (or its error) after the Map failed: give it the time to.
    await new Promise((resolve) => setTimeout(resolve, 200));
  });
});
