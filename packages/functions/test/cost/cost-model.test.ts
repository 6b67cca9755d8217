import { DEFAULT_CHUNK_BOUNDS } from "@sluice/contract";
import { describe, expect, it } from "vitest";
import {
  estimateCost,
  estimateUploadUsage,
  PREVIOUS_WORKFLOW_TRANSITIONS,
  transitionsOf,
  type Usage,
  WORKFLOW_TRANSITIONS,
} from "../../src/cost/cost-model.ts";
import { PRICES, PRICES_READ_ON } from "../../src/cost/prices.ts";

const MiB = 1024 * 1024;
const ROWS = 1_000_000;
/** A 12-column orders sheet: about 300 bytes a row in chunks.jsonl. */
const BYTES_PER_ROW = 300;

const usage = (overrides: Partial<Usage> = {}): Usage => ({
  transitions: 0,
  sqsRequests: 0,
  lambdaGbSeconds: 0,
  lambdaRequests: 0,
  s3Get: 0,
  s3Put: 0,
  ...overrides,
});

describe("cost model", () => {
  it("prices each item at its list price and adds them up", () => {
    const estimate = estimateCost(
      usage({
        transitions: 1000,
        sqsRequests: 1_000_000,
        lambdaGbSeconds: 100,
        lambdaRequests: 1_000_000,
        s3Get: 1000,
        s3Put: 1000,
      }),
    );
    expect(Object.fromEntries(estimate.lines.map((l) => [l.item, l.usd]))).toEqual({
      transitions: 0.025,
      sqsRequests: 0.4,
      lambdaGbSeconds: 0.00133334,
      lambdaRequests: 0.2,
      s3Get: 0.0004,
      s3Put: 0.005,
    });
    expect(estimate.usd).toBeCloseTo(0.025 + 0.4 + 0.00133334 + 0.2 + 0.0004 + 0.005, 6);
    expect(estimate).toMatchObject({ region: "us-east-1", pricesReadOn: PRICES_READ_ON });
    expect(estimate.lines.every((l) => l.source.startsWith("https://aws.amazon.com/"))).toBe(true);
  });

  it("names the pricing page, where each figure was read and when", () => {
    for (const price of Object.values(PRICES)) {
      expect(price.source).toMatch(/^https:\/\/aws\.amazon\.com\/(step-functions|sqs|lambda|s3)\/pricing\/$/);
      expect(price.readFrom.length).toBeGreaterThan(10);
      expect(price.readOn).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
    expect(PRICES.sqsRequest.readFrom).toContain("third party");
  });

  it("models a successful upload: 5 parent transitions and 2 per child run", () => {
    expect(WORKFLOW_TRANSITIONS).toEqual({ parent: 5, perChunk: 2 });
    const u = estimateUploadUsage({ chunks: 4, chunksBytes: 12 * MiB, convertMs: 2000, summarizeMs: 1000 });
    expect(u.transitions).toBe(13);
    // Per chunk: SendMessage, ReceiveMessage, DeleteMessage, one ChangeMessageVisibility (a 2 KiB message).
    expect(u.sqsRequests).toBe(16);
    // Source reads (4), the ItemReader's GET, one ranged GET per chunk, the ResultWriter's manifest and file,
    // summarize's reads of items.jsonl and manifest.json.
    expect(u.s3Get).toBe(4 + 1 + 4 + 2 + 2);
    // chunks.jsonl in 3 parts (+ create and complete), items.jsonl, manifest.json, the ResultWriter's 2, summary.
    expect(u.s3Put).toBe(5 + 1 + 1 + 2 + 1);
    expect(u.lambdaRequests).toBe(3);
    // Start 0.3 s at 1 GB, convert 2 s at 1 GB, summarize 1 s at 0.5 GB.
    expect(u.lambdaGbSeconds).toBeCloseTo(0.3 + 2 + 0.5, 9);
    // A message over 64 KiB is billed as more than one request.
    const big = estimateUploadUsage({
      chunks: 1,
      chunksBytes: 1,
      convertMs: 1,
      summarizeMs: 1,
      messageBytes: 200 * 1024,
    });
    expect(big.sqsRequests).toBe(4 + 4 + 1 + 1);
  });

  it("models an upload with no chunks: the parent's 5 transitions and no delivery", () => {
    const u = estimateUploadUsage({ chunks: 0, chunksBytes: 0, convertMs: 100, summarizeMs: 50 });
    // Source reads and summarize's read of manifest.json.
    expect(u).toMatchObject({ transitions: 5, sqsRequests: 0, s3Get: 4 + 1, s3Put: 1 + 1 + 1 + 1 });
  });

  it("puts a 1M-row upload at the default chunk size (100 chunks) below one cent", () => {
    const chunks = Math.ceil(ROWS / DEFAULT_CHUNK_BOUNDS.rows);
    expect(chunks).toBe(100);
    const u = estimateUploadUsage({
      chunks,
      chunksBytes: ROWS * BYTES_PER_ROW,
      convertMs: 90_000,
      summarizeMs: 5_000,
    });
    expect(u.transitions).toBe(205);
    const estimate = estimateCost(u);
    expect(estimate.usd).toBeLessThan(0.01);
    const line = (item: keyof Usage) => estimate.lines.find((l) => l.item === item)!;
    expect(line("transitions").usd).toBeCloseTo(0.005125, 9);
    // Transitions are the largest item; convert's 90 GB-s the next.
    expect(line("lambdaGbSeconds").usd).toBeCloseTo((0.3 + 90 + 2.5) * 0.0000133334, 9);
    expect(line("sqsRequests").usd).toBeCloseTo(400 * 0.0000004, 12);
  });

  it("computes the previous design's figures for comparison: 2,000 chunks of 500 rows", () => {
    expect(PREVIOUS_WORKFLOW_TRANSITIONS).toEqual({ parent: 6, perChunk: 2, perFailedChunk: 2 });
    const chunks = ROWS / 500;
    const success = transitionsOf(PREVIOUS_WORKFLOW_TRANSITIONS, chunks);
    expect(success).toBe(4006);
    // The Catch and Pass states of a chunk ran only when it failed.
    expect(transitionsOf(PREVIOUS_WORKFLOW_TRANSITIONS, chunks, 3)).toBe(4012);
    const previous = estimateCost(usage({ transitions: success }));
    const current = estimateCost(usage({ transitions: transitionsOf(WORKFLOW_TRANSITIONS, 100) }));
    expect(previous.usd).toBeCloseTo(0.10015, 6);
    expect(current.usd).toBeCloseTo(0.005125, 6);
    expect(previous.usd / current.usd).toBeGreaterThan(19);
    // And the rows travelled in the messages: ~200 KiB each, four SQS billing units to send and to receive.
    const oldSqs = estimateUploadUsage({
      chunks,
      chunksBytes: ROWS * BYTES_PER_ROW,
      convertMs: 90_000,
      summarizeMs: 5_000,
      messageBytes: 200 * 1024,
      visibilityChangesPerChunk: 0,
    }).sqsRequests;
    expect(oldSqs).toBe(chunks * (4 + 4 + 1));
  });
});
