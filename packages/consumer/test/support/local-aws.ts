import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { type FauxqsServer, startFauxqs } from "fauxqs";
import { type ChunkObject, envelopeOf, TEST_BUCKET } from "./envelopes.ts";
import { type FakeStepFunctions, startFakeStepFunctions } from "./fake-step-functions.ts";

const credentials = { accessKeyId: "local", secretAccessKey: "local" };

/** A real SQS + S3 emulator (fauxqs) and the task-token double, with SDK clients pointed at them. */
export interface LocalAws {
  server: FauxqsServer;
  sfnFake: FakeStepFunctions;
  sqs: SQSClient;
  sfn: SFNClient;
  s3: S3Client;
  /** A bucket created at start (TEST_BUCKET), where chunk objects go. */
  bucket: string;
  /** A fresh queue (and its DLQ) per call, so tests never share messages. */
  createQueue(attributes?: { visibilityTimeout?: number; maxReceiveCount?: number }): {
    name: string;
    url: string;
    dlqName: string;
  };
  send(queueUrl: string, body: unknown): Promise<void>;
  /** Puts an object (in `bucket` unless given). */
  putObject(key: string, body: Buffer | string, bucket?: string): Promise<void>;
  /** Puts the chunk object, then sends the message of each of its chunks (all, or those of `indexes` in that order). */
  sendChunks(queueUrl: string, object: ChunkObject, indexes?: number[]): Promise<void>;
  /** Messages ready and in flight in a queue, by name. */
  depth(name: string): { ready: number; inflight: number; delayed: number };
  close(): Promise<void>;
}

let counter = 0;

export async function startLocalAws(): Promise<LocalAws> {
  const server = await startFauxqs({ port: 0, logger: false });
  const sfnFake = await startFakeStepFunctions();
  // With an explicit endpoint the SDK sends to it and ignores the queue URL's host
  // (http://sqs.us-east-1.localhost:PORT/...): no useQueueUrlAsEndpoint setting needed.
  const sqs = new SQSClient({ region: "us-east-1", endpoint: server.address, credentials, maxAttempts: 1 });
  const sfn = new SFNClient({ region: "us-east-1", endpoint: sfnFake.endpoint, credentials, maxAttempts: 1 });
  // Path style: bucket names in the path, so no *.localhost DNS is needed.
  const s3 = new S3Client({
    region: "us-east-1",
    endpoint: server.address,
    credentials,
    forcePathStyle: true,
    maxAttempts: 1,
  });
  server.createBucket(TEST_BUCKET);
  const send = async (queueUrl: string, body: unknown) => {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: typeof body === "string" ? body : JSON.stringify(body),
      }),
    );
  };
  const putObject = async (key: string, body: Buffer | string, bucket = TEST_BUCKET) => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  };
  return {
    server,
    sfnFake,
    sqs,
    sfn,
    s3,
    bucket: TEST_BUCKET,
    createQueue: ({ visibilityTimeout = 30, maxReceiveCount = 3 } = {}) => {
      const name = `chunks-${++counter}`;
      const dlq = server.createQueue(`${name}-dlq`);
      const queue = server.createQueue(name, {
        attributes: {
          VisibilityTimeout: String(visibilityTimeout),
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: dlq.queueArn,
            maxReceiveCount: String(maxReceiveCount),
          }),
        },
      });
      return { name, url: queue.queueUrl, dlqName: `${name}-dlq` };
    },
    send,
    putObject,
    sendChunks: async (queueUrl, object, indexes) => {
      await putObject(object.key, object.body, object.bucket);
      for (const index of indexes ?? object.envelopes.map((e) => e.chunk.index)) {
        await send(queueUrl, envelopeOf(object, index));
      }
    },
    depth: (name) => {
      const q = server.inspectQueue(name);
      if (!q) throw new Error(`no queue ${name}`);
      return {
        ready: q.messages.ready.length,
        inflight: q.messages.inflight.length,
        delayed: q.messages.delayed.length,
      };
    },
    close: async () => {
      sqs.destroy();
      sfn.destroy();
      s3.destroy();
      await sfnFake.close();
      await server.stop();
    },
  };
}

/** Polls `check` every 20 ms until it returns true or `timeoutMs` passes. */
export async function waitFor(check: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
