import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { startFauxqs } from "fauxqs";

export interface EmulatorResources {
  bucket: string;
  chunkQueue: string;
  deadLetterQueue: string;
  visibilityTimeoutSeconds: number;
  maxReceiveCount: number;
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
  /** The local URL of a queue given any URL or ARN that ends in its name. */
  queueUrlFor(urlOrArn: string): string;
  stop(): Promise<void>;
}

/**
 * The in-process SQS and S3 emulator (fauxqs, real AWS wire protocols on loopback), with the bucket and the
 * queues created the way the stack creates them: the chunk queue redrives to the dead-letter queue.
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
  const dlq = server.createQueue(resources.deadLetterQueue, {
    attributes: { MessageRetentionPeriod: "1209600" },
  });
  const chunks = server.createQueue(resources.chunkQueue, {
    attributes: {
      VisibilityTimeout: String(resources.visibilityTimeoutSeconds),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: dlq.queueArn,
        maxReceiveCount: String(resources.maxReceiveCount),
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
