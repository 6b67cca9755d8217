import {
  DescribeExecutionCommand,
  type ExecutionListItem,
  InvalidArn,
  InvalidToken,
  ListExecutionsCommand,
  type ListExecutionsCommandInput,
  RedriveExecutionCommand,
  type SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
  ValidationException,
} from "@aws-sdk/client-sfn";
import { ordersCsv, runtimeWith, useRuntimeCleanup } from "@sluice/test-support/runtime-harness";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { LocalRuntime } from "../src/local-runtime.ts";

/**
 * ListExecutions on the local Step Functions API, through an unmodified SFNClient, as the API reference describes
 * it: newest first, statusFilter and redriveFilter, maxResults (0 or none: 100, at most 1000), nextToken paging
 * (an invalid or expired token is InvalidToken), StateMachineDoesNotExist / InvalidArn for the state machine.
 */

useRuntimeCleanup();
afterEach(() => {
  vi.restoreAllMocks();
});

/** Executions that fail at once (the convert step refuses an empty input): `count` of them, oldest first. */
async function failedExecutions(runtime: LocalRuntime, sfn: SFNClient, names: string[]): Promise<string[]> {
  const arns: string[] = [];
  for (const name of names) {
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: runtime.stateMachineArn, name, input: "{}" }),
    );
    arns.push(executionArn!);
  }
  for (const arn of arns) expect((await runtime.waitForExecution(arn)).status).toBe("FAILED");
  return arns;
}

/** Every page, following nextToken; the arguments stay the same but for the token. */
async function allPages(sfn: SFNClient, input: ListExecutionsCommandInput) {
  const pages: ExecutionListItem[][] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new ListExecutionsCommand({ ...input, nextToken }));
    pages.push(page.executions ?? []);
    nextToken = page.nextToken;
  } while (nextToken);
  return pages;
}

const names = (items: ExecutionListItem[] | undefined) => (items ?? []).map((item) => item.name);
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `e-${String(to - i).padStart(3, "0")}`);

