import { once } from "node:events";
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** What a request to the emulator is, as far as fault rules need to know. */
export interface ProxiedRequest {
  service: "sqs" | "s3";
  /** The SQS action (`SendMessage`, `ReceiveMessage`...) or the S3 operation (`GetObject`, `PutObject`...). */
  action: string;
  method: string;
  path: string;
}

/**
 * A fault, answered in the service's own wire format so the SDK classifies it as AWS's would be:
 * - `internal`: 500 (S3 `InternalError`, SQS `InternalFailure`): a transient error, retried by the SDK;
 * - `unavailable`: 503 (S3 `SlowDown`, SQS `ServiceUnavailable`);
 * - `throttle`: S3 503 `SlowDown`, SQS 400 `ThrottlingException`: a throttling error, retried with a longer backoff;
 * - `reset`: the connection is dropped before any answer (a network error);
 * - `hang`: no answer at all until the proxy stops.
 */
export type Fault = "internal" | "unavailable" | "throttle" | "reset" | "hang";

export interface Injection {
  fault: Fault;
  service?: "sqs" | "s3";
  /** Only these actions (e.g. `["GetObject"]`); default: every action of the service. */
  actions?: readonly string[];
  /** At most this many requests get the fault (default: no limit). */
  times?: number;
  /** Only for this long after `inject()` (default: until removed). */
  forMs?: number;
}

/** One request that got a fault. */
export interface InjectedFault extends ProxiedRequest {
  fault: Fault;
}

interface ActiveInjection extends Injection {
  until: number;
  left: number;
}

/**
 * A fault-injecting HTTP proxy in front of the S3/SQS emulator: SDK clients pointed at `url` reach the emulator
 * through it, and `inject()` makes chosen requests fail the way S3 and SQS fail (500, 503 SlowDown, throttling,
 * a dropped connection, no answer). Bodies are streamed through untouched; everything else reaches the emulator.
 * The target can be set after the proxy starts (the emulator's port is known only once it runs): requests wait.
 */
export class FaultProxy {
  readonly injected: InjectedFault[] = [];
  /** Requests forwarded to the emulator, by service. */
  readonly forwarded = { sqs: 0, s3: 0 };
  private readonly injections: ActiveInjection[] = [];
  private readonly sockets = new Set<Socket>();
  private target: string | undefined;
  private targetSet: Promise<void>;
  private resolveTarget!: () => void;

