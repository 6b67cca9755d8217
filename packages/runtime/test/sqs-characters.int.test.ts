import { createHash } from "node:crypto";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  InvalidMessageContents,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { ChunkRejectedError } from "@sluice/consumer";
import { FailureRecordSchema } from "@sluice/contract";
import { LoopbackSlack } from "@sluice/test-support/loopback-slack";
import { consume, runtimeWith, useRuntimeCleanup } from "@sluice/test-support/runtime-harness";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { LocalRuntime } from "../src/local-runtime.ts";
import { invalidSqsCharacter } from "../src/sqs-character-rule.ts";

/**
 * SQS accepts `#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF` in a message body (SendMessage,
 * API Reference) and rejects anything else with InvalidMessageContents. fauxqs 1.9.2 rejects everything above
 * U+FFFF; the local runtime must accept exactly what AWS accepts, end to end: in cells, in a file name (the S3
 * key travels in every chunk message), in a failure's cause and in its alert.
 */

const EMOJI = "😀";
const ASTRAL_CJK = "𠮷"; // U+20BB7
const LONE_HIGH = "\uD800";
const LONE_LOW = "\uDC00";

useRuntimeCleanup();

let slack: LoopbackSlack;
beforeAll(async () => {
  slack = await LoopbackSlack.start();
});
afterAll(async () => {
  await slack.stop();
});
afterEach(() => {
  slack.received.length = 0;
});

const md5 = (text: string) => createHash("md5").update(text, "utf8").digest("hex");

async function receiveOne(sqs: SQSClient, queueUrl: string) {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }),
  );
  for (const m of Messages)
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
  return Messages;
}

/** A queue of its own: the runtime's dead-letter queue has a consumer (its event source mapping). */
async function ownQueue(runtime: LocalRuntime, name: string): Promise<string> {
  const { QueueUrl } = await runtime.emulator.sqs.send(new CreateQueueCommand({ QueueName: name }));
  return QueueUrl!;
}

async function failureRecord(runtime: LocalRuntime, uploadId: string) {
  const object = await runtime.emulator.s3.send(
    new GetObjectCommand({ Bucket: runtime.bucket, Key: `processed/${uploadId}/failure.json` }),
  );
  return FailureRecordSchema.parse(JSON.parse(await object.Body!.transformToString()));
}

