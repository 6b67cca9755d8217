import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { SluiceAdminOptions } from "@sluice/admin";
import {
  consume,
  ordersCsv,
  runtimeWith,
  stopAfterTest,
  useRuntimeCleanup,
} from "@sluice/test-support/runtime-harness";
import { describe, expect, it } from "vitest";
import { expressAdminApp } from "../src/examples/express-routes.js";
import { fastifyAdminApp } from "../src/examples/fastify-routes.ts";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const example = (name: string) => readFileSync(new URL(`../src/examples/${name}`, import.meta.url), "utf8");

useRuntimeCleanup();

describe("README route snippets", () => {
  it("are src/examples/fastify-routes.ts and express-routes.js, verbatim", () => {
    expect(readme).toContain(`\`\`\`ts\n${example("fastify-routes.ts")}\`\`\``);
    expect(readme).toContain(`\`\`\`js\n${example("express-routes.js")}\`\`\``);
  });

  /** Starts the app on a loopback port; returns its base URL. */
  const servers = {
    fastify: async (options: SluiceAdminOptions) => {
      const app = fastifyAdminApp(options);
      stopAfterTest(() => app.close());
      return app.listen({ host: "127.0.0.1", port: 0 });
    },
    express: async (options: SluiceAdminOptions) => {
      const server = expressAdminApp(options).listen(0, "127.0.0.1");
      await new Promise((resolve) => server.once("listening", resolve));
      stopAfterTest(() => new Promise((resolve) => server.close(resolve)));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
  };

  it.each(Object.keys(servers) as (keyof typeof servers)[])(
    "%s: form, PUT straight to the bucket, status, list, redrive, and the refusals as HTTP statuses",
    async (name) => {
      const runtime = await runtimeWith();
      consume(runtime, async (chunk) => ({ accepted: chunk.rows.length, rejected: [] }));
      const s3 = runtime.s3Client();
      const sfn = runtime.sfnClient();
      stopAfterTest(async () => {
        s3.destroy();
        sfn.destroy();
      });
      const base = await servers[name]({
        s3,
        sfn,
        bucket: runtime.bucket,
        stateMachineArn: runtime.stateMachineArn,
      });
      const call = async (method: string, path: string, body?: unknown) => {
        const response = await fetch(`${base}${path}`, {
          method,
          ...(body === undefined
            ? {}
            : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
        });
        return { status: response.status, body: (await response.json()) as Record<string, unknown> };
      };

      const file = ordersCsv(5, "id,quantity");
      const form = await call("POST", "/uploads", {
        fileName: "주문.csv",
        size: file.length,
        contentType: "text/csv",
      });
      expect(form.status).toBe(200);
      const { url, method, headers, uploadId } = form.body as {
        url: string;
        method: string;
        headers: Record<string, string>;
        uploadId: string;
      };
      expect((await fetch(url, { method, headers, body: new Uint8Array(file) })).status).toBe(200);
      // Waiting for the S3 event, or already converting (the runtime starts the workflow from the PUT's event).
      const status = await call("GET", `/uploads/${uploadId}`);
      expect(status).toMatchObject({ status: 200, body: { uploadId } });
      expect(["waiting", "converting", "delivering"]).toContain(status.body.stage);

      const done = await runtime.upload(file, "orders.csv");
      await runtime.waitForExecution(done.executionArn);
      const list = await call("GET", "/uploads");
      expect(list.status).toBe(200);
      expect(list.body).toContainEqual(
        expect.objectContaining({ uploadId: done.uploadId, stage: "succeeded" }),
      );
      expect((await call("GET", "/uploads?status=FAILED")).body).toEqual([]);

      // A refusal answers `{ error, code }`, as the example admin server does: a message for people, the code.
      const refusal = (status: number, code: string) => ({
        status,
        body: { error: expect.stringMatching(/\S/), code },
      });
      expect(await call("POST", `/uploads/${done.uploadId}/redrive`)).toEqual(
        refusal(409, "UPLOAD_NOT_REDRIVABLE"),
      );
      expect(await call("GET", "/uploads/no-such-upload")).toEqual(refusal(404, "UPLOAD_NOT_FOUND"));
      expect(await call("POST", "/uploads", { fileName: "big.xlsx", size: 60 * 1024 * 1024 })).toEqual(
        refusal(413, "UPLOAD_TOO_LARGE"),
      );
      expect(await call("POST", "/uploads", { fileName: "orders.pdf", size: 10 })).toEqual(
        refusal(415, "UPLOAD_TYPE_NOT_ALLOWED"),
      );
      expect(await call("POST", "/uploads", { fileName: "orders.csv", size: 0 })).toEqual(
        refusal(400, "INVALID_OPTION"),
      );
    },
  );
});
