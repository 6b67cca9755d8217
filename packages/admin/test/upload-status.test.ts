import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import {
  DescribeExecutionCommand,
  type DescribeExecutionOutput,
  DescribeMapRunCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListMapRunsCommand,
  RedriveExecutionCommand,
  SFNClient,
} from "@aws-sdk/client-sfn";
import { createSluiceAdmin, SFN_BUDGETS, type SluiceAdminError } from "@sluice/admin";
import {
  CONTRACT_VERSION,
  type FailureRecord,
  type Manifest,
  REJECTED_ROWS_CSV,
  REJECTED_ROWS_XLSX,
  type Summary,
} from "@sluice/contract";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";

const STATE_MACHINE = "arn:aws:states:ap-northeast-2:123456789012:stateMachine:sluice-prod-upload";
const BUCKET = "sluice-prod-uploads";
const UPLOAD_ID = "orders-3f9c2a1b7e4d";
const EXECUTION = `arn:aws:states:ap-northeast-2:123456789012:execution:sluice-prod-upload:${UPLOAD_ID}`;
const MAP_RUN = `${EXECUTION.replace(":execution:", ":mapRun:")}/DeliverChunks:abc`;
const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };

const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);
afterEach(() => {
  sfn.reset();
  s3.reset();
});

/** A GetObject body as the SDK gives it (only what the admin reads). */
const body = (value: unknown) => {
  const text = JSON.stringify(value);
  return {
    Body: {
      transformToString: async () => text,
      transformToByteArray: async () => Buffer.from(text),
    } as never,
    ContentLength: Buffer.byteLength(text),
  };
};
const noSuchKey = () => Object.assign(new Error("The specified key does not exist."), { name: "NoSuchKey" });
const named = (name: string) => Object.assign(new Error(name), { name });

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function admin(now: () => number, cache?: { ttlMs?: number; maxEntries?: number }, sfnEndpoint?: string) {
  return createSluiceAdmin({
    s3: new S3Client({ region: "ap-northeast-2", credentials }),
    sfn: new SFNClient({
      region: "ap-northeast-2",
      credentials,
      ...(sfnEndpoint ? { endpoint: sfnEndpoint } : {}),
    }),
    bucket: BUCKET,
    stateMachineArn: STATE_MACHINE,
    now,
    ...(cache ? { cache } : {}),
  });
}

const manifest = (uploadId = UPLOAD_ID): Manifest => ({
  v: CONTRACT_VERSION,
  uploadId,
  source: { name: "uploads/orders.xlsx", bytes: 1000 },
  format: "xlsx",
  sheet: "Orders",
  sheets: [{ name: "Orders", visible: true }],
  header: ["order_id", "quantity"],
  headerRow: 1,
  totalRows: 20_000,
  totalChunks: 40,
  bytes: 100_000,
  chunking: { rows: 500, bytes: 1_000_000 },
  details: {},
  warnings: { count: 0, samples: [] },
  rowErrors: { count: 0, samples: [] },
  fileWarnings: [{ code: "FORMAT_EXTENSION_MISMATCH", message: "named .xlsx" }],
});

function execution(status: string, overrides: Partial<DescribeExecutionOutput> = {}, uploadId = UPLOAD_ID) {
  return {
    executionArn: EXECUTION.replace(UPLOAD_ID, uploadId),
    stateMachineArn: STATE_MACHINE,
    status: status as "RUNNING",
    startDate: new Date(1_000_000),
    input: JSON.stringify({ uploadId, source: { bucket: BUCKET, key: "uploads/orders.xlsx" } }),
    redriveCount: 0,
    ...overrides,
  };
}

