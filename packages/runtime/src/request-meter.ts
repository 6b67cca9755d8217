import diagnosticsChannel from "node:diagnostics_channel";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** What reached the emulator, counted the way AWS bills it. */
export interface RequestCounts {
  sqs: {
    /** SQS API calls, one per HTTP request. */
    requests: number;
    /** Billed requests: every call is at least one, and each 64 KiB chunk of its payload is one more. */
    units: number;
    /** Calls by action (`SendMessage`, `ReceiveMessage`...). */
    byAction: Record<string, number>;
    /** Billed requests by action. */
    unitsByAction: Record<string, number>;
  };
  /** S3 requests by pricing tier; DELETE requests are counted apart (AWS does not charge them). */
  s3: { get: number; put: number; list: number; delete: number };
  /** Requests that are neither: SNS/STS calls (their action is in the body), fauxqs's own `/health`, `/_fauxqs/...`. */
  other: number;
}

export interface RequestMeter {
  /** A copy of the counts so far. */
  snapshot(): RequestCounts;
  /** Back to zero (e.g. between two uploads). */
  reset(): void;
  /** Stops counting. */
  stop(): void;
}

/** One SQS billing unit: a 64 KiB chunk of payload. */
export const SQS_BILLING_CHUNK_BYTES = 64 * 1024;

/**
 * Actions of the SQS API (API Reference, "Actions"): a query-protocol `Action=` parameter names SQS only when it
 * is one of these (SNS and STS speak the same protocol on the same endpoint).
 */
const SQS_ACTIONS = new Set([
  "AddPermission",
  "CancelMessageMoveTask",
  "ChangeMessageVisibility",
  "ChangeMessageVisibilityBatch",
  "CreateQueue",
  "DeleteMessage",
  "DeleteMessageBatch",
  "DeleteQueue",
  "GetQueueAttributes",
  "GetQueueUrl",
  "ListDeadLetterSourceQueues",
  "ListMessageMoveTasks",
  "ListQueueTags",
  "ListQueues",
  "PurgeQueue",
  "ReceiveMessage",
  "RemovePermission",
  "SendMessage",
  "SendMessageBatch",
  "SetQueueAttributes",
  "StartMessageMoveTask",
  "TagQueue",
  "UntagQueue",
]);

/** Query parameters of a bucket listing (ListObjects / ListObjectsV2), or the SDK's own `x-id` marker. */
const LISTING_PARAMS = new Set([
  "list-type",
  "prefix",
  "delimiter",
  "marker",
  "max-keys",
  "encoding-type",
  "continuation-token",
  "fetch-owner",
  "start-after",
  "x-id",
]);

type RequestClass =
  | { service: "sqs"; action: string }
  | { service: "s3"; kind: keyof RequestCounts["s3"] }
  | { service: "other" };

function emptyCounts(): RequestCounts {
  return {
    sqs: { requests: 0, units: 0, byAction: {}, unitsByAction: {} },
    s3: { get: 0, put: 0, list: 0, delete: 0 },
    other: 0,
  };
}

/** SQS billing units for a payload of `bytes`: one per started 64 KiB chunk, at least one per request. */
export function sqsBillingUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / SQS_BILLING_CHUNK_BYTES));
}

/**
 * Where fauxqs would route a request, told from its first line and headers only (the body is not read).
 * fauxqs sends `POST /` with `application/x-amz-json-1.0` to SQS and with a form body to SNS/STS, serves `/health`
 * and `/_fauxqs/...` itself, and treats everything else as S3, path-style or virtual-hosted (a dotted, non-IP
 * host whose first label is the bucket; the same rule as its `rewriteUrl`).
 */
export function classifyRequest(request: Pick<IncomingMessage, "method" | "url" | "headers">): RequestClass {
  const method = (request.method ?? "GET").toUpperCase();
  const url = new URL(request.url ?? "/", "http://emulator.invalid");
  const target = request.headers["x-amz-target"];
  const targetValue = Array.isArray(target) ? target[0] : target;
  if (targetValue?.startsWith("AmazonSQS.")) {
    return { service: "sqs", action: targetValue.slice("AmazonSQS.".length) };
  }
  const queryAction = url.searchParams.get("Action");
  if (queryAction !== null) {
    return SQS_ACTIONS.has(queryAction) ? { service: "sqs", action: queryAction } : { service: "other" };
  }
  const contentType = String(request.headers["content-type"] ?? "");
  if (contentType.includes("x-amz-json-1.0") || contentType.includes("x-www-form-urlencoded")) {
    return { service: "other" };
  }
  if (url.pathname === "/health" || url.pathname.startsWith("/_fauxqs")) return { service: "other" };

  const hostname = String(request.headers.host ?? "").split(":")[0] ?? "";
  const virtualHosted = hostname.includes(".") && !/^\d+\.\d+\.\d+\.\d+$/.test(hostname);
  const segments = url.pathname.split("/").slice(1);
  const bucket = virtualHosted ? hostname.slice(0, hostname.indexOf(".")) : (segments[0] ?? "");
  const key = (virtualHosted ? segments : segments.slice(1)).join("/");
  const params = [...url.searchParams.keys()];
  const has = (name: string) => url.searchParams.has(name);

  switch (method) {
    case "DELETE":
      return { service: "s3", kind: "delete" };
    case "PUT":
      return { service: "s3", kind: "put" };
    case "POST":
      // DeleteObjects is `POST /bucket?delete`; every other POST (CreateMultipartUpload, CompleteMultipartUpload,
      // browser-form uploads...) is in the PUT/COPY/POST tier.
      return { service: "s3", kind: !key && has("delete") ? "delete" : "put" };
    case "GET":
    case "HEAD": {
      if (method === "GET" && !bucket) return { service: "s3", kind: "list" }; // ListBuckets
      if (method === "GET" && !key) {
        const listing =
          has("list-type") || has("uploads") || has("versions") || params.every((p) => LISTING_PARAMS.has(p));
        return { service: "s3", kind: listing ? "list" : "get" };
      }
      // ListParts is `GET /bucket/key?uploadId=...`; anything else on an object (ranged or not) is a GET.
      return { service: "s3", kind: method === "GET" && has("uploadId") ? "list" : "get" };
    }
    default:
      return { service: "other" };
  }
}

