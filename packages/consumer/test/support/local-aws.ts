import { SFNClient } from "@aws-sdk/client-sfn";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { type FauxqsServer, startFauxqs } from "fauxqs";
import { type FakeStepFunctions, startFakeStepFunctions } from "./fake-step-functions.ts";

const credentials = { accessKeyId: "local", secretAccessKey: "local" };

/** A real SQS emulator (fauxqs) and the task-token double, with SDK clients pointed at them. */
export interface LocalAws {
  server: FauxqsServer;
  sfnFake: FakeStepFunctions;
  sqs: SQSClient;
  sfn: SFNClient;
  /** A fresh queue (and its DLQ) per call, so tests never share messages. */
  createQueue(attributes?: { visibilityTimeout?: number; maxReceiveCount?: number }): {
    name: string;
    url: string;
    dlqName: string;
  };
  send(queueUrl: string, body: unknown): Promise<void>;
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
  return {
    server,
    sfnFake,
    sqs,
    sfn,
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
    send: async (queueUrl, body) => {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: typeof body === "string" ? body : JSON.stringify(body),
        }),
      );
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
