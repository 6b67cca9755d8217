import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { FORM_UPLOADS_PREFIX, REJECTED_ROWS_XLSX, UPLOAD_FORM_CONTENT_TYPES } from "@sluice/contract";
import { LocalRuntime } from "@sluice/runtime";
import pg from "pg";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type PostgresHandle, startPostgres } from "../src/embedded-postgres.ts";
import { AdminProcess, adminEnv } from "./support/admin-process.ts";

/**
 * The upload page in a real browser (headless Chromium through playwright-core) on the local runtime: the page
 * asks the admin server (a child process, configured by environment) for a signed form, PUTs the workbook straight
 * to the emulator's S3 (CORS for the page's origin, the signature checked), follows the import, and the orders land
 * in PostgreSQL. Screenshots of each end state go to examples/admin-server/test-output/.
 */

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const OUTPUT = fileURLToPath(new URL("../test-output/", import.meta.url));
const ORDERS = join(ROOT, "examples/orders.xlsx");
const ORDERS_WITH_ERRORS = join(ROOT, "examples/orders-with-errors.xlsx");
const MAX_BYTES = 4 * 1024 * 1024;
/** Flags without which Chromium waits on network services this closed machine does not have. */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let postgres: PostgresHandle;
let db: pg.Pool;
let runtime: LocalRuntime;
let browser: BrowserContext;
let profileDir: string;
let origin: string;
let port: number;
const admins: AdminProcess[] = [];

/** A port nothing listens on now: the admin server's origin must be known before the runtime starts (CORS). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  // A bare CI machine has no browser yet: Debian's chromium package (apt-get, as root).
  const executablePath = execFileSync(process.execPath, [join(ROOT, "scripts/ensure-chromium.mjs")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
  await mkdir(OUTPUT, { recursive: true });
  postgres = await startPostgres();
  db = new pg.Pool({ connectionString: postgres.url, max: 2 });
  db.on("error", () => undefined);
  port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  runtime = await LocalRuntime.start({
    corsOrigins: [origin],
    // The failure example's 2,000 rows in 4 chunks, two at a time: some chunks succeed before one is refused.
    config: { chunkRows: 500, maxConcurrency: 2 },
    retryIntervalMs: 50,
    outDir: "/tmp/sluice-admin-server-test-out",
  });
  profileDir = await mkdtemp(join(tmpdir(), "sluice-chromium-"));
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1100, height: 900 },
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (profileDir) await rm(profileDir, { recursive: true, force: true });
  await runtime?.stop();
  await db?.end();
  await postgres?.stop();
});

afterEach(async () => {
  while (admins.length) await admins.pop()!.stop("SIGKILL");
});

/** The admin server on the page's origin; `extra` adds settings (the refuse knob). */
async function startAdmin(extra: Record<string, string> = {}): Promise<AdminProcess> {
  const admin = AdminProcess.start(
    adminEnv(runtime, postgres.url, {
      PORT: String(port),
      UPLOAD_MAX_BYTES: String(MAX_BYTES),
      CONSUMER_CONCURRENCY: "2",
      HEARTBEAT_SECONDS: "1",
      VISIBILITY_TIMEOUT_SECONDS: "3",
      ...extra,
    }),
  );
  admins.push(admin);
  await admin.url();
  return admin;
}

async function stopAdmin(admin: AdminProcess) {
  expect(await admin.stop("SIGTERM")).toEqual({ code: 0, signal: null });
  admins.splice(admins.indexOf(admin), 1);
}

async function newPage(width = 1100): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewportSize({ width, height: 900 });
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  (page as Page & { problems: string[] }).problems = problems;
  return page;
}

const problemsOf = (page: Page) => (page as Page & { problems: string[] }).problems;