function running(uploadId = UPLOAD_ID, succeeded = 10) {
  sfn.on(DescribeExecutionCommand).resolves(execution("RUNNING", {}, uploadId));
  s3.on(GetObjectCommand, { Key: `processed/${uploadId}/manifest.json` }).resolves(body(manifest(uploadId)));
  sfn.on(ListMapRunsCommand).resolves({
    mapRuns: [
      { mapRunArn: MAP_RUN, executionArn: EXECUTION, stateMachineArn: "x", startDate: new Date(1_010_000) },
    ],
  });
  const counts = {
    pending: 25,
    running: 4,
    succeeded,
    failed: 0,
    timedOut: 1,
    aborted: 0,
    total: 40,
    resultsWritten: 0,
  };
  sfn.on(DescribeMapRunCommand).resolves({
    mapRunArn: MAP_RUN,
    executionArn: EXECUTION,
    status: "RUNNING",
    startDate: new Date(1_010_000),
    maxConcurrency: 4,
    toleratedFailurePercentage: 0,
    toleratedFailureCount: 0,
    itemCounts: counts,
    executionCounts: counts,
  });
}

describe("uploadStatus: where an upload stands", () => {
  it("running, converted: totals from manifest.json, chunks from the Map Run, rate and ETA by the shared arithmetic", async () => {
    running();
    const status = await admin(() => 1_030_000).uploadStatus(UPLOAD_ID);
    expect(status).toMatchObject({
      uploadId: UPLOAD_ID,
      stage: "delivering",
      executionStatus: "RUNNING",
      fileName: "orders.xlsx",
      key: "uploads/orders.xlsx",
      startedAt: new Date(1_000_000).toISOString(),
      stoppedAt: null,
      totals: { rows: 20_000, chunks: 40 },
      chunks: { done: 10, inFlight: 4, failed: 1, pending: 25 },
      rows: { accepted: null, rejected: null, done: 5_000 },
      percent: 25,
      rowsPerSecond: 250,
      etaSeconds: 60,
      fileWarnings: [{ code: "FORMAT_EXTENSION_MISMATCH", message: "named .xlsx" }],
      failure: null,
      reportUrl: null,
      redriveCount: 0,
      consoleUrl: `https://ap-northeast-2.console.aws.amazon.com/states/home?region=ap-northeast-2#/v2/executions/details/${EXECUTION}`,
      updatedAt: new Date(1_030_000).toISOString(),
    });
    expect(sfn.commandCalls(DescribeExecutionCommand)[0]!.args[0].input).toEqual({ executionArn: EXECUTION });
    expect(sfn.commandCalls(DescribeMapRunCommand)[0]!.args[0].input).toEqual({ mapRunArn: MAP_RUN });
    expect(sfn.commandCalls(GetExecutionHistoryCommand)).toHaveLength(0);
  });

  it("links the console of the execution's partition, and none through a custom endpoint (an emulator)", async () => {
    running();
    expect(
      (await admin(() => 1_030_000, undefined, "http://127.0.0.1:4566").uploadStatus(UPLOAD_ID)).consoleUrl,
    ).toBeNull();
    const gov = "arn:aws-us-gov:states:us-gov-west-1:123456789012:stateMachine:sluice-prod-upload";
    const govAdmin = createSluiceAdmin({
      s3: new S3Client({ region: "us-gov-west-1", credentials }),
      sfn: new SFNClient({ region: "us-gov-west-1", credentials }),
      bucket: BUCKET,
      stateMachineArn: gov,
      now: () => 1_030_000,
    });
    sfn.on(DescribeExecutionCommand).callsFake(({ executionArn }: { executionArn: string }) => ({
      ...execution("RUNNING"),
      executionArn,
    }));
    const govExecution = `${gov.replace(":stateMachine:", ":execution:")}:${UPLOAD_ID}`;
    expect((await govAdmin.uploadStatus(UPLOAD_ID)).consoleUrl).toBe(
      `https://console.amazonaws-us-gov.com/states/home?region=us-gov-west-1#/v2/executions/details/${govExecution}`,
    );
  });

  it("running, not converted yet: converting, and no Map Run call", async () => {
    sfn.on(DescribeExecutionCommand).resolves(execution("RUNNING"));
    s3.on(GetObjectCommand).rejects(noSuchKey());
    const status = await admin(() => 1_000_500).uploadStatus(UPLOAD_ID);
    expect(status).toMatchObject({ stage: "converting", totals: null, percent: null, etaSeconds: null });
    expect(sfn.commandCalls(ListMapRunsCommand)).toHaveLength(0);
    expect(sfn.commandCalls(DescribeMapRunCommand)).toHaveLength(0);
  });

  it("succeeded: rows accepted and rejected, the first rejected rows and a short-lived link to the report, from summary.json", async () => {
    const summary: Partial<Summary> = {
      v: CONTRACT_VERSION,
      uploadId: UPLOAD_ID,
      status: "SUCCEEDED",
      rows: 20_000,
      chunks: 40,
      chunksDelivered: 40,
      chunksFailed: 0,
      accepted: 19_998,
      rejected: 2,
      rowErrors: 0,
      fileWarnings: [],
      rowsPerSecond: 512.4,
      rejectedSamples: [
        { chunkIndex: 3, row: 1502, code: "DUPLICATE_ORDER", message: "ORD-1501 was already imported" },
      ],
      rejectedRowsReport: {
        bucket: BUCKET,
        csvKey: `processed/${UPLOAD_ID}/rejected-rows.csv`,
        xlsxKey: `processed/${UPLOAD_ID}/rejected-rows.xlsx`,
        rows: 2,
        capped: false,
      },
    };
    sfn.on(DescribeExecutionCommand).resolves(execution("SUCCEEDED", { stopDate: new Date(1_090_000) }));
    s3.on(GetObjectCommand, { Key: `processed/${UPLOAD_ID}/manifest.json` }).resolves(body(manifest()));
    s3.on(GetObjectCommand, { Key: `processed/${UPLOAD_ID}/summary.json` }).resolves(body(summary));
    const status = await admin(() => Date.parse("2026-03-01T09:00:00Z")).uploadStatus(UPLOAD_ID);
    expect(status).toMatchObject({
      stage: "succeeded",
      executionStatus: "SUCCEEDED",
      stoppedAt: new Date(1_090_000).toISOString(),
      totals: { rows: 20_000, chunks: 40 },
      chunks: { done: 40, inFlight: 0, failed: 0, pending: 0 },
      rows: { accepted: 19_998, rejected: 2, done: 20_000 },
      percent: 100,
      etaSeconds: 0,
      rowsPerSecond: 512,
      rejectedSample: summary.rejectedSamples,
    });
    const link = new URL(status.reportUrl!);
    expect(`${link.host}${link.pathname}`).toBe(
      `${BUCKET}.s3.ap-northeast-2.amazonaws.com/processed/${UPLOAD_ID}/rejected-rows.xlsx`,
    );
    expect(link.searchParams.get("X-Amz-Expires")).toBe("300");
    expect(link.searchParams.get("X-Amz-Date")).toBe("20260301T090000Z");
    expect(sfn.commandCalls(DescribeMapRunCommand)).toHaveLength(0);
  });

  it("signs no report link for another object of the upload's folder than the bucket layout's report", async () => {
    const record: FailureRecord = {
      v: CONTRACT_VERSION,
      kind: "upload-failure",
      uploadId: UPLOAD_ID,
      executionArn: EXECUTION,
      status: "FAILED",
      redriveCount: 0,
      source: { bucket: BUCKET, key: "uploads/orders.xlsx" },
      error: { code: "DUPLICATE_ORDER", cause: "x" },
      progress: { accepted: 1, rejected: 1 },
      rejectedRowsReport: {
        bucket: BUCKET,
        csvKey: `processed/${UPLOAD_ID}/${REJECTED_ROWS_CSV}`,
        xlsxKey: `processed/${UPLOAD_ID}/chunks.jsonl`,
        rows: 1,
        capped: false,
      },
      failedAt: "2026-03-01T00:05:00.000Z",
    };
    sfn.on(DescribeExecutionCommand).resolves(execution("FAILED", { stopDate: new Date(1_060_000) }));
    s3.on(GetObjectCommand).rejects(noSuchKey());
    s3.on(GetObjectCommand, { Key: `processed/${UPLOAD_ID}/failure.json` }).resolves(body(record));
    expect((await admin(() => 2_000_000).uploadStatus(UPLOAD_ID)).reportUrl).toBeNull();
    // The same record naming the report where the layout puts it: signed.
    record.rejectedRowsReport!.xlsxKey = `processed/${UPLOAD_ID}/${REJECTED_ROWS_XLSX}`;
    s3.on(GetObjectCommand, { Key: `processed/${UPLOAD_ID}/failure.json` }).resolves(body(record));
    const link = (await admin(() => 2_000_000).uploadStatus(UPLOAD_ID)).reportUrl!;
    expect(new URL(link).pathname).toBe(`/processed/${UPLOAD_ID}/${REJECTED_ROWS_XLSX}`);
  });

  it("failed: the failure record's code, message and failed chunk, and the chunks when it failed", async () => {
    const record: FailureRecord = {
      v: CONTRACT_VERSION,
      kind: "upload-failure",
      uploadId: UPLOAD_ID,
      executionArn: EXECUTION,
      status: "FAILED",
      redriveCount: 0,
      source: { bucket: BUCKET, key: "uploads/orders.xlsx" },
      error: { code: "DUPLICATE_ORDER", cause: "Order ORD-1200 (row 1501) was already imported" },
      failedChunk: { index: 2, firstRow: 1002, lastRow: 1501, rows: 500 },
      chunks: { total: 40, succeeded: 30, failed: 1, pending: 9 },
      progress: { accepted: 15_000, rejected: 2 },
      rejectedSample: [
        { chunkIndex: 0, row: 7, code: "UNKNOWN_CUSTOMER", message: "no customer C-9" },
        { chunkIndex: 1, row: 612, code: "DUPLICATE_ORDER", message: "ORD-611 was already imported" },
      ],
      failedAt: "2026-03-01T00:05:00.000Z",
    };
    sfn.on(DescribeExecutionCommand).resolves(
      execution("FAILED", {
        stopDate: new Date(1_060_000),
        error: "States.ExceedToleratedFailureThreshold",
        cause: "The specified tolerated failure threshold was exceeded",
      }),
    );
    s3.on(GetObjectCommand, { Key: `processed/${UPLOAD_ID}/manifest.json` }).resolves(body(manifest()));
    s3.on(GetObjectCommand, { Key: `processed/${UPLOAD_ID}/failure.json` }).resolves(body(record));
    const status = await admin(() => 2_000_000).uploadStatus(UPLOAD_ID);
    expect(status).toMatchObject({
      stage: "failed",
      executionStatus: "FAILED",
      failure: { code: "DUPLICATE_ORDER", message: record.error.cause, chunkIndex: 2 },
      chunks: { done: 30, inFlight: 0, failed: 1, pending: 9 },
      rows: { accepted: 15_000, rejected: 2, done: 15_002 },
      percent: 75,
      etaSeconds: null,
      reportUrl: null,
      // The rows rejected before the failure, as the record keeps them.
      rejectedSample: record.rejectedSample,
    });
    expect(sfn.commandCalls(DescribeMapRunCommand)).toHaveLength(0);
  });

  it("failed, the record not written yet: the execution's own error and its cause parsed, not raw JSON", async () => {
    sfn.on(DescribeExecutionCommand).resolves(
      execution("FAILED", {
        stopDate: new Date(1_060_000),
        error: "WorkbookEncrypted",
        cause: JSON.stringify({
          errorType: "WorkbookEncrypted",
          errorMessage: "The workbook is password-protected",
          trace: ["WorkbookEncrypted: The workbook is password-protected", "    at convert (index.js:1:1)"],
        }),
      }),
    );
    s3.on(GetObjectCommand).rejects(noSuchKey());
    expect((await admin(() => 2_000_000).uploadStatus(UPLOAD_ID)).failure).toEqual({
      code: "WorkbookEncrypted",
      message: "The workbook is password-protected",
      chunkIndex: null,
    });
    sfn.on(DescribeExecutionCommand).resolves(
      execution("FAILED", {
        error: "",
        cause: JSON.stringify({ message: "the orders table is locked", code: "DB_LOCKED", chunkIndex: 3 }),
      }),
    );
    expect((await admin(() => 2_000_000).uploadStatus(UPLOAD_ID)).failure).toEqual({
      code: "DB_LOCKED",
      message: "the orders table is locked",
      chunkIndex: 3,
    });
  });

  it("failed, the record not written yet: a plain-text cause as it is", async () => {
    sfn.on(DescribeExecutionCommand).resolves(
      execution("TIMED_OUT", {
        stopDate: new Date(1_060_000),
        error: "States.Timeout",
        cause: "took too long",
      }),
    );
    s3.on(GetObjectCommand).rejects(noSuchKey());
    const status = await admin(() => 2_000_000).uploadStatus(UPLOAD_ID);
    expect(status).toMatchObject({
      stage: "failed",
      failure: { code: "States.Timeout", message: "took too long", chunkIndex: null },
    });
  });

  it("no execution yet but the form's object is there: waiting (the tenant's folder); neither: UPLOAD_NOT_FOUND", async () => {
    sfn.on(DescribeExecutionCommand).rejects(named("ExecutionDoesNotExist"));
    s3.on(ListObjectsV2Command, { Prefix: `uploads/forms/acme/${UPLOAD_ID}.` }).resolves({
      Contents: [{ Key: `uploads/forms/acme/${UPLOAD_ID}.xlsx`, LastModified: new Date(5_000) }],
    });
    s3.on(ListObjectsV2Command, { Prefix: `uploads/forms/${UPLOAD_ID}.` }).resolves({ Contents: [] });
    const status = await admin(() => 9_000).uploadStatus(UPLOAD_ID, { tenant: "acme" });
    expect(status).toMatchObject({
      stage: "waiting",
      executionStatus: null,
      key: `uploads/forms/acme/${UPLOAD_ID}.xlsx`,
      totals: null,
      percent: null,
    });
    const error = (await admin(() => 9_000)
      .uploadStatus(UPLOAD_ID)
      .catch((e: unknown) => e)) as SluiceAdminError;
    expect(error.code).toBe("UPLOAD_NOT_FOUND");
  });

  it("refuses an id that cannot be an execution name before any call", async () => {
    for (const id of ["", "Orders", "a:b", "../x", "a".repeat(81)]) {
      const error = (await admin(Date.now)
        .uploadStatus(id)
        .catch((e: unknown) => e)) as SluiceAdminError;
      expect(error.code, id).toBe("INVALID_OPTION");
    }
    expect(sfn.calls()).toHaveLength(0);
  });
});

