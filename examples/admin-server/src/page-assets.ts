/**
 * The upload page and the operators' view: two small HTML shells and their scripts, bundled from web/*.tsx with
 * esbuild when the server starts (in memory, a few hundred milliseconds; nothing built is committed) and served
 * from memory. Each shell carries the settings the page needs as data attributes.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { UPLOAD_FORM_CONTENT_TYPES } from "@sluice/contract";
import { build } from "esbuild";

const WEB_DIR = fileURLToPath(new URL("../web/", import.meta.url));

export interface PageAsset {
  body: Buffer;
  contentType: string;
}

export interface PageAssets {
  /** `/assets/<name>`: a bundled script or the stylesheet. */
  asset(name: string): PageAsset | undefined;
  uploadPage(settings: PageSettings): PageAsset;
  operatorsPage(): PageAsset;
}

export interface PageSettings {
  maxBytes: number;
}

/** The file types a form takes, for the file picker's `accept` (the route checks them again before signing). */
export const ACCEPTED_EXTENSIONS = Object.keys(UPLOAD_FORM_CONTENT_TYPES).map((ext) => `.${ext}`);

export async function buildPageAssets(): Promise<PageAssets> {
  const result = await build({
    entryPoints: {
      "upload-page": `${WEB_DIR}upload-page.tsx`,
      "operators-page": `${WEB_DIR}operators-page.tsx`,
    },
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    jsx: "automatic",
    jsxImportSource: "preact",
    minify: true,
    legalComments: "none",
    outdir: "/assets",
    logLevel: "silent",
  });
  const assets = new Map<string, PageAsset>();
  for (const file of result.outputFiles) {
    const name = file.path.slice(file.path.lastIndexOf("/") + 1);
    assets.set(name, { body: Buffer.from(file.contents), contentType: "text/javascript; charset=utf-8" });
  }
  assets.set("page.css", {
    body: await readFile(`${WEB_DIR}page.css`),
    contentType: "text/css; charset=utf-8",
  });
  return {
    asset: (name) => assets.get(name),
    uploadPage: ({ maxBytes }) =>
      html({
        title: "Upload a workbook",
        script: "upload-page.js",
        data: { "max-bytes": String(maxBytes), accept: ACCEPTED_EXTENSIONS.join(",") },
      }),
    operatorsPage: () => html({ title: "Uploads (operators)", script: "operators-page.js", data: {} }),
  };
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function html(page: { title: string; script: string; data: Record<string, string> }): PageAsset {
  const data = Object.entries(page.data)
    .map(([name, value]) => ` data-${name}="${escapeHtml(value)}"`)
    .join("");
  const body = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(page.title)}</title>
<link rel="stylesheet" href="/assets/page.css">
<script type="module" src="/assets/${page.script}"></script>
</head>
<body>
<div id="app"${data}><noscript>This page needs JavaScript.</noscript></div>
</body>
</html>
`;
  return { body: Buffer.from(body), contentType: "text/html; charset=utf-8" };
}
