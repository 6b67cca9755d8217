import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * docs/aws-semantics.md names, for each AWS behaviour, the test that holds the local runtime to it as
 * `file › test title` (a bare file name is under packages/runtime/test/; `…` repeats the file before). Each named
 * test must exist, so the table cannot point at tests that were renamed or deleted.
 */
async function references(): Promise<{ file: string; title: string }[]> {
  const doc = await readFile(join(root, "docs/aws-semantics.md"), "utf8");
  const found: { file: string; title: string }[] = [];
  let file = "";
  for (const [, cell] of doc.matchAll(/`([^`\n]+ › [^`\n]+)`/g)) {
    const [name, ...rest] = cell!.split(" › ");
    const title = rest.join(" › ");
    if (name !== "…") file = name!.includes("/") ? name! : `packages/runtime/test/${name}`;
    found.push({ file, title });
  }
  return found;
}

/** An it.each title with `%s` placeholders: the literal parts must appear in the file, in order. */
function titlePattern(title: string): string[] {
  return title.split(/%s/);
}

describe("docs/aws-semantics.md", () => {
  it("names tests that exist", async () => {
    const refs = await references();
    expect(refs.length).toBeGreaterThan(30);
    const missing: string[] = [];
    for (const { file, title } of refs) {
      const source = await readFile(join(root, file), "utf8").catch(() => "");
      // it.each titles are written with %s in the source; the doc shows them expanded.
      const literal = source.includes(JSON.stringify(title).slice(1, -1));
      const templated = [...source.matchAll(/"([^"\n]*%s[^"\n]*)"/g)].some(([, template]) => {
        const parts = titlePattern(template!);
        let at = 0;
        return parts.every((part) => {
          const index = title.indexOf(part, at);
          if (index < 0) return false;
          at = index + part.length;
          return true;
        });
      });
      if (!literal && !templated) missing.push(`${file} › ${title}`);
    }
    expect(missing).toEqual([]);
  });
});