describe("uploadStatus: caching below Step Functions' limits", () => {
  it("100 concurrent requests for one upload inside the TTL: one DescribeExecution, one Map Run lookup", async () => {
    running();
    const time = clock();
    const sluice = admin(time.now);
    const answers = await Promise.all(Array.from({ length: 100 }, () => sluice.uploadStatus(UPLOAD_ID)));
    expect(new Set(answers.map((a) => a.percent))).toEqual(new Set([25]));
    time.advance(1_999);
    await sluice.uploadStatus(UPLOAD_ID);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(1);
    expect(sfn.commandCalls(DescribeMapRunCommand)).toHaveLength(1);
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(1);
  });

  it("after the TTL it asks again; the manifest and the Map Run's ARN are read once for good", async () => {
    running();
    const time = clock();
    const sluice = admin(time.now);
    for (let i = 0; i < 5; i++) {
      await sluice.uploadStatus(UPLOAD_ID);
      time.advance(2_000);
    }
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(5);
    expect(sfn.commandCalls(DescribeMapRunCommand)).toHaveLength(5);
    expect(sfn.commandCalls(ListMapRunsCommand)).toHaveLength(1);
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(1);
  });

  it("keeps a finished upload longer than a running one", async () => {
    sfn.on(DescribeExecutionCommand).resolves(execution("SUCCEEDED", { stopDate: new Date(1_090_000) }));
    s3.on(GetObjectCommand).rejects(noSuchKey());
    const time = clock();
    const sluice = admin(time.now);
    await sluice.uploadStatus(UPLOAD_ID);
    time.advance(29_000);
    await sluice.uploadStatus(UPLOAD_ID);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(1);
    time.advance(1_000);
    await sluice.uploadStatus(UPLOAD_ID);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(2);
  });

  it("keeps a failed upload only briefly until its failure record is complete, then as long as any ended one", async () => {
    sfn.on(DescribeExecutionCommand).resolves(
      execution("FAILED", {
        stopDate: new Date(1_060_000),
        error: "States.ExceedToleratedFailureThreshold",
        cause: "The specified tolerated failure threshold was exceeded",
      }),
    );
    s3.on(GetObjectCommand).rejects(noSuchKey());
    const time = clock();
    const sluice = admin(time.now);
    const early = await sluice.uploadStatus(UPLOAD_ID);
    expect(early.failure?.code).toBe("States.ExceedToleratedFailureThreshold");
    expect(early.settled).toBe(false);
    // NotifyFailure writes the record (before its large read), then completes it with the progress.
    const record: FailureRecord = {
      v: CONTRACT_VERSION,
      kind: "upload-failure",
      uploadId: UPLOAD_ID,
      executionArn: EXECUTION,
      status: "FAILED",
      redriveCount: 0,
      source: { bucket: BUCKET, key: "uploads/orders.xlsx" },
      processed: { bucket: BUCKET, prefix: `processed/${UPLOAD_ID}/` },
      error: { code: "DUPLICATE_ORDER", cause: "ORD-1200 was already imported" },
      failedChunk: { index: 2, firstRow: 1002, lastRow: 1501, rows: 500 },
      failedAt: "2026-03-01T00:05:00.000Z",
    };
    s3.on(GetObjectCommand, { Key: `processed/${UPLOAD_ID}/failure.json` }).resolves(body(record));
    time.advance(2_000);
    const recorded = await sluice.uploadStatus(UPLOAD_ID);
    expect(recorded.failure?.code).toBe("DUPLICATE_ORDER");
    expect(recorded.settled).toBe(false);
    const sample = [{ chunkIndex: 0, row: 7, code: "UNKNOWN_CUSTOMER", message: "no customer C-9" }];
    s3.on(GetObjectCommand, { Key: `processed/${UPLOAD_ID}/failure.json` }).resolves(
      body({ ...record, progress: { accepted: 999, rejected: 1 }, rejectedSample: sample }),
    );
    time.advance(2_000);
    const complete = await sluice.uploadStatus(UPLOAD_ID);
    expect(complete.rejectedSample).toEqual(sample);
    expect(complete.settled).toBe(true);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(3);
    // Complete: kept as long as a finished upload.
    time.advance(29_000);
    await sluice.uploadStatus(UPLOAD_ID);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(3);
  });

  it("a redrive through the admin forgets the cached answer", async () => {
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce(execution("FAILED", { stopDate: new Date(1_060_000) }))
      .resolves(execution("RUNNING", { redriveCount: 1 }));
    sfn.on(RedriveExecutionCommand).resolves({ redriveDate: new Date(1_070_000) });
    s3.on(GetObjectCommand).rejects(noSuchKey());
    const time = clock();
    const sluice = admin(time.now);
    expect((await sluice.uploadStatus(UPLOAD_ID)).stage).toBe("failed");
    expect(await sluice.redrive(UPLOAD_ID)).toEqual({
      uploadId: UPLOAD_ID,
      redriveDate: new Date(1_070_000).toISOString(),
    });
    expect(sfn.commandCalls(RedriveExecutionCommand)[0]!.args[0].input).toEqual({ executionArn: EXECUTION });
    time.advance(10);
    expect(await sluice.uploadStatus(UPLOAD_ID)).toMatchObject({ stage: "converting", redriveCount: 1 });
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(2);
  });

  it("a page polling 50 running uploads every 2 s for a minute stays within the admin's own budgets", async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `orders-${String(i).padStart(12, "0")}`);
    running(UPLOAD_ID);
    s3.on(GetObjectCommand).callsFake(({ Key }: { Key: string }) => body(manifest(Key.split("/")[1])));
    sfn
      .on(DescribeExecutionCommand)
      .callsFake(({ executionArn }: { executionArn: string }) =>
        execution("RUNNING", {}, executionArn.split(":").pop()!),
      );
    const time = clock();
    const sluice = admin(time.now);
    const seconds = 60;
    for (let t = 0; t < seconds; t += 2) {
      const answers = await Promise.all(ids.map((id) => sluice.uploadStatus(id)));
      // Every answer has the Map Run's counts: fresh, or the last ones while the upload waits for its turn.
      for (const answer of answers) expect(answer.chunks.done, answer.uploadId).toBe(10);
      time.advance(2_000);
    }
    const allowed = (api: keyof typeof SFN_BUDGETS) =>
      SFN_BUDGETS[api].capacity + SFN_BUDGETS[api].refillPerSecond * seconds;
    const calls = (command: Parameters<typeof sfn.commandCalls>[0]) => sfn.commandCalls(command).length;
    // Without the budgets: 50 uploads x 30 polls = 1,500 of each.
    expect(calls(DescribeExecutionCommand)).toBeLessThanOrEqual(allowed("DescribeExecution"));
    expect(calls(DescribeMapRunCommand)).toBeLessThanOrEqual(allowed("DescribeMapRun"));
    expect(calls(ListMapRunsCommand)).toBe(ids.length);
    // And past the first minute's burst, at most the budget's refill: half AWS's lowest.
    const before = calls(DescribeMapRunCommand);
    const describedBefore = calls(DescribeExecutionCommand);
    // 50 uploads share 0.5 DescribeMapRun a second: each gets its turn about every 100 s.
    const window = 150;
    for (let t = 0; t < window; t += 2) {
      await Promise.all(ids.map((id) => sluice.uploadStatus(id)));
      time.advance(2_000);
    }
    expect(calls(DescribeMapRunCommand) - before).toBeLessThanOrEqual(
      window * SFN_BUDGETS.DescribeMapRun.refillPerSecond + 1,
    );
    expect(calls(DescribeMapRunCommand) - before).toBeGreaterThanOrEqual(ids.length);
    expect(calls(DescribeExecutionCommand) - describedBefore).toBeLessThanOrEqual(
      window * SFN_BUDGETS.DescribeExecution.refillPerSecond + 1,
    );
  });

  it("holds at most maxEntries uploads (least recently used out first)", async () => {
    sfn
      .on(DescribeExecutionCommand)
      .callsFake(({ executionArn }: { executionArn: string }) =>
        execution("SUCCEEDED", {}, executionArn.split(":").pop()!),
      );
    s3.on(GetObjectCommand).rejects(noSuchKey());
    const sluice = admin(() => 1_000, { maxEntries: 2 });
    for (const id of ["a-1", "b-2", "a-1", "c-3", "a-1", "b-2"]) await sluice.uploadStatus(id);
    // a-1 stays (used last but one each time); b-2 was forgotten for c-3 and is read again.
    expect(
      sfn.commandCalls(DescribeExecutionCommand).map((c) => c.args[0].input.executionArn!.split(":").pop()),
    ).toEqual(["a-1", "b-2", "c-3", "b-2"]);
  });
});

