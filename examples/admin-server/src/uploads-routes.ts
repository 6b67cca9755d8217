/**
 * The routes behind the upload page and the operators' view. The workbook never passes through here: the browser
 * asks for a signed form (a few hundred bytes of JSON), PUTs the file straight to S3 with it, then follows the
 * upload's status. Every answer is JSON; a refusal carries its code from sluice's ERROR_CODES.
 *
 *   GET  /                          the upload page          GET /operators   the operators' view
 *   GET  /assets/<name>             the pages' scripts and stylesheet
 *   POST /uploads/form              {fileName, size, contentType} -> the signed form (UploadForm)
 *   GET  /uploads/<id>              the upload's live status (UploadStatusView)
 *   GET  /uploads?since=&status=&limit=   recent uploads (operators)
 *   POST /uploads/<id>/redrive      run a failed upload's unfinished chunks again (operators)
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type SluiceAdmin, SluiceAdminError, type SluiceAdminErrorCode } from "@sluice/admin";
import { UPLOAD_ID_PATTERN } from "@sluice/contract";
import { z } from "zod";
import { HttpError, readJsonBody, send } from "./http-json.ts";
import type { PageAssets } from "./page-assets.ts";

export interface UploadRoutesOptions {
  admin: Pick<SluiceAdmin, "createUploadForm" | "uploadStatus" | "listUploads" | "redrive">;
  pages: PageAssets;
  /** The largest file a form is signed for. */
  maxBytes: number;
  /** This server's tenant (its forms' keys and status lookups). */
  tenant?: string | undefined;
}

/** How each typed refusal of the admin helpers answers over HTTP (every code they raise has its status). */
const STATUS_OF: Record<SluiceAdminErrorCode, number> = {
  INVALID_OPTION: 400,
  UPLOAD_NOT_FOUND: 404,
  UPLOAD_NOT_REDRIVABLE: 409,
  UPLOAD_TOO_LARGE: 413,
  UPLOAD_TYPE_NOT_ALLOWED: 415,
};

const FormRequestSchema = z.strictObject({
  fileName: z.string().min(1).max(1024),
  size: z.number().int().nonnegative(),
  contentType: z.string().max(255).optional(),
});

const LIST_STATUSES = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"] as const;
const MAX_LIST_LIMIT = 100;

/** Answers the request if it is one of these routes (true), else leaves it to the caller (false). */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

export function createUploadRoutes(options: UploadRoutesOptions): RouteHandler {
  const { admin, pages } = options;
  const tenant = options.tenant === undefined ? {} : { tenant: options.tenant };

  return async (req, res, url) => {
    const path = url.pathname;
    const method = req.method ?? "GET";

    if (path === "/" || path === "/operators") {
      allow(method, ["GET", "HEAD"]);
      const page = path === "/" ? pages.uploadPage({ maxBytes: options.maxBytes }) : pages.operatorsPage();
      sendBytes(res, page.body, page.contentType, "no-cache");
      return true;
    }
    const asset = /^\/assets\/([a-z0-9-]+\.(?:js|css))$/.exec(path);
    if (asset) {
      allow(method, ["GET", "HEAD"]);
      const found = pages.asset(asset[1]!);
      if (!found) throw new HttpError(404, `no asset ${asset[1]}`);
      sendBytes(res, found.body, found.contentType, "no-cache");
      return true;
    }

    if (path === "/uploads/form") {
      allow(method, ["POST"]);
      const parsed = FormRequestSchema.safeParse(await readJsonBody(req));
      if (!parsed.success) {
        throw new HttpError(
          400,
          `expected {fileName, size, contentType?}: ${z.prettifyError(parsed.error).replace(/\n/g, " ")}`,
          "INVALID_OPTION",
        );
      }
      const { fileName, size, contentType } = parsed.data;
      const form = await typed(() =>
        admin.createUploadForm({
          fileName,
          size,
          ...(contentType === undefined ? {} : { contentType }),
          maxBytes: options.maxBytes,
          ...tenant,
        }),
      );
      send(res, 201, form);
      return true;
    }
    if (path === "/uploads") {
      allow(method, ["GET", "HEAD"]);
      const uploads = await typed(() => admin.listUploads(listQuery(url.searchParams)));
      send(res, 200, { uploads });
      return true;
    }
    const redrive = /^\/uploads\/([^/]+)\/redrive$/.exec(path);
    if (redrive) {
      allow(method, ["POST"]);
      await readJsonBody(req); // only its type and size matter: a redrive takes no options
      const result = await typed(() => admin.redrive(uploadIdParam(redrive[1]!)));
      send(res, 202, result);
      return true;
    }
    const status = /^\/uploads\/([^/]+)$/.exec(path);
    if (status) {
      allow(method, ["GET", "HEAD"]);
      const view = await typed(() => admin.uploadStatus(uploadIdParam(status[1]!), tenant));
      send(res, 200, view);
      return true;
    }
    return false;
  };
}

function allow(method: string, methods: string[]): void {
  if (!methods.includes(method)) {
    throw new HttpError(405, `${method} is not allowed here`, undefined, { allow: methods.join(", ") });
  }
}

/** An upload id from the path; anything outside the id pattern cannot name an upload. */
function uploadIdParam(raw: string): string {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    id = raw;
  }
  if (!UPLOAD_ID_PATTERN.test(id)) {
    throw new HttpError(
      404,
      `no upload ${JSON.stringify(id)} (an upload id is [a-z0-9-])`,
      "UPLOAD_NOT_FOUND",
    );
  }
  return id;
}

function listQuery(params: URLSearchParams): Parameters<SluiceAdmin["listUploads"]>[0] {
  const query: NonNullable<Parameters<SluiceAdmin["listUploads"]>[0]> = {};
  const since = params.get("since");
  if (since) {
    const date = new Date(since);
    if (Number.isNaN(date.getTime())) {
      throw new HttpError(400, `since must be an ISO date, got ${JSON.stringify(since)}`, "INVALID_OPTION");
    }
    query.since = date;
  }
  const status = params.get("status");
  if (status) {
    if (!(LIST_STATUSES as readonly string[]).includes(status)) {
      throw new HttpError(400, `status must be one of ${LIST_STATUSES.join(", ")}`, "INVALID_OPTION");
    }
    query.status = status as (typeof LIST_STATUSES)[number];
  }
  const limit = params.get("limit");
  if (limit) {
    if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_LIST_LIMIT) {
      throw new HttpError(400, `limit must be an integer from 1 to ${MAX_LIST_LIMIT}`, "INVALID_OPTION");
    }
    query.limit = Number(limit);
  }
  return query;
}

/** Runs an admin call, turning its typed refusals into HTTP answers with their codes. */
async function typed<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof SluiceAdminError) {
      throw new HttpError(STATUS_OF[error.code], error.message, error.code);
    }
    throw error;
  }
}

function sendBytes(res: ServerResponse, body: Buffer, contentType: string, cacheControl: string): void {
  res.writeHead(200, {
    "content-type": contentType,
    "content-length": body.length,
    "cache-control": cacheControl,
    "x-content-type-options": "nosniff",
    // The page talks to this server and PUTs to S3 (another origin): scripts and styles only from here.
    "content-security-policy":
      "default-src 'self'; connect-src 'self' https: http:; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "referrer-policy": "no-referrer",
  });
  res.end(res.req.method === "HEAD" ? undefined : body);
}
