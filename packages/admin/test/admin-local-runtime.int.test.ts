import { GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { createSluiceAdmin, type SluiceAdmin, type UploadStage, type UploadStatusView } from "@sluice/admin";
import { ChunkRejectedError } from "@sluice/consumer";
import { REJECTED_ROWS_XLSX, REJECTED_SAMPLE_LIMIT, SummarySchema } from "@sluice/contract";
import type { LocalRuntime } from "@sluice/runtime";
import {
  consume,
  ordersCsv,
  runtimeWith,
  stopAfterTest,
  useRuntimeCleanup,
} from "@sluice/test-support/runtime-harness";
import { describe, expect, it } from "vitest";

/**
 * The admin helpers against the local runtime: unmodified S3 and Step Functions clients at the emulator's and the
 * loopback Step Functions API's endpoints, the same calls they make against AWS.
 */

useRuntimeCleanup();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function adminFor(runtime: LocalRuntime): SluiceAdmin {
  const s3 = runtime.s3Client();
  const sfn = runtime.sfnClient();
  stopAfterTest(async () => {
    s3.destroy();
    sfn.destroy();
  });
  return createSluiceAdmin({
    s3,
    sfn,
    bucket: runtime.bucket,
    stateMachineArn: runtime.stateMachineArn,
    cache: { ttlMs: 20, terminalTtlMs: 20 },
  });
}

/** Polls uploadStatus as a page would until `done`, keeping the stages it went through. */
async function follow(admin: SluiceAdmin, uploadId: string, done: (s: UploadStatusView) => boolean) {
  const stages: UploadStage[] = [];
  const percents: number[] = [];
  for (let i = 0; i < 1_000; i++) {
    const status = await admin.uploadStatus(uploadId);
    if (stages.at(-1) !== status.stage) stages.push(status.stage);
    if (status.percent !== null) percents.push(status.percent);
    if (done(status)) return { status, stages, percents };
    await sleep(25);
  }
  throw new Error(`upload ${uploadId} never got there: ${stages.join(" -> ")}`);
}

async function summaryOf(runtime: LocalRuntime, uploadId: string) {
  const object = await runtime.emulator.s3.send(
    new GetObjectCommand({ Bucket: runtime.bucket, Key: `processed/${uploadId}/summary.json` }),
  );
  return SummarySchema.parse(JSON.parse(await object.Body!.transformToString()));
}

describe("uploadStatus on the local runtime", () => {
  it("follows an upload to the end: totals, chunks and rows as the summary says, the rejected rows and their report", async () => {
    const runtime = await runtimeWith({ config: { chunkRows: 100, maxConcurrency: 1 } });
    consume(runtime, async (chunk) => {
      await sleep(30);
      const rejected = chunk.rows
        .filter(({ data }) => String(data.quantity) === "5")
        .map(({ row }) => ({ row, code: "QUANTITY_TOO_HIGH", message: "at most 4 per order" }));
      return { accepted: chunk.rows.length - rejected.length, rejected };
    });
    const admin = adminFor(runtime);
    const upload = await runtime.upload(ordersCsv(500, "id,quantity"), "orders.csv");
    const { status, stages, percents } = await follow(admin, upload.uploadId, (s) => s.stage === "succeeded");
    const summary = await summaryOf(runtime, upload.uploadId);

    expect(stages.at(-1)).toBe("succeeded");
    expect(stages).toContain("delivering");
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(status).toMatchObject({
      uploadId: upload.uploadId,
      executionStatus: "SUCCEEDED",
      fileName: "orders.csv",
      key: "uploads/orders.csv",
      totals: { rows: summary.rows, chunks: summary.chunks },
      chunks: { done: summary.chunksDelivered, inFlight: 0, failed: 0, pending: 0 },
      rows: { accepted: summary.accepted, rejected: summary.rejected, done: summary.rows },
      percent: 100,
      etaSeconds: 0,
      failure: null,
      redriveCount: 0,
      consoleUrl: null,
    });
    expect(status.totals).toEqual({ rows: 500, chunks: 5 });
    expect(status.rows).toEqual({ accepted: 400, rejected: 100, done: 500 });
    expect(status.rejectedSample).toEqual(summary.rejectedSamples);
    expect(status.rejectedSample[0]).toEqual({
      chunkIndex: 0,
      row: 6,
      code: "QUANTITY_TOO_HIGH",
      message: "at most 4 per order",
    });
    // The report link is a presigned GET the browser follows.
    const report = await fetch(status.reportUrl!);
    expect(report.status).toBe(200);
    expect(
      Buffer.from(await report.arrayBuffer())
        .subarray(0, 2)
        .toString(),
    ).toBe("PK");
  });

  it("a failed upload shows its failure code and chunk and the rows rejected before it; redriven with a working consumer it succeeds; listUploads shows both", async () => {
    const runtime = await runtimeWith({ config: { chunkRows: 100, maxConcurrency: 1 } });
    let fixed = false;
    consume(runtime, async (chunk, ctx) => {
      // bad.csv's upload id is bad-<hash>: its third chunk is refused until the admin server is "fixed".
      if (!fixed && ctx.uploadId.startsWith("bad-") && chunk.index === 2)
        throw new ChunkRejectedError("order ORD-250 is already in the orders table");
      // bad.csv also has rows the admin server refuses (quantity 5), before and after the failure.
      const rejected = ctx.uploadId.startsWith("bad-")
        ? chunk.rows
            .filter(({ data }) => String(data.quantity) === "5")
            .map(({ row }) => ({ row, code: "QUANTITY_TOO_HIGH", message: "at most 4 per order" }))
        : [];
      return { accepted: chunk.rows.length - rejected.length, rejected };
    });
    const admin = adminFor(runtime);
    const good = await runtime.upload(ordersCsv(200, "id,quantity"), "good.csv");
    expect((await runtime.waitForExecution(good.executionArn)).status).toBe("SUCCEEDED");

    const bad = await runtime.upload(ordersCsv(500, "id,quantity"), "bad.csv");
    expect((await runtime.waitForExecution(bad.executionArn)).status).toBe("FAILED");
    await runtime.failureNotification(bad.executionArn);

    const failed = await admin.uploadStatus(bad.uploadId);
    expect(failed).toMatchObject({
      stage: "failed",
      executionStatus: "FAILED",
      failure: {
        code: "CHUNK_REJECTED",
        message: "order ORD-250 is already in the orders table",
        chunkIndex: 2,
      },
      chunks: { done: 2, inFlight: 0, failed: 1, pending: 2 },
      totals: { rows: 500, chunks: 5 },
      rows: { accepted: 160, rejected: 40, done: 200 },
      percent: 40,
      etaSeconds: null,
      consoleUrl: null,
    });
    // The first rows rejected before the failure, from the failure record (chunk 0's quantity-5 rows: 6, 11...).
    expect(failed.rejectedSample).toEqual(
      Array.from({ length: REJECTED_SAMPLE_LIMIT }, (_, i) => ({
        chunkIndex: 0,
        row: 6 + 5 * i,
        code: "QUANTITY_TOO_HIGH",
        message: "at most 4 per order",
      })),
    );
    expect(failed.reportUrl).toContain(REJECTED_ROWS_XLSX);
    const listed = await admin.listUploads();
    expect(
      listed.map(({ uploadId, stage, failure }) => ({ uploadId, stage, chunk: failure?.chunkIndex ?? null })),
    ).toEqual([
      { uploadId: bad.uploadId, stage: "failed", chunk: 2 },
      { uploadId: good.uploadId, stage: "succeeded", chunk: null },
    ]);
    expect((await admin.listUploads({ status: "FAILED" })).map((u) => u.uploadId)).toEqual([bad.uploadId]);

    fixed = true;
    const redriven = await admin.redrive(bad.uploadId);
    expect(redriven.uploadId).toBe(bad.uploadId);
    expect(Number.isNaN(Date.parse(redriven.redriveDate))).toBe(false);
    const { status } = await follow(admin, bad.uploadId, (s) => s.stage === "succeeded");
    expect(status).toMatchObject({
      executionStatus: "SUCCEEDED",
      redriveCount: 1,
      failure: null,
      rows: { accepted: 400, rejected: 100, done: 500 },
      percent: 100,
    });
    await expect(admin.redrive(bad.uploadId)).rejects.toMatchObject({ code: "UPLOAD_NOT_REDRIVABLE" });
    await expect(admin.redrive("never-uploaded-0123456789ab")).rejects.toMatchObject({
      code: "UPLOAD_NOT_FOUND",
    });
    const after = await admin.listUploads({ since: new Date(Date.now() - 60_000) });
    expect(after.map(({ uploadId, stage }) => [uploadId, stage])).toEqual([
      [bad.uploadId, "succeeded"],
      [good.uploadId, "succeeded"],
    ]);
  });
});

describe("createUploadForm on the local runtime", () => {
  it("a PUT with the form's headers lands the object with its metadata, once, and the browser follows its upload id to the end", async () => {
    const runtime = await runtimeWith();
    consume(runtime, async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }));
    const admin = adminFor(runtime);
    const workbook = ordersCsv(3, "id,quantity");
    const form = await admin.createUploadForm({
      fileName: "주문 목록.csv",
      size: workbook.length,
      contentType: "text/csv",
      maxBytes: 1024 * 1024,
      tenant: "acme",
    });
    await expect(admin.uploadStatus(form.uploadId, { tenant: "acme" })).rejects.toMatchObject({
      code: "UPLOAD_NOT_FOUND",
    });
    const put = await fetch(form.url, {
      method: form.method,
      headers: form.headers,
      body: new Uint8Array(workbook),
    });
    expect(put.status).toBe(200);
    const head = await runtime.emulator.s3.send(
      new HeadObjectCommand({ Bucket: runtime.bucket, Key: form.key }),
    );
    expect(head.ContentType).toBe("text/csv");
    expect(head.ContentLength).toBe(workbook.length);
    expect(decodeURIComponent(head.Metadata?.["original-name"] ?? "")).toBe("주문 목록.csv");
    expect(head.Metadata?.tenant).toBe("acme");
    // if-none-match: * — the key is written once.
    const again = await fetch(form.url, {
      method: form.method,
      headers: form.headers,
      body: new Uint8Array(workbook),
    });
    expect(again.status).toBe(412);

    const { status, stages } = await follow(admin, form.uploadId, (s) => s.stage === "succeeded");
    expect(stages[0]).not.toBe("failed");
    expect(status).toMatchObject({
      uploadId: form.uploadId,
      key: form.key,
      fileName: "주문 목록.csv",
      totals: { rows: 3, chunks: 1 },
      rows: { accepted: 3, rejected: 0, done: 3 },
    });
  });
});
