import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandOutput,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { DescribeExecutionCommand, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { consume, ordersCsv, runtimeWith, useRuntimeCleanup } from "@sluice/test-support/runtime-harness";
import { afterEach, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../src/emulator.ts";
import { LocalRuntime } from "../src/local-runtime.ts";

/**
 * The local bucket behaves as the stack's versioned bucket for what sluice uses (PutObject and
 * CompleteMultipartUpload return x-amz-version-id; GetObject/HeadObject with VersionId return that version, or
 * NoSuchVersion), and keeps object bodies on disk in a directory the emulator owns and removes on stop.
 */

useRuntimeCleanup();

const emulators: Emulator[] = [];
afterEach(async () => {
  while (emulators.length) await emulators.pop()!.stop();
});

async function emulator(): Promise<{ emulator: Emulator; s3: S3Client; bucket: string }> {
  const started = await startEmulator({
    bucket: "test-bucket",
    chunkQueue: "test-chunks",
    deadLetterQueue: "test-dead-letters",
    config: { visibilityTimeoutSeconds: 30, maxReceiveCount: 5, uploadDeadlineSeconds: 3600 },
    region: "us-east-1",
  });
  emulators.push(started);
  return { emulator: started, s3: started.s3, bucket: "test-bucket" };
}

/** Well formed, as S3's are (a malformed id is InvalidArgument on AWS), but never issued. */
const UNKNOWN_VERSION = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH";

const text = async (body: { transformToString(): Promise<string> } | undefined) => body!.transformToString();

describe("the local bucket is versioned", () => {
  it("keeps every version of a key readable by its id; an unknown id is NoSuchVersion", async () => {
    const { s3, bucket } = await emulator();
    const a = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k.csv", Body: "first file" }));
    const b = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: "k.csv", Body: "second, longer file" }),
    );
    expect(a.VersionId).toBeTruthy();
    expect(b.VersionId).toBeTruthy();
    expect(a.VersionId).not.toBe(b.VersionId);

    const current = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "k.csv" }));
    expect(current.VersionId).toBe(b.VersionId);
    expect(await text(current.Body)).toBe("second, longer file");
    const first = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: "k.csv", VersionId: a.VersionId }),
    );
    expect(first.VersionId).toBe(a.VersionId);
    expect(first.ETag).toBe(a.ETag);
    expect(await text(first.Body)).toBe("first file");
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: bucket, Key: "k.csv", VersionId: a.VersionId }),
    );
    expect(head).toMatchObject({ ContentLength: 10, ETag: a.ETag, VersionId: a.VersionId });
    const ranged = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: "k.csv", VersionId: a.VersionId, Range: "bytes=6-9" }),
    );
    expect(ranged).toMatchObject({ ContentRange: "bytes 6-9/10", ContentLength: 4 });
    expect(await text(ranged.Body)).toBe("file");
    // If-Match with the older version's ETag no longer matches the current object.
    await expect(
      s3.send(new GetObjectCommand({ Bucket: bucket, Key: "k.csv", IfMatch: a.ETag })),
    ).rejects.toMatchObject({ name: "PreconditionFailed" });

    await expect(
      s3.send(new GetObjectCommand({ Bucket: bucket, Key: "k.csv", VersionId: UNKNOWN_VERSION })),
    ).rejects.toMatchObject({ name: "NoSuchVersion", $metadata: { httpStatusCode: 404 } });
    await expect(
      s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "k.csv", VersionId: UNKNOWN_VERSION })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
  });

  it("a delete without a version id adds a delete marker; the versions stay readable", async () => {
    const { s3, bucket } = await emulator();
    const a = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "gone.txt", Body: "kept" }));
    const deleted = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "gone.txt" }));
    expect(deleted.DeleteMarker).toBe(true);
    await expect(s3.send(new GetObjectCommand({ Bucket: bucket, Key: "gone.txt" }))).rejects.toMatchObject({
      name: "NoSuchKey",
    });
    const old = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: "gone.txt", VersionId: a.VersionId }),
    );
    expect(await text(old.Body)).toBe("kept");
  });

  it("a multipart upload is one new version with S3's multipart ETag", async () => {
    const { s3, bucket } = await emulator();
    const part1 = Buffer.alloc(5 * 1024 * 1024, "a");
    const part2 = Buffer.from("tail");
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "big.bin" }));
    const p1 = await s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: "big.bin", UploadId, PartNumber: 1, Body: part1 }),
    );
    const p2 = await s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: "big.bin", UploadId, PartNumber: 2, Body: part2 }),
    );
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: "big.bin",
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: p1.ETag },
            { PartNumber: 2, ETag: p2.ETag },
          ],
        },
      }),
    );
    expect(done.VersionId).toBeTruthy();
    expect(done.ETag).toMatch(/^"[0-9a-f]{32}-2"$/);
    const tail = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: "big.bin", VersionId: done.VersionId, Range: "bytes=-6" }),
    );
    expect(await text(tail.Body)).toBe("aatail");
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "big.bin" }));
    expect(head.ContentLength).toBe(part1.length + part2.length);
  });
  it("a multipart object reads as its listed parts in order (whole, ranged across parts, copied); unlisted parts are dropped", async () => {
    const { emulator: started, s3, bucket } = await emulator();
    const parts = [
      Buffer.alloc(5 * 1024 * 1024, "a"),
      Buffer.alloc(5 * 1024 * 1024, "b"),
      Buffer.from("c-tail"),
    ];
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: "parts.bin" }),
    );
    const etags: (string | undefined)[] = [];
    for (const [i, Body] of parts.entries()) {
      const out = await s3.send(
        new UploadPartCommand({ Bucket: bucket, Key: "parts.bin", UploadId, PartNumber: i + 1, Body }),
      );
      etags.push(out.ETag);
    }
    // S3 builds the object from the parts the request lists, in order; part 2 is left out.
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: "parts.bin",
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: etags[0] },
            { PartNumber: 3, ETag: etags[2] },
          ],
        },
      }),
    );
    const expected = Buffer.concat([parts[0]!, parts[2]!]);
    const whole = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "parts.bin" }));
    expect(Buffer.from(await whole.Body!.transformToByteArray()).equals(expected)).toBe(true);
    const start = parts[0]!.length - 3;
    const across = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: "parts.bin", Range: `bytes=${start}-${start + 5}` }),
    );
    expect(across.ContentRange).toBe(`bytes ${start}-${start + 5}/${expected.length}`);
    expect(await text(across.Body)).toBe("aaac-t");
    await s3.send(
      new CopyObjectCommand({ Bucket: bucket, Key: "copy.bin", CopySource: `${bucket}/parts.bin` }),
    );
    const copy = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "copy.bin" }));
    expect(Buffer.from(await copy.Body!.transformToByteArray()).equals(expected)).toBe(true);
    // On disk: the two listed parts (kept as the object's body) and the copy; the unlisted part is gone.
    const sizes = await Promise.all(
      (await readdir(started.storageDir)).map(async (f) => (await stat(join(started.storageDir, f))).size),
    );
    expect(sizes.sort((x, y) => x - y)).toEqual([parts[2]!.length, parts[0]!.length, expected.length]);
  });

  it("refuses to complete when a part other than the last is under 5 MiB (EntityTooSmall); a short last part is fine", async () => {
    const { s3, bucket } = await emulator();
    const upload = async (key: string, bodies: Buffer[]) => {
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const Parts = [];
      for (const [i, Body] of bodies.entries()) {
        const { ETag } = await s3.send(
          new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body }),
        );
        Parts.push({ PartNumber: i + 1, ETag });
      }
      return new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts },
      });
    };
    const short = await upload("short.bin", [Buffer.alloc(5 * 1024 * 1024 - 1, "a"), Buffer.from("tail")]);
    await expect(s3.send(short)).rejects.toMatchObject({
      name: "EntityTooSmall",
      $metadata: { httpStatusCode: 400 },
    });
    await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "short.bin" }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
    // Exactly 5 MiB, then a short last part; and one short part alone (it is the last).
    await s3.send(await upload("exact.bin", [Buffer.alloc(5 * 1024 * 1024, "b"), Buffer.from("tail")]));
    await s3.send(await upload("single.bin", [Buffer.from("only part")]));
    const single = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "single.bin" }));
    expect(await text(single.Body)).toBe("only part");
    const exact = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "exact.bin" }));
    expect(exact.ContentLength).toBe(5 * 1024 * 1024 + 4);
  });
});

