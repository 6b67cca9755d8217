import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { chunkRetentionSeconds, MAX_RETENTION_SECONDS, type StageConfig } from "@sluice/workflow";
import { startFauxqs } from "fauxqs";

export interface EmulatorResources {
  bucket: string;
  chunkQueue: string;
  deadLetterQueue: string;
  /** The stage settings the queues are created with, as the stack creates them. */
  config: Pick<StageConfig, "visibilityTimeoutSeconds" | "maxReceiveCount" | "uploadDeadlineSeconds">;
  region: string;
}

/** Settings for SDK clients that talk to the local emulator (any credentials do). */
export interface LocalClientConfig {
  region: string;
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface Emulator {
  endpoint: string;
  clientConfig: LocalClientConfig;
  s3: S3Client;
  sqs: SQSClient;
  queueUrls: { chunks: string; deadLetters: string };
  queueArns: { chunks: string; deadLetters: string };
  /** The local URL of a queue given any URL or ARN that ends in its name. */
  queueUrlFor(urlOrArn: string): string;
  stop(): Promise<void>;
}

/**
 * The in-process SQS and S3 emulator (fauxqs, real AWS wire protocols on loopback), with the bucket and the
 * queues created the way the stack creates them: the chunk queue's visibility timeout and retention, and its
 * redrive to the dead-letter queue after maxReceiveCount receives.
 */
export async function startEmulator(resources: EmulatorResources): Promise<Emulator> {
  const server = await startFauxqs({
    port: 0,
    host: "localhost",
    logger: false,
    defaultRegion: resources.region,
  });
  const endpoint = `http://127.0.0.1:${server.port}`;
  const clientConfig: LocalClientConfig = {
    region: resources.region,
    endpoint,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  };
  const { config } = resources;
  const dlq = server.createQueue(resources.deadLetterQueue, {
    attributes: { MessageRetentionPeriod: String(MAX_RETENTION_SECONDS) },
  });
  const chunks = server.createQueue(resources.chunkQueue, {
    attributes: {
      VisibilityTimeout: String(config.visibilityTimeoutSeconds),
      MessageRetentionPeriod: String(chunkRetentionSeconds(config)),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: dlq.queueArn,
        maxReceiveCount: String(config.maxReceiveCount),
      }),
    },
  });
  server.createBucket(resources.bucket);
  const urls: Record<string, string> = {
    [resources.chunkQueue]: chunks.queueUrl,
    [resources.deadLetterQueue]: dlq.queueUrl,
  };
  const s3 = new S3Client({ ...clientConfig, forcePathStyle: true });
  const sqs = new SQSClient(clientConfig);
  return {
    endpoint,
    clientConfig,
    s3,
    sqs,
    queueUrls: { chunks: chunks.queueUrl, deadLetters: dlq.queueUrl },
    queueArns: { chunks: chunks.queueArn, deadLetters: dlq.queueArn },
    queueUrlFor(urlOrArn) {
      const name = urlOrArn.split(/[/:]/).pop() ?? "";
      const url = urls[name];
      if (!url) throw new Error(`no local queue named ${JSON.stringify(name)}`);
      return url;
    },
    async stop() {
      s3.destroy();
      sqs.destroy();
      await server.stop();
    },
  };
}
