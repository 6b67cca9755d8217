import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { startFauxqs } from "fauxqs";
import { afterAll, afterEach, beforeAll } from "vitest";
import { type Asl, type LocalLambda, LocalWorkflow, type SendMessage } from "../../src/local-workflow.ts";
import { TaskTokens } from "../../src/task-tokens.ts";

/**
 * The local workflow on its own, for unit tests: small hand-written ASL, in-process fake Lambdas and a fake
 * SQS SendMessage whose "consumer" answers task tokens in-process, and a real S3 (fauxqs on loopback).
 */

export const BUCKET = "workflow-test";
export const STATE_MACHINE_ARN = "arn:aws:states:us-east-1:000000000000:stateMachine:test-machine";
export const QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/000000000000/test-queue";

let stopS3: (() => Promise<void>) | undefined;
let client: S3Client | undefined;
const workflows: LocalWorkflow[] = [];

/** Starts one fauxqs server (with the buckets) for the file's tests, and closes the workflows after each test. */
export function useWorkflowHarness(extraBuckets: string[] = []): void {
  beforeAll(async () => {
    const server = await startFauxqs({
      port: 0,
      host: "localhost",
      logger: false,
      defaultRegion: "us-east-1",
    });
    for (const bucket of [BUCKET, ...extraBuckets]) server.createBucket(bucket);
    client = new S3Client({
      region: "us-east-1",
      endpoint: `http://127.0.0.1:${server.port}`,
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      forcePathStyle: true,
    });
    stopS3 = async () => {
      client?.destroy();
      await server.stop();
    };
  });
  afterEach(async () => {
    while (workflows.length) await workflows.pop()!.close();
  });
  afterAll(async () => {
    await stopS3?.();
  });
}

export function s3(): S3Client {
  if (!client) throw new Error("useWorkflowHarness() first");
  return client;
}

export async function putJsonl(key: string, items: unknown[], bucket = BUCKET): Promise<void> {
  await s3().send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: items.map((item) => `${JSON.stringify(item)}\n`).join(""),
    }),
  );
}

export async function readText(key: string, bucket = BUCKET): Promise<string> {
  const object = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return object.Body!.transformToString();
}

export async function listKeys(prefix: string): Promise<string[]> {
  const page = await s3().send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key!).sort();
}

/** What the fake consumer does with a message: answer (return), fail (throw), or never answer. */
export const NO_ANSWER = Symbol("no answer");
export type Consumer = (body: Record<string, unknown>) => unknown;

export interface Harness {
  workflow: LocalWorkflow;
  tokens: TaskTokens;
  /** Every message body sent, parsed, in order. */
  sent: Record<string, unknown>[];
}

export function workflowWith(
  asl: Asl,
  options: {
    stateMachineArn?: string;
    lambdas?: Record<string, LocalLambda>;
    consume?: Consumer;
    /** Replaces the fake SQS (e.g. one that throws). */
    sendMessage?: SendMessage;
    retryIntervalMs?: number;
    resultsPerFile?: number;
  } = {},
): Harness {
  const tokens = new TaskTokens();
  const sent: Record<string, unknown>[] = [];
  const consume = options.consume ?? (() => ({ ok: true }));
  const sendMessage: SendMessage =
    options.sendMessage ??
    (async ({ MessageBody }) => {
      const body = JSON.parse(MessageBody) as Record<string, unknown>;
      sent.push(body);
      const token = String(body.taskToken);
      setImmediate(async () => {
        try {
          const answer = await consume(body);
          if (answer !== NO_ANSWER) tokens.succeed(token, answer);
        } catch (error) {
          tokens.fail(token, (error as Error).name, (error as Error).message);
        }
      });
      return { MessageId: `m-${sent.length}`, MD5OfMessageBody: "x" };
    });
  const workflow = new LocalWorkflow({
    asl,
    stateMachineArn: options.stateMachineArn ?? STATE_MACHINE_ARN,
    lambdas: options.lambdas ?? {},
    sendMessage,
    tokens,
    s3: s3(),
    retryIntervalMs: options.retryIntervalMs ?? 10,
    ...(options.resultsPerFile ? { resultsPerFile: options.resultsPerFile } : {}),
  });
  workflows.push(workflow);
  return { workflow, tokens, sent };
}

export const lambdaArn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

/** A one-state child: sends `{ taskToken, item, index }` and waits for the token. */
export function callbackChild(task: Record<string, unknown> = {}) {
  return {
    ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
    StartAt: "Send",
    States: {
      Send: {
        Type: "Task",
        Resource: "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        TimeoutSeconds: 30,
        Parameters: {
          QueueUrl: QUEUE_URL,
          MessageBody: { "taskToken.$": "$$.Task.Token", "item.$": "$.item", "index.$": "$.index" },
        },
        End: true,
        ...task,
      },
    },
  };
}

/**
 * A Distributed Map state labelled "Deliver" over the JSONL object `key` names in the test bucket (`{ Key }` or
 * `{ "Key.$": path }`), each item sent by `callbackChild()` as `{ item, index }`; `fields` adds the rest.
 */
export function jsonlMap(key: Record<string, string>, fields: Record<string, unknown> = {}) {
  return {
    Type: "Map",
    ItemProcessor: callbackChild(),
    ItemReader: {
      Resource: "arn:aws:states:::s3:getObject",
      ReaderConfig: { InputType: "JSONL" },
      Parameters: { Bucket: BUCKET, ...key },
    },
    ItemSelector: { "item.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index" },
    Label: "Deliver",
    ...fields,
  };
}

/**
 * Prepare (Pass) -> Deliver (Distributed Map over the JSONL at `$.key`, results under `$.prefix`) -> Done.
 * `map` adds or replaces fields of the Map state; `states` adds states.
 */
export function mapWorkflow(
  map: Record<string, unknown> = {},
  states: Record<string, Record<string, unknown>> = {},
): Asl {
  return {
    StartAt: "Prepare",
    States: {
      Prepare: {
        Type: "Pass",
        Parameters: { "key.$": "$.key", "prefix.$": "$.prefix" },
        ResultPath: "$.prepared",
        Next: "Deliver",
      },
      Deliver: {
        ...jsonlMap({ "Key.$": "$.prepared.key" }),
        MaxConcurrency: 2,
        ResultWriter: {
          Resource: "arn:aws:states:::s3:putObject",
          Parameters: { Bucket: BUCKET, "Prefix.$": "$.prepared.prefix" },
          WriterConfig: { OutputType: "JSONL", Transformation: "COMPACT" },
        },
        ResultPath: "$.delivery",
        Next: "Done",
        ...map,
      },
      Done: { Type: "Succeed" },
      ...states,
    },
  } as unknown as Asl;
}

/** The history's event types from the last ExecutionStarted/ExecutionRedriven on. */
export function lastRunTypes(workflow: LocalWorkflow, executionArn: string): string[] {
  const events = workflow.history(executionArn) ?? [];
  const start = events.findLastIndex((e) => e.type === "ExecutionStarted" || e.type === "ExecutionRedriven");
  return events.slice(start).map((e) => e.type);
}
