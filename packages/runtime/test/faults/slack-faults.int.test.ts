import { GetObjectCommand } from "@aws-sdk/client-s3";
import { ChunkRejectedError } from "@sluice/consumer";
import { FailureRecordSchema } from "@sluice/contract";
import { failOnCrash } from "@sluice/test-support/crash-watch";
import { LoopbackSlack } from "@sluice/test-support/loopback-slack";
import { consume, ordersCsv, runtimeWith, useRuntimeCleanup } from "@sluice/test-support/runtime-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalRuntime } from "../../src/local-runtime.ts";

/**
 * Slack failing (500, no answer, nobody listening): the alert is best effort. The upload's outcome is what
 * the workflow decided, the failure record is written whatever became of the alert, nothing crashes.
 */

useRuntimeCleanup();
failOnCrash();

let slack: LoopbackSlack;
beforeAll(async () => {
  slack = await LoopbackSlack.start();
});
afterAll(async () => {
  await slack.stop();
});

async function readJson(runtime: LocalRuntime, key: string): Promise<unknown> {
  const object = await runtime.emulator.s3.send(new GetObjectCommand({ Bucket: runtime.bucket, Key: key }));
  return JSON.parse(await object.Body!.transformToString());
}

type SlackFault = "500" | "hang" | "unreachable";

/** The webhook URL for a fault, with the loopback Slack set to behave that way. */
async function webhookFor(fault: SlackFault): Promise<string> {
  slack.received.length = 0;
  slack.status = fault === "500" ? 500 : 200;
  slack.behaviour = fault === "hang" ? "hang" : "respond";
  return fault === "unreachable" ? LoopbackSlack.unreachableUrl() : slack.url;
}

describe("Slack failing", () => {
  it.each<SlackFault>(["500", "hang", "unreachable"])(
    "Slack %s: the failed upload stays FAILED, its failure record is written, the alert is reported failed",
    async (fault) => {
      const runtime = await runtimeWith({
        slackWebhookUrl: await webhookFor(fault),
        // Short bounds keep a hanging webhook to seconds; the bounds themselves are slack-notifier's tests'.
        slack: { timeoutMs: 500, retry: { attempts: 2, baseDelayMs: 50 } },
        config: { chunkRows: 50 },
      });
      consume(runtime, async (chunk) => {
        if (chunk.index === 1) throw new ChunkRejectedError("the orders table refuses this chunk");
        return { accepted: chunk.rows.length, rejected: [] };
      });
      const upload = await runtime.upload(ordersCsv(150), "orders.csv");
      const record = await runtime.waitForExecution(upload.executionArn);
      expect(record.status).toBe("FAILED");

      const notified = await runtime.failureNotification(upload.executionArn);
      expect(notified?.slack).toBe("failed");
      expect(notified?.record).toMatchObject({
        failedChunk: { index: 1 },
        error: { code: "CHUNK_REJECTED" },
      });
      const written = FailureRecordSchema.parse(
        await readJson(runtime, `processed/${upload.uploadId}/failure.json`),
      );
      expect(written).toMatchObject({ uploadId: upload.uploadId, error: { code: "CHUNK_REJECTED" } });
      // The alert was attempted (a 500 and a hang received it; nobody listens at the unreachable one).
      if (fault === "unreachable") expect(slack.received).toEqual([]);
      else expect(slack.received.length).toBeGreaterThanOrEqual(1);
      expect(runtime.workflow.get(upload.executionArn)!.status).toBe("FAILED");
    },
  );

  it("a success summary Slack refuses leaves the upload SUCCEEDED with its summary written", async () => {
    const runtime = await runtimeWith({
      slackWebhookUrl: await webhookFor("500"),
      config: { chunkRows: 50, notifySuccess: true },
    });
    consume(runtime, async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }));
    const upload = await runtime.upload(ordersCsv(120), "orders.csv");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("SUCCEEDED");
    expect(slack.received.length).toBeGreaterThanOrEqual(1);
    expect(await readJson(runtime, `processed/${upload.uploadId}/summary.json`)).toMatchObject({
      status: "SUCCEEDED",
      rows: 120,
      accepted: 120,
    });
  });
});
