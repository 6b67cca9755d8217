import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type Chunk, ChunkSchema, CONTRACT_VERSION, ERROR_CODES, TaskResultSchema } from "@sluice/contract";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";

/**
 * packages/contract/README.md: its error-code table is ERROR_CODES rendered, and its usage snippet type-checks
 * (with the repository's compiler options) and runs.
 */

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const protocol = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");

/** The rows of the table under "## Error codes": code, area, retryable, meaning. */
function errorTable(): { code: string; area: string; retryable: boolean; meaning: string }[] {
  const section = readme.split("\n## Error codes\n")[1]?.split("\n## ")[0] ?? "";
  const rows = [...section.matchAll(/^\| `([A-Z0-9_]+)` \| ([a-z]+) \| (yes|no) \| (.+) \|$/gm)];
  return rows.map((m) => ({ code: m[1]!, area: m[2]!, retryable: m[3] === "yes", meaning: m[4]! }));
}

function render(): string {
  return Object.entries(ERROR_CODES)
    .map(([code, e]) => `| \`${code}\` | ${e.area} | ${e.retryable ? "yes" : "no"} | ${e.meaning} |`)
    .join("\n");
}

describe("packages/contract/README.md", () => {
  it("lists every code of ERROR_CODES once, in table order, with its area, retryability and meaning", () => {
    const rows = errorTable();
    const expected = Object.entries(ERROR_CODES).map(([code, e]) => ({
      code,
      area: e.area,
      retryable: e.retryable,
      meaning: e.meaning,
    }));
    expect(rows, `the table should read:\n${render()}`).toEqual(expected);
  });

  it("lists no code twice and nothing else in the table", () => {
    const section = readme.split("\n## Error codes\n")[1]?.split("\n## ")[0] ?? "";
    const tableLines = section.split("\n").filter((line) => line.startsWith("| `"));
    expect(tableLines).toHaveLength(Object.keys(ERROR_CODES).length);
    expect(section).toContain(render());
  });

  describe("usage snippet", () => {
    const snippet = readme.split("\n## Usage\n")[1]?.match(/```ts\n([\s\S]*?)```/)?.[1];
    const directory = mkdtempSync(join(tmpdir(), "sluice-contract-readme-"));
    afterAll(() => rmSync(directory, { recursive: true, force: true }));

    /** The worked example of docs/protocol.md: a message body and its chunk's line. */
    function example(name: string): string {
      const block = protocol.match(
        new RegExp(`<!-- example: ${name} -->\\n\`\`\`json\\n([\\s\\S]*?)\\n\`\`\``),
      );
      if (!block) throw new Error(`docs/protocol.md has no example ${name}`);
      return block[1]!;
    }

    it("imports only @sluice/contract", () => {
      expect(snippet).toBeDefined();
      const imports = [...snippet!.matchAll(/from "([^"]+)"/g)].map((m) => m[1]);
      expect(imports).toEqual(["@sluice/contract"]);
    });

    /** The snippet as an ES module file outside the repository; `@sluice/contract` resolves as in the repo. */
    function snippetFile(): string {
      const file = join(directory, "snippet.mts");
      writeFileSync(file, snippet!);
      return file;
    }

    it("type-checks with the repository's compiler options", () => {
      const root = fileURLToPath(new URL("../../../", import.meta.url));
      const config = ts.readConfigFile(join(root, "tsconfig.json"), ts.sys.readFile);
      const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
      const program = ts.createProgram([snippetFile()], {
        ...options,
        noEmit: true,
        typeRoots: [join(root, "node_modules/@types")],
      });
      const problems = ts
        .getPreEmitDiagnostics(program)
        .map((d) => `${d.file?.fileName ?? ""}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
      expect(problems).toEqual([]);
    });

    it("runs: answers the worked example of docs/protocol.md with a valid TaskResult", async () => {
      const file = snippetFile();
      const { taskOutputFor } = (await import(pathToFileURL(file).href)) as {
        taskOutputFor: (body: string, chunk: Chunk) => string;
      };
      const chunk = ChunkSchema.parse(JSON.parse(example("chunk-line")));
      const result = TaskResultSchema.parse(JSON.parse(taskOutputFor(example("chunk-message"), chunk)));
      // Row 9 of the example has no sku.
      expect(result).toEqual({
        v: CONTRACT_VERSION,
        uploadId: chunk.uploadId,
        chunkIndex: chunk.index,
        accepted: 3,
        rejected: { reasons: [{ code: "SKU_MISSING", message: "The sku column is empty" }], rows: [[9, 0]] },
      });
      expect(() => taskOutputFor("{}", chunk)).toThrow();
    });
  });
});
