import { LocalRuntime } from "@sluice/runtime";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type AdminServer, startAdminServer } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { type PostgresHandle, startPostgres } from "../src/embedded-postgres.ts";
import { localRuntimeEnv } from "../src/local-runtime-env.ts";
import { ApiError, uploadsApi } from "../web/api.ts";

/**
 * The upload routes of the real admin server (in this process, configured from the environment the local
 * runtime gives it), called through the page's own API client: signed forms, refusals with their codes and
 * statuses, the pages and their scripts.
 */

const MAX_BYTES = 1024 * 1024;
const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

let postgres: PostgresHandle;
let runtime: LocalRuntime;
let server: AdminServer;
let api: ReturnType<typeof uploadsApi>;

beforeAll(async () => {
  postgres = await startPostgres();
  runtime = await LocalRuntime.start({ outDir: "/tmp/sluice-admin-server-test-out", retryIntervalMs: 50 });
  const env = localRuntimeEnv(runtime, postgres.url, { UPLOAD_MAX_BYTES: String(MAX_BYTES) });
  // The SDK reads credentials from the environment, as in the deployed process.
  vi.stubEnv("AWS_ACCESS_KEY_ID", env.AWS_ACCESS_KEY_ID);
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", env.AWS_SECRET_ACCESS_KEY);
  server = await startAdminServer(loadConfig(env));
  api = uploadsApi((url, init) => fetch(url, init), server.url);
});
afterAll(async () => {
  await server?.stop(2_000);
  await runtime?.stop();
  await postgres?.stop();
  vi.unstubAllEnvs();
});

async function refusal(call: Promise<unknown>): Promise<ApiError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

async function raw(path: string, init: RequestInit = {}) {
  const response = await fetch(`${server.url}${path}`, init);
  return { status: response.status, body: (await response.json()) as { code?: string; error?: string } };
}