interface StartMessage {
  request: IncomingMessage;
  response: ServerResponse;
  socket: Socket;
  server: Server;
}

function listeningPort(message: StartMessage): number | undefined {
  const address = message.server?.address?.();
  if (address && typeof address === "object") return address.port;
  return message.socket?.localPort;
}

/** Bytes of the response body: what the socket carried for it, less the header block. */
function responseBodyBytes(response: ServerResponse, socket: Socket, bytesWrittenAtStart: number): number {
  const written = socket.bytesWritten - bytesWrittenAtStart;
  // Node keeps the serialized status line and headers here once they are sent; fastify passes its headers to
  // writeHead, so getHeader() does not see them.
  const header = (response as unknown as { _header?: unknown })._header;
  const headerBytes = typeof header === "string" ? Buffer.byteLength(header) : 0;
  return Math.max(0, written - headerBytes);
}

/**
 * Counts the requests that reach the emulator, as AWS would bill them, so the local runtime can say what an upload
 * costs. It listens on `http.server.request.start` / `http.server.response.finish` (node:diagnostics_channel; in
 * Node since 18.7 / 16.17) and keeps only requests to a server listening on `port`, so other HTTP servers in the
 * process (the Step Functions API, an admin server) are not counted.
 *
 * SQS: Amazon SQS pricing (https://aws.amazon.com/sqs/pricing/), "each 64 KB chunk of a payload is billed as 1
 * request (for example, an API action with a 256 KB payload is billed as 4 requests)". The payload is taken as the
 * larger of the request body (its content-length) and the response body, so a ReceiveMessage that returns a large
 * message is billed for it; every call counts at least once, empty receives included. Requests that never get a
 * response (an aborted long poll) are billed on their request body alone.
 *
 * S3: Amazon S3 pricing (https://aws.amazon.com/s3/pricing/) bills "PUT, COPY, POST, LIST requests" in one tier and
 * "GET, SELECT, and all other requests" in another, and does not charge DELETE requests; see `classifyRequest`.
 */
export function startRequestMeter({ port }: { port: number }): RequestMeter {
  let counts = emptyCounts();
  /** Bumped by reset(), so a request started before it adds nothing to the fresh tally when it finishes. */
  let generation = 0;
  const pending = new WeakMap<
    IncomingMessage,
    { action: string; units: number; socketBytes: number; generation: number }
  >();

  const onStart = (raw: unknown) => {
    const message = raw as StartMessage;
    if (listeningPort(message) !== port) return;
    const kind = classifyRequest(message.request);
    if (kind.service === "other") {
      counts.other += 1;
      return;
    }
    if (kind.service === "s3") {
      counts.s3[kind.kind] += 1;
      return;
    }
    const length = Number(message.request.headers["content-length"] ?? 0);
    const units = sqsBillingUnits(Number.isFinite(length) ? length : 0);
    const sqs = counts.sqs;
    sqs.requests += 1;
    sqs.units += units;
    sqs.byAction[kind.action] = (sqs.byAction[kind.action] ?? 0) + 1;
    sqs.unitsByAction[kind.action] = (sqs.unitsByAction[kind.action] ?? 0) + units;
    pending.set(message.request, {
      action: kind.action,
      units,
      socketBytes: message.socket.bytesWritten,
      generation,
    });
  };

  const onFinish = (raw: unknown) => {
    const message = raw as StartMessage;
    const started = pending.get(message.request);
    if (!started) return;
    pending.delete(message.request);
    if (started.generation !== generation) return;
    const units = sqsBillingUnits(responseBodyBytes(message.response, message.socket, started.socketBytes));
    if (units <= started.units) return;
    const extra = units - started.units;
    counts.sqs.units += extra;
    counts.sqs.unitsByAction[started.action] = (counts.sqs.unitsByAction[started.action] ?? 0) + extra;
  };

  diagnosticsChannel.subscribe("http.server.request.start", onStart);
  diagnosticsChannel.subscribe("http.server.response.finish", onFinish);
  let stopped = false;
  return {
    snapshot: () => structuredClone(counts),
    reset() {
      counts = emptyCounts();
      generation += 1;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      diagnosticsChannel.unsubscribe("http.server.request.start", onStart);
      diagnosticsChannel.unsubscribe("http.server.response.finish", onFinish);
    },
  };
}