describe("ListObjectVersions", () => {
  /** Puts `body` under `key`: its version id. */
  const put = async (s3: S3Client, bucket: string, key: string, body: string) =>
    (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))).VersionId!;
  /** Versions and delete markers of a page as [key, versionId, isLatest] (the SDK keeps each kind apart). */
  const versions = (page: ListObjectVersionsCommandOutput) =>
    (page.Versions ?? []).map((v) => [v.Key, v.VersionId, v.IsLatest]);
  const markers = (page: ListObjectVersionsCommandOutput) =>
    (page.DeleteMarkers ?? []).map((v) => [v.Key, v.VersionId, v.IsLatest]);

  it("lists every version and delete marker: keys in order, each key's newest first, IsLatest on the current one", async () => {
    const { emulator: started, s3, bucket } = await emulator();
    const a1 = await put(s3, bucket, "uploads/a.csv", "a, first");
    const a2 = await put(s3, bucket, "uploads/a.csv", "a, second and longer");
    const aDeleted = (await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "uploads/a.csv" })))
      .VersionId!;
    const a3 = await put(s3, bucket, "uploads/a.csv", "a, third");
    const b1 = await put(s3, bucket, "uploads/b.csv", "b");
    const bDeleted = (await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "uploads/b.csv" })))
      .VersionId!;
    await put(s3, bucket, "processed/x/summary.json", "{}");

    const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: "uploads/" }));
    expect(versions(page)).toEqual([
      ["uploads/a.csv", a3, true],
      ["uploads/a.csv", a2, false],
      ["uploads/a.csv", a1, false],
      ["uploads/b.csv", b1, false],
    ]);
    expect(markers(page)).toEqual([
      ["uploads/a.csv", aDeleted, false],
      ["uploads/b.csv", bDeleted, true],
    ]);
    expect(page).toMatchObject({ IsTruncated: false, Prefix: "uploads/", MaxKeys: 1000, Name: bucket });
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: bucket, Key: "uploads/a.csv", VersionId: a2 }),
    );
    expect(page.Versions![1]).toMatchObject({
      ETag: head.ETag,
      Size: "a, second and longer".length,
      LastModified: head.LastModified,
      StorageClass: "STANDARD",
    });
    // In the XML, versions and delete markers of a key are one sequence, newest first.
    const xml = await (await fetch(`${started.endpoint}/${bucket}?versions&prefix=uploads/a.csv`)).text();
    expect([...xml.matchAll(/<VersionId>([^<]+)<\/VersionId>/g)].map(([, id]) => id)).toEqual([
      a3,
      aDeleted,
      a2,
      a1,
    ]);
    // Every key of the bucket without a prefix; a delimiter rolls keys up into common prefixes.
    const all = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    expect(versions(all).map(([key]) => key)).toEqual([
      "processed/x/summary.json",
      "uploads/a.csv",
      "uploads/a.csv",
      "uploads/a.csv",
      "uploads/b.csv",
    ]);
    const folders = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Delimiter: "/" }));
    expect(folders.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["processed/", "uploads/"]);
    expect(folders.Versions ?? []).toEqual([]);
  });

  it("pages with key-marker and version-id-marker, max-keys at a time: nothing repeated or skipped", async () => {
    const { s3, bucket } = await emulator();
    for (const key of ["k/1.csv", "k/2.csv", "k/3.csv"]) {
      for (const body of ["one", "two", "three"]) await put(s3, bucket, key, body);
      if (key === "k/2.csv") await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    }
    const whole = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: "k/" }));
    const everything = [...versions(whole), ...markers(whole)];
    expect(everything).toHaveLength(10);

    const seen: unknown[][] = [];
    const sizes: number[] = [];
    let markersFrom: { KeyMarker?: string; VersionIdMarker?: string } = {};
    for (;;) {
      const page = await s3.send(
        new ListObjectVersionsCommand({ Bucket: bucket, Prefix: "k/", MaxKeys: 3, ...markersFrom }),
      );
      const entries = [...versions(page), ...markers(page)];
      sizes.push(entries.length);
      seen.push(...entries);
      if (!page.IsTruncated) break;
      // The next page starts after the last entry of this one (a key's versions may span two pages).
      expect(page.NextKeyMarker).toEqual(expect.any(String));
      expect(page.NextVersionIdMarker).toEqual(expect.any(String));
      markersFrom = { KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker };
    }
    expect(sizes).toEqual([3, 3, 3, 1]);
    expect(seen).toHaveLength(everything.length);
    expect(new Set(seen.map(([, id]) => id)).size).toBe(everything.length);
    expect(seen.toSorted()).toEqual(everything.toSorted());

    // key-marker alone starts after that key.
    const after = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker: "k/2.csv" }));
    expect(versions(after).map(([key]) => key)).toEqual(["k/3.csv", "k/3.csv", "k/3.csv"]);
    expect(markers(after)).toEqual([]);
  });
});