describe("SQS's character rule", () => {
  it("names the first character SQS refuses, and nothing in what it accepts", () => {
    expect(invalidSqsCharacter(`tab\tnew\nline\r ${EMOJI}${ASTRAL_CJK} \uD7FF\uE000\uFFFD \u{10FFFF}`)).toBe(
      undefined,
    );
    expect(invalidSqsCharacter(`a${LONE_HIGH}b`)).toBe("#xD800");
    expect(invalidSqsCharacter(`a${LONE_LOW}`)).toBe("#xDC00");
    expect(invalidSqsCharacter(`${EMOJI}${LONE_HIGH}`)).toBe("#xD800");
    expect(invalidSqsCharacter("\u0000")).toBe("#x0");
    expect(invalidSqsCharacter("bell \u0007")).toBe("#x7");
    expect(invalidSqsCharacter("\uFFFE")).toBe("#xFFFE");
    expect(invalidSqsCharacter("\uFFFF")).toBe("#xFFFF");
  });

  it("SendMessage accepts characters above U+FFFF and delivers them unchanged; refuses what AWS refuses", async () => {
    const runtime = await runtimeWith();
    const { sqs } = runtime.emulator;
    const queueUrl = await ownQueue(runtime, "characters");
    const body = `{"cause":"${EMOJI} ${ASTRAL_CJK}野家 \u{1F3F3}\u{FE0F}\u200D\u{1F308}"}`;
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    expect(sent.MD5OfMessageBody).toBe(md5(body));
    const [received] = await receiveOne(sqs, queueUrl);
    expect(received?.Body).toBe(body);
    expect(received?.MD5OfBody).toBe(md5(body));

    for (const bad of [`x${LONE_HIGH}`, `${EMOJI}${LONE_LOW}`, "nul \u0000", "esc \u001B", "\uFFFE"]) {
      const refused = sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: bad }));
      // The modelled exception, as the SDK builds it from AWS's answer (fauxqs's own answer gave a generic one).
      await expect(refused).rejects.toBeInstanceOf(InvalidMessageContents);
      await expect(refused).rejects.toMatchObject({
        name: "InvalidMessageContents",
        $metadata: { httpStatusCode: 400 },
        message: expect.stringContaining("#x"),
      });
    }
    expect(await receiveOne(sqs, queueUrl)).toEqual([]);
  });

  it("SendMessageBatch: each entry by the same rule, the refused ones in Failed", async () => {
    const runtime = await runtimeWith();
    const { sqs } = runtime.emulator;
    const queueUrl = await ownQueue(runtime, "characters-batch");
    const result = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          { Id: "emoji", MessageBody: `row ${EMOJI}` },
          { Id: "plain", MessageBody: "plain" },
          { Id: "lone", MessageBody: `row ${LONE_HIGH}` },
          { Id: "cjk", MessageBody: ASTRAL_CJK },
        ],
      }),
    );
    expect(result.Successful?.map((e) => e.Id).sort()).toEqual(["cjk", "emoji", "plain"]);
    expect(result.Successful?.find((e) => e.Id === "emoji")?.MD5OfMessageBody).toBe(md5(`row ${EMOJI}`));
    expect(result.Failed).toEqual([
      expect.objectContaining({ Id: "lone", Code: "InvalidMessageContents", SenderFault: true }),
    ]);
    const bodies: string[] = [];
    for (let i = 0; i < 5 && bodies.length < 3; i++)
      bodies.push(...(await receiveOne(sqs, queueUrl)).map((m) => m.Body!));
    expect(bodies.sort()).toEqual(["plain", `row ${EMOJI}`, ASTRAL_CJK].sort());
  });
});

