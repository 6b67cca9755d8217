import {
  ChunkRejectedError,
  CONSUMER_ERROR_CODES,
  ConsumerError,
  InvalidOptionError as ConsumerInvalidOptionError,
  ConsumerStoppingError,
  describeFailure,
  HandlerTimedOutError,
  TaskTokenStaleError,
} from "@sluice/consumer";
import {
  ERROR_CODES,
  type ErrorCode,
  errorCodesOf,
  isRetryableCode,
  RETRYABLE_ERROR_CODES,
} from "@sluice/contract";
import * as core from "@sluice/core";
import {
  CHUNK_DEAD_LETTERED,
  ConfigError,
  FailureRecordWriteError,
  MESSAGE_INVALID,
  ResultInvalidError,
  toLambdaError,
} from "@sluice/functions";
import { DEFAULT_STAGE_CONFIG, workflowAsl } from "@sluice/workflow";
import { describe, expect, it } from "vitest";

/**
 * ERROR_CODES is the one table of codes: every code the converter, the consumer SDK and the functions raise is in
 * it, each error's `retryable` is the table's, and the workflow retries exactly the codes derived from it.
 */

const table = ERROR_CODES as Record<string, { area: string; retryable: boolean; meaning: string }>;
const codes = Object.keys(ERROR_CODES) as ErrorCode[];

/** Every error class @sluice/core exports, made the way core makes it. */
const coreErrors: Record<string, () => core.SluiceError[]> = {
  SluiceError: () =>
    errorCodesOf("workbook", "usage", "io").map((code) => new core.SluiceError(code, `a ${code}`)),
  UnsupportedFormatError: () => [new core.UnsupportedFormatError("an .ods file")],
  WorkbookEncryptedError: () => [new core.WorkbookEncryptedError()],
  WorkbookCorruptError: () => [new core.WorkbookCorruptError("bad zip")],
  EmptyWorkbookError: () => [new core.EmptyWorkbookError()],
  SheetNotFoundError: () => [new core.SheetNotFoundError("Orders", ["Sheet1"])],
  XmlDtdForbiddenError: () => [new core.XmlDtdForbiddenError("xl/workbook.xml")],
  EncodingInvalidError: () => [new core.EncodingInvalidError("not UTF-8")],
  LimitExceededError: () =>
    (
      [
        "INFLATED_SIZE_EXCEEDED",
        "INFLATION_RATIO_EXCEEDED",
        "TOO_MANY_COLUMNS",
        "TOO_MANY_ROWS",
        "CELL_TOO_LONG",
      ] as const satisfies readonly core.LimitCode[]
    ).map((code) => new core.LimitExceededError(code, `over ${code}`, { limit: "x" })),
  InvalidOptionError: () => [new core.InvalidOptionError("bad option")],
  SourceReadError: () => [new core.SourceReadError("network")],
  OutputWriteError: () => [new core.OutputWriteError("disk full")],
};

/** Every retryable code and every code the state machine's Retry blocks match. */
function retriedByWorkflow(): Set<string> {
  const errors = new Set<string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) walk(item);
    } else if (value !== null && typeof value === "object") {
      for (const [key, child] of Object.entries(value)) {
        if (key === "Retry" && Array.isArray(child)) {
          for (const retrier of child as { ErrorEquals: string[] }[]) {
            for (const name of retrier.ErrorEquals) errors.add(name);
          }
        }
        walk(child);
      }
    }
  };
  walk(workflowAsl(DEFAULT_STAGE_CONFIG));
  return errors;
}

describe("the error-code table", () => {
  it("has an area, a retryability and a meaning for every code", () => {
    for (const code of codes) {
      expect(code).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(table[code]!.meaning.length).toBeGreaterThan(0);
      expect(typeof table[code]!.retryable).toBe("boolean");
      expect(isRetryableCode(code)).toBe(table[code]!.retryable);
    }
    expect(isRetryableCode("NOT_A_CODE")).toBe(false);
  });

  it("derives RETRYABLE_ERROR_CODES: the retryable io codes, in table order", () => {
    expect([...RETRYABLE_ERROR_CODES]).toEqual(
      codes.filter((c) => table[c]!.area === "io" && table[c]!.retryable),
    );
    expect(RETRYABLE_ERROR_CODES.length).toBeGreaterThan(0);
    expect(Object.isFrozen(RETRYABLE_ERROR_CODES)).toBe(true);
  });

  it("is what the workflow retries: exactly RETRYABLE_ERROR_CODES, besides the AWS services' own errors", () => {
    const retried = [...retriedByWorkflow()];
    expect(retried.filter((name) => name in table).sort()).toEqual([...RETRYABLE_ERROR_CODES].sort());
    // Everything else a Retry matches is a service integration's error (Lambda.…, SQS.…, States.…).
    for (const name of retried.filter((n) => !(n in table))) expect(name).toMatch(/^[A-Za-z]+\.[A-Za-z]+$/);
  });
});

