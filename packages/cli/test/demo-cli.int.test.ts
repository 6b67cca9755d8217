import { spawnSync } from "node:child_process";
import { access, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { strictEnv } from "./support/cli-process.ts";

const BIN = new URL("../bin/sluice.js", import.meta.url).pathname;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-demo-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function demo(...args: string[]) {
  const env = strictEnv();
  delete env.SLACK_WEBHOOK_URL;
  const result = spawnSync(process.execPath, [BIN, "demo", ...args, "--out", dir], { encoding: "utf8", env });
  const lines = result.stdout.trim().split("\n");
  return { code: result.status, lines, summary: JSON.parse(lines.at(-1) ?? "null"), stderr: result.stderr };
}

describe("sluice demo (npm start)", () => {
  it("runs the bundled 20,000-order example end to end and ends with a JSON summary", () => {
    const { code, summary, lines, stderr } = demo();
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(summary).toMatchObject({
      status: "SUCCEEDED",
      rows: 20_000,
      accepted: 20_000,
      rejected: 0,
      // The stage default: 10,000-row chunks.
      chunks: 2,
    });
    expect(summary.uploadId).toMatch(/^orders-[0-9a-f]{12}$/);
    expect(lines.some((l) => l.startsWith("converted: 20,000 rows in 2 chunks"))).toBe(true);
    expect(summary.transitions).toBeGreaterThan(0);
    expect(summary.estimatedCostUsd).toBeGreaterThan(0);
  });

  it("shows the failure branch with --fail: rejected rows, a refused chunk, the failure record and the saved alert", async () => {
    const { code, summary, lines } = demo("--fail");
    expect(code).toBe(0);
    // 2,000 rows in 500-row chunks: the third chunk (index 2, rows 1,002-1,501) holds an order id twice.
    expect(summary).toMatchObject({ status: "FAILED", rows: 2_000, chunks: 4 });
    expect(summary.rejected).toBeGreaterThan(0);
    expect(summary.accepted).toBeGreaterThan(0);
    expect(typeof summary.transitions).toBe("number");
    expect(summary.transitions).toBeGreaterThan(0);
    expect(typeof summary.estimatedCostUsd).toBe("number");
    expect(summary.estimatedCostUsd).toBeGreaterThan(0);

    const location = `failure record: s3://sluice-uploads/processed/${summary.uploadId}/failure.json`;
    expect(lines).toContain(location);
    const recordLine = lines.find((l) => l.startsWith("failure record: {"));
    const record = JSON.parse(recordLine!.slice("failure record: ".length));
    expect(record).toMatchObject({
      kind: "upload-failure",
      uploadId: summary.uploadId,
      status: "FAILED",
      redriveCount: 0,
      error: { code: "DUPLICATE_ORDER" },
      failedChunk: { index: 2, firstRow: 1002, lastRow: 1501, rows: 500 },
      source: { key: "uploads/orders-with-errors.xlsx" },
    });
    expect(record.error.cause).toMatch(/already imported/);
    // Some chunks succeeded first, with rejected rows.
    expect(record.chunks.succeeded).toBeGreaterThan(0);
    expect(record.progress.rejected).toBeGreaterThan(0);
    expect(lines.some((l) => l.startsWith("dead-letter record"))).toBe(false);

    // No webhook: the Slack messages are saved under --out/<uploadId>/ (the alert, then a follow-up with the
    // rejected rows); the alert names the error code.
    const saved = lines.find((l) => l.startsWith("Slack alert (no webhook set): saved to "))!;
    await access(saved.slice("Slack alert (no webhook set): saved to ".length));
    const uploadDir = join(dir, summary.uploadId);
    const messages = await Promise.all(
      (await readdir(uploadDir))
        .filter((name) => name.startsWith("slack") && name.endsWith(".json"))
        .map(async (name) => JSON.parse(await readFile(join(uploadDir, name), "utf8"))),
    );
    const alert = messages.find((message) => message.text.includes("DUPLICATE_ORDER"));
    expect(alert, `no saved Slack alert names DUPLICATE_ORDER: ${JSON.stringify(messages)}`).toBeDefined();
    expect(alert.blocks.length).toBeGreaterThan(2);
    expect(
      lines.some((l) => /^in AWS this upload would cost about \$\d+\.\d{4} \(\d+ state transitions;/.test(l)),
    ).toBe(true);
  });
});
