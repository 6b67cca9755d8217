// The `sluice` command as an installed package: `npm pack` of the CLI and the workspaces it depends on, installed
// together into an empty project with --omit=dev and no aws-cdk-lib, then its bin run with plain node.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  installScratchProject,
  type PackedWorkspace,
  packWorkspaces,
  requireRegistry,
} from "@sluice/test-support/pack-workspaces";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { strictEnv } from "./support/cli-process.ts";

/** The CLI and every workspace it depends on at run time (npm resolves their exact versions among the tarballs). */
const WORKSPACES = ["cli", "runtime", "functions", "core", "contract", "workflow", "consumer", "admin"].map(
  (name) => `packages/${name}`,
);
const CDK = ["aws-cdk-lib", "constructs", "sst"];
const SLOW = 300_000;

let packDir: string;
let project: string;
let packed: Map<string, PackedWorkspace>;
/** What npm put in node_modules that the test had to remove (expected: nothing). */
const removed: string[] = [];

beforeAll(async () => {
  packDir = await mkdtemp(join(tmpdir(), "sluice-cli-pack-"));
  project = await mkdtemp(join(tmpdir(), "sluice-cli-user-"));
  await requireRegistry("cli-progress@3.12.0");
  packed = await packWorkspaces(WORKSPACES, packDir);
  await installScratchProject(
    project,
    [...packed.values()].map((p) => p.tarball),
    { omitDev: true },
  );
  for (const name of CDK) {
    const dir = join(project, "node_modules", name);
    if (existsSync(dir)) {
      removed.push(name);
      await rm(dir, { recursive: true, force: true });
    }
  }
}, 2 * SLOW);

afterAll(async () => {
  await Promise.all([packDir, project].map((dir) => dir && rm(dir, { recursive: true, force: true })));
});

/** The installed bin, run with plain node (no tsx, no loaders) in the scratch project. */
function sluice(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      !/^(AWS_(?!SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED$)|NODE_OPTIONS$|NODE_PATH$|SLACK_|SLUICE_)/.test(
        key,
      )
    ) {
      env[key] = value;
    }
  }
  const bin = join(project, "node_modules/.bin/sluice");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: project, env: strictEnv(env) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function lastJson(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "null");
}

/** Orders in a csv, `rows` data rows. */
function ordersCsv(rows: number): string {
  return `order_id,customer,quantity\n${Array.from({ length: rows }, (_, i) => `ORD-${i + 1},C${i + 1},${(i % 5) + 1}`).join("\n")}\n`;
}

describe("the installed sluice CLI, without aws-cdk-lib", () => {
  it("ships its bundle and bin, not its sources or tests", () => {
    const cli = packed.get("@sluice/cli")!;
    expect(cli.files).toContain("bin/sluice.js");
    expect(cli.files).toContain("dist/cli.mjs");
    expect(cli.files.filter((f) => /^(src|test)\//.test(f) || f === "dist/sources.json")).toEqual([]);
    expect([...packed.keys()].sort()).toEqual(
      WORKSPACES.map((w) => `@sluice/${w.slice("packages/".length)}`).sort(),
    );
  });

  it("has no CDK in the project: npm brought none, and none can be resolved from it", () => {
    expect(removed).toEqual([]);
    const resolve = createRequire(join(project, "package.json")).resolve;
    for (const name of CDK) expect(() => resolve(name)).toThrow(/Cannot find module/);
    // The installed CLI has no sources beside its bin: it can only run its bundle.
    expect(existsSync(join(project, "node_modules/@sluice/cli/src"))).toBe(false);
  });

  it(
    "sluice convert: converts a csv and prints its JSON summary",
    async () => {
      await writeFile(join(project, "orders.csv"), ordersCsv(30));
      const { code, stdout, stderr } = await sluice(
        "convert",
        "orders.csv",
        "--out",
        "out/convert",
        "--chunk-rows",
        "10",
      );
      expect(stderr).toBe("");
      expect(code).toBe(0);
      expect(lastJson(stdout)).toMatchObject({
        rows: 30,
        chunks: 3,
        format: "csv",
        header: ["order_id", "customer", "quantity"],
        out: "out/convert",
      });
      const manifest = JSON.parse(await readFile(join(project, "out/convert/manifest.json"), "utf8"));
      expect(manifest).toMatchObject({ totalRows: 30, totalChunks: 3, format: "csv" });
      const chunks = (await readFile(join(project, "out/convert/chunks.jsonl"), "utf8")).trim().split("\n");
      expect(chunks).toHaveLength(3);
    },
    SLOW,
  );

  it(
    "sluice demo <csv>: the whole upload on the local runtime, SUCCEEDED",
    async () => {
      await writeFile(join(project, "demo.csv"), ordersCsv(30));
      const { code, stdout, stderr } = await sluice(
        "demo",
        "demo.csv",
        "--chunk-rows",
        "10",
        "--out",
        "out/demo",
      );
      expect(code, stderr).toBe(0);
      expect(stderr).toBe("");
      const summary = lastJson(stdout);
      expect(summary).toMatchObject({ status: "SUCCEEDED", rows: 30, chunks: 3 });
      // Every row answered by the demo admin server (which rejects rows that are not its orders sheet's).
      expect((summary.accepted as number) + (summary.rejected as number)).toBe(30);
      expect(summary.uploadId).toMatch(/^demo-[0-9a-f]{12}$/);
    },
    SLOW,
  );
});