describe("@sluice/core's errors", () => {
  it("covers every error class core exports", () => {
    const exported = Object.entries(core)
      .filter(
        ([, value]) =>
          typeof value === "function" &&
          (value === core.SluiceError || value.prototype instanceof core.SluiceError),
      )
      .map(([name]) => name)
      .sort();
    expect(exported).toEqual(Object.keys(coreErrors).sort());
  });

  it("raises only table codes of the workbook, usage and io areas, with the table's retryability", () => {
    const raised = new Set<string>();
    for (const [name, make] of Object.entries(coreErrors)) {
      for (const error of make()) {
        expect(error, name).toBeInstanceOf(core.SluiceError);
        expect(table[error.code], `${name}: ${error.code}`).toBeDefined();
        expect(["workbook", "usage", "io"]).toContain(table[error.code]!.area);
        expect(error.retryable, `${name}: ${error.code}`).toBe(table[error.code]!.retryable);
        expect(core.isSluiceError(error)).toBe(true);
        raised.add(error.code);
      }
    }
    expect([...raised].sort()).toEqual([...errorCodesOf("workbook", "usage", "io")].sort());
  });

  it("leaves a Lambda as an error named by its code, which the workflow retries only when retryable", () => {
    const retried = retriedByWorkflow();
    for (const make of Object.values(coreErrors)) {
      for (const error of make()) {
        const lambdaError = toLambdaError(error);
        expect(lambdaError.name).toBe(error.code);
        expect(retried.has(lambdaError.name), error.code).toBe(error.retryable);
      }
    }
  });

  it("reports row issues with the table's row codes", () => {
    for (const code of ["CELL_ERROR", "ROW_TOO_LARGE"]) {
      expect(table[code]).toMatchObject({ area: "row", retryable: false });
    }
  });
});

describe("@sluice/consumer's errors", () => {
  it("CONSUMER_ERROR_CODES are the table's chunk, consumer and usage codes", () => {
    expect([...CONSUMER_ERROR_CODES].sort()).toEqual([...errorCodesOf("chunk", "consumer", "usage")].sort());
  });

  it("gives every consumer error the table's retryability", () => {
    for (const code of CONSUMER_ERROR_CODES) {
      const error = new ConsumerError(code, `a ${code}`);
      expect(error.code).toBe(code);
      expect(error.retryable, code).toBe(table[code]!.retryable);
    }
    const classes: ConsumerError[] = [
      new ChunkRejectedError("refused"),
      new ConsumerInvalidOptionError("bad option"),
      new TaskTokenStaleError("TaskTimedOut", "gone"),
      new ConsumerStoppingError(),
      new HandlerTimedOutError(900),
    ];
    expect(classes.map((e) => e.code)).toEqual([
      "CHUNK_REJECTED",
      "INVALID_OPTION",
      "TASK_TOKEN_STALE",
      "CONSUMER_STOPPING",
      "HANDLER_TIMED_OUT",
    ]);
    for (const error of classes) expect(error.retryable, error.code).toBe(table[error.code]!.retryable);
  });

  it("sends table codes with SendTaskFailure: a permanent error's code, HANDLER_ERROR for a plain error", () => {
    expect(describeFailure(new ChunkRejectedError("no")).error).toBe("CHUNK_REJECTED");
    const plain = describeFailure(new Error("the database is down")).error;
    expect(plain).toBe("HANDLER_ERROR");
    // A plain error is transient: the consumer releases the chunk for redelivery instead of sending it.
    expect(table[plain]!.retryable).toBe(true);
  });
});

describe("@sluice/functions' errors", () => {
  const errors: [Error, ErrorCode][] = [
    [new ConfigError("Missing required environment variable BUCKET_NAME"), "CONFIG_INVALID"],
    [new ResultInvalidError("not a TaskResult"), "TASK_RESULT_INVALID"],
    [new FailureRecordWriteError("PutObject failed"), "FAILURE_RECORD_WRITE_FAILED"],
  ];

  it("name their errors (the Lambda errorType Step Functions sees) with the table's workflow codes", () => {
    for (const [error, code] of errors) {
      expect(error.name).toBe(code);
      expect(toLambdaError(error).name).toBe(code);
      expect(table[code]!.area).toBe("workflow");
    }
    expect(errors.map(([, code]) => code).sort()).toEqual([...errorCodesOf("workflow")].sort());
  });

  it("gives them the table's retryability: the workflow never retries the permanent ones", () => {
    const retried = retriedByWorkflow();
    for (const [error, code] of errors) {
      const own = (error as { retryable?: unknown }).retryable;
      if (own !== undefined) expect(own, code).toBe(table[code]!.retryable);
      if (!table[code]!.retryable) expect(retried.has(code), code).toBe(false);
    }
    // NotifyFailure throws it so that Lambda's asynchronous invocation tries again.
    expect(table.FAILURE_RECORD_WRITE_FAILED!.retryable).toBe(true);
  });

  it("fails dead-lettered chunks and malformed messages with the table's chunk codes", () => {
    expect(CHUNK_DEAD_LETTERED).toBe("CHUNK_DEAD_LETTERED");
    expect(MESSAGE_INVALID).toBe("MESSAGE_INVALID");
    for (const code of [CHUNK_DEAD_LETTERED, MESSAGE_INVALID]) {
      expect(table[code]).toMatchObject({ area: "chunk", retryable: false });
    }
  });
});