describe("object bodies live on disk, not in memory", () => {
  it("keeps the bodies in the emulator's own directory, removed on stop", async () => {
    const { emulator: started, s3, bucket } = await emulator();
    const body = Buffer.alloc(3 * 1024 * 1024, "x");
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "on-disk.bin", Body: body }));
    const files = await readdir(started.storageDir);
    const sizes = await Promise.all(files.map(async (f) => (await stat(join(started.storageDir, f))).size));
    expect(sizes).toContain(body.length);
    await started.stop();
    emulators.splice(emulators.indexOf(started), 1);
    expect(existsSync(started.storageDir)).toBe(false);
  });

  it("a single PutObject above the 11 MiB fauxqs took goes to disk as it arrives (S3 takes up to 5 GB)", async () => {
    const { s3, bucket } = await emulator();
    const body = Buffer.alloc(12 * 1024 * 1024, "p");
    body.write("END", body.length - 3);
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "single.bin", Body: body }));
    const tail = await s3.send(
      new GetObjectCommand({
        Bucket: bucket,
        Key: "single.bin",
        VersionId: put.VersionId,
        Range: "bytes=-3",
      }),
    );
    expect(await text(tail.Body)).toBe("END");
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "single.bin" }))).ContentLength).toBe(
      body.length,
    );
  });

  it("holds no copy of what it stores: Buffers held after storing 64 MiB stay far below it", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const { s3, bucket } = await emulator();
    gc();
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 8; i++) {
      const body = Buffer.alloc(8 * 1024 * 1024, "y");
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `blob-${i}`, Body: body }));
    }
    // Everything stored is still there (read back by range), yet not held in this process.
    const last = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "blob-7", Range: "bytes=0-3" }));
    expect(await text(last.Body)).toBe("yyyy");
    // What is held for good, not what a socket or the SDK still holds for a moment: the least of a few GCs.
    let held = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 5; round++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      gc();
      held = Math.min(held, process.memoryUsage().arrayBuffers - before);
    }
    // The in-memory store held all 64 MiB; a loose bound (a quarter) leaves room for sockets and pools.
    expect(held).toBeLessThan(16 * 1024 * 1024);
  });
});