describe("the upload routes", () => {
  it("sign a form for the file the browser names, and never see its bytes", async () => {
    const form = await api.createForm({ fileName: "주문 목록 11월.xlsx", size: 4096, contentType: XLSX });
    expect(form.method).toBe("PUT");
    expect(form.uploadId).toMatch(/^upload-[0-9a-f]{12}$|^11-[0-9a-f]{12}$/);
    expect(form.key).toBe(`uploads/forms/${form.uploadId}.xlsx`);
    expect(form.maxBytes).toBe(MAX_BYTES);
    expect(form.headers).toMatchObject({
      "content-type": XLSX,
      "if-none-match": "*",
      "x-amz-meta-original-name": encodeURIComponent("주문 목록 11월.xlsx"),
    });
    expect(form.headers).not.toHaveProperty("content-length");
    const url = new URL(form.url);
    expect(url.origin).toBe(runtime.emulator.endpoint);
    expect(url.pathname).toBe(`/${runtime.bucket}/${form.key}`);
    const signed = url.searchParams.get("X-Amz-SignedHeaders")!.split(";");
    expect(signed).toEqual(
      expect.arrayContaining([
        "content-length",
        "content-type",
        "host",
        "if-none-match",
        "x-amz-meta-original-name",
      ]),
    );
  });

  it("refuse a file over the limit (413) and one that is not xlsx or csv (415) before signing anything", async () => {
    const tooLarge = await refusal(
      api.createForm({ fileName: "orders.xlsx", size: MAX_BYTES + 1, contentType: XLSX }),
    );
    expect([tooLarge.status, tooLarge.code]).toEqual([413, "UPLOAD_TOO_LARGE"]);
    for (const [fileName, contentType] of [
      ["orders.ods", "application/vnd.oasis.opendocument.spreadsheet"],
      ["notes.txt", "text/plain"],
      ["orders.xlsx", "text/plain"],
    ] as const) {
      const wrongType = await refusal(api.createForm({ fileName, size: 100, contentType }));
      expect([wrongType.status, wrongType.code], fileName).toEqual([415, "UPLOAD_TYPE_NOT_ALLOWED"]);
      expect(wrongType.message).not.toBe("");
    }
    const empty = await refusal(api.createForm({ fileName: "orders.csv", size: 0, contentType: "text/csv" }));
    expect([empty.status, empty.code]).toEqual([400, "INVALID_OPTION"]);
  });

  it("refuse malformed, oversized and non-JSON bodies and wrong methods", async () => {
    const post = (body: string, type = "application/json") =>
      raw("/uploads/form", { method: "POST", headers: { "content-type": type }, body });
    expect(await post("{")).toEqual({
      status: 400,
      body: expect.objectContaining({ code: "INVALID_OPTION" }),
    });
    expect(await post(JSON.stringify({ fileName: "a.csv" }))).toMatchObject({
      status: 400,
      body: { code: "INVALID_OPTION" },
    });
    expect(await post(JSON.stringify({ fileName: "a.csv", size: 1, path: "../x" }))).toMatchObject({
      status: 400,
    });
    expect(await post("fileName=a.csv&size=1", "application/x-www-form-urlencoded")).toMatchObject({
      status: 415,
      body: { code: "INVALID_OPTION" },
    });
    expect(await post(JSON.stringify({ fileName: "a".repeat(20_000), size: 1 }))).toMatchObject({
      status: 413,
      body: { code: "INVALID_OPTION" },
    });
    expect((await raw("/uploads/form")).status).toBe(405);
    expect((await raw("/uploads/some-upload/redrive")).status).toBe(405);
  });

  it("answer an unknown upload with UPLOAD_NOT_FOUND and a bad list query with INVALID_OPTION", async () => {
    const missing = await refusal(api.status("no-such-upload-000000000000"));
    expect([missing.status, missing.code]).toEqual([404, "UPLOAD_NOT_FOUND"]);
    expect(await raw("/uploads/..%2Fetc")).toMatchObject({ status: 404, body: { code: "UPLOAD_NOT_FOUND" } });
    const redrive = await refusal(api.redrive("no-such-upload-000000000000"));
    expect([redrive.status, redrive.code]).toEqual([404, "UPLOAD_NOT_FOUND"]);
    expect(await raw("/uploads?status=DONE")).toMatchObject({
      status: 400,
      body: { code: "INVALID_OPTION" },
    });
    expect(await raw("/uploads?since=yesterday")).toMatchObject({
      status: 400,
      body: { code: "INVALID_OPTION" },
    });
    expect(await api.list({ status: "FAILED" })).toEqual([]);
  });

  it("a file PUT with the form is an upload the status route follows", async () => {
    const csv = Buffer.from("Order ID,Quantity\nORD-1,1\n");
    const form = await api.createForm({ fileName: "tiny.csv", size: csv.length, contentType: "text/csv" });
    const put = await fetch(form.url, { method: "PUT", headers: form.headers, body: csv });
    expect(put.status, await put.text()).toBe(200);
    const status = await api.status(form.uploadId);
    expect(status).toMatchObject({ uploadId: form.uploadId, key: form.key });
    expect(["waiting", "converting", "delivering", "succeeded", "failed"]).toContain(status.stage);
  });

  it("serve the upload page, the operators' view and their scripts", async () => {
    const page = await fetch(`${server.url}/`);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).toContain(`data-max-bytes="${MAX_BYTES}"`);
    expect(html).toContain('data-accept=".xlsx,.csv"');
    expect(html).toContain('<script type="module" src="/assets/upload-page.js">');
    expect(await (await fetch(`${server.url}/operators`)).text()).toContain("/assets/operators-page.js");
    for (const asset of ["upload-page.js", "operators-page.js"]) {
      const script = await fetch(`${server.url}/assets/${asset}`);
      expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
      expect((await script.text()).length).toBeGreaterThan(1000);
    }
    expect((await fetch(`${server.url}/assets/page.css`)).headers.get("content-type")).toBe(
      "text/css; charset=utf-8",
    );
    expect((await fetch(`${server.url}/assets/nothing.js`)).status).toBe(404);
  });
});
