import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runOneUpload } from "../src/examples/one-upload.ts";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const example = readFileSync(new URL("../src/examples/one-upload.ts", import.meta.url), "utf8");

describe("README usage snippet", () => {
  it("is src/examples/one-upload.ts, verbatim (which tsc checks)", () => {
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
  });

  it("runs an upload to SUCCEEDED", async () => {
    const csv = Buffer.from(
      `sku,qty\n${Array.from({ length: 1200 }, (_, i) => `S-${i},${i % 9}`).join("\n")}\n`,
    );
    const execution = await runOneUpload(csv, "stock.csv");
    expect(execution.status).toBe("SUCCEEDED");
    expect(execution.output).toMatchObject({ rows: 1200, chunks: 3, accepted: 1200, rejected: 0 });
  });
});