describe("the temp folder", () => {
  it("removes the bucket folder a killed process left behind (its pid is gone), and keeps a live one's", async () => {
    const saved = process.env.TMPDIR;
    const temp = await mkdtemp(join(tmpdir(), "sluice-stale-check-"));
    process.env.TMPDIR = temp;
    try {
      // A pid that surely ended: a child that already exited.
      const dead = spawnSync(process.execPath, ["-e", ""]).pid;
      await mkdir(join(temp, `sluice-bucket-${dead}-abc123`, "objects"), { recursive: true });
      const live = join(temp, `sluice-bucket-${process.ppid}-def456`);
      await mkdir(live);
      const runtime = await LocalRuntime.start({
        retryIntervalMs: 50,
        outDir: join(temp, "..", "sluice-test-out"),
      });
      try {
        const left = await readdir(temp);
        expect(left).not.toContain(`sluice-bucket-${dead}-abc123`);
        expect(left).toContain(`sluice-bucket-${process.ppid}-def456`);
      } finally {
        await runtime.stop();
      }
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      await rm(temp, { recursive: true, force: true });
    }
  });

  it("a runtime that ran an upload leaves nothing behind in it once stopped (no cdk.out, no bodies, no spool)", async () => {
    // os.tmpdir() reads TMPDIR on each call: a folder of this test's own sees only what this runtime creates.
    const saved = process.env.TMPDIR;
    const temp = await mkdtemp(join(tmpdir(), "sluice-temp-check-"));
    process.env.TMPDIR = temp;
    try {
      const runtime = await LocalRuntime.start({
        retryIntervalMs: 50,
        outDir: join(temp, "..", "sluice-test-out"),
      });
      try {
        expect(runtime.emulator.storageDir.startsWith(temp)).toBe(true);
        const consumer = consume(runtime, async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }));
        const upload = await runtime.upload(ordersCsv(300), "orders.csv");
        expect((await runtime.waitForExecution(upload.executionArn)).status).toBe("SUCCEEDED");
        await consumer.stop({ timeoutMs: 2_000 });
        expect((await readdir(temp)).length).toBeGreaterThan(0);
      } finally {
        await runtime.stop();
      }
      expect(await readdir(temp)).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      await rm(temp, { recursive: true, force: true });
    }
  });
});

