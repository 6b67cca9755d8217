import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = new URL("../bin/sluice.js", import.meta.url).pathname;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-demo-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function demo(...args: string[]) {
  const env = { ...process.env };
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
      chunks: 40,
    });
    expect(summary.uploadId).toMatch(/^orders-[0-9a-f]{12}$/);
    expect(lines.some((l) => l.startsWith("converted: 20,000 rows in 40 chunks"))).toBe(true);
  });

  it("shows the failure branch with --fail: rejected rows, a refused chunk, the DLQ record and the saved alert", async () => {
    const { code, summary, lines } = demo("--fail");
    expect(code).toBe(0);
    expect(summary).toMatchObject({ status: "FAILED", rows: 2_000 });
    expect(summary.rejected).toBeGreaterThan(0);
    const record = lines.find((l) => l.startsWith("dead-letter record: "));
    expect(JSON.parse(record!.slice("dead-letter record: ".length))).toMatchObject({
      kind: "upload-failure",
      chunkIndex: 2,
      error: { code: "DUPLICATE_ORDER" },
    });
    const saved = lines.find((l) => l.startsWith("Slack alert (no webhook set): saved to "))!;
    const alert = JSON.parse(
      await readFile(saved.slice("Slack alert (no webhook set): saved to ".length), "utf8"),
    );
    expect(alert.text).toContain("DUPLICATE_ORDER");
    expect(alert.blocks.length).toBeGreaterThan(2);
  });
});
