import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type ListedExecution, listExecutions } from "./list-executions.ts";
import { checkParameterLength } from "./payload-limits.ts";
import { StatesError, type TaskTokens } from "./task-tokens.ts";

/** What the local API needs from the runtime to start and describe executions. */
export interface ExecutionHost {
  startExecution(request: { stateMachineArn: string; name?: string; input?: string }): {
    executionArn: string;
    startDate: Date;
  };
  describeExecution(executionArn: string): Record<string, unknown>;
  /** ListExecutions: the state machine's executions in start order (throws StateMachineDoesNotExist). */
  listExecutions?(stateMachineArn: string): ListedExecution[];
  /** Fields DescribeExecution adds to describeExecution's answer (redriveCount, redriveDate, redriveStatus). */
  describeRedrive?(executionArn: string): Record<string, unknown>;
  /** ListMapRuns: the Map Runs an execution started, in the API's shape. */
  listMapRuns?(executionArn: string): Record<string, unknown>[];
  /** DescribeMapRun, in the API's shape (throws ResourceNotFound). */
  describeMapRun?(mapRunArn: string): Record<string, unknown>;
  /** GetExecutionHistory's events, oldest first (throws ExecutionDoesNotExist). */
  getExecutionHistory?(executionArn: string): Record<string, unknown>[];
  /** RedriveExecution (throws ExecutionDoesNotExist, ExecutionNotRedrivable). */
  redriveExecution?(executionArn: string): { redriveDate: Date };
  /** StopExecution (throws ExecutionDoesNotExist). */
  stopExecution?(executionArn: string, reason: { error?: string; cause?: string }): { stopDate: Date };
}

type Operation = (
  body: Record<string, unknown>,
) => Record<string, unknown> | Promise<Record<string, unknown>>;

const MAX_BODY_BYTES = 1024 * 1024;

function text(value: unknown, field: string): string {
  if (typeof value !== "string" || value === "")
    throw new StatesError("ValidationException", `${field} is required`);
  return value;
}

/** A task token as the API checks it (1 to 2,048 characters). */
function token(value: unknown): string {
  const taskToken = text(value, "taskToken");
  checkParameterLength(taskToken, "taskToken", 2048);
  return taskToken;
}

/** An optional string parameter with a length constraint (SendTaskFailure's error and cause). */
function optional(value: unknown, parameter: string, max: number): string {
  if (typeof value !== "string") return "";
  checkParameterLength(value, parameter, max);
  return value;
}

function supported<T>(operation: T | undefined, name: string): T {
  if (!operation) throw new StatesError("UnknownOperationException", `Unsupported operation ${name}`);
  return operation;
}

/** maxResults/nextToken paging as the API does it (nextToken here: the offset of the next page). */
function page(
  items: Record<string, unknown>[],
  maxResults: unknown,
  nextToken: unknown,
  key: string,
): Record<string, unknown> {
  const size = typeof maxResults === "number" && maxResults > 0 ? Math.min(maxResults, 1000) : 100;
  const start = typeof nextToken === "string" && /^\d+$/.test(nextToken) ? Number(nextToken) : 0;
  if (typeof nextToken === "string" && !/^\d+$/.test(nextToken))
    throw new StatesError("InvalidToken", "Invalid nextToken");
  const end = start + size;
  return { [key]: items.slice(start, end), ...(end < items.length ? { nextToken: String(end) } : {}) };
}

/** includeExecutionData: false leaves inputs and outputs out of the events. */
function withoutData(event: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(event).map(([key, value]) => {
      if (!key.endsWith("EventDetails") || typeof value !== "object" || value === null) return [key, value];
      const { input: _input, output: _output, ...rest } = value as Record<string, unknown>;
      return [key, rest];
    }),
  );
}

/**
 * The Step Functions API on loopback, in its own wire format (JSON 1.0, `X-Amz-Target: AWSStepFunctions.<Op>`),
 * so an unmodified SFNClient reaches it with only `endpoint` changed: the admin server's task callbacks, the
 * start handler's StartExecution, what `sluice status`/`sluice redrive` call (DescribeExecution,
 * GetExecutionHistory, ListMapRuns, DescribeMapRun, RedriveExecution) and the admin server's list of uploads
 * (ListExecutions, see list-executions.ts).
 */