async function scalar(sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select (${sql})::int as n`, params);
  return rows[0]!.n;
}

async function formObjects(): Promise<string[]> {
  const s3 = runtime.s3Client();
  try {
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: runtime.bucket, Prefix: FORM_UPLOADS_PREFIX }),
    );
    return (listed.Contents ?? []).map((o) => o.Key!);
  } finally {
    s3.destroy();
  }
}

/** Picks the file through the page's labelled file input, as a person would. */
async function pick(page: Page, file: string | { name: string; mimeType: string; buffer: Buffer }) {
  await page.getByLabel(/Excel \(\.xlsx\) or CSV file/).setInputFiles(file);
}

/**
 * Runs in the page (a string: this file is checked as Node code): records each value the transfer bar takes and
 * each stage the page names, into window.seen.
 */
const RECORD_PROGRESS = `(() => {
  const seen = { percents: [], stages: [] };
  window.seen = seen;
  new MutationObserver(() => {
    const value = document.getElementById("upload-progress")?.getAttribute("value");
    if (value && seen.percents.at(-1) !== value) seen.percents.push(value);
    const stage = document.getElementById("stage")?.textContent;
    if (stage && seen.stages.at(-1) !== stage) seen.stages.push(stage);
  }).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
})()`;

/** Runs in the page: drops a text file on the drop zone, as a drag from the desktop does. */
const DROP_TEXT_FILE = `(() => {
  const data = new DataTransfer();
  data.items.add(new File(["Order ID\\nORD-1\\n"], "dropped.txt", { type: "text/plain" }));
  const zone = document.querySelector(".drop-zone");
  for (const type of ["dragover", "drop"])
    zone.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
})()`;

const uploadIdOf = (page: Page) => new URL(page.url()).searchParams.get("upload")!;

describe("the upload page in Chromium", () => {
  it("uploads examples/orders.xlsx straight to S3, shows the import live, and the orders land in PostgreSQL", async () => {
    await startAdmin();
    const page = await newPage();
    await page.goto(`${origin}/`);
    await expect.poll(() => page.locator("#workbook").isEnabled()).toBe(true);
    // Record what the page shows while it works: the transfer bar's values and the import's stages.
    // Record what the page shows while it works: the transfer bar's values and the import's stages.
    await page.evaluate(RECORD_PROGRESS);

    await pick(page, ORDERS);
    const bar = page.getByRole("progressbar", { name: "File sent" });
    await expect.poll(() => bar.getAttribute("value"), { timeout: 60_000 }).toBe("100");
    expect(await bar.getAttribute("aria-valuetext")).toBe("100 %");
    expect(await page.locator("#upload-percent").textContent()).toBe("100 %");

    const result = page.locator("#result");
    await result.waitFor({ timeout: 120_000 });
    expect(await result.getAttribute("data-stage")).toBe("succeeded");
    const uploadId = uploadIdOf(page);
    expect(uploadId).toMatch(/^orders-[0-9a-f]{12}$/);

    // The numbers on the page are the database's.
    const accepted = await scalar("select count(*) from orders where upload_id = $1", [uploadId]);
    const rejected = await scalar(
      "select coalesce(sum(jsonb_array_length(rejected)), 0) from imported_chunks where upload_id = $1",
      [uploadId],
    );
    expect(accepted + rejected).toBe(20_000);
    expect(accepted).toBeGreaterThan(19_000);
    expect(await page.locator("#summary").textContent()).toBe(
      `20,000 rows: ${accepted.toLocaleString("en")} imported, ${rejected.toLocaleString("en")} rejected.`,
    );
    expect(await result.textContent()).toContain("orders.xlsx");
    // Every row once: the orders' source rows are distinct, and the ledger has the converter's chunks.
    expect(
      await scalar("select count(distinct source_row) from orders where upload_id = $1", [uploadId]),
    ).toBe(accepted);

    const seen = (await page.evaluate("window.seen")) as { percents: string[]; stages: string[] };
    expect(seen.percents.at(-1)).toBe("100");
    expect(seen.percents.map(Number)).toEqual([...seen.percents.map(Number)].sort((a, b) => a - b));
    expect(seen.stages.length).toBeGreaterThan(0);
    // The workbook went to the bucket under the key the form chose; the admin server only signed.
    expect(await formObjects()).toContain(`${FORM_UPLOADS_PREFIX}${uploadId}.xlsx`);
    expect(problemsOf(page)).toEqual([]);
    await page.screenshot({ path: join(OUTPUT, "upload-succeeded.png"), fullPage: true });

    // A phone's width: nothing wider than the screen.
    await page.setViewportSize({ width: 375, height: 800 });
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(375);
    await page.screenshot({ path: join(OUTPUT, "upload-succeeded-375.png"), fullPage: true });
    await page.close();
  }, 240_000);

  it("refuses a file over the limit and a type it does not take before signing, and S3 refuses a tampered PUT", async () => {
    await startAdmin();
    const page = await newPage();
    await page.goto(`${origin}/`);
    const before = await formObjects();

    await pick(page, {
      name: "big-orders.xlsx",
      mimeType: UPLOAD_FORM_CONTENT_TYPES.xlsx,
      buffer: Buffer.alloc(MAX_BYTES + 1),
    });
    const refused = page.locator("#refused");
    await refused.waitFor();
    expect(await refused.textContent()).toContain("UPLOAD_TOO_LARGE");
    expect(await refused.textContent()).toContain("big-orders.xlsx was not accepted");
    await page.screenshot({ path: join(OUTPUT, "upload-refused-too-large.png"), fullPage: true });

    for (const [name, mimeType] of [
      ["orders.ods", "application/vnd.oasis.opendocument.spreadsheet"],
      ["notes.txt", "text/plain"],
    ] as const) {
      await pick(page, { name, mimeType, buffer: Buffer.from("Order ID\nORD-1\n") });
      await expect.poll(() => refused.textContent()).toContain(`${name} was not accepted`);
      expect(await refused.textContent()).toContain("UPLOAD_TYPE_NOT_ALLOWED");
    }
    // Dropped on the page instead of picked: the same refusal.
    await page.evaluate(DROP_TEXT_FILE);
    await expect.poll(() => refused.textContent()).toContain("dropped.txt was not accepted");
    await page.screenshot({ path: join(OUTPUT, "upload-refused-type.png"), fullPage: true });
    // Keyboard: the file picker is the first thing after the two page links.
    await page.goto(`${origin}/`);
    await page.locator("#workbook").waitFor();
    for (let i = 0; i < 3; i++) await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement && document.activeElement.id")).toBe("workbook");
    // Nothing was signed, so nothing was written.
    expect(await formObjects()).toEqual(before);

    // The emulator checks the signed PUT as S3 does: from the page's origin, a body of another size or a changed
    // signed header is refused; the form as signed is accepted, once.
    const answers = await page.evaluate(async () => {
      const body = "Order ID,Quantity\nORD-1,1\n";
      const form = (await (
        await fetch("/uploads/form", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ fileName: "tampered.csv", size: body.length, contentType: "text/csv" }),
        })
      ).json()) as { url: string; headers: Record<string, string> };
      const put = async (headers: Record<string, string>, data: string) => {
        const response = await fetch(form.url, { method: "PUT", headers, body: data });
        return { status: response.status, text: await response.text() };
      };
      return {
        longer: await put(form.headers, `${body}ORD-2,5\n`),
        renamed: await put({ ...form.headers, "x-amz-meta-original-name": "evil.csv" }, body),
        retyped: await put({ ...form.headers, "content-type": "text/plain" }, body),
        signed: await put(form.headers, body),
        again: await put(form.headers, body),
      };
    });
    for (const tampered of [answers.longer, answers.renamed, answers.retyped]) {
      expect(tampered.status, tampered.text).toBe(403);
      expect(tampered.text).toContain("SignatureDoesNotMatch");
    }
    expect(answers.signed.status, answers.signed.text).toBe(200);
    // If-None-Match: * is signed: the key is written once.
    expect(answers.again.status, answers.again.text).toBe(412);
    expect(problemsOf(page).filter((p) => !/Failed to load resource/.test(p))).toEqual([]);
    await page.close();
  }, 120_000);

  it("a failed upload shows its failure and the rows rejected before it; after the cause is fixed, Redrive in the operators' view finishes it", async () => {
    // The server creates its tables when it starts (this test may run alone). The failure example reuses
    // orders.xlsx's order ids: start from an empty table so its rows are its own.
    const refusing = await startAdmin({ IMPORT_REFUSE_CHUNK: "2" });
    await db.query("truncate orders, imported_chunks");
    const page = await newPage();
    await page.goto(`${origin}/`);
    await pick(page, ORDERS_WITH_ERRORS);
    const result = page.locator("#result");
    await result.waitFor({ timeout: 120_000 });
    expect(await result.getAttribute("data-stage")).toBe("failed");
    const uploadId = uploadIdOf(page);
    // The failure record arrives a moment after the execution failed, and is completed with what was answered
    // before the failure a moment later: the page keeps asking until the outcome is settled, and shows it.
    await expect
      .poll(async () => page.locator("#failure").textContent(), { timeout: 30_000, interval: 500 })
      .toMatch(/IMPORT_REFUSED in chunk 2[\s\S]*Before it stopped/);
    const failure = await page.locator("#failure").textContent();
    expect(failure).toContain("IMPORT_REFUSE_CHUNK");
    // Rows rejected before the failure are counted, with the report to download.
    expect(failure).toMatch(/Before it stopped: [\d,]+ rows imported, [1-9][\d,]* rejected/);
    expect(await page.locator("#report-link").getAttribute("href")).toContain(REJECTED_ROWS_XLSX);
    // ...and the first of them are on the page, with their reasons, before anyone redrives: the database's first.
    const rejectedBefore = page.getByRole("table", {
      name: /^First rejected rows before the import stopped/,
    });
    expect(await rejectedBefore.isVisible()).toBe(true);
    const firstBefore = await db.query<{ row: number; code: string }>(
      `select (r->>'row')::int as row, r->>'code' as code
         from imported_chunks, jsonb_array_elements(rejected) r
        where upload_id = $1 order by (r->>'row')::int limit 1`,
      [uploadId],
    );
    expect(firstBefore.rows).toHaveLength(1);
    const cellsBefore = await rejectedBefore.locator("tbody tr").first().locator("td").allTextContents();
    expect(cellsBefore.slice(0, 2)).toEqual([String(firstBefore.rows[0]!.row), firstBefore.rows[0]!.code]);
    expect(cellsBefore[2]).not.toBe("");
    // The runtime's Step Functions has no console: no link to one.
    expect(await page.locator("#console-link").count()).toBe(0);
    expect(
      await scalar("select count(*) from orders where upload_id = $1 and source_row between 1002 and 1501", [
        uploadId,
      ]),
    ).toBe(0);
    await page.screenshot({ path: join(OUTPUT, "upload-failed.png"), fullPage: true });

    // The cause is fixed: the server restarts without the knob, and an operator redrives the upload.
    await stopAdmin(refusing);
    await startAdmin();
    await page.goto(`${origin}/operators`);
    const row = page.locator(`tr[data-upload-id="${uploadId}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain("FAILED");
    expect(await row.textContent()).toContain("IMPORT_REFUSED in chunk 2");
    await page.screenshot({ path: join(OUTPUT, "operators-failed.png"), fullPage: true });
    // By keyboard: the Redrive button takes focus and Enter presses it.
    await page.getByRole("button", { name: `Redrive ${uploadId}` }).focus();
    await page.keyboard.press("Enter");
    await expect
      .poll(() => page.locator("#operator-message").textContent())
      .toContain(`Redrive of ${uploadId} started`);
    await expect.poll(() => row.locator(".status").textContent(), { timeout: 120_000 }).toBe("SUCCEEDED");
    expect(await row.getByRole("button").count()).toBe(0);
    await page.screenshot({ path: join(OUTPUT, "operators-redriven.png"), fullPage: true });
    await page.setViewportSize({ width: 375, height: 800 });
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(375);
    await page.screenshot({ path: join(OUTPUT, "operators-redriven-375.png"), fullPage: true });
    await page.setViewportSize({ width: 1100, height: 900 });

    // The upload page now shows the finished import with its first rejected rows and the report.
    await page.goto(`${origin}/?upload=${uploadId}`);
    await result.waitFor({ timeout: 30_000 });
    expect(await result.getAttribute("data-stage")).toBe("succeeded");
    const accepted = await scalar("select count(*) from orders where upload_id = $1", [uploadId]);
    const rejected = await scalar(
      "select coalesce(sum(jsonb_array_length(rejected)), 0) from imported_chunks where upload_id = $1",
      [uploadId],
    );
    expect(accepted + rejected).toBe(2_000);
    expect(rejected).toBeGreaterThan(0);
    expect(
      await scalar("select count(distinct source_row) from orders where upload_id = $1", [uploadId]),
    ).toBe(accepted);
    expect(await page.locator("#summary").textContent()).toBe(
      `2,000 rows: ${accepted.toLocaleString("en")} imported, ${rejected.toLocaleString("en")} rejected.`,
    );
    const table = page.getByRole("table", { name: /^First rejected rows/ });
    const firstRejected = await db.query<{ row: number; code: string }>(
      `select (r->>'row')::int as row, r->>'code' as code
         from imported_chunks, jsonb_array_elements(rejected) r
        where upload_id = $1 order by (r->>'row')::int limit 1`,
      [uploadId],
    );
    const cells = await table.locator("tbody tr").first().locator("td").allTextContents();
    expect(cells.slice(0, 2)).toEqual([String(firstRejected.rows[0]!.row), firstRejected.rows[0]!.code]);
    expect(cells[2]).not.toBe("");
    expect(await page.locator("#report-link").isVisible()).toBe(true);
    expect(problemsOf(page).filter((p) => !/Failed to load resource/.test(p))).toEqual([]);
    await page.screenshot({ path: join(OUTPUT, "upload-redriven.png"), fullPage: true });
    await page.close();
  }, 300_000);
});