describe("a reprocess reads the version it names", () => {
  it("upload A to K, upload B to K, reprocess A: converts A's rows, not B's", async () => {
    const runtime = await runtimeWith({ config: { chunkRows: 100 } });
    const seen = new Map<string, string[]>();
    consume(runtime, async (chunk) => {
      const ids = seen.get(chunk.uploadId) ?? [];
      ids.push(...chunk.rows.map((r) => String(r.data.order_id)));
      seen.set(chunk.uploadId, ids);
      return { accepted: chunk.rows.length, rejected: [] };
    });
    const fileA = ordersCsv(30);
    const fileB = Buffer.from(ordersCsv(45).toString("utf8").replaceAll("ORD-", "NEW-"));
    const a = await runtime.upload(fileA, "orders.csv");
    expect((await runtime.waitForExecution(a.executionArn)).status).toBe("SUCCEEDED");
    const b = await runtime.upload(fileB, "orders.csv");
    expect(b.duplicate).toBe(false);
    expect((await runtime.waitForExecution(b.executionArn)).status).toBe("SUCCEEDED");

    // As `sluice reprocess --force` does: the original input (its source names a version), a new name and id.
    const sfn = runtime.sfnClient();
    const original = await sfn.send(new DescribeExecutionCommand({ executionArn: a.executionArn }));
    const input = JSON.parse(original.input ?? "{}");
    expect(input.source).toMatchObject({ key: a.key, versionId: expect.any(String) });
    const reprocessId = `${a.uploadId}-r2`;
    const again = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: runtime.stateMachineArn,
        name: reprocessId,
        input: JSON.stringify({ ...input, uploadId: reprocessId }),
      }),
    );
    sfn.destroy();
    const record = await runtime.waitForExecution(again.executionArn!);
    expect(record.status).toBe("SUCCEEDED");
    expect(record.output).toMatchObject({ rows: 30 });
    expect(seen.get(reprocessId)).toEqual(Array.from({ length: 30 }, (_, i) => `ORD-${i + 1}`));
  });

  it("an upload handed on as a stream (an HTTP request body) runs like one handed on as a Buffer", async () => {
    const runtime = await runtimeWith({ config: { chunkRows: 100 } });
    consume(runtime, async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }));
    const upload = await runtime.upload(Readable.from([ordersCsv(250)]), "streamed.csv");
    const record = await runtime.waitForExecution(upload.executionArn);
    expect(record.status).toBe("SUCCEEDED");
    expect(record.output).toMatchObject({ rows: 250, chunks: 3 });
    const again = await runtime.upload(ordersCsv(250), "streamed.csv");
    expect((await runtime.waitForExecution(again.executionArn)).output).toMatchObject({
      rows: 250,
      chunks: 3,
    });
  });

  it("the same bytes again under the same key are a new version and a new upload; each reads its own version", async () => {
    const runtime = await runtimeWith();
    consume(runtime, async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }));
    const first = await runtime.upload(ordersCsv(10), "same.csv");
    await runtime.waitForExecution(first.executionArn);
    const again = await runtime.upload(ordersCsv(10), "same.csv");
    expect(again.duplicate).toBe(false);
    expect(again.uploadId).not.toBe(first.uploadId);
    expect((await runtime.waitForExecution(again.executionArn)).status).toBe("SUCCEEDED");
    const sources = runtime.workflow.all.map((e) => (e.input as { source: { versionId?: string } }).source);
    expect(sources.map((s) => s.versionId)).toEqual([expect.any(String), expect.any(String)]);
    expect(sources[0]!.versionId).not.toBe(sources[1]!.versionId);
  });
});
