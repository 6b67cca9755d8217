import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A test double for Step Functions' task-token API (SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat),
 * speaking the AWS JSON 1.0 protocol over loopback HTTP so a real SFNClient({ endpoint }) talks to it.
 * Tokens are open until answered; answering or beating a closed or expired token fails with TaskTimedOut,
 * as Step Functions does. The real local runtime brings its own implementation.
 */
export type TaskTokenAction = "SendTaskSuccess" | "SendTaskFailure" | "SendTaskHeartbeat";

export interface RecordedCall {
  action: TaskTokenAction;
  taskToken: string;
  output?: string;
  error?: string;
  cause?: string;
  /** The HTTP status sent back. */
  status: number;
  at: number;
}

export interface InjectedError {
  status: number;
  /** e.g. "ThrottlingException", "ServiceUnavailable", "TaskTimedOut". */
  type: string;
  message?: string;
}

export interface FakeStepFunctions {
  /** Give this to SFNClient({ endpoint }). */
  readonly endpoint: string;
  /** Every call received, answered or refused, in order. */
  readonly calls: RecordedCall[];
  /** Calls of one action that were accepted (HTTP 200). */
  accepted(action: TaskTokenAction): RecordedCall[];
  /** Makes every later call with this token fail with TaskTimedOut (or the given error name). */
  expire(taskToken: string, type?: "TaskTimedOut" | "TaskDoesNotExist" | "InvalidToken"): void;
  /** The next `count` calls of `action` fail with `error` (before the token is looked at). */
  failNext(action: TaskTokenAction, count: number, error: InjectedError): void;
  /** Runs before each call is answered (e.g. to look at the queue while a report is in progress). */
  onCall(hook: (call: { action: TaskTokenAction; taskToken: string }) => void | Promise<void>): void;
  close(): Promise<void>;
}

const ACTIONS = new Set<string>(["SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"]);

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts).toString("utf8");
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/x-amz-json-1.0",
    "content-length": Buffer.byteLength(text),
    "x-amzn-requestid": `fake-${Date.now()}`,
  });
  res.end(text);
}

function awsError(res: ServerResponse, status: number, type: string, message: string): void {
  send(res, status, { __type: `com.amazonaws.states#${type}`, message });
}

export async function startFakeStepFunctions(): Promise<FakeStepFunctions> {
  const calls: RecordedCall[] = [];
  const closed = new Map<string, string>();
  const injected = new Map<TaskTokenAction, { count: number; error: InjectedError }>();
  const hooks: Array<(call: { action: TaskTokenAction; taskToken: string }) => void | Promise<void>> = [];

  const server: Server = createServer((req, res) => {
    void (async () => {
      const target = String(req.headers["x-amz-target"] ?? "");
      const action = target.startsWith("AWSStepFunctions.") ? target.slice("AWSStepFunctions.".length) : "";
      const text = await readBody(req);
      if (req.method !== "POST" || !ACTIONS.has(action)) {
        return awsError(
          res,
          400,
          "UnknownOperationException",
          `Operation ${target || "(none)"} is not supported`,
        );
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return awsError(res, 400, "SerializationException", "Body is not JSON");
      }
      const taskToken = typeof body.taskToken === "string" ? body.taskToken : "";
      const name = action as TaskTokenAction;
      for (const hook of hooks) await hook({ action: name, taskToken });
      const record = (status: number) =>
        calls.push({
          action: name,
          taskToken,
          status,
          at: Date.now(),
          ...(typeof body.output === "string" ? { output: body.output } : {}),
          ...(typeof body.error === "string" ? { error: body.error } : {}),
          ...(typeof body.cause === "string" ? { cause: body.cause } : {}),
        });

      const failure = injected.get(name);
      if (failure && failure.count > 0) {
        failure.count--;
        record(failure.error.status);
        return awsError(
          res,
          failure.error.status,
          failure.error.type,
          failure.error.message ?? failure.error.type,
        );
      }
      if (!taskToken) {
        record(400);
        return awsError(res, 400, "InvalidToken", "Invalid token");
      }
      const closedAs = closed.get(taskToken);
      if (closedAs) {
        record(400);
        return awsError(res, 400, closedAs, "Task Timed Out: the task is no longer open");
      }
      if (name === "SendTaskSuccess") {
        if (typeof body.output !== "string") {
          record(400);
          return awsError(res, 400, "InvalidOutput", "output is required");
        }
        try {
          JSON.parse(body.output);
        } catch {
          record(400);
          return awsError(res, 400, "InvalidOutput", "output is not JSON");
        }
        if (Buffer.byteLength(body.output, "utf8") > 262_144) {
          record(400);
          return awsError(res, 400, "InvalidOutput", "output exceeds 262144 bytes");
        }
      }
      if (name === "SendTaskFailure") {
        if (
          (typeof body.error === "string" && body.error.length > 256) ||
          (typeof body.cause === "string" && body.cause.length > 32_768)
        ) {
          record(400);
          return awsError(res, 400, "ValidationException", "error or cause too long");
        }
      }
      if (name !== "SendTaskHeartbeat") closed.set(taskToken, "TaskTimedOut");
      record(200);
      send(res, 200, {});
    })().catch((error: unknown) => {
      if (!res.headersSent) awsError(res, 500, "InternalFailure", String(error));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    accepted: (action) => calls.filter((c) => c.action === action && c.status === 200),
    expire: (taskToken, type = "TaskTimedOut") => {
      closed.set(taskToken, type);
    },
    failNext: (action, count, error) => {
      injected.set(action, { count, error });
    },
    onCall: (hook) => {
      hooks.push(hook);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
