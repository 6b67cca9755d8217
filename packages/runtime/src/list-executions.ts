import { StatesError } from "./task-tokens.ts";

/**
 * ListExecutions as the Step Functions API reference describes it: the executions of a state machine, newest first
 * ("Results are sorted by time, with the most recent execution first"), optionally only those with one status
 * (statusFilter) or only those redriven or not (redriveFilter), at most maxResults a page (0 or none: 100; at most
 * 1000), further pages through an opaque nextToken that "expires after 24 hours" (then HTTP 400 InvalidToken).
 */

/** One execution as the host lists it, in start order; the fields of ExecutionListItem (dates in epoch seconds). */
export interface ListedExecution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: string;
  startDate: number;
  stopDate?: number;
  redriveCount: number;
  redriveDate?: number;
}

export const DEFAULT_MAX_RESULTS = 100;
export const MAX_MAX_RESULTS = 1000;
/** "Each pagination token expires after 24 hours." */
export const PAGE_TOKEN_LIFETIME_MS = 24 * 3600 * 1000;

const STATUSES = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"] as const;
const REDRIVE_FILTERS = ["REDRIVEN", "NOT_REDRIVEN"] as const;
/** A state machine ARN, unqualified or with a version or alias (the forms stateMachineArn takes). */
const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[^:\s]{1,80}(:[^:\s]+)?$/;

/** What the page token carries: where the last page ended and the arguments it was made for. */
interface PageToken {
  /** The last execution returned. */
  after: string;
  /** The filters and the state machine of the first call ("Keep all other arguments unchanged"). */
  args: string;
  issued: number;
}

function validation(message: string): StatesError {
  return new StatesError("ValidationException", `1 validation error detected: ${message}`);
}

function member<T extends string>(value: unknown, allowed: readonly T[], parameter: string): T | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
  throw validation(
    `Value '${String(value)}' at '${parameter}' failed to satisfy constraint: Member must satisfy enum value set: [${allowed.join(", ")}]`,
  );
}

function pageSize(value: unknown): number {
  if (value === undefined || value === null || value === 0) return DEFAULT_MAX_RESULTS;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_MAX_RESULTS) {
    throw validation(
      `Value '${String(value)}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to ${MAX_MAX_RESULTS}`,
    );
  }
  return value;
}

function encodeToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token), "utf8").toString("base64url");
}

function decodeToken(value: string, args: string, now: number): PageToken {
  const invalid = () => new StatesError("InvalidToken", `Invalid Token: '${value}'`);
  let token: Partial<PageToken>;
  try {
    token = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as Partial<PageToken>;
  } catch {
    throw invalid();
  }
  if (typeof token?.after !== "string" || typeof token.issued !== "number" || token.args !== args)
    throw invalid();
  if (now - token.issued > PAGE_TOKEN_LIFETIME_MS) throw invalid();
  return token as PageToken;
}

/**
 * ListExecutions' answer. `list` gives the state machine's executions in start order, or throws
 * StateMachineDoesNotExist for an ARN it does not know.
 */
export function listExecutions(
  body: Record<string, unknown>,
  list: (stateMachineArn: string) => ListedExecution[],
  now = Date.now(),
): { executions: Record<string, unknown>[]; nextToken?: string } {
  const { stateMachineArn, mapRunArn } = body;
  if (mapRunArn !== undefined && mapRunArn !== null) {
    if (stateMachineArn !== undefined && stateMachineArn !== null)
      throw validation("Only one of stateMachineArn and mapRunArn may be specified");
    // A Map Run's child executions are not kept as records locally (their results are, in ResultWriter's files).
    throw new StatesError(
      "UnknownOperationException",
      "The local runtime does not list a Map Run's child executions (ListExecutions with mapRunArn)",
    );
  }
  if (typeof stateMachineArn !== "string" || stateMachineArn === "")
    throw validation("Value null at 'stateMachineArn' failed to satisfy constraint: Member must not be null");
  if (!STATE_MACHINE_ARN.test(stateMachineArn))
    throw new StatesError("InvalidArn", `Invalid Arn: '${stateMachineArn}'`);
  const statusFilter = member(body.statusFilter, STATUSES, "statusFilter");
  // "If you provide a stateMachineArn and a PENDING_REDRIVE statusFilter, the API returns a validation exception."
  if (statusFilter === "PENDING_REDRIVE")
    throw validation("The PENDING_REDRIVE statusFilter is only valid with a mapRunArn");
  const redriveFilter = member(body.redriveFilter, REDRIVE_FILTERS, "redriveFilter");
  const size = pageSize(body.maxResults);
  const args = JSON.stringify([stateMachineArn, statusFilter ?? null, redriveFilter ?? null]);
  const token =
    body.nextToken === undefined || body.nextToken === null
      ? undefined
      : decodeToken(String(body.nextToken), args, now);

  // Newest first: by start date, and among executions started in the same millisecond the later started first.
  const all = list(stateMachineArn)
    .map((execution, order) => ({ execution, order }))
    .sort((a, b) => b.execution.startDate - a.execution.startDate || b.order - a.order)
    .map(({ execution }) => execution);
  let from = 0;
  if (token) {
    // Executions are never removed, so the last one returned is still there; newer ones come before it.
    const at = all.findIndex((execution) => execution.executionArn === token.after);
    if (at < 0) throw new StatesError("InvalidToken", `Invalid Token: '${String(body.nextToken)}'`);
    from = at + 1;
  }
  const page: ListedExecution[] = [];
  let more = false;
  for (const execution of all.slice(from)) {
    if (statusFilter && execution.status !== statusFilter) continue;
    if (redriveFilter === "REDRIVEN" && execution.redriveCount === 0) continue;
    if (redriveFilter === "NOT_REDRIVEN" && execution.redriveCount > 0) continue;
    if (page.length === size) {
      more = true;
      break;
    }
    page.push(execution);
  }
  const last = page.at(-1);
  return {
    executions: page.map((execution) => ({ ...execution })),
    ...(more && last ? { nextToken: encodeToken({ after: last.executionArn, args, issued: now }) } : {}),
  };
}
