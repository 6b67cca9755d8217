import { RETRYABLE_ERROR_CODES } from "@sluice/contract";
import {
  OutputWriteError,
  SourceReadError,
  UnsupportedFormatError,
  WorkbookEncryptedError,
} from "@sluice/core";
import { describe, expect, it } from "vitest";
import { toLambdaError, withLambdaErrors } from "../src/lambda-error.ts";

describe("toLambdaError", () => {
  it.each([
    [new WorkbookEncryptedError(), "WORKBOOK_ENCRYPTED"],
    [new UnsupportedFormatError("The file is a PDF"), "UNSUPPORTED_FORMAT"],
    [new SourceReadError("socket hang up"), "SOURCE_READ_FAILED"],
  ])("names a SluiceError by its code (%#) and keeps its human message", (error, code) => {
    const mapped = toLambdaError(error);
    expect(mapped.name).toBe(code);
    expect(mapped.message).toBe(error.message);
    expect(mapped.cause).toBe(error);
  });

  it("leaves other errors as they are, and wraps non-errors", () => {
    const type = new TypeError("boom");
    expect(toLambdaError(type)).toBe(type);
    expect(toLambdaError("text")).toMatchObject({ name: "Error", message: "text" });
    expect(toLambdaError({ a: 1 })).toMatchObject({ name: "Error", message: '{"a":1}' });
  });

  it("the contract retries exactly the converter's retryable codes", () => {
    expect([...RETRYABLE_ERROR_CODES].sort()).toEqual(
      [new SourceReadError("x").code, new OutputWriteError("x").code].sort(),
    );
    expect(new WorkbookEncryptedError().retryable).toBe(false);
  });

  it("withLambdaErrors maps what the work throws and passes results through", async () => {
    await expect(withLambdaErrors(async () => 42)).resolves.toBe(42);
    await expect(
      withLambdaErrors(async () => {
        throw new OutputWriteError("disk full");
      }),
    ).rejects.toMatchObject({ name: "OUTPUT_WRITE_FAILED", message: "disk full" });
  });
});
