import { createServer, request as httpRequest, type Server } from "node:http";
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { type FauxqsServer, startFauxqs } from "fauxqs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  classifyRequest,
  type RequestMeter,
  SQS_BILLING_CHUNK_BYTES,
  sqsBillingUnits,
  startRequestMeter,
} from "../src/request-meter.ts";

let server: FauxqsServer;
let sqs: SQSClient;
let s3: S3Client;
let queueUrl: string;
let meter: RequestMeter;
const BUCKET = "meter-bucket";

beforeAll(async () => {
  server = await startFauxqs({ port: 0, logger: false });
  const config = {
    region: "us-east-1",
    endpoint: `http://127.0.0.1:${server.port}`,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  };
  sqs = new SQSClient(config);
  s3 = new S3Client({ ...config, forcePathStyle: true });
  queueUrl = server.createQueue("meter-queue").queueUrl;
  server.createBucket(BUCKET);
});

afterAll(async () => {
  sqs.destroy();
  s3.destroy();
  await server.stop();
});

afterEach(() => meter?.stop());

describe("startRequestMeter", () => {
  it("counts SQS calls by action, and each 64 KiB chunk of a payload as one more billed request", async () => {
    meter = startRequestMeter({ port: server.port });
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "small" }));
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "x".repeat(70_000) }));
    const counts = meter.snapshot();
    expect(counts.sqs.requests).toBe(2);
    expect(counts.sqs.byAction).toEqual({ SendMessage: 2 });
    // 1 unit for the small one, 2 for the one over 64 KiB.
    expect(counts.sqs.units).toBe(3);

    meter.reset();
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    expect(received.Messages).toHaveLength(2);
    for (const message of received.Messages ?? []) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    }
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 })); // empty: billed too
    const after = meter.snapshot();
    expect(after.sqs.byAction).toEqual({ ReceiveMessage: 2, DeleteMessage: 2 });
    expect(after.sqs.requests).toBe(4);
    // The receive that brought back 70 000 bytes is 2 units; the empty receive and the deletes 1 each.
    expect(after.sqs.unitsByAction).toEqual({ ReceiveMessage: 3, DeleteMessage: 2 });
    expect(after.sqs.units).toBe(5);
    expect(after.s3).toEqual({ get: 0, put: 0, list: 0, delete: 0 });
  });

  it("bills a batch by its whole payload", async () => {
    meter = startRequestMeter({ port: server.port });
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [0, 1, 2].map((i) => ({ Id: `m${i}`, MessageBody: "y".repeat(40_000) })),
      }),
    );
    const counts = meter.snapshot();
    expect(counts.sqs.byAction).toEqual({ SendMessageBatch: 1 });
    expect(counts.sqs.units).toBe(2); // 120 000 bytes and some JSON: two 64 KiB chunks
    const drained = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    for (const message of drained.Messages ?? []) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    }
  });

  it("counts S3 requests by pricing tier: ranged GETs are GETs, multipart parts and copies are PUTs", async () => {
    meter = startRequestMeter({ port: server.port });
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "a/b.txt", Body: "hello world" }));
    const ranged = await s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: "a/b.txt", Range: "bytes=0-4" }),
    );
    expect(await ranged.Body?.transformToString()).toBe("hello");
    await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "a/b.txt" }));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "a/" }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(["a/b.txt"]);
    await s3.send(
      new CopyObjectCommand({ Bucket: BUCKET, Key: "a/copy.txt", CopySource: `${BUCKET}/a/b.txt` }),
    );
    const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: "multi.bin" }));
    const part = await s3.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: "multi.bin",
        UploadId: upload.UploadId,
        PartNumber: 1,
        Body: "part one",
      }),
    );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: "multi.bin",
        UploadId: upload.UploadId,
        MultipartUpload: { Parts: [{ ETag: part.ETag, PartNumber: 1 }] },
      }),
    );
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "multi.bin" }));
    const counts = meter.snapshot();
    expect(counts.s3).toEqual({ get: 2, put: 5, list: 1, delete: 1 });
    expect(counts.sqs.requests).toBe(0);
    expect(counts.other).toBe(0);
  });

  it("counts nothing sent to another HTTP server in the same process", async () => {
    meter = startRequestMeter({ port: server.port });
    const other: Server = createServer((_req, res) => res.end("ok"));
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    const address = other.address();
    const otherPort = typeof address === "object" && address ? address.port : 0;
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        {
          host: "127.0.0.1",
          port: otherPort,
          method: "POST",
          path: "/",
          headers: { "x-amz-target": "AmazonSQS.SendMessage", "content-type": "application/x-amz-json-1.0" },
        },
        (res) => {
          res.resume();
          res.on("end", resolve);
        },
      );
      req.on("error", reject);
      req.end("{}");
    });
    await new Promise<void>((resolve) => other.close(() => resolve()));
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 }));
    const counts = meter.snapshot();
    expect(counts.sqs.byAction).toEqual({ ReceiveMessage: 1 });
    expect(counts.other).toBe(0);
  });

  it("stops counting after stop(), and reset() starts from zero", async () => {
    meter = startRequestMeter({ port: server.port });
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 }));
    expect(meter.snapshot().sqs.requests).toBe(1);
    meter.reset();
    expect(meter.snapshot().sqs).toEqual({ requests: 0, units: 0, byAction: {}, unitsByAction: {} });
    meter.stop();
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 }));
    expect(meter.snapshot().sqs.requests).toBe(0);
  });
});