describe("redrive", () => {
  it.each([
    ["ExecutionNotRedrivable", "UPLOAD_NOT_REDRIVABLE"],
    ["ExecutionDoesNotExist", "UPLOAD_NOT_FOUND"],
  ])("%s is %s", async (name, code) => {
    sfn.on(RedriveExecutionCommand).rejects(named(name));
    const error = (await admin(Date.now)
      .redrive(UPLOAD_ID)
      .catch((e: unknown) => e)) as SluiceAdminError;
    expect(error).toMatchObject({ name: "SluiceAdminError", code });
    expect((error.cause as Error).name).toBe(name);
  });

  it("passes any other error as it is", async () => {
    sfn.on(RedriveExecutionCommand).rejects(named("ThrottlingException"));
    await expect(admin(Date.now).redrive(UPLOAD_ID)).rejects.toMatchObject({ name: "ThrottlingException" });
  });
});

describe("listUploads", () => {
  const item = (name: string, status: string, startDate: number) => ({
    executionArn: `${EXECUTION.replace(UPLOAD_ID, name)}`,
    stateMachineArn: STATE_MACHINE,
    name,
    status: status as "RUNNING",
    startDate: new Date(startDate),
    ...(status === "RUNNING" ? {} : { stopDate: new Date(startDate + 1_000) }),
    redriveCount: 0,
  });

  it("pages newest first, stops at `since`, and gives each failed upload its failure record", async () => {
    sfn
      .on(ListExecutionsCommand, { nextToken: undefined })
      .resolves({
        executions: [item("c-3", "RUNNING", 300_000), item("b-2", "FAILED", 200_000)],
        nextToken: "p2",
      })
      .on(ListExecutionsCommand, { nextToken: "p2" })
      .resolves({
        executions: [item("a-1", "SUCCEEDED", 100_000), item("z-0", "SUCCEEDED", 10_000)],
        nextToken: "p3",
      });
    s3.on(GetObjectCommand, { Key: "processed/c-3/manifest.json" }).rejects(noSuchKey());
    s3.on(GetObjectCommand, { Key: "processed/b-2/failure.json" }).resolves(
      body({
        v: CONTRACT_VERSION,
        kind: "upload-failure",
        uploadId: "b-2",
        executionArn: EXECUTION.replace(UPLOAD_ID, "b-2"),
        status: "FAILED",
        redriveCount: 0,
        source: { bucket: BUCKET, key: "uploads/b.xlsx" },
        error: { code: "CHUNK_REJECTED", cause: "no such customer" },
        failedChunk: { index: 7, firstRow: 3502, lastRow: 4001, rows: 500 },
        failedAt: "2026-03-01T00:00:00.000Z",
      } satisfies FailureRecord),
    );
    const sluice = admin(() => 400_000);
    const list = await sluice.listUploads({ since: new Date(60_000) });
    expect(list).toEqual([
      {
        uploadId: "c-3",
        executionStatus: "RUNNING",
        stage: "converting",
        startedAt: new Date(300_000).toISOString(),
        stoppedAt: null,
        failure: null,
      },
      {
        uploadId: "b-2",
        executionStatus: "FAILED",
        stage: "failed",
        startedAt: new Date(200_000).toISOString(),
        stoppedAt: new Date(201_000).toISOString(),
        failure: { code: "CHUNK_REJECTED", message: "no such customer", chunkIndex: 7 },
      },
      {
        uploadId: "a-1",
        executionStatus: "SUCCEEDED",
        stage: "succeeded",
        startedAt: new Date(100_000).toISOString(),
        stoppedAt: new Date(101_000).toISOString(),
        failure: null,
      },
    ]);
    expect(sfn.commandCalls(ListExecutionsCommand).map((c) => c.args[0].input)).toEqual([
      { stateMachineArn: STATE_MACHINE, maxResults: 50, nextToken: undefined },
      { stateMachineArn: STATE_MACHINE, maxResults: 48, nextToken: "p2" },
    ]);
    // Cached briefly: the same question again asks nothing.
    await sluice.listUploads({ since: new Date(60_500) });
    expect(sfn.commandCalls(ListExecutionsCommand)).toHaveLength(2);
  });

  it("filters by status and stops at the limit", async () => {
    sfn.on(ListExecutionsCommand).resolves({
      executions: [item("b-2", "FAILED", 200_000), item("a-1", "FAILED", 100_000)],
      nextToken: "more",
    });
    s3.on(GetObjectCommand).rejects(noSuchKey());
    const list = await admin(() => 400_000).listUploads({ status: "FAILED", limit: 2 });
    expect(list.map((i) => [i.uploadId, i.failure?.code])).toEqual([
      ["b-2", "FAILED"],
      ["a-1", "FAILED"],
    ]);
    expect(sfn.commandCalls(ListExecutionsCommand).map((c) => c.args[0].input)).toEqual([
      { stateMachineArn: STATE_MACHINE, statusFilter: "FAILED", maxResults: 2, nextToken: undefined },
    ]);
  });

  it("refuses a limit outside 1..1000 and an unknown status", async () => {
    for (const query of [{ limit: 0 }, { limit: 1001 }, { status: "DONE" as "RUNNING" }])
      await expect(admin(Date.now).listUploads(query)).rejects.toMatchObject({ code: "INVALID_OPTION" });
  });
});