  private constructor(private readonly server: Server) {
    this.targetSet = new Promise((resolve) => {
      this.resolveTarget = resolve;
    });
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    server.on("request", (req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
        res.end(String(error));
      });
    });
  }

  static async start(target?: string): Promise<FaultProxy> {
    const server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const proxy = new FaultProxy(server);
    if (target) proxy.setTarget(target);
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  setTarget(target: string): void {
    this.target = target.replace(/\/$/, "");
    this.resolveTarget();
  }

  /** Adds a fault; returns a function that removes it. */
  inject(injection: Injection): () => void {
    const active: ActiveInjection = {
      ...injection,
      until: injection.forMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + injection.forMs,
      left: injection.times ?? Number.POSITIVE_INFINITY,
    };
    this.injections.push(active);
    return () => {
      const at = this.injections.indexOf(active);
      if (at >= 0) this.injections.splice(at, 1);
    };
  }

  /** Removes every fault (requests already hanging stay hung until `stop()`). */
  clear(): void {
    this.injections.length = 0;
  }

  async stop(): Promise<void> {
    this.clear();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private faultFor(request: ProxiedRequest): Fault | undefined {
    const now = Date.now();
    for (const injection of this.injections) {
      if (injection.left <= 0 || now > injection.until) continue;
      if (injection.service && injection.service !== request.service) continue;
      if (injection.actions && !injection.actions.includes(request.action)) continue;
      injection.left--;
      return injection.fault;
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: import("node:http").ServerResponse): Promise<void> {
    const request = classify(req);
    const fault = this.faultFor(request);
    if (fault) {
      this.injected.push({ ...request, fault });
      // The request body is read and dropped, as a server that fails a request still reads it.
      req.resume();
      // No answer: the socket stays open until the client gives up or the proxy stops.
      if (fault === "hang") return;
      if (fault === "reset") {
        req.socket.destroy();
        return;
      }
      const { status, headers, body } = faultResponse(request, fault);
      res.writeHead(status, { ...headers, "content-length": Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    await this.targetSet;
    this.forwarded[request.service]++;
    const target = new URL(req.url ?? "/", this.target);
    await new Promise<void>((resolve, reject) => {
      const upstream = httpRequest(
        target,
        { method: req.method, headers: req.headers },
        (answer: IncomingMessage) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on("end", resolve);
          answer.on("error", reject);
        },
      );
      upstream.on("error", reject);
      // A client that gave up (the SDK's own timeout) takes the upstream request with it.
      res.on("close", () => {
        upstream.destroy();
        resolve();
      });
      req.pipe(upstream);
    });
  }
}

/** SQS speaks AWS JSON 1.0 (`X-Amz-Target: AmazonSQS.<Action>`) or the query protocol; the rest is S3. */
function classify(req: IncomingMessage): ProxiedRequest {
  const method = req.method ?? "GET";
  const url = new URL(req.url ?? "/", "http://local");
  const target = req.headers["x-amz-target"];
  if (typeof target === "string" && target.startsWith("AmazonSQS.")) {
    return { service: "sqs", action: target.slice("AmazonSQS.".length), method, path: url.pathname };
  }
  const queryAction = url.searchParams.get("Action");
  if (queryAction) return { service: "sqs", action: queryAction, method, path: url.pathname };
  return { service: "s3", action: s3Operation(method, url), method, path: url.pathname };
}

function s3Operation(method: string, url: URL): string {
  const hasKey = url.pathname.split("/").filter(Boolean).length > 1;
  const q = url.searchParams;
  if (!hasKey) return method === "GET" ? "ListObjects" : `${method}Bucket`;
  if (method === "GET") return "GetObject";
  if (method === "HEAD") return "HeadObject";
  if (method === "DELETE") return q.has("uploadId") ? "AbortMultipartUpload" : "DeleteObject";
  if (method === "PUT") return q.has("partNumber") ? "UploadPart" : "PutObject";
  if (method === "POST") return q.has("uploads") ? "CreateMultipartUpload" : "CompleteMultipartUpload";
  return method;
}

function faultResponse(
  request: ProxiedRequest,
  fault: Exclude<Fault, "reset" | "hang">,
): { status: number; headers: Record<string, string>; body: string } {
  if (request.service === "s3") {
    // S3 REST errors: an XML <Error> with its code (Amazon S3 API Reference, "Error responses").
    const [status, code, message] =
      fault === "internal"
        ? [500, "InternalError", "We encountered an internal error. Please try again."]
        : [503, "SlowDown", "Please reduce your request rate."];
    return {
      status,
      headers: { "content-type": "application/xml", "x-amz-request-id": "fault-proxy" },
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`,
    };
  }
  // SQS JSON protocol errors: `__type` names the error; the query-compatible header carries the same code.
  const [status, code, message] =
    fault === "internal"
      ? [500, "InternalFailure", "The request processing has failed because of an unknown error."]
      : fault === "unavailable"
        ? [503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."]
        : [400, "ThrottlingException", "Rate exceeded"];
  return {
    status,
    headers: {
      "content-type": "application/x-amz-json-1.0",
      "x-amzn-requestid": "fault-proxy",
      "x-amzn-query-error": `${code};${status >= 500 ? "Receiver" : "Sender"}`,
    },
    body: JSON.stringify({ __type: `com.amazonaws.sqs#${code}`, message }),
  };
}
