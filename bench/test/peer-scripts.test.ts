import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { peerScript } from "../peer-scripts.ts";

const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ORDERS_XLSX = path.resolve(BENCH_DIR, "../packages/core/test/fixtures/libreoffice/orders.xlsx");
// Inside the repository, as the benchmark's own are: a built peer finds its library in node_modules from there.
mkdirSync(path.join(BENCH_DIR, ".data"), { recursive: true });
const out = mkdtempSync(path.join(BENCH_DIR, ".data", "test-peers-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Runs a built peer on bare node (no loader), as run-bench.ts does, and reads its last line of JSON. */
function runPeer(script: string, ...args: string[]): Record<string, unknown> {
  const stdout = execFileSync(process.execPath, [script, ...args], { encoding: "utf8" });
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

describe("peerScript", () => {
  it("makes the floor a script bare node runs: it inflates the sheet part and echoes the row count", () => {
    const script = peerScript(BENCH_DIR, "inflate-sheet", out);
    const result = runPeer(script, ORDERS_XLSX, "3");
    expect(result.rows).toBe(3);
    expect(result.inflatedBytes).toBeGreaterThan(0);
  });

  it("leaves a peer's library to node_modules: papaparse parses a csv from the built script", () => {
    const csv = path.join(out, "rows.csv");
    writeFileSync(csv, 'id,name\n1,"a, b"\n2,c\n');
    const script = peerScript(BENCH_DIR, "papaparse", out);
    expect(runPeer(script, csv)).toMatchObject({ rows: 2 });
  });
});