describe("classifyRequest", () => {
  const classify = (method: string, url: string, headers: Record<string, string> = {}) =>
    classifyRequest({ method, url, headers: { host: "127.0.0.1:4566", ...headers } });

  it("reads the SQS action from the JSON protocol's target header or the query protocol's Action", () => {
    expect(classify("POST", "/", { "x-amz-target": "AmazonSQS.ReceiveMessage" })).toEqual({
      service: "sqs",
      action: "ReceiveMessage",
    });
    expect(classify("GET", "/123456789012/q?Action=SendMessage&MessageBody=hi")).toEqual({
      service: "sqs",
      action: "SendMessage",
    });
    expect(classify("GET", "/?Action=Publish")).toEqual({ service: "other" });
    expect(classify("POST", "/", { "content-type": "application/x-www-form-urlencoded" })).toEqual({
      service: "other",
    });
  });

  it("tells S3 listings from gets, path-style and virtual-hosted", () => {
    expect(classify("GET", "/")).toEqual({ service: "s3", kind: "list" }); // ListBuckets
    expect(classify("GET", "/bucket?list-type=2&prefix=a")).toEqual({ service: "s3", kind: "list" });
    expect(classify("GET", "/bucket")).toEqual({ service: "s3", kind: "list" }); // ListObjects (v1)
    expect(classify("GET", "/bucket?uploads")).toEqual({ service: "s3", kind: "list" });
    expect(classify("GET", "/bucket?location")).toEqual({ service: "s3", kind: "get" });
    expect(classify("GET", "/bucket/key?uploadId=1")).toEqual({ service: "s3", kind: "list" }); // ListParts
    expect(classify("GET", "/key.txt?x-id=GetObject", { host: "bucket.localhost:4566" })).toEqual({
      service: "s3",
      kind: "get",
    });
    expect(classify("GET", "/?list-type=2", { host: "bucket.localhost:4566" })).toEqual({
      service: "s3",
      kind: "list",
    });
    expect(classify("POST", "/bucket?delete")).toEqual({ service: "s3", kind: "delete" });
    expect(classify("GET", "/health")).toEqual({ service: "other" });
  });

  it("bills at least one unit per request and one per started 64 KiB", () => {
    expect(sqsBillingUnits(0)).toBe(1);
    expect(sqsBillingUnits(SQS_BILLING_CHUNK_BYTES)).toBe(1);
    expect(sqsBillingUnits(SQS_BILLING_CHUNK_BYTES + 1)).toBe(2);
    expect(sqsBillingUnits(256 * 1024)).toBe(4);
  });
});
