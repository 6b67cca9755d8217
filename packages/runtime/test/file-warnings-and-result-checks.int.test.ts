import { GetObjectCommand } from "@aws-sdk/client-s3";
import { SendTaskSuccessCommand } from "@aws-sdk/client-sfn";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import {
  ChunkEnvelopeSchema,
  CONTRACT_VERSION,
  FailureRecordSchema,
  ManifestSchema,
  packRejectedRows,
  SummarySchema,
  type TaskResult,
} from "@sluice/contract";
import { LoopbackSlack } from "@sluice/test-support/loopback-slack";
import { consume, ordersCsv, runtimeWith, useRuntimeCleanup } from "@sluice/test-support/runtime-harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalRuntime } from "../src/local-runtime.ts";

/**
 * Through the local runtime (the stack's ASL, the real handlers, the consumer SDK): a file whose name says
 * another format is converted by its content and says so in the manifest, summary.json and the Slack summary;
 * an admin server's answer that cannot be true for its chunk fails the upload instead of being summed.
 */

useRuntimeCleanup();

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

describe("file warnings and result checks on the local runtime", () => {
  it("converts csv text named .xlsx as csv and warns in the manifest, summary.json and the Slack summary", async () => {
    slack.received.length = 0;
    const runtime = await runtimeWith({
      slackWebhookUrl: slack.url,
      config: { chunkRows: 100, notifySuccess: true },
    });
    consume(runtime, async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }));
    const upload = await runtime.upload(ordersCsv(250), "orders.xlsx");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("SUCCEEDED");

    const manifest = ManifestSchema.parse(
      await readJson(runtime, `processed/${upload.uploadId}/manifest.json`),
    );
    expect(manifest.format).toBe("csv");
    expect(manifest.fileWarnings).toEqual([
      {
        code: "FORMAT_EXTENSION_MISMATCH",
        message: expect.stringContaining('"orders.xlsx" is named as an Excel'),
      },
    ]);
    const summary = SummarySchema.parse(await readJson(runtime, `processed/${upload.uploadId}/summary.json`));
    expect(summary).toMatchObject({ rows: 250, accepted: 250, fileWarnings: manifest.fileWarnings });
    expect(record.output).toMatchObject({ fileWarnings: manifest.fileWarnings, slack: "posted" });
    expect(slack.received).toHaveLength(1);
    expect(slack.received[0]!.json.text).toMatch(
      /^Upload processed with warnings: orders\.xlsx .*FORMAT_EXTENSION_MISMATCH$/,
    );
  });

  it("fails the upload with TASK_RESULT_INVALID when an answer claims more rows than its chunk has", async () => {
    const runtime = await runtimeWith({ slackWebhookUrl: slack.url, config: { chunkRows: 100 } });
    const upload = await runtime.upload(ordersCsv(250), "orders.csv");
    // A third-party admin server on the raw SDK (the consumer SDK would refuse to send this), whose chunk 1
    // claims 999 accepted rows for its 100.
    const { queueUrl, sqs, sfn } = runtime.adminServerConnection();
    const answered = new Set<number>();
    while (answered.size < 3) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const message of Messages) {
        const body = ChunkEnvelopeSchema.parse(JSON.parse(message.Body!));
        const result: TaskResult = {
          v: CONTRACT_VERSION,
          uploadId: body.uploadId,
          chunkIndex: body.chunk.index,
          accepted: body.chunk.index === 1 ? 999 : body.chunk.rows,
          rejected: packRejectedRows([]),
        };
        await sfn.send(
          new SendTaskSuccessCommand({ taskToken: body.taskToken, output: JSON.stringify(result) }),
        );
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
        answered.add(body.chunk.index);
      }
    }
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("FAILED");
    expect(record.error).toBe("TASK_RESULT_INVALID");
    expect(record.cause).toContain("chunk 1 (rows 102-201, 100 rows) is impossible");
    expect(record.cause).toContain("999 accepted + 0 rejected = 999 rows, but the chunk has 100");
    // No summary with impossible counts; the failure record and alert instead.
    await expect(readJson(runtime, `processed/${upload.uploadId}/summary.json`)).rejects.toThrow();
    const notified = await runtime.failureNotification(upload.executionArn);
    expect(notified?.record?.error.code).toBe("TASK_RESULT_INVALID");
    const failure = FailureRecordSchema.parse(
      await readJson(runtime, `processed/${upload.uploadId}/failure.json`),
    );
    // What was answered, without the impossible answer.
    expect(failure.progress).toEqual({ accepted: 150, rejected: 0 });
  });
});