export class StepFunctionsApi {
  private server?: Server;
  private readonly operations: Record<string, Operation>;

  constructor(tokens: TaskTokens, host: ExecutionHost) {
    this.operations = {
      SendTaskSuccess: (body) => {
        const taskToken = token(body.taskToken);
        const json = text(body.output, "output");
        // "output ... Length constraints apply to the payload size, and are expressed as bytes in UTF-8
        // encoding. Maximum length of 262144": the request is refused and the task keeps waiting.
        checkParameterLength(json, "output");
        let output: unknown;
        try {
          output = JSON.parse(json);
        } catch {
          throw new StatesError("InvalidOutput", "The output is not valid JSON");
        }
        tokens.succeed(taskToken, output);
        return {};
      },
      SendTaskFailure: (body) => {
        tokens.fail(
          token(body.taskToken),
          optional(body.error, "error", 256),
          optional(body.cause, "cause", 32768),
        );
        return {};
      },
      SendTaskHeartbeat: (body) => {
        tokens.heartbeat(token(body.taskToken));
        return {};
      },
      StartExecution: (body) => {
        if (typeof body.input === "string") checkParameterLength(body.input, "input");
        const { executionArn, startDate } = host.startExecution({
          stateMachineArn: text(body.stateMachineArn, "stateMachineArn"),
          ...(typeof body.name === "string" ? { name: body.name } : {}),
          ...(typeof body.input === "string" ? { input: body.input } : {}),
        });
        return { executionArn, startDate: startDate.getTime() / 1000 };
      },
      DescribeExecution: (body) => {
        const executionArn = text(body.executionArn, "executionArn");
        return { ...host.describeExecution(executionArn), ...host.describeRedrive?.(executionArn) };
      },
      ListExecutions: (body) =>
        listExecutions(body, (stateMachineArn) =>
          supported(host.listExecutions, "ListExecutions")(stateMachineArn),
        ),
      ListMapRuns: (body) => ({
        mapRuns: supported(host.listMapRuns, "ListMapRuns")(text(body.executionArn, "executionArn")),
      }),
      DescribeMapRun: (body) =>
        supported(host.describeMapRun, "DescribeMapRun")(text(body.mapRunArn, "mapRunArn")),
      GetExecutionHistory: (body) => {
        const all = supported(
          host.getExecutionHistory,
          "GetExecutionHistory",
        )(text(body.executionArn, "executionArn"));
        const events = body.reverseOrder === true ? [...all].reverse() : all;
        const data = body.includeExecutionData === false ? events.map(withoutData) : events;
        return page(data, body.maxResults, body.nextToken, "events");
      },
      StopExecution: (body) => {
        const { stopDate } = supported(host.stopExecution, "StopExecution")(
          text(body.executionArn, "executionArn"),
          {
            ...(typeof body.error === "string" ? { error: optional(body.error, "error", 256) } : {}),
            ...(typeof body.cause === "string" ? { cause: optional(body.cause, "cause", 32768) } : {}),
          },
        );
        return { stopDate: stopDate.getTime() / 1000 };
      },
      RedriveExecution: (body) => {
        const { redriveDate } = supported(
          host.redriveExecution,
          "RedriveExecution",
        )(text(body.executionArn, "executionArn"));
        return { redriveDate: redriveDate.getTime() / 1000 };
      },
    };
  }

  async listen(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, body: Record<string, unknown>) => {
      res.writeHead(status, { "content-type": "application/x-amz-json-1.0" });
      res.end(JSON.stringify(body));
    };
    try {
      const target = String(req.headers["x-amz-target"] ?? "");
      const operation = this.operations[target.replace(/^AWSStepFunctions\./, "")];
      if (req.method !== "POST" || !operation) {
        throw new StatesError("UnknownOperationException", `Unsupported operation ${JSON.stringify(target)}`);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > MAX_BODY_BYTES) throw new StatesError("ValidationException", "Request body too large");
        chunks.push(chunk as Buffer);
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
      reply(200, await operation(body));
    } catch (error) {
      const name = error instanceof StatesError ? error.name : "InternalFailure";
      reply(error instanceof StatesError ? 400 : 500, {
        __type: `com.amazonaws.states#${name}`,
        message: (error as Error).message,
      });
    }
  }
}