describe("characters above U+FFFF through the local runtime", () => {
  it("in cells and header names: every value reaches the admin server unchanged", async () => {
    const runtime = await runtimeWith({ slackWebhookUrl: slack.url });
    const values: unknown[] = [];
    consume(runtime, async (chunk) => {
      for (const row of chunk.rows) values.push(row.data);
      return { accepted: chunk.rows.length, rejected: [] };
    });
    const file = Buffer.from(
      `id,name ${EMOJI}\n1,${EMOJI} party\n2,${ASTRAL_CJK}野家\n3,"flag \u{1F3F3}\u{FE0F}\u200D\u{1F308}"\n`,
    );
    const upload = await runtime.upload(file, "cells.csv");
    expect((await runtime.waitForExecution(upload.executionArn)).status).toBe("SUCCEEDED");
    expect(values).toEqual([
      { id: "1", [`name ${EMOJI}`]: `${EMOJI} party` },
      { id: "2", [`name ${EMOJI}`]: `${ASTRAL_CJK}野家` },
      { id: "3", [`name ${EMOJI}`]: "flag \u{1F3F3}\u{FE0F}\u200D\u{1F308}" },
    ]);
  });

  it("a lone surrogate in a UTF-16 file fails the upload typed (ENCODING_INVALID), recorded and alerted", async () => {
    const runtime = await runtimeWith({ slackWebhookUrl: slack.url });
    consume(runtime, async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }));
    // UTF-16LE with its BOM can hold an unpaired surrogate code unit: not text, so the converter refuses the file.
    const file = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from(`id,name\n1,a${LONE_HIGH}b ${EMOJI}\n`, "utf16le"),
    ]);
    const upload = await runtime.upload(file, "utf16.csv");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record).toMatchObject({ status: "FAILED", error: "ENCODING_INVALID" });
    expect((await runtime.failureNotification(upload.executionArn))?.slack).toBe("posted");
    expect((await failureRecord(runtime, upload.uploadId)).error.code).toBe("ENCODING_INVALID");
  });

  it("a lone surrogate written into a UTF-8 file (WTF-8 bytes) fails the upload typed, recorded", async () => {
    const runtime = await runtimeWith({ slackWebhookUrl: slack.url });
    consume(runtime, async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }));
    // ED A0 80 is U+D800 encoded as if it were a character: not UTF-8 (nor CP949), so the file is refused.
    const file = Buffer.concat([
      Buffer.from("id,name\n1,a"),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from("b\n"),
    ]);
    const upload = await runtime.upload(file, "wtf8.csv");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record).toMatchObject({ status: "FAILED", error: "ENCODING_INVALID" });
    await runtime.failureNotification(upload.executionArn);
    expect((await failureRecord(runtime, upload.uploadId)).error.code).toBe("ENCODING_INVALID");
  });

  it(`in the file name (the S3 key, sent in every chunk message): ${EMOJI} and ${ASTRAL_CJK}`, async () => {
    const runtime = await runtimeWith({ config: { chunkRows: 2 } });
    let rows = 0;
    consume(runtime, async (chunk) => {
      rows += chunk.rows.length;
      return { accepted: chunk.rows.length, rejected: [] };
    });
    const name = `주문 ${EMOJI}${ASTRAL_CJK}.csv`;
    const upload = await runtime.upload(Buffer.from("id,qty\n1,1\n2,2\n3,3\n"), name);
    expect(upload.key).toBe(`uploads/${name}`);
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("SUCCEEDED");
    expect(record.output).toMatchObject({ rows: 3, chunks: 2 });
    expect(rows).toBe(3);
  });

  it("a file name with a lone surrogate is refused before anything is stored or started", async () => {
    const runtime = await runtimeWith();
    // An S3 key is UTF-8: a lone surrogate has no encoding, so no request can name it (on AWS neither).
    await expect(runtime.upload(Buffer.from("id\n1\n"), `bad${LONE_HIGH}.csv`)).rejects.toMatchObject({
      code: "INVALID_OPTION",
    });
    expect(runtime.workflow.all).toHaveLength(0);
    // The runtime goes on serving.
    consume(runtime, async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }));
    const ok = await runtime.upload(Buffer.from("id\n1\n"), "fine.csv");
    expect((await runtime.waitForExecution(ok.executionArn)).status).toBe("SUCCEEDED");
  });

  it("in a failure's cause: SendTaskFailure, the failure record and the Slack alert keep it", async () => {
    const runtime = await runtimeWith({ slackWebhookUrl: slack.url });
    const cause = `row 2: ${EMOJI} is not a quantity (${ASTRAL_CJK}野家)`;
    consume(runtime, async () => {
      throw new ChunkRejectedError(cause);
    });
    const name = `refused ${EMOJI}.csv`;
    const upload = await runtime.upload(Buffer.from("id,qty\n1,x\n"), name);
    expect((await runtime.waitForExecution(upload.executionArn)).status).toBe("FAILED");
    const notified = await runtime.failureNotification(upload.executionArn);
    expect(notified?.slack).toBe("posted");
    expect(await failureRecord(runtime, upload.uploadId)).toMatchObject({
      source: { key: `uploads/${name}` },
      error: { code: "CHUNK_REJECTED", cause },
    });
    const alert = JSON.stringify(slack.received[0]?.json);
    expect(alert).toContain(EMOJI);
    expect(alert).toContain(ASTRAL_CJK);
  });

  it("a lone surrogate in a failure's cause: the upload still fails typed, recorded and alerted", async () => {
    const runtime = await runtimeWith({ slackWebhookUrl: slack.url });
    consume(runtime, async () => {
      throw new ChunkRejectedError(`bad ${LONE_HIGH} value ${EMOJI}`);
    });
    const upload = await runtime.upload(Buffer.from("id,qty\n1,x\n"), "lone-cause.csv");
    expect((await runtime.waitForExecution(upload.executionArn)).status).toBe("FAILED");
    const notified = await runtime.failureNotification(upload.executionArn);
    expect(notified?.slack).toBe("posted");
    const record = await failureRecord(runtime, upload.uploadId);
    expect(record.error.code).toBe("CHUNK_REJECTED");
    expect(record.error.cause).toContain(`value ${EMOJI}`);
    expect(JSON.stringify(slack.received[0]?.json)).toContain("CHUNK_REJECTED");
  });
});
