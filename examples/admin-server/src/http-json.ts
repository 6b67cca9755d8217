import type { IncomingMessage, ServerResponse } from "node:http";
import type { ErrorCode } from "@sluice/contract";

/** An answer other than 2xx: its status, a message for people, and (for typed errors) the code from ERROR_CODES. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: ErrorCode,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** The largest JSON body a route reads: forms and redrive requests are a few hundred bytes. */
export const MAX_JSON_BODY_BYTES = 16 * 1024;

export function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  if (res.headersSent) {
    res.end();
    return;
  }
  const json = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(json),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(res.req.method === "HEAD" ? undefined : json);
}

export function sendError(res: ServerResponse, error: HttpError): void {
  send(
    res,
    error.status,
    { error: error.message, ...(error.code ? { code: error.code } : {}) },
    error.headers,
  );
}

/**
 * A request's JSON body, at most `limit` bytes: a bigger one is refused (413) from its Content-Length, or as soon
 * as more bytes arrive than that, without reading the rest. Only `application/json` is read (415 otherwise),
 * which also keeps a plain cross-site form post from reaching a route: a browser preflights a JSON request.
 */
export async function readJsonBody(req: IncomingMessage, limit = MAX_JSON_BODY_BYTES): Promise<unknown> {
  const type = String(req.headers["content-type"] ?? "")
    .split(";")[0]!
    .trim()
    .toLowerCase();
  if (type !== "application/json") {
    req.resume();
    throw new HttpError(415, "the request body must be application/json", "INVALID_OPTION");
  }
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new HttpError(413, `the request body must be at most ${limit} bytes`, "INVALID_OPTION", {
      connection: "close",
    });
  }
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > limit) {
      // Stop reading; the connection closes after the answer.
      throw new HttpError(413, `the request body must be at most ${limit} bytes`, "INVALID_OPTION", {
        connection: "close",
      });
    }
    parts.push(part);
  }
  const text = Buffer.concat(parts).toString("utf8");
  try {
    return text === "" ? {} : (JSON.parse(text) as unknown);
  } catch {
    throw new HttpError(400, "the request body is not valid JSON", "INVALID_OPTION");
  }
}