describe("ListExecutions", () => {
  it("lists newest first, 100 a page by default, and pages through more executions than maxResults", async () => {
    const runtime = await runtimeWith();
    const sfn = runtime.sfnClient();
    const all = Array.from({ length: 105 }, (_, i) => `e-${String(i).padStart(3, "0")}`);
    await failedExecutions(runtime, sfn, all);
    const stateMachineArn = runtime.stateMachineArn;

    const first = await sfn.send(new ListExecutionsCommand({ stateMachineArn }));
    expect(names(first.executions)).toEqual(range(5, 104));
    expect(first.nextToken).toEqual(expect.any(String));
    const rest = await sfn.send(new ListExecutionsCommand({ stateMachineArn, nextToken: first.nextToken }));
    expect(names(rest.executions)).toEqual(range(0, 4));
    expect(rest.nextToken).toBeUndefined();
    // "A value of 0 uses the default."
    expect(
      (await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 0 }))).executions,
    ).toHaveLength(100);
    expect(
      (await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1000 }))).executions,
    ).toHaveLength(105);

    const pages = await allPages(sfn, { stateMachineArn, maxResults: 10 });
    expect(pages.map((page) => page.length)).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 5]);
    expect(pages.flatMap(names)).toEqual(range(0, 104));

    // An execution started while a client pages is newer than every page: it neither repeats nor skips an item.
    const page1 = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 50 }));
    await failedExecutions(runtime, sfn, ["e-105"]);
    const page2 = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn, maxResults: 50, nextToken: page1.nextToken }),
    );
    expect([...names(page1.executions), ...names(page2.executions)]).toEqual(range(5, 104));
    const fresh = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1 }));
    expect(names(fresh.executions)).toEqual(["e-105"]);
    sfn.destroy();
  });

  it("filters by status and by redrive; each item has the ExecutionListItem fields", async () => {
    const runtime = await runtimeWith();
    const sfn = runtime.sfnClient();
    const stateMachineArn = runtime.stateMachineArn;
    const failed = await failedExecutions(runtime, sfn, ["f-1", "f-2", "f-3"]);
    // No consumer: an upload waits for its chunks, RUNNING.
    const running = await runtime.upload(ordersCsv(20), "running.csv");
    const stopped = await runtime.upload(ordersCsv(20), "stopped.csv");
    await sfn.send(new StopExecutionCommand({ executionArn: stopped.executionArn }));
    expect((await runtime.waitForExecution(stopped.executionArn)).status).toBe("ABORTED");

    const list = async (input: Omit<ListExecutionsCommandInput, "stateMachineArn">) =>
      (await sfn.send(new ListExecutionsCommand({ stateMachineArn, ...input }))).executions ?? [];
    const arns = (items: ExecutionListItem[]) => items.map((item) => item.executionArn);
    expect(arns(await list({ statusFilter: "FAILED" }))).toEqual(failed.toReversed());
    expect(arns(await list({ statusFilter: "RUNNING" }))).toEqual([running.executionArn]);
    expect(arns(await list({ statusFilter: "ABORTED" }))).toEqual([stopped.executionArn]);
    expect(await list({ statusFilter: "TIMED_OUT" })).toEqual([]);
    const filtered = await allPages(sfn, { stateMachineArn, statusFilter: "FAILED", maxResults: 2 });
    expect(filtered.map(arns)).toEqual([[failed[2], failed[1]], [failed[0]]]);

    await sfn.send(new RedriveExecutionCommand({ executionArn: stopped.executionArn }));
    expect(arns(await list({ redriveFilter: "REDRIVEN" }))).toEqual([stopped.executionArn]);
    expect(arns(await list({ redriveFilter: "NOT_REDRIVEN" }))).toEqual([
      running.executionArn,
      ...failed.toReversed(),
    ]);
    expect(arns(await list({ statusFilter: "RUNNING" }))).toEqual([
      stopped.executionArn,
      running.executionArn,
    ]);

    // Each item: the execution's ARN, state machine, name, status, dates and redrive count, as DescribeExecution.
    for (const item of await list({})) {
      const described = await sfn.send(new DescribeExecutionCommand({ executionArn: item.executionArn }));
      expect(item).toEqual({
        executionArn: described.executionArn,
        stateMachineArn,
        name: described.name,
        status: described.status,
        startDate: described.startDate,
        ...(described.stopDate ? { stopDate: described.stopDate } : {}),
        redriveCount: described.redriveCount,
        ...(described.redriveDate ? { redriveDate: described.redriveDate } : {}),
      });
    }
    const [redriven] = await list({ redriveFilter: "REDRIVEN" });
    expect(redriven).toMatchObject({ status: "RUNNING", redriveCount: 1, redriveDate: expect.any(Date) });
    expect(redriven!.stopDate).toBeUndefined();
    sfn.destroy();
  });

  it("refuses what the API refuses: an unknown or malformed state machine, maxResults over 1000, an invalid or expired nextToken", async () => {
    const runtime = await runtimeWith();
    const sfn = runtime.sfnClient();
    const stateMachineArn = runtime.stateMachineArn;
    await failedExecutions(runtime, sfn, ["e-000", "e-001", "e-002"]);
    const send = (input: ListExecutionsCommandInput) => sfn.send(new ListExecutionsCommand(input));

    await expect(send({ stateMachineArn: `${stateMachineArn}-other` })).rejects.toBeInstanceOf(
      StateMachineDoesNotExist,
    );
    await expect(send({ stateMachineArn: "not-an-arn" })).rejects.toBeInstanceOf(InvalidArn);
    await expect(send({ stateMachineArn, maxResults: 1001 })).rejects.toBeInstanceOf(ValidationException);
    await expect(send({ stateMachineArn, maxResults: -1 })).rejects.toBeInstanceOf(ValidationException);
    // "If you provide a stateMachineArn and a PENDING_REDRIVE statusFilter, the API returns a validation exception."
    await expect(send({ stateMachineArn, statusFilter: "PENDING_REDRIVE" })).rejects.toBeInstanceOf(
      ValidationException,
    );
    await expect(send({ stateMachineArn, nextToken: "not-a-token" })).rejects.toBeInstanceOf(InvalidToken);

    const { nextToken } = await send({ stateMachineArn, maxResults: 1 });
    expect(names((await send({ stateMachineArn, maxResults: 1, nextToken })).executions)).toEqual(["e-001"]);
    // A token made for other filters is refused ("Keep all other arguments unchanged"); maxResults may change.
    await expect(send({ stateMachineArn, statusFilter: "FAILED", nextToken })).rejects.toBeInstanceOf(
      InvalidToken,
    );
    expect(names((await send({ stateMachineArn, maxResults: 5, nextToken })).executions)).toEqual([
      "e-001",
      "e-000",
    ]);
    // "Each pagination token expires after 24 hours. Using an expired pagination token will return an HTTP 400
    // InvalidToken error."
    const issued = Date.now();
    vi.spyOn(Date, "now").mockReturnValue(issued + 24 * 3600 * 1000 + 60_000);
    const expired = await send({ stateMachineArn, nextToken }).catch((error: unknown) => error);
    vi.restoreAllMocks();
    expect(expired).toBeInstanceOf(InvalidToken);
    expect((expired as InvalidToken).$metadata.httpStatusCode).toBe(400);
    sfn.destroy();
  });
});
